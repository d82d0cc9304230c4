"""The Python interface: the ``peakclip clip`` job in this process, and the queue's submit/status."""
from __future__ import annotations

from peakclip.workers.queue import status, submit, wait

__all__ = ["clip", "submit", "status", "wait"]


def clip(input: str, chat: str | None = None, out: str = "peakclip-out", config=None, **options) -> dict:
    """Run the clip job in this process; returns the manifest (also written to ``out/manifest.json``)."""
    from peakclip.pipeline.config import load_config
    from peakclip.pipeline.executors.run import run_clip

    config = config or load_config(overrides=options or None)
    return run_clip(input, chat, out, config)
