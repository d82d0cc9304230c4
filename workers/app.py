"""The Celery app: a Redis or RabbitMQ broker, Redis for job records, three queues, and settings
that never lose a job.

- Late acknowledgement: a task's message is acknowledged when the task ends, not when it starts,
  so the task a worker was running when it died is handed to another worker (RabbitMQ: at once,
  when the worker's connection drops; Redis: after ``queue.visibility_timeout``);
  ``task_reject_on_worker_lost`` does the same when only the pool process dies.
- Every worker beats and reconciles (``workers/reconcile.py``): what the broker lost anyway is
  sent again from the job record, so no job waits on a message that no longer exists.
- RabbitMQ: durable quorum queues (``queue.queue_type``) on topic exchanges (Celery's native
  delayed delivery needs them for retries with a countdown), persistent messages and publisher
  confirms, so a message the broker accepted survives the broker's crash.
- One message reserved per worker process, so a dying worker strands as little as possible.
- ``analyze`` and ``render`` queues, so each can scale on machines of its own; a ``live`` queue for
  watches of streams on air (each holds a worker process for the length of its stream).
"""
from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

from peakclip.pipeline.config import Config, load_config
from peakclip.workers.reconcile import HeartbeatStep
from peakclip.workers.steps import TASKS as STEP_TASKS

QUEUES = ("analyze", "render", "live")


def is_amqp(url: str) -> bool:
    return url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


def make_app(config: Config) -> Celery:
    q = config.queue
    app = Celery("peakclip", broker=q.broker_url, backend=q.result_backend, include=["peakclip.workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_default_queue="analyze",
        # Each job step's queue is named once, in workers/steps.py; the completion callback rides
        # with the renders.
        task_routes={**{name: {"queue": queue} for name, queue in STEP_TASKS.values()},
                     "peakclip.notify": {"queue": "render"}, "peakclip.render_promoted": {"queue": "render"}},
        broker_transport_options={"visibility_timeout": q.visibility_timeout,
                                  "unacked_restore_interval": q.restore_interval, "unacked_restore_throttle": 1},
        result_backend_transport_options={"retry_policy": {"timeout": 5.0}},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,   # a restarted Redis is waited for, not given up on
        result_expires=7 * 24 * 3600,
        worker_send_task_events=True, task_send_sent_event=True,  # for Flower
        worker_hijack_root_logger=False,
        task_ignore_result=True,    # results live in the job record; nothing waits on Celery's
    )
    if is_amqp(q.broker_url):
        app.conf.update(
            task_queues=[Queue(name, Exchange(name, type="topic"), routing_key=name, durable=True,
                               queue_arguments={"x-queue-type": q.queue_type}) for name in QUEUES],
            broker_transport_options={"confirm_publish": True},
            broker_native_delayed_delivery_queue_type=q.queue_type,
        )
    app.steps["worker"].add(HeartbeatStep)
    app.peakclip_config = config
    return app


def declare_queues(app: Celery) -> None:
    """RabbitMQ: declare every peakclip queue (durable, idempotent) before a worker starts, so a
    worker of one queue can still bind the others to the delayed-delivery exchanges its retries
    use, and a message sent to a queue no worker has opened yet is kept, not dropped."""
    if not is_amqp(app.conf.broker_url):
        return
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in app.conf.task_queues:
            queue.bind(channel).declare()


# ``celery -A peakclip.workers.app worker`` and the tasks use this one; configured from PEAKCLIP_CONFIG
# (a TOML file) and the environment.
app = make_app(load_config(os.environ.get("PEAKCLIP_CONFIG") or None))
