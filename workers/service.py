"""The webhook service: recording servers call it when a stream ends, and the job is queued at once.

Endpoints (Starlette on uvicorn):
  POST /hooks/stream-end   generic JSON event, X-Peakclip-Signature (HMAC-SHA256 of "t.body")
  POST /hooks/twitch       Twitch EventSub stream.offline (challenge, revocation, notification)
  POST /hooks/nginx-rtmp   nginx-rtmp on_record_done form callback, ?token=...
  POST /hooks/srs          SRS on_dvr JSON callback, ?token=..., answered "0"
  POST /clips/{id}/metrics signed performance numbers of a clip (staged promotion; a promotion to a
                           pool with another render profile queues the clip's render at it)
  GET  /jobs/{id}          state, progress, and the manifest when done
  GET  /healthz

The endpoint faces the network: bodies are capped, signatures compared in constant time, paths
accepted only inside the recordings root (checked on the resolved path, so ``..`` and symlinks
leading out are refused before the file is opened), repeated event ids answered with the same
job id, and no analysis ever runs in a request: it only queues.
"""
from __future__ import annotations

import calendar
import hmac
import json
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from peakclip.detectors.errors import UserError
from peakclip.detectors.transcript.embedded import NAME as EMBEDDED
from peakclip.pipeline.config import CAPTIONS, Config, captions_overrides
from peakclip.pipeline.promotion.pools import Feedback
from peakclip.pipeline.ranking.rules import load_rules
from peakclip.workers.jobs import Jobs, connect
from peakclip.workers.signing import verify, verify_twitch
from peakclip.workers.tierstate import RedisTierState

EVENT_TTL = 7 * 24 * 3600
# The options of a stream-end event: peakclip clip's long option names -> config fields.
OPTIONS = {"clips": ("select", "clips"), "min_len": ("select", "min_len"), "max_len": ("select", "max_len"),
           "signals": ("analysis", "signals"), "stages": ("tag", "stages"), "format": ("render", "formats"),
           "fill": ("render", "fill"), "title": ("render", "title"), "copy": ("render", "copy"),
           "chat_format": ("chat", "format"), "chat_offset": ("chat", "offset"), "stream_start": ("chat", "stream_start"),
           "export": ("output", "exports"), "audio_track": ("analysis", "audio_track"),
           "transcript": ("transcript", "path"), "transcript_offset": ("transcript", "offset"),
           "events": ("chat", "events"), "per_product": ("select", "per_product"),
           "clips_per_product": ("select", "clips_per_product")}


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Event:
    source: str           # which hook
    event_id: str         # the sender's id for this delivery (retries repeat it)
    stream_id: str
    recording: str
    chat: str | None = None
    options: dict | None = None


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "stream"


def inside_root(root: str, path: str) -> str:
    """The resolved path if it lies inside ``root`` (relative paths are taken from the root)."""
    real_root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(real_root, path))
    if os.path.commonpath([real_root, candidate]) != real_root:
        raise Refused(403, "path outside the recordings root")
    return candidate


# Option values that name no file: the recording's own subtitles, and the captions switch.
NOT_FILES = {"transcript": (EMBEDDED,), "captions": (EMBEDDED, *CAPTIONS), "events": ()}


def files_inside_root(options: dict | None, root: str) -> dict | None:
    """The options with the files they name (``transcript``, ``captions``: FILE, ``events``)
    resolved inside the recordings root, as recording and chat paths are."""
    resolved = dict(options or {})
    for key, words in NOT_FILES.items():
        path = resolved.get(key)
        if path is None or path in words:
            continue
        if not isinstance(path, str) or not path:
            raise Refused(400, f"options.{key} must be " + "".join(f'"{w}", ' for w in words) + "a path")
        resolved[key] = inside_root(root, path)
    return resolved if options is not None else None


def event_overrides(options: dict | None) -> dict:
    overrides: dict[str, dict] = {}
    for key, value in (options or {}).items():
        if key == "captions":   # off, auto, or FILE: a transcript with captions on
            for section, values in captions_overrides(value, (options or {}).get("transcript")).items():
                overrides.setdefault(section, {}).update(values)
            continue
        if key in ("no_render", "no_report"):
            if value:
                section, name = ("render", "enabled") if key == "no_render" else ("output", "report")
                overrides.setdefault(section, {})[name] = False
            continue
        if key not in OPTIONS:
            raise Refused(400, f"unknown option {key!r}")
        section, name = OPTIONS[key]
        overrides.setdefault(section, {})[name] = value
    return overrides


def create_app(config: Config) -> Starlette:
    service = config.service
    if not service.secret:
        raise UserError("the webhook service needs a secret: set PEAKCLIP_WEBHOOK_SECRET")
    if not service.recordings_root or not os.path.isdir(service.recordings_root):
        raise UserError("set PEAKCLIP_RECORDINGS_ROOT to the folder recordings are written to")
    if not service.output_root:
        raise UserError("set PEAKCLIP_OUTPUT_ROOT to the folder clips are written to")
    token = service.token or service.secret
    twitch_secret = service.twitch_secret or service.secret
    store = Jobs(connect(config.queue.result_backend))
    rules = load_rules(config.tag.rules)
    tiers = RedisTierState(store.r)
    render_app = []   # the Celery app that sends renders of promoted clips, made on first use

    def queue_render(state: dict) -> str | None:
        from peakclip.workers.queue import queue_app, queue_promoted_render

        if not render_app:
            render_app.append(queue_app(config))
        return queue_promoted_render(tiers, state, rules, render_app[0], config)

    async def body_of(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > service.max_body:
            raise Refused(413, "request body too large")
        body = b""
        async for piece in request.stream():
            body += piece
            if len(body) > service.max_body:
                raise Refused(413, "request body too large")
        return body

    def check_token(request: Request) -> None:
        if not hmac.compare_digest(request.query_params.get("token", ""), token):
            raise Refused(403, "bad token")

    def config_for_jobs(options: dict | None = None) -> Config:
        job_config = Config.from_dict({k: v for k, v in config.to_dict().items() if k != "service"})
        job_config.update(event_overrides(options), origin="event options")
        return job_config

    def events_file(stream_id: str) -> str:
        """Where a stream's live chat and commerce events gather (JSON Lines), for its watch."""
        return os.path.join(service.output_root, safe_name(stream_id), "events.jsonl")

    def queue(event: Event) -> tuple[str, bool]:
        """Queue the event's job once; a repeated event id gets the first job's id back."""
        key = f"peakclip:event:{event.source}:{event.event_id}"
        known = store.r.get(key)
        if known:
            return known, False
        recording = inside_root(service.recordings_root, event.recording)
        chat = inside_root(service.recordings_root, event.chat) if event.chat else None
        job_config = config_for_jobs(files_inside_root(event.options, service.recordings_root))
        if chat is None and job_config.chat.events:   # the events log alone: it is the chat log
            chat, job_config.chat.events = job_config.chat.events, None
        out = os.path.join(service.output_root, safe_name(event.stream_id), safe_name(event.event_id))
        from peakclip.workers.queue import submit

        job_id = submit(recording, chat, out, job_config)
        if not store.r.set(key, job_id, nx=True, ex=EVENT_TTL):
            return store.r.get(key), False  # another delivery of the same event won the race
        return job_id, True

    def accepted(job_id: str, created: bool) -> JSONResponse:
        return JSONResponse({"job_id": job_id, "queued": created}, status_code=202)

    def parse_json(body: bytes) -> dict:
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise Refused(400, f"malformed JSON: {err}") from None
        if not isinstance(data, dict):
            raise Refused(400, "malformed JSON: expected an object")
        return data

    async def signed_json(request: Request) -> dict:
        body = await body_of(request)
        problem = verify(service.secret, request.headers.get("x-peakclip-signature"), body, service.tolerance)
        if problem:
            raise Refused(401, problem)
        return parse_json(body)

    async def stream_end(request: Request) -> Response:
        data = await signed_json(request)
        missing = [k for k in ("event_id", "stream_id", "recording") if not isinstance(data.get(k), str) or not data[k]]
        if missing:
            raise Refused(400, f"missing fields: {', '.join(missing)}")
        if data.get("options") is not None and not isinstance(data["options"], dict):
            raise Refused(400, "options must be an object")
        options = dict(data.get("options") or {})
        if data.get("started_at") and "stream_start" not in options:
            options["stream_start"] = data["started_at"]
        return accepted(*queue(Event("stream-end", data["event_id"], data["stream_id"], data["recording"],
                                     data.get("chat") or None, options)))

    async def twitch(request: Request) -> Response:
        body = await body_of(request)
        headers = request.headers
        message_id = headers.get("twitch-eventsub-message-id", "")
        timestamp = headers.get("twitch-eventsub-message-timestamp", "")
        if not message_id or not verify_twitch(twitch_secret, message_id, timestamp, body,
                                               headers.get("twitch-eventsub-message-signature")):
            raise Refused(403, "bad signature")
        try:
            sent = calendar.timegm(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            raise Refused(400, "bad Twitch-Eventsub-Message-Timestamp") from None
        if abs(time.time() - sent) > service.twitch_tolerance:
            raise Refused(403, "stale message")
        data = parse_json(body)
        kind = headers.get("twitch-eventsub-message-type", "")
        if kind == "webhook_callback_verification":
            return PlainTextResponse(str(data.get("challenge", "")), status_code=200)
        if kind == "revocation":
            return Response(status_code=204)
        subscription = data.get("subscription") or {}
        if kind != "notification" or subscription.get("type") != "stream.offline":
            return Response(status_code=204)  # not an event peakclip acts on
        event = data.get("event") or {}
        try:
            fields = {k: str(event[k]) for k in ("broadcaster_user_id", "broadcaster_user_login", "broadcaster_user_name")}
        except KeyError as err:
            raise Refused(400, f"event without {err}") from None
        recording = service.twitch_recording.format(**fields)
        chat = service.twitch_chat.format(**fields) if service.twitch_chat else None
        return accepted(*queue(Event("twitch", message_id, fields["broadcaster_user_login"], recording, chat)))

    async def nginx_rtmp(request: Request) -> Response:
        check_token(request)
        body = await body_of(request)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("call") in ("publish", "publish_done"):
            return live_stream(form)
        if form.get("call") not in (None, "record_done"):
            return Response(status_code=204)
        if not form.get("path"):
            raise Refused(400, "on_record_done without a path")
        name = form.get("name") or "stream"
        event_id = f"{form.get('app', '')}/{name}/{os.path.basename(form['path'])}"
        return accepted(*queue(Event("nginx-rtmp", event_id, name, form["path"])))

    def live_stream(form: dict) -> Response:
        """nginx-rtmp on_publish (SRS on_publish) starts a watch of the stream's HLS playlist (when
        ``service.live_playlist`` says where it is); on_publish_done (on_unpublish) tells the
        watch it ended. nginx lets the publish go on for any 2xx answer."""
        if not service.live_playlist:
            return Response(status_code=204)
        app_name, name = form.get("app", ""), form.get("name") or "stream"
        key = f"peakclip:live:{app_name}/{name}"
        from peakclip.workers.queue import stop_watch, submit_watch

        if form["call"] == "publish_done":
            job_id = store.r.get(key)
            if job_id:
                stop_watch(job_id, config)
                store.r.delete(key)
            return Response(status_code=204)
        playlist = inside_root(service.recordings_root, service.live_playlist.format(app=app_name, name=name))
        started = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        out = os.path.join(service.output_root, safe_name(name), f"live-{started}-{safe_name(form.get('clientid', ''))}")
        # Events posted with wall-clock times ("ts") are placed on the recording by the publish time.
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        job_id = submit_watch(playlist, events_file(name), out, config_for_jobs({"stream_start": now}))
        store.r.set(key, job_id, ex=EVENT_TTL)
        return JSONResponse({"job_id": job_id, "queued": True}, status_code=200)

    async def stream_events(request: Request) -> Response:
        """Signed live chat and commerce events of a stream on air: ``{"events": [{t or ts, user,
        text, type, amount}, ...]}``, appended to the file its watch reads (whole lines at once)."""
        data = await signed_json(request)
        events = data.get("events")
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise Refused(400, "expected {\"events\": [objects]}")
        path = events_file(request.path_params["stream_id"])
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode("utf-8")
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, lines)
        finally:
            os.close(descriptor)
        return JSONResponse({"appended": len(events)}, status_code=202)

    async def srs(request: Request) -> Response:
        check_token(request)
        data = parse_json(await body_of(request))
        if data.get("action") in ("on_publish", "on_unpublish"):
            live_stream({"call": "publish" if data["action"] == "on_publish" else "publish_done",
                         "app": str(data.get("app") or ""), "name": str(data.get("stream") or "stream"),
                         "clientid": str(data.get("client_id") or "")})
            return PlainTextResponse("0")
        if data.get("action") != "on_dvr":
            return PlainTextResponse("0")
        if not data.get("file"):
            raise Refused(400, "on_dvr without a file")
        path = data["file"] if os.path.isabs(data["file"]) else os.path.join(data.get("cwd") or "", data["file"])
        stream = str(data.get("stream") or "stream")
        queue(Event("srs", f"{data.get('app', '')}/{stream}/{os.path.basename(path)}", stream, path))
        return PlainTextResponse("0")  # what SRS expects; anything else makes it retry

    def job_status(job_id: str) -> dict:
        if not re.fullmatch(r"[0-9a-f]{20}", job_id):
            raise Refused(404, "no such job")
        try:
            return store.status(job_id)
        except UserError:
            raise Refused(404, "no such job") from None

    async def job(request: Request) -> Response:
        current = job_status(request.path_params["job_id"])
        current.pop("active", None)
        current["manifest_path"] = current.pop("manifest")
        current["manifest"] = None
        if current["state"] == "success" and current["manifest_path"]:
            with open(current["manifest_path"], encoding="utf-8") as handle:
                current["manifest"] = json.load(handle)
        return JSONResponse(current)

    async def job_file(request: Request) -> Response:
        """The job's report (``/jobs/{id}/report``) and what it links to, relative to it: the
        clips, thumbnails, previews and exports in the job's output folder (nothing outside it)."""
        current = job_status(request.path_params["job_id"])
        if current["state"] != "success" or not current.get("manifest"):
            raise Refused(404, f"the job has no output yet (state: {current['state']})")
        out = os.path.dirname(current["manifest"])
        name = request.path_params["name"]
        name = "report.html" if name == "report" else name
        try:
            path = inside_root(out, name)
        except Refused:
            raise Refused(404, "no such file") from None
        if os.path.basename(path).startswith(".") or not os.path.isfile(path):
            raise Refused(404, "no such file")
        return FileResponse(path)

    async def clip_metrics(request: Request) -> Response:
        """Signed performance numbers for a clip: they add to its pool's counts and may move it."""
        data = await signed_json(request)
        clip_id = request.path_params["clip_id"]
        if not re.fullmatch(r"[0-9a-f]{10}", clip_id):
            raise Refused(404, "no such clip")
        try:
            feedback = Feedback(**{k: data.get(k, 0) for k in ("impressions", "plays", "watch_seconds", "clicks", "orders")})
            if any(not isinstance(getattr(feedback, k), (int, float)) for k in vars(feedback)):
                raise TypeError
        except TypeError:
            raise Refused(400, "metrics must be numbers: impressions, plays, watch_seconds, clicks, orders") from None
        try:
            state = await run_in_threadpool(lambda: tiers.add(clip_id, feedback, rules))
        except UserError as err:
            raise Refused(404 if "no clip" in str(err) else 400, str(err)) from None
        # Queued, never waited for: the answer says which profile is being rendered (or null).
        rendering = await run_in_threadpool(queue_render, state)
        return JSONResponse({**{k: state[k] for k in ("id", "pool", "tier", "stage", "status", "history", "file",
                                                      "profile")}, "render_queued": rendering})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def refused(request: Request, exc: Refused) -> Response:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)

    async def user_error(request: Request, exc: UserError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=422)

    routes = [Route("/hooks/stream-end", stream_end, methods=["POST"]), Route("/hooks/twitch", twitch, methods=["POST"]),
              Route("/hooks/nginx-rtmp", nginx_rtmp, methods=["POST"]), Route("/hooks/srs", srs, methods=["POST"]),
              Route("/clips/{clip_id}/metrics", clip_metrics, methods=["POST"]),
              Route("/streams/{stream_id}/events", stream_events, methods=["POST"]),
              Route("/jobs/{job_id}", job), Route("/jobs/{job_id}/{name:path}", job_file),
              Route("/healthz", healthz)]
    return Starlette(routes=routes, exception_handlers={Refused: refused, UserError: user_error})


def serve(config: Config, host: str, port: int) -> None:
    import uvicorn

    # No access log: nginx-rtmp and SRS pass their token in the query string, and secrets are never logged.
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False)
