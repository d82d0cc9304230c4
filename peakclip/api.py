"""The Python interface: the ``peakclip clip`` job in this process, and the queue's submit/status."""
from __future__ import annotations

from peakclip.workers.queue import status, submit, wait

__all__ = ["clip", "submit", "status", "wait"]


def clip(input: str, chat: str | None = None, out: str = "peakclip-out", config=None, **options) -> dict:
    """Run the clip job in this process; returns the manifest (also written to ``out/manifest.json``).

    ``config``: a Config, a TOML file, or None (the defaults and the environment). ``options`` are
    ``peakclip clip``'s options by name (peakclip.pipeline.options), checked as its flags are, e.g.
    ``clip("show.mp4", chat="chat.json", clips=2, min_len=10, format="source")``; an unknown name
    or a bad value is a UserError naming it."""
    from peakclip.pipeline.executors.run import run_clip
    from peakclip.pipeline.options import chat_log_of, job_config

    given = {"chat": chat, **options}
    return run_clip(input, chat_log_of(given), out, job_config(config, given))
