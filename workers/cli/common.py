"""What every command shares: the one-line error parser, argument types, exit codes, progress."""
from __future__ import annotations

import argparse
import sys

# The argument types every command shares are the clip options' converters (one set for the CLI
# and for options given as data: peakclip.pipeline.options).
from peakclip.pipeline.options import positive_int, score_value, seconds  # noqa: F401

EXIT_USER_ERROR = 2
EXIT_PARTIAL = 1


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; a user needs only the error, on one line."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"peakclip: error: {message} (see --help)\n")


class Progress:
    """A progress bar per step on stderr (tqdm), or nothing with --quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bars = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        bar = self.bars.get(step)
        if bar is None:
            # disable=None: a bar only on a terminal, never carriage-return noise in a log file.
            bar = self.bars[step] = tqdm(total=total, desc=step, unit="chunk" if step == "analyse" else "clip",
                                         file=sys.stderr, disable=None)
        bar.update(done - bar.n)
        if done >= total and not bar.disable:
            bar.close()


def note_printer(quiet: bool):
    """Notes (not warnings) go to stderr as they happen, unless --quiet."""
    return None if quiet else (lambda text: print(f"peakclip: {text}", file=sys.stderr, flush=True))
