"""What the service's endpoints share: a request's parts (its body, capped; its token or
signature; its JSON), refusals, paths kept inside the recordings root, and queueing an event once."""
from __future__ import annotations

import hmac
import json
import os
import re
from dataclasses import dataclass

from starlette.datastructures import State
from starlette.requests import Request

from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import Config, ServiceConfig
from peakclip.pipeline.options import file_options, given
from peakclip.workers.signing import verify

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


def job_status(state: State, job_id: str) -> dict:
    if not re.fullmatch(r"[0-9a-f]{20}", job_id):
        raise Refused(404, "no such job")
    try:
        return state.store.status(job_id)
    except UserError:
        raise Refused(404, "no such job") from None
