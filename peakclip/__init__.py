"""peakclip: find the moments a live audience reacted to and cut them into promo clips.

The repository's folders are this package's parts: ``peakclip.detectors`` (media and chat ->
time series), ``peakclip.pipeline`` (series -> ranked, rendered clips), ``peakclip.workers``
(Celery tasks, the CLI, the webhook service) and ``peakclip.samples`` (synthetic streams).

The Python interface, imported on first use so that the command line starts fast:

- ``clip(input, chat=None, out="peakclip-out", config=None, **options) -> manifest``: the
  ``peakclip clip`` job in this process;
- ``submit(input, chat=None, out=..., config=None, **options) -> job_id``: the same job queued
  for the fleet;
- ``status(job_id) -> dict`` and ``wait(job_id, timeout=None) -> dict``.

``options`` are ``peakclip clip``'s options by name (``clips=2`` is ``--clips 2``, ``no_render=True``
is ``--no-render``; the table is ``peakclip.pipeline.options``), checked as the flags are;
``config`` is a ``Config`` or the path of a TOML file.
"""

__all__ = ["clip", "submit", "status", "wait"]


def __getattr__(name):
    if name in __all__:
        import importlib

        return getattr(importlib.import_module("peakclip.api"), name)
    raise AttributeError(f"module 'peakclip' has no attribute {name!r}")
