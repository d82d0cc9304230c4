"""Whisper's JSON transcripts, in the layouts the common tools write:

- OpenAI Whisper (``--output_format json``), faster-whisper and WhisperX dumps: ``{"text",
  "segments": [{"start", "end", "text", "words": [{"word" (or "text"), "start", "end"}]}],
  "language"}``, or the bare list of segments;
- whisper.cpp ``-oj``: ``{"result": {"language"}, "transcription": [{"timestamps": {"from":
  "00:00:01,000", "to"}, "offsets": {"from": ms, "to": ms}, "text"}]}``.

A segment without usable times is skipped and counted; a word without times is dropped and its
segment kept. A file cut off mid-way (a transcription still running, a download broken off)
gives the segments before the break and one skip for the break.
"""
from __future__ import annotations

import itertools
import json
import math
import re
from typing import Iterator

from peakclip.detectors.transcript.cues import fold, parse_clock
from peakclip.detectors.transcript.records import Segment, Skipped, TranscriptError, Word

NAME = "whisper-json"
SEGMENT_LISTS = ("segments", "transcription")          # OpenAI and its kin; whisper.cpp
SEGMENT_LIST_START = re.compile(r'"(?:segments|transcription)"\s*:\s*\[')
OPENAI_START = re.compile(r'\{\s*"text"\s*:')          # the whole text comes first: "segments" may be far in
LANGUAGE = re.compile(r'"language"\s*:\s*"([^"\\]{1,40})"')
SPACE_AND_COMMAS = re.compile(r"[\s,]*")


def sniff(head: str) -> bool:
    start = head.lstrip()
    if start.startswith("["):
        return '"start"' in head and '"text"' in head
    return start.startswith("{") and (SEGMENT_LIST_START.search(head) is not None or OPENAI_START.match(start) is not None)


def language(text: str) -> str | None:
    # whisper.cpp names the language asked for ("auto") before the one it heard
    found = [name for name in LANGUAGE.findall(text) if name != "auto"]
    return found[-1] if found else None


def seconds(value) -> float:
    """A time in seconds from a JSON number (or numeric text); ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    try:
        moment = float(value)
    except OverflowError:                 # an integer too long for a float
        raise ValueError(value) from None
    if not math.isfinite(moment) or moment < 0:
        raise ValueError(value)
    return round(moment, 6)


def clock(value) -> float:
    moment = parse_clock(value) if isinstance(value, str) else None
    if moment is None:
        raise ValueError(value)
    return moment


def segment_times(record: dict) -> tuple[float, float]:
    """(start, end) of a segment in any of the layouts; ValueError, KeyError or TypeError when
    it has none that can be used."""
    offsets, stamps = record.get("offsets"), record.get("timestamps")
    if isinstance(offsets, dict):
        return round(seconds(offsets["from"]) / 1000, 6), round(seconds(offsets["to"]) / 1000, 6)
    if isinstance(stamps, dict):
        return clock(stamps["from"]), clock(stamps["to"])
    return seconds(record["start"]), seconds(record["end"])


def word_of(record) -> Word | None:
    """A timed word; None for one without (usable) times or text, as aligners leave numbers."""
    if not isinstance(record, dict):
        return None
    text = fold(str(record.get("word", record.get("text")) or ""))
    try:
        start, end = seconds(record["start"]), seconds(record["end"])
    except (KeyError, ValueError):
        return None
    return Word(start, end, text) if text and end >= start else None


def segment_of(record, number: int) -> Segment | Skipped:
    if not isinstance(record, dict):
        return Skipped(number, "segment is not a JSON object")
    try:
        start, end = segment_times(record)
    except (KeyError, TypeError, ValueError):
        return Skipped(number, "segment without a usable start and end")
    if end < start:
        return Skipped(number, "segment ends before it starts")
    listed = record.get("words")
    words = tuple(word for word in map(word_of, listed if isinstance(listed, list) else ()) if word)
    text = record.get("text")
    return Segment(start, end, fold(text if isinstance(text, str) else " ".join(w.text for w in words)), words)


def segment_records(document) -> list:
    if isinstance(document, list):
        return document
    for key in SEGMENT_LISTS:
        if isinstance(document, dict) and isinstance(document.get(key), list):
            return document[key]
    raise TranscriptError('no "segments" list: not a Whisper transcript')


def salvaged_records(text: str) -> Iterator[tuple[int, object]]:
    """(number, record) for each whole segment before the break in a broken JSON file, then
    (number, Skipped) for the break."""
    found = SEGMENT_LIST_START.search(text)
    if found is None and not text.lstrip().startswith("["):
        raise TranscriptError("not valid JSON, and no segment list to read up to the break")
    at = found.end() if found else text.index("[") + 1
    decoder = json.JSONDecoder()
    for number in itertools.count(1):
        at = SPACE_AND_COMMAS.match(text, at).end()
        if at >= len(text) or text[at] == "]":
            return
        try:
            record, at = decoder.raw_decode(text, at)
        except (ValueError, RecursionError):   # ValueError: also a number of over 4300 digits
            line = text.count("\n", 0, at) + 1
            yield number, Skipped(number, f"JSON broken or cut off at line {line}")
            return
        yield number, record


def records(text: str) -> Iterator[tuple[int, object]]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        yield from salvaged_records(text)
        return
    yield from enumerate(segment_records(document), start=1)


def parse(text: str) -> Iterator[Segment | Skipped]:
    for number, record in records(text):
        yield record if isinstance(record, Skipped) else segment_of(record, number)
