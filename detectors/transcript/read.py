"""Read a transcript file of any supported format into a ``Transcript`` on the recording's clock.

``read_transcript(path, format, offset)`` detects the format (or takes ``format``), parses the
file with that format's module, skips and counts the cues it cannot use and tidies the rest:
sorted by start, ``offset`` added to every time, empty cues dropped, each cue ending where the
next begins at the latest. Only a file that is no transcript at all (missing, empty, in none of
the formats, or without one readable cue) raises ``TranscriptError``, in one line.
"""
from __future__ import annotations

import codecs
from dataclasses import replace

from peakclip.detectors.errors import open_input
from peakclip.detectors.transcript import srt, webvtt, whisper_json
from peakclip.detectors.transcript.records import Segment, Skipped, Transcript, TranscriptError, Word

MAX_SKIPPED_LINES_REPORTED = 5
SNIFF_CHARS = 64 * 1024
# A day of speech with word timings is some 30 MB of JSON: anything far larger is some other file.
MAX_TRANSCRIPT_BYTES = 100 * 1024 * 1024

# name -> the format's module (sniff, parse, language), in detection order: WebVTT by its header
# first, SubRip last, since a WebVTT file without its header reads as SubRip too.
FORMATS = {module.NAME: module for module in (webvtt, whisper_json, srt)}


def decode(data: bytes) -> str:
    """The file's text: UTF-16 when its BOM says so, else UTF-8 without the BOM, undecodable
    bytes replaced (U+FFFD) rather than refused."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    return data.decode("utf-8-sig", "replace")


def read_text(path: str) -> str:
    with open_input(path, "transcript", TranscriptError) as handle:
        try:
            data = handle.read(MAX_TRANSCRIPT_BYTES + 1)
        except OSError as err:
            raise TranscriptError(f"cannot read transcript {path}: {err.strerror or err}") from None
    if len(data) > MAX_TRANSCRIPT_BYTES:
        raise TranscriptError(f"transcript {path} is larger than {MAX_TRANSCRIPT_BYTES >> 20} MB: not a transcript")
    text = decode(data)
    if not text.strip():
        raise TranscriptError(f"transcript {path} is empty")
    return text


def detect_format(text: str) -> str | None:
    head = text[:SNIFF_CHARS]
    return next((name for name, module in FORMATS.items() if module.sniff(head)), None)


def shifted(segment: Segment, offset: float) -> Segment:
    if not offset:
        return segment
    def move(t: float) -> float:
        return round(t + offset, 6)
    return Segment(move(segment.start), move(segment.end), segment.text,
                   tuple(Word(move(w.start), move(w.end), w.text) for w in segment.words))


def ended_at(segment: Segment, end: float) -> Segment:
    """The segment cut short at ``end``, its words with it."""
    words = tuple(replace(w, start=min(w.start, end), end=min(w.end, end)) for w in segment.words)
    return replace(segment, end=end, words=words)


def joined(first: Segment, second: Segment) -> Segment:
    """Two cues that start together (two speakers' lines shown at once) as one segment."""
    return Segment(first.start, max(first.end, second.end), f"{first.text} {second.text}",
                   tuple(sorted(first.words + second.words, key=lambda w: w.start)))


def tidy(segments: list[Segment], offset: float) -> list[Segment]:
    """Non-empty segments sorted by start (cues of one start kept in file order and joined),
    moved by ``offset``, each cut where the next begins."""
    tidied: list[Segment] = []
    for segment in sorted((s for s in segments if s.text), key=lambda s: s.start):
        segment = shifted(segment, offset)
        if tidied and segment.start == tidied[-1].start:
            tidied[-1] = joined(tidied[-1], segment)
            continue
        if tidied and tidied[-1].end > segment.start:
            tidied[-1] = ended_at(tidied[-1], segment.start)
        tidied.append(segment)
    return tidied


def where(skipped: list[Skipped]) -> str:
    return ", ".join(f"line {s.line}: {s.reason}" for s in skipped[:MAX_SKIPPED_LINES_REPORTED])


def transcript_of(text: str, fmt: str, offset: float, source: str) -> Transcript:
    """Parse ``text`` as ``fmt``; ``source`` names it in errors (a path, or a recording's stream)."""
    if fmt not in FORMATS:
        raise TranscriptError(f"unknown transcript format {fmt!r} (choose from {', '.join(FORMATS)})")
    module = FORMATS[fmt]
    try:
        items = list(module.parse(text))
    except TranscriptError as err:
        raise TranscriptError(f"transcript {source} is not {fmt}: {err}") from None
    segments = [item for item in items if isinstance(item, Segment)]
    skipped = [item for item in items if isinstance(item, Skipped)]
    if skipped and not segments:
        raise TranscriptError(f"transcript {source}: none of its {len(skipped)} cue(s) could be read as {fmt} "
                              f"({where(skipped)})")
    return Transcript(fmt, tidy(segments, offset), len(skipped), skipped[:MAX_SKIPPED_LINES_REPORTED],
                      module.language(text))


def read_transcript(path: str, format: str | None = None, offset: float = 0.0) -> Transcript:
    """The transcript in ``path`` (SubRip, WebVTT or Whisper JSON, detected unless ``format``
    names one), its times moved by ``offset`` seconds onto the recording's clock."""
    text = read_text(path)
    fmt = format or detect_format(text)
    if fmt is None:
        raise TranscriptError(f"not a transcript peakclip can read: {path} (formats: {', '.join(FORMATS)})")
    return transcript_of(text, fmt, offset, path)
