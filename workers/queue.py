"""The queue from Python: ``submit(...) -> job_id``, ``status(job_id)``, ``wait(job_id)``."""
from __future__ import annotations

import json
import os
import time

from detectors.errors import UserError
from detectors.probe import is_url
from pipeline.config import Config, load_config
from workers.app import make_app
from workers.jobs import BROKER, Jobs, connect, job_id_for


def submit(input: str, chat: str | None = None, out: str = "peakclip-out", config: Config | None = None,
           **options) -> str:
    """Queue a clip job; returns its id. The same input, chat, output folder and options give the
    same id, and a job that exists and has not failed is not queued again.

    ``options`` are config overrides by section, e.g. ``select={"clips": 3}``."""
    config = config or load_config(overrides=options or None)
    if not is_url(input) and not os.path.isfile(input):
        raise UserError(f"input not found: {input}")
    if chat and not os.path.isfile(chat):
        raise UserError(f"chat log not found: {chat}")
    input = input if is_url(input) else os.path.abspath(input)
    chat = os.path.abspath(chat) if chat else None
    out = os.path.abspath(out)
    # The job record keeps what the job needs; secrets and service settings stay out of Redis.
    settings = {k: v for k, v in config.to_dict().items() if k != "service"}
    job_id = job_id_for(input, chat, out, {k: v for k, v in settings.items() if k != "queue"})
    connect(config.queue.broker_url, check=True, what=BROKER)
    store = Jobs(connect(config.queue.result_backend, check=True))
    if store.create(job_id, {"input": input, "chat": chat or "", "out": out, "config": json.dumps(settings)}):
        make_app(config).send_task("peakclip.start", args=(job_id,), queue="analyze")
    return job_id


def submit_watch(source: str, chat: str | None, out: str, config: Config) -> str:
    """Queue a watch of a stream on air (``peakclip watch`` on a worker of the ``live`` queue);
    returns its job id. The recording and the chat log need not exist yet."""
    source, out = os.path.abspath(source), os.path.abspath(out)
    chat = os.path.abspath(chat) if chat else None
    settings = {k: v for k, v in config.to_dict().items() if k != "service"}
    job_id = job_id_for(source, chat, out, {"watch": {k: v for k, v in settings.items() if k != "queue"}})
    store = Jobs(connect(config.queue.result_backend, check=True))
    if store.create(job_id, {"input": source, "chat": chat or "", "out": out, "config": json.dumps(settings),
                             "kind": "watch"}):
        make_app(config).send_task("peakclip.watch", args=(job_id,), queue="live")
    return job_id


def stop_watch(job_id: str, config: Config) -> None:
    """Tell a watch its stream has ended: it finalises within a poll or two."""
    Jobs(connect(config.queue.result_backend, check=True)).r.set(f"peakclip:job:{job_id}:stop", "1", ex=7 * 86400)


def status(job_id: str, config: Config | None = None) -> dict:
    config = config or load_config()
    return Jobs(connect(config.queue.result_backend, check=True)).status(job_id)


def wait(job_id: str, timeout: float | None = None, poll: float = 1.0, config: Config | None = None) -> dict:
    """Block until the job succeeds or fails (or ``timeout`` seconds pass); returns its status."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        current = status(job_id, config)
        if current["state"] in ("success", "failure"):
            return current
        if deadline is not None and time.monotonic() > deadline:
            return current
        time.sleep(poll)
