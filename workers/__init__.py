"""Workers: the entry points above the pipeline: the CLI, the Celery app and tasks, job
submission and the webhook service. Nothing here computes; it wires pipeline steps to a way of
running them (in this process, on the queue, or on an HTTP event).
"""
