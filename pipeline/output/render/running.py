"""The ffmpeg processes rendering now: run one, turn its failure into a one-line ``RenderError``
(a full disk said as such), and stop them all when the run is interrupted."""
from __future__ import annotations

import signal
import subprocess
import threading

from peakclip.detectors.objects import scrub

QUIET = ("-nostdin", "-hide_banner", "-loglevel", "error")


class RenderError(Exception):
    """ffmpeg failed on one clip; the message names the clip and carries ffmpeg's last words."""


class Running:
    """The ffmpeg processes rendering now, so an interrupted run can stop them (their threads
    then remove the partial files) instead of waiting for every clip to finish."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.stopped = False

    def run(self, args: list[str]) -> tuple[int, str]:
        with self.lock:
            if self.stopped:
                raise RenderError("stopped")
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            self.procs.add(proc)
        try:
            _, err = proc.communicate()
        finally:
            with self.lock:
                self.procs.discard(proc)
        return proc.returncode, err.decode("utf-8", "replace")

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            for proc in self.procs:
                proc.terminate()


RUNNING = Running()


DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


def run_ffmpeg(args: list[str], label: str) -> str:
    """Run one ffmpeg command; returns its stderr, or raises RenderError with its last words (a full
    disk said as such)."""
    code, stderr = RUNNING.run(args)
    if code != 0:
        if code == -signal.SIGXFSZ:   # killed for passing the file-size limit (ulimit -f)
            stderr += "\nFile too large"
        if any(reason in stderr for reason in DISK_FULL):
            raise RenderError(f"{label}: the output disk is full (ffmpeg: {next(r for r in DISK_FULL if r in stderr)})")
        tail = scrub(" | ".join(stderr.strip().splitlines()[-3:]))
        raise RenderError(f"{label}: ffmpeg failed ({tail or 'exit ' + str(code)})")
    return stderr
