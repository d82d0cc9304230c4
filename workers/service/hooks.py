"""The endpoints recording servers, stores and platforms call about streams: a stream ended (the
generic signed event, Twitch EventSub, nginx-rtmp, SRS), a recording uploaded (an object store's
notifications), a stream went live or ended (a live watch), and its live chat and commerce events."""
from __future__ import annotations

import calendar
import json
import os
import time
import urllib.request
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from peakclip.detectors.errors import MediaError
from peakclip.detectors.objects import check_object, is_object
from peakclip.detectors.probe import is_url
from peakclip.pipeline.options import job_config
from peakclip.workers.service.parts import (EVENT_TTL, Event, Refused, body_of, check_token, event_options, events_file,
                                            inside_root, once, parse_json, safe_name, signed_json)
from peakclip.workers.liveevents import EVENTS_KEY, append_lines, push_events, set_aside
from peakclip.workers.signing import verify_twitch
from peakclip.workers.storeevents import Ignored, StoreJob, created_objects, sns_subscription, store_job, watched


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
    if is_url(service.live_playlist):
        # The recording server serves its HLS over HTTP: a live worker on any machine follows it.
        playlist = service.live_playlist.format(app=quote(app_name, safe=""), name=quote(name, safe=""))
    else:
        playlist = inside_root(service.recordings_root, service.live_playlist.format(app=app_name, name=name))
    started = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    out = os.path.join(service.output_root, safe_name(name), f"live-{started}-{safe_name(form.get('clientid', ''))}")
    # Events posted with wall-clock times ("ts") are placed on the recording by the publish time.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    config = job_config(state.jobs_config, {"stream_start": now})
    if is_object(service.output_root):
        # Its events gather in Redis (stream_events); the watch's worker copies them as they come,
        # from the first posted after this publish (the list also holds earlier broadcasts').
        events = EVENTS_KEY.format(safe_name(name))
        job_id = submit_watch(playlist, None, out, config, events=(events, state.store.r.llen(events)))
    else:
        events = events_file(service, name)
        set_aside(events, started)   # an earlier broadcast's events are not this one's chat
        job_id = submit_watch(playlist, events, out, config)
    state.store.r.set(key, job_id, ex=EVENT_TTL)
    return JSONResponse({"job_id": job_id, "queued": True}, status_code=200)


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
    state, stream = request.app.state, request.path_params["stream_id"]
    path = events_file(state.service, stream)
    lines = [json.dumps(e, ensure_ascii=False) for e in events]
    if is_object(state.service.output_root):
        push_events(state.store.r, safe_name(stream), lines, EVENT_TTL)   # no disk shared with its watch
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        append_lines(path, lines)
    return JSONResponse({"appended": len(events)}, status_code=202)
