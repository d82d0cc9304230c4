"""The endpoints about jobs and their clips: a clip's performance numbers (staged promotion), a
job's state and manifest, and the files of its output (a folder, or a bucket)."""
from __future__ import annotations

import os
import re

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from peakclip.detectors.errors import MediaError, UserError
from peakclip.detectors.objects import check_object, is_object, join, open_object, readable
from peakclip.detectors.storage import read_json
from peakclip.pipeline.promotion.pools import Feedback
from peakclip.workers.channelstate import learn_from_job
from peakclip.workers.service.parts import Refused, inside_root, job_status, signed_json


def queue_render(state: State, clip_state: dict) -> str | None:
    """A render of a promoted clip at its new pool's profile, if it needs one (queue_promoted_render)."""
    from peakclip.workers.queue import queue_app, queue_promoted_render

    if state.render_app is None:   # the Celery app that sends them, made on first use
        state.render_app = queue_app(state.config)
    return queue_promoted_render(state.tiers, clip_state, state.rules, state.render_app, state.config)


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
        if name == "report.html":
            with open_object(url) as handle:     # a missing one is its MediaError
                return HTMLResponse(handle.read().decode("utf-8"))
        check_object(url)                        # a presigned URL is made for any key: is it there?
        return RedirectResponse(readable(url), status_code=307)
    except MediaError:
        raise Refused(404, "no such file") from None
