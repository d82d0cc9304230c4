"""The webhook service: recording servers call it when a stream ends, and the job is queued at once.

Endpoints (Starlette on uvicorn), each a module-level function reading what it shares with the
others from ``request.app.state`` (create_app fills it):
  POST /hooks/stream-end          generic JSON event, X-Peakclip-Signature (HMAC-SHA256 of "t.body");
                                  ``options``: peakclip clip's options by name (pipeline/options.py)
  POST /hooks/twitch              Twitch EventSub stream.offline (challenge, revocation, notification)
  POST /hooks/nginx-rtmp          nginx-rtmp form callbacks, ?token=...: on_record_done queues the
                                  recording, on_publish / on_publish_done start and stop a live watch
  POST /hooks/srs                 SRS JSON callbacks, ?token=..., answered "0": on_dvr, on_publish, on_unpublish
  POST /hooks/store               an object store's event notifications (S3 "Records" of MinIO, Ceph, AWS
                                  through SNS, whose subscription it confirms; EventBridge; SeaweedFS's
                                  filer webhook), "Authorization: Bearer" or ?token=: a recording
                                  created under service.store_watch queues its job
  POST /clips/{id}/metrics        signed performance numbers of a clip (staged promotion; a promotion to a
                                  pool with another render profile queues the clip's render at it)
  POST /streams/{id}/events       signed live chat and commerce events, appended for the stream's watch
  GET  /jobs/{id}                 state, progress, and the manifest when done
  GET  /jobs/{id}/{name}          the job's report ("report") and the files it links to, in its folder only
                                  (in a bucket: the report read from it, each other file a redirect to a
                                  presigned URL)
  GET  /healthz                   {"ok": true}

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
import urllib.request
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from peakclip.detectors.errors import MediaError, UserError
from peakclip.detectors.objects import check_object, is_object, join, open_object, readable
from peakclip.detectors.storage import read_json
from peakclip.pipeline.config import Config, ServiceConfig
from peakclip.pipeline.options import file_options, given, job_config
from peakclip.pipeline.promotion.pools import Feedback
from peakclip.pipeline.ranking.rules import load_rules
from peakclip.workers.channelstate import learn_from_job
from peakclip.workers.jobs import Jobs, connect
from peakclip.workers.signing import verify, verify_twitch
from peakclip.workers.storeevents import Ignored, StoreJob, created_objects, sns_subscription, store_job, watched
from peakclip.workers.tierstate import RedisTierState

EVENT_TTL = 7 * 24 * 3600


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
    options: dict | None = None   # peakclip clip's options by name, as the sender gave them


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80] or "stream"


def inside_root(root: str, path: str) -> str:
    """The resolved path if it lies inside ``root`` (relative paths are taken from the root)."""
    real_root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(real_root, path))
    if os.path.commonpath([real_root, candidate]) != real_root:
        raise Refused(403, "path outside the recordings root")
    return candidate


def files_inside_root(options: dict, root: str) -> dict:
    """The options with every file they name (the option table's file options: chat, events,
    transcript, captions FILE, watermark) resolved inside the recordings root, as the recording
    is; values that name no file (transcript "embedded", captions "off"/"auto") stay as they are."""
    resolved = dict(options)
    for name, words in file_options().items():
        path = resolved.get(name)
        if path is None or path in words:
            continue
        if not isinstance(path, str) or not path:
            raise Refused(400, f"options.{name} must be " + "".join(f'"{w}", ' for w in words) + "a path")
        resolved[name] = inside_root(root, path)
    return resolved


def event_options(event: Event, root: str) -> dict:
    """The event's options checked as ``peakclip clip`` checks its flags (400 naming an unknown or
    bad one), its chat log among them, and each file they name resolved inside ``root`` (403)."""
    options = dict(event.options or {})
    if event.chat:
        if options.get("chat") not in (None, event.chat):
            raise Refused(400, "two chat logs: the event's chat and options.chat differ")
        options["chat"] = event.chat
    try:
        options = given(options)
    except UserError as err:
        raise Refused(400, str(err)) from None
    return files_inside_root(options, root)


def config_for_jobs(config: Config) -> Config:
    """What every job is given: the service's configuration without its own section (the secrets
    stay out of job records)."""
    return Config.from_dict({k: v for k, v in config.to_dict().items() if k != "service"})


def events_file(service: ServiceConfig, stream_id: str) -> str:
    """Where a stream's live chat and commerce events gather (JSON Lines), for its watch."""
    if not service.output_root:
        raise Refused(404, "no output root: set PEAKCLIP_OUTPUT_ROOT for live streams")
    return os.path.join(service.output_root, safe_name(stream_id), "events.jsonl")


# ---- the request's parts ------------------------------------------------------------------------

async def body_of(request: Request) -> bytes:
    """The request body, refused (413) as soon as it passes ``service.max_body`` bytes."""
    limit = request.app.state.service.max_body
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Refused(413, "request body too large")
    body = b""
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise Refused(413, "request body too large")
    return body


def check_token(request: Request, bearer: bool = False) -> None:
    """The token in ``?token=`` (or, with ``bearer``, in ``Authorization: Bearer ...``, as
    SeaweedFS and MinIO send it) must be the service's."""
    given = request.query_params.get("token", "")
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if bearer and not given and scheme.lower() == "bearer":
        given = credentials.strip()
    if not hmac.compare_digest(given.encode(), request.app.state.token.encode()):
        raise Refused(403, "bad token")


def parse_json(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Refused(400, f"malformed JSON: {err}") from None
    if not isinstance(data, dict):
        raise Refused(400, "malformed JSON: expected an object")
    return data


async def signed_json(request: Request) -> dict:
    """The body as a JSON object, once its X-Peakclip-Signature checks out (401 otherwise)."""
    service = request.app.state.service
    body = await body_of(request)
    problem = verify(service.secret, request.headers.get("x-peakclip-signature"), body, service.tolerance)
    if problem:
        raise Refused(401, problem)
    return parse_json(body)


# ---- queueing ------------------------------------------------------------------------------------

def once(state: State, source: str, event_id: str, queue) -> tuple[str, bool]:
    """``queue()``'s job id, called once per event: a repeated event id gets the first job's id
    back (and False: nothing queued)."""
    key = f"peakclip:event:{source}:{event_id}"
    known = state.store.r.get(key)
    if known:
        return known, False
    job_id = queue()
    if not state.store.r.set(key, job_id, nx=True, ex=EVENT_TTL):
        return state.store.r.get(key), False  # another delivery of the same event won the race
    return job_id, True


def queue_event(state: State, event: Event) -> tuple[str, bool]:
    """Queue the event's job once; a repeated event id gets the first job's id back."""
    from peakclip.workers.queue import submit

    def queue() -> str:
        root = state.service.recordings_root
        if not root:
            raise Refused(404, "no recordings root: set PEAKCLIP_RECORDINGS_ROOT for this source")
        recording = inside_root(root, event.recording)
        options = event_options(event, root)
        out = os.path.join(state.service.output_root, safe_name(event.stream_id), safe_name(event.event_id))
        return submit(recording, out=out, config=state.jobs_config, **options)
    return once(state, event.source, event.event_id, queue)


def present(url: str) -> bool:
    """Whether the object at ``url`` exists; any other failure of the store is raised as its
    one-line error (the notification is answered 422, and the store sends it again)."""
    try:
        check_object(url)
        return True
    except MediaError:
        return False


def queue_store_job(state: State, tag: str, job: StoreJob) -> dict:
    """Queue a recording's job once per content (``tag``), with the logs beside it that exist."""
    from peakclip.workers.queue import submit

    logs: dict = {}

    def queue() -> str:
        logs.update({what: url for what, url in job.beside.items() if present(url)})
        return submit(job.recording, chat=logs.get("chat"), out=job.out, config=state.jobs_config,
                      **({"events": logs["events"]} if "events" in logs else {}))
    job_id, created = once(state, "store", f"{job.recording}@{tag}", queue)
    return {"job_id": job_id, "queued": created, "recording": job.recording, "out": job.out,
            **({"chat": logs.get("chat"), "events": logs.get("events")} if created else {})}


def accepted(job_id: str, created: bool) -> JSONResponse:
    return JSONResponse({"job_id": job_id, "queued": created}, status_code=202)


def live_stream(state: State, form: dict) -> Response:
    """nginx-rtmp on_publish (SRS on_publish) starts a watch of the stream's HLS playlist (when
    ``service.live_playlist`` says where it is); on_publish_done (on_unpublish) tells the
    watch it ended. nginx lets the publish go on for any 2xx answer."""
    from peakclip.workers.queue import stop_watch, submit_watch

    service = state.service
    if not service.live_playlist:
        return Response(status_code=204)
    app_name, name = form.get("app", ""), form.get("name") or "stream"
    key = f"peakclip:live:{app_name}/{name}"
    if form["call"] == "publish_done":
        job_id = state.store.r.get(key)
        if job_id:
            stop_watch(job_id, state.config)
            state.store.r.delete(key)
        return Response(status_code=204)
    playlist = inside_root(service.recordings_root, service.live_playlist.format(app=app_name, name=name))
    started = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    out = os.path.join(service.output_root, safe_name(name), f"live-{started}-{safe_name(form.get('clientid', ''))}")
    # Events posted with wall-clock times ("ts") are placed on the recording by the publish time.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    job_id = submit_watch(playlist, events_file(service, name), out, job_config(state.jobs_config, {"stream_start": now}))
    state.store.r.set(key, job_id, ex=EVENT_TTL)
    return JSONResponse({"job_id": job_id, "queued": True}, status_code=200)


def queue_render(state: State, clip_state: dict) -> str | None:
    """A render of a promoted clip at its new pool's profile, if it needs one (queue_promoted_render)."""
    from peakclip.workers.queue import queue_app, queue_promoted_render

    if state.render_app is None:   # the Celery app that sends them, made on first use
        state.render_app = queue_app(state.config)
    return queue_promoted_render(state.tiers, clip_state, state.rules, state.render_app, state.config)


def job_status(state: State, job_id: str) -> dict:
    if not re.fullmatch(r"[0-9a-f]{20}", job_id):
        raise Refused(404, "no such job")
    try:
        return state.store.status(job_id)
    except UserError:
        raise Refused(404, "no such job") from None


# ---- the endpoints ---------------------------------------------------------------------------------

async def stream_end(request: Request) -> Response:
    """A generic signed stream-end event: ``{event_id, stream_id, recording, chat?, started_at?,
    channel?, options?}``; ``options`` are peakclip clip's options by name (peakclip.pipeline.options);
    ``channel`` is ``options.channel``: rank with what that channel has learned."""
    data = await signed_json(request)
    missing = [k for k in ("event_id", "stream_id", "recording") if not isinstance(data.get(k), str) or not data[k]]
    if missing:
        raise Refused(400, f"missing fields: {', '.join(missing)}")
    if data.get("options") is not None and not isinstance(data["options"], dict):
        raise Refused(400, "options must be an object")
    options = dict(data.get("options") or {})
    if data.get("started_at") and "stream_start" not in options:
        options["stream_start"] = data["started_at"]
    if data.get("channel") is not None:
        if options.get("channel") not in (None, data["channel"]):
            raise Refused(400, "two channels: the event's channel and options.channel differ")
        options["channel"] = data["channel"]
    event = Event("stream-end", data["event_id"], data["stream_id"], data["recording"], data.get("chat") or None,
                  options)
    return accepted(*queue_event(request.app.state, event))


async def twitch(request: Request) -> Response:
    """Twitch EventSub: the subscription's challenge, revocations, and stream.offline notifications."""
    state = request.app.state
    body = await body_of(request)
    headers = request.headers
    message_id = headers.get("twitch-eventsub-message-id", "")
    timestamp = headers.get("twitch-eventsub-message-timestamp", "")
    if not message_id or not verify_twitch(state.twitch_secret, message_id, timestamp, body,
                                           headers.get("twitch-eventsub-message-signature")):
        raise Refused(403, "bad signature")
    try:
        sent = calendar.timegm(time.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        raise Refused(400, "bad Twitch-Eventsub-Message-Timestamp") from None
    if abs(time.time() - sent) > state.service.twitch_tolerance:
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
    recording = state.service.twitch_recording.format(**fields)
    chat = state.service.twitch_chat.format(**fields) if state.service.twitch_chat else None
    return accepted(*queue_event(state, Event("twitch", message_id, fields["broadcaster_user_login"], recording, chat)))


async def nginx_rtmp(request: Request) -> Response:
    """nginx-rtmp's form callbacks: on_record_done queues the recording; on_publish and
    on_publish_done start and end a live watch (live_stream)."""
    check_token(request)
    body = await body_of(request)
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if form.get("call") in ("publish", "publish_done"):
        return live_stream(request.app.state, form)
    if form.get("call") not in (None, "record_done"):
        return Response(status_code=204)
    if not form.get("path"):
        raise Refused(400, "on_record_done without a path")
    name = form.get("name") or "stream"
    event_id = f"{form.get('app', '')}/{name}/{os.path.basename(form['path'])}"
    return accepted(*queue_event(request.app.state, Event("nginx-rtmp", event_id, name, form["path"])))


async def srs(request: Request) -> Response:
    """SRS's JSON callbacks: on_dvr queues the recording; on_publish and on_unpublish start and end
    a live watch. Always answered "0", as SRS expects (anything else makes it retry)."""
    check_token(request)
    data = parse_json(await body_of(request))
    if data.get("action") in ("on_publish", "on_unpublish"):
        live_stream(request.app.state, {"call": "publish" if data["action"] == "on_publish" else "publish_done",
                                        "app": str(data.get("app") or ""), "name": str(data.get("stream") or "stream"),
                                        "clientid": str(data.get("client_id") or "")})
        return PlainTextResponse("0")
    if data.get("action") != "on_dvr":
        return PlainTextResponse("0")
    if not data.get("file"):
        raise Refused(400, "on_dvr without a file")
    path = data["file"] if os.path.isabs(data["file"]) else os.path.join(data.get("cwd") or "", data["file"])
    stream = str(data.get("stream") or "stream")
    queue_event(request.app.state, Event("srs", f"{data.get('app', '')}/{stream}/{os.path.basename(path)}", stream, path))
    return PlainTextResponse("0")


async def store(request: Request) -> Response:
    """An object store's event notification: each recording created under ``service.store_watch``
    queues a job (202), with its chat and events logs found beside it by name; every other object
    and event is answered 200 with the reason it is left alone, so the store does not retry it."""
    check_token(request, bearer=True)
    state = request.app.state
    service = state.service
    if not service.store_watch:
        raise Refused(404, "no object store is watched: set service.store_watch")
    data = parse_json(await body_of(request))
    try:
        subscribe = sns_subscription(data)
        items = [] if subscribe else created_objects(data)
    except ValueError as err:
        raise Refused(400, str(err)) from None
    if subscribe:
        await run_in_threadpool(confirm_subscription, subscribe, str(data["TopicArn"]))
        return JSONResponse({"jobs": [], "ignored": [], "subscribed": data["TopicArn"]})
    queued, ignored = [], []
    for item in items:
        reason = item.reason if isinstance(item, Ignored) else watched(item, service.store_watch,
                                                                       service.store_recordings)
        if reason:
            ignored.append({"object": item.what if isinstance(item, Ignored) else item.url, "reason": reason})
            continue
        job = store_job(item, service.store_watch, service.store_output, service.store_chat, service.store_events)
        queued.append(await run_in_threadpool(queue_store_job, state, item.tag, job))
    return JSONResponse({"jobs": queued, "ignored": ignored}, status_code=202 if queued else 200)


def confirm_subscription(url: str, topic: str) -> None:
    """Visit an SNS topic's SubscribeURL (``sns_subscription`` checked it is SNS's): from then on
    the topic's notifications come here. SNS not answering is a 502, and the subscription stays
    pending until a confirmation of it is visited (``aws sns confirm-subscription`` does it by hand)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            answer.read()
    except OSError as err:
        raise Refused(502, f"could not confirm the SNS subscription to {topic}: {err}") from None


async def stream_events(request: Request) -> Response:
    """Signed live chat and commerce events of a stream on air: ``{"events": [{t or ts, user,
    text, type, amount}, ...]}``, appended to the file its watch reads (whole lines at once)."""
    data = await signed_json(request)
    events = data.get("events")
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise Refused(400, "expected {\"events\": [objects]}")
    path = events_file(request.app.state.service, request.path_params["stream_id"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode("utf-8")
    # One write of whole lines in append mode: a watch reading the file never sees half an event.
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, lines)
    finally:
        os.close(descriptor)
    return JSONResponse({"appended": len(events)}, status_code=202)


async def clip_metrics(request: Request) -> Response:
    """Signed performance numbers for a clip: they add to its pool's counts and may move it."""
    state = request.app.state
    data = await signed_json(request)
    clip_id = request.path_params["clip_id"]
    if not re.fullmatch(r"[0-9a-f]{10}", clip_id):
        raise Refused(404, "no such clip")
    try:
        feedback = Feedback(**{k: data.get(k, 0) for k in ("impressions", "plays", "watch_seconds", "clicks", "orders")})
        if any(not isinstance(getattr(feedback, k), (int, float)) for k in vars(feedback)):
            raise TypeError
    except (TypeError, AttributeError):   # AttributeError: the body is JSON but not an object
        raise Refused(400, "metrics must be numbers: impressions, plays, watch_seconds, clicks, orders") from None
    try:
        clip_state = await run_in_threadpool(lambda: state.tiers.add(clip_id, feedback, state.rules))
    except UserError as err:
        raise Refused(404 if "no clip" in str(err) else 400, str(err)) from None
    # The same numbers teach the channel the clip's job was ranked for (if any).
    try:
        learned = await run_in_threadpool(learn_from_job, state.store.r, clip_state.get("job"), clip_id,
                                          vars(feedback), state.config)
    except UserError as err:
        raise Refused(400, str(err)) from None
    # Queued, never waited for: the answer says which profile is being rendered (or null).
    rendering = await run_in_threadpool(queue_render, state, clip_state)
    return JSONResponse({**{k: clip_state[k] for k in ("id", "pool", "tier", "stage", "status", "judgement", "history",
                                                       "file", "profile")}, "render_queued": rendering,
                         **({"channel": learned.to_dict()} if learned is not None else {})})


async def job(request: Request) -> Response:
    """The job's state and progress, and its manifest once it succeeded."""
    current = job_status(request.app.state, request.path_params["job_id"])
    current.pop("active", None)
    current["manifest_path"] = current.pop("manifest")
    current["manifest"] = None
    if current["state"] == "success" and current["manifest_path"]:
        # A file, or an object in a bucket (a job whose output is one); gone is a one-line 422.
        current["manifest"] = await run_in_threadpool(read_json, current["manifest_path"],
                                                      f"the manifest of job {current['job_id']} is gone: "
                                                      f"{current['manifest_path']}")
    return JSONResponse(current)


async def job_file(request: Request) -> Response:
    """The job's report (``/jobs/{id}/report``) and what it links to, relative to it: the
    clips, thumbnails, previews and exports in the job's output folder (nothing outside it)."""
    current = job_status(request.app.state, request.path_params["job_id"])
    if current["state"] != "success" or not current.get("manifest"):
        raise Refused(404, f"the job has no output yet (state: {current['state']})")
    name = request.path_params["name"]
    name = "report.html" if name == "report" else name
    if is_object(current["manifest"]):
        return await run_in_threadpool(object_file, current["manifest"].rsplit("/", 1)[0], name)
    out = os.path.dirname(current["manifest"])
    try:
        path = inside_root(out, name)
    except Refused:
        raise Refused(404, "no such file") from None
    if os.path.basename(path).startswith(".") or not os.path.isfile(path):
        raise Refused(404, "no such file")
    return FileResponse(path)


def object_file(prefix: str, name: str) -> Response:
    """A file of a job whose output is the object ``prefix``: the report read from the bucket and
    served here (its links are relative: they come back here), every other file a redirect to a
    presigned URL of the object, so a video streams from the store, seeks and all. Only plain
    names inside the prefix: no ``..``, no hidden part."""
    parts = name.split("/")
    if not all(part and part != ".." and not part.startswith(".") for part in parts):
        raise Refused(404, "no such file")
    url = join(prefix, name)
    try:
        check_object(url)
        if name != "report.html":
            return RedirectResponse(readable(url), status_code=307)
        with open_object(url) as handle:
            return HTMLResponse(handle.read().decode("utf-8"))
    except MediaError:
        raise Refused(404, "no such file") from None


async def healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def refused(request: Request, exc: Refused) -> Response:
    return JSONResponse({"error": exc.reason}, status_code=exc.status)


async def user_error(request: Request, exc: UserError) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=422)


# Every route; the module docstring describes each.
ROUTES = [
    Route("/hooks/stream-end", stream_end, methods=["POST"]),
    Route("/hooks/twitch", twitch, methods=["POST"]),
    Route("/hooks/nginx-rtmp", nginx_rtmp, methods=["POST"]),
    Route("/hooks/srs", srs, methods=["POST"]),
    Route("/hooks/store", store, methods=["POST"]),
    Route("/clips/{clip_id}/metrics", clip_metrics, methods=["POST"]),
    Route("/streams/{stream_id}/events", stream_events, methods=["POST"]),
    Route("/jobs/{job_id}", job, methods=["GET"]),
    Route("/jobs/{job_id}/{name:path}", job_file, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
]


def create_app(config: Config) -> Starlette:
    """The service's app: the configuration checked, then what the endpoints share in
    ``app.state`` (config, service, jobs_config, token, twitch_secret, store, rules, tiers,
    render_app)."""
    service = config.service
    if not service.secret:
        raise UserError("the webhook service needs a secret: set PEAKCLIP_WEBHOOK_SECRET")
    if service.store_watch and not service.store_output:
        raise UserError("set service.store_output to where the jobs of recordings in service.store_watch write")
    if service.recordings_root and not os.path.isdir(service.recordings_root):
        raise UserError(f"PEAKCLIP_RECORDINGS_ROOT is not a folder: {service.recordings_root}")
    if not service.recordings_root and not service.store_watch:
        raise UserError("set PEAKCLIP_RECORDINGS_ROOT to the folder recordings are written to (or "
                        "service.store_watch to the bucket and prefix they are uploaded to)")
    if (service.recordings_root or service.live_playlist) and not service.output_root:
        raise UserError("set PEAKCLIP_OUTPUT_ROOT to the folder clips are written to")
    if service.live_playlist and not service.recordings_root:
        raise UserError("service.live_playlist is a path under PEAKCLIP_RECORDINGS_ROOT: set it")
    app = Starlette(routes=ROUTES, exception_handlers={Refused: refused, UserError: user_error})
    state = app.state
    state.config, state.service = config, service
    state.jobs_config = config_for_jobs(config)
    state.token = service.token or service.secret
    state.twitch_secret = service.twitch_secret or service.secret
    state.store = Jobs(connect(config.queue.result_backend))
    state.rules = load_rules(config.tag.rules)
    state.tiers = RedisTierState(state.store.r)
    state.render_app = None   # the Celery app that sends renders of promoted clips, made on first use
    return app


def serve(config: Config, host: str, port: int) -> None:
    import uvicorn

    # No access log: nginx-rtmp and SRS pass their token in the query string, and secrets are never logged.
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False)
