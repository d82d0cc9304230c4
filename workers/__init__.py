"""Workers: the entry points that sit above the pipeline (the CLI now; Celery tasks and the
webhook service as they come). Nothing here computes; it wires pipeline steps to a way of running."""
