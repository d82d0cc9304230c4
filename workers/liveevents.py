"""A live stream's chat and commerce events on their way from the webhook service to its watch.

``POST /streams/{stream}/events`` hands the service whole events while the stream is on air; the
watch reads them as a JSON Lines log. Where the service's output root is a folder, the lines are
appended to ``<output root>/<stream>/events.jsonl``, which the watch's worker reads there (the
folder is shared; a broadcast's publish sets the earlier ones' log aside). Where it is a bucket,
no disk is shared: the lines go to a Redis list, and the worker running the watch copies what is
new into a log in its own scratch before every read, from the first line after the publish.
"""
from __future__ import annotations

import os
from typing import Callable

import redis

EVENTS_KEY = "peakclip:stream:{}:events"   # a stream's events, one JSON line an item, in arrival order


def append_lines(path: str, lines: list[str]) -> None:
    """Append whole lines to ``path`` with one write in append mode, so that a reader following
    the file never sees half an event."""
    if not lines:
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, "".join(line + "\n" for line in lines).encode("utf-8"))
    finally:
        os.close(descriptor)


def set_aside(path: str, stamp: str) -> None:
    """A new broadcast of the stream begins: the log its earlier broadcasts left at ``path`` is
    renamed (``events.jsonl`` -> ``events-before-<stamp>.jsonl``), so that this broadcast's
    watch reads its own events only."""
    stem, suffix = os.path.splitext(path)
    try:
        os.replace(path, f"{stem}-before-{stamp}{suffix}")
    except FileNotFoundError:
        pass


def push_events(client: redis.Redis, stream: str, lines: list[str], ttl: int) -> None:
    """Add a stream's event lines to its list (kept ``ttl`` seconds after the last)."""
    key = EVENTS_KEY.format(stream)
    pipe = client.pipeline()
    pipe.rpush(key, *lines)
    pipe.expire(key, ttl)
    pipe.execute()


def mirror(client: redis.Redis, key: str, start: int, path: str) -> Callable[[], None]:
    """A function that appends the lines added to the list ``key`` since its last call to the log
    at ``path``, beginning at index ``start`` (the first line of this broadcast). The log is made
    now, empty: a watch that never hears an event has an empty log, not a missing one. A worker
    taking a watch over copies from ``start`` again into a log of its own."""
    open(path, "a").close()
    copied = start

    def refresh() -> None:
        nonlocal copied
        lines = client.lrange(key, copied, -1)
        append_lines(path, lines)   # the job store's client decodes: str
        copied += len(lines)

    return refresh
