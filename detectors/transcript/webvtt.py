"""WebVTT (``.vtt``): a ``WEBVTT`` header, then cues: an optional cue id, a timing line
``00:01.000 --> 00:04.000`` with optional cue settings (``align:start position:0%``) and text
lines with tags (``<c.yellow>``, ``<v Speaker>``, ``<i>``) and character references (``&amp;``).
NOTE, STYLE and REGION blocks are passed over.

Inline timestamps (``<00:00:01.520>``) become word timings. YouTube's automatic captions, as
yt-dlp saves them (``.en.vtt``), carry one before each word and roll: each cue repeats the line
before it and adds one, and 10 ms cues in between only repeat; ``cues.segments`` keeps each
spoken word once. Only an empty line ends a cue, as the format says: YouTube's cues hold lines
of one space.
"""
from __future__ import annotations

import re
from typing import Iterator

from peakclip.detectors.transcript.cues import cues_and_strays, segments
from peakclip.detectors.transcript.records import Segment, Skipped

NAME = "webvtt"
HEADER = re.compile(r"\s*WEBVTT(?:\s|$)")
NOT_A_CUE = re.compile(r"(?:NOTE|STYLE|REGION)(?:\s|$)")
LANGUAGE = re.compile(r"Language:\s*(\S+)")     # in the header of YouTube's captions


def sniff(head: str) -> bool:
    return HEADER.match(head) is not None


def header(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[:lines.index("")] if "" in lines else lines


def language(text: str) -> str | None:
    found = [match.group(1) for match in map(LANGUAGE.match, header(text)) if match]
    return found[0] if found else None


def is_blank(line: str) -> bool:
    return line == ""


def is_header_comment_or_id(stray: list[str], block_number: int, before_a_cue: bool) -> bool:
    return ((block_number == 0 and HEADER.match(stray[0]) is not None) or NOT_A_CUE.match(stray[0]) is not None
            or (len(stray) == 1 and before_a_cue))


def parse(text: str) -> Iterator[Segment | Skipped]:
    yield from segments(cues_and_strays(text, is_blank, is_header_comment_or_id))
