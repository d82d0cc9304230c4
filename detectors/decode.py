"""Run ffmpeg-python graphs that write raw samples or frames to a pipe, and read them in blocks.

Reading in fixed-size blocks keeps memory flat however long the recording is. A recording that
stops decoding part-way (a crashed encoder, a cut-off file) yields what decoded, and the reason is
kept in ``warnings`` rather than raised: a truncated recording is analysed as far as it goes.
"""
from __future__ import annotations

import queue
import subprocess
import tempfile
import threading
from typing import Iterator

from peakclip.detectors.errors import MediaError
from peakclip.detectors.objects import scrub

READ_AHEAD = 3    # blocks read ahead of the caller (memory: a few blocks, whatever the length)


class PipeDecoder:
    """Iterate over fixed-size byte blocks that an ffmpeg output node writes to ``pipe:``."""

    def __init__(self, node, label: str):
        self.node = node.global_args("-nostdin", "-hide_banner", "-loglevel", "error")
        self.label = label
        self.warnings: list[str] = []

    def blocks(self, block_bytes: int) -> Iterator[bytes]:
        # stderr goes to a file, not a pipe: a noisy decoder must never block on a full pipe.
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(self.node.compile(), stdout=subprocess.PIPE, stderr=err,
                                    stdin=subprocess.DEVNULL)
            # A thread drains the pipe while the caller works on the block before: read only
            # between blocks, ffmpeg would stall on the full pipe for as long as the caller
            # computes, and decoding and computing would take turns instead of overlapping.
            ready: queue.Queue[bytes] = queue.Queue(maxsize=READ_AHEAD)
            reader = threading.Thread(target=_drain, args=(proc.stdout, block_bytes, ready), daemon=True)
            reader.start()
            got_any = False
            try:
                while True:
                    block = ready.get()
                    if not block:
                        break
                    got_any = True
                    yield block
            finally:
                if proc.poll() is None:
                    proc.kill()
                while reader.is_alive():          # a reader waiting on a full queue: let it finish
                    try:
                        ready.get(timeout=0.1)
                    except queue.Empty:
                        pass
                proc.stdout.close()
                code = proc.wait()
            err.seek(0)
            text = err.read().decode("utf-8", "replace").strip()
            if code > 0:  # negative: we stopped it ourselves
                last = scrub(text.splitlines()[-1]) if text else f"ffmpeg exited with {code}"
                if not got_any:
                    raise MediaError(f"could not decode {self.label}: {last}")
                self.warnings.append(f"{self.label} stopped decoding early: {last}")
            elif text:
                # Decoding went on but ffmpeg complained (damaged packets): worth a line, not a failure.
                self.warnings.append(f"{self.label}: {scrub(text.splitlines()[-1])}")


def _drain(pipe, block_bytes: int, ready: "queue.Queue[bytes]") -> None:
    """Read ``pipe`` in blocks into ``ready``, then an empty block: the end (or a closed pipe)."""
    try:
        while True:
            block = _read_exactly(pipe, block_bytes)
            if not block:
                break
            ready.put(block)
    except (OSError, ValueError):
        pass
    ready.put(b"")


def _read_exactly(pipe, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining > 0:
        piece = pipe.read(remaining)
        if not piece:
            break
        chunks.append(piece)
        remaining -= len(piece)
    return b"".join(chunks)
