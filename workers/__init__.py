"""Workers: the entry points above the pipeline: the CLI, the Celery app and tasks, job
submission (and the webhook service). Nothing here computes; it wires pipeline steps to a way of
running them.

``workers.submit(input, chat=None, out=..., **options) -> job_id`` and ``workers.status(job_id)``
are the Python interface to the queue (imported on first use, so the CLI starts fast).
"""


def __getattr__(name):
    if name in ("submit", "status", "wait"):
        import importlib

        return getattr(importlib.import_module("workers.queue"), name)
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
