"""The Celery app: Redis broker and result backend, three queues, and settings that never lose a job.

- Late acknowledgement: a task's message is acknowledged when the task ends, not when it starts,
  so the task a worker was running when it died is handed to another worker (after
  ``queue.visibility_timeout``); ``task_reject_on_worker_lost`` does the same when only the pool
  process dies.
- One message reserved per worker process, so a dying worker strands as little as possible.
- ``analyze`` and ``render`` queues, so each can scale on machines of its own; a ``live`` queue for
  watches of streams on air (each holds a worker process for the length of its stream).
"""
from __future__ import annotations

import os

from celery import Celery

from pipeline.config import Config, load_config

QUEUES = ("analyze", "render", "live")


def make_app(config: Config) -> Celery:
    q = config.queue
    app = Celery("peakclip", broker=q.broker_url, backend=q.result_backend, include=["workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_default_queue="analyze",
        task_routes={"peakclip.render_clip": {"queue": "render"}, "peakclip.finalize": {"queue": "render"},
                     "peakclip.notify": {"queue": "render"}, "peakclip.watch": {"queue": "live"}},
        broker_transport_options={"visibility_timeout": q.visibility_timeout,
                                  "unacked_restore_interval": q.restore_interval, "unacked_restore_throttle": 1},
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,   # a restarted Redis is waited for, not given up on
        result_expires=7 * 24 * 3600,
        worker_send_task_events=True, task_send_sent_event=True,  # for Flower
        worker_hijack_root_logger=False,
    )
    app.peakclip_config = config
    return app


# ``celery -A workers.app worker`` and the tasks use this one; configured from PEAKCLIP_CONFIG
# (a TOML file) and the environment.
app = make_app(load_config(os.environ.get("PEAKCLIP_CONFIG") or None))
