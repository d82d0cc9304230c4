"""SubRip (``.srt``): numbered cues, each a timing line ``00:00:01,000 --> 00:00:02,500`` and
its text lines, separated by blank lines.

Tolerated, since editors and converters write them: ``.`` for ``,`` before the milliseconds,
missing hours, missing index numbers, missing or doubled blank lines, lines of spaces as blank
lines, HTML-ish tags (``<i>``, ``<font color=...>``) and SubStation overrides (``{\\an8}``).
Text that belongs to no timing line is skipped and counted.
"""
from __future__ import annotations

from typing import Iterator

from peakclip.detectors.transcript.cues import TIMING, cues_and_strays, is_index, segments
from peakclip.detectors.transcript.records import Segment, Skipped

NAME = "srt"
# The first timing line is the second line; look further, so that a few broken cues at the top
# are skipped and counted rather than the whole file refused.
SNIFF_LINES = 50


def sniff(head: str) -> bool:
    lines = [line for line in head.splitlines() if line.strip()][:SNIFF_LINES]
    return any(TIMING.match(line) for line in lines)


def language(text: str) -> str | None:
    return None   # SubRip does not say


def is_blank(line: str) -> bool:
    return not line.strip()


def is_lone_index(stray: list[str], block_number: int, before_a_cue: bool) -> bool:
    # an index whose timing line a doubled blank line cut off, or that the cue below already has
    return len(stray) == 1 and is_index(stray[0])


def parse(text: str) -> Iterator[Segment | Skipped]:
    yield from segments(cues_and_strays(text, is_blank, is_lone_index))
