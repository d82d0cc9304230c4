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

The endpoints live by what they answer: ``hooks.py`` (streams: ended, uploaded, live, their live
events), ``clips.py`` (clip metrics, job state and output files), on what ``parts.py`` gives them
all (a request's body, token, signature and JSON; refusals; paths inside the recordings root;
queueing once). This module routes them and makes the app.
"""
from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from peakclip.detectors.errors import UserError
from peakclip.detectors.probe import is_url
from peakclip.pipeline.config import Config
from peakclip.pipeline.ranking.rules import load_rules
from peakclip.workers.jobs import Jobs, connect
from peakclip.workers.service.clips import clip_metrics, job, job_file
from peakclip.workers.service.hooks import nginx_rtmp, srs, store, stream_end, stream_events, twitch
from peakclip.workers.service.parts import Refused, config_for_jobs
from peakclip.workers.tierstate import RedisTierState


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
    served = is_url(service.live_playlist or "")   # live streams followed over HTTP, not in a folder here
    if not service.recordings_root and not service.store_watch and not served:
        raise UserError("set PEAKCLIP_RECORDINGS_ROOT to the folder recordings are written to (or "
                        "service.store_watch to the bucket and prefix they are uploaded to)")
    if (service.recordings_root or service.live_playlist) and not service.output_root:
        raise UserError("set PEAKCLIP_OUTPUT_ROOT to the folder (or s3://bucket/prefix) clips are written to")
    if service.live_playlist and not served and not service.recordings_root:
        raise UserError("service.live_playlist is a path under PEAKCLIP_RECORDINGS_ROOT (or an http(s) URL): set it")
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
