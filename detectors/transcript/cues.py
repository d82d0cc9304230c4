"""What SRT and WebVTT share: blocks of lines, cue times, markup, and rolling captions.

Both formats are blocks of lines separated by blank lines, each cue a timing line
``start --> end`` followed by its text. Real files break the blocks (a blank line missing or
doubled, an index number without its cue), so a cue is found by its timing line, not by its
block. The formats' modules decide what the lines around the cues are (an index, a cue id, a
header, a comment); ``segments`` turns the cues into ``Segment``s the same way for both.

Rolling captions (YouTube's automatic captions as yt-dlp saves them, roll-up TV captions) show
a line, then move it up and add the next line below it, so each line of speech stands in two or
three cues. ``segments`` keeps only what a cue adds, so every spoken word is read once.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from peakclip.detectors.transcript.records import Segment, Skipped, Word

# [hours:]minutes:seconds[.,fraction]; digit runs are bounded so a damaged file cannot make a huge int
CLOCK = r"(?:(\d{1,9}):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,9}))?"
TIMING = re.compile(rf"\s*{CLOCK}\s*-->\s*{CLOCK}(?:\s|$)")
INLINE_TIME = re.compile(r"<((?:\d{1,9}:)?\d{1,2}:\d{1,2}[.,]\d{1,9})>")
CLOCK_TEXT = re.compile(rf"\s*{CLOCK}\s*$")
# <i>, </font>, <c.colorE5E5E5>, <v Speaker>, <00:00:01.520>: tags, never "a <3 b" or "x < y"
TAG = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.,]*>")
ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")              # {\an8}, {\i1}: SubStation overrides left in SRT
INDEX = re.compile(r"\s*\d{1,9}\s*")                     # an SRT cue number
TRANSITION_SECONDS = 0.05  # YouTube's 10 ms cues that only hold the last line while the next rolls in
ROLLING_LINES = 4          # the most lines a rolling caption shows (TV roll-up: 2 to 4; YouTube: 2 or 3)


@dataclass(frozen=True)
class Cue:
    line: int                    # 1-based number of the timing line
    timing: str                  # the timing line, cue settings and all
    text: tuple[str, ...]        # the text lines as in the file, markup and all


def fold(text: str) -> str:
    return " ".join(text.split())


def plain_text(markup: str) -> str:
    """A cue line without tags, SubStation overrides and character references, whitespace folded."""
    return fold(html.unescape(ASS_OVERRIDE.sub("", TAG.sub("", markup))))


def clock_seconds(hours, minutes, seconds, fraction) -> float | None:
    """Seconds from the pieces of a ``CLOCK`` match; None when minutes or seconds pass 59."""
    if int(minutes) > 59 or int(seconds) > 59:
        return None
    return round(int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + float(f"0.{fraction or 0}"), 6)


def parse_clock(text: str) -> float | None:
    """``00:01:02,500``, ``01:02.5`` -> seconds; None when it is no clock time."""
    match = CLOCK_TEXT.match(text)
    return clock_seconds(*match.groups()) if match else None


def cue_times(timing: str) -> tuple[float, float] | str:
    """(start, end) of a timing line, or why it cannot be used."""
    match = TIMING.match(timing)
    if not match:
        return "unreadable cue time"
    start, end = clock_seconds(*match.groups()[:4]), clock_seconds(*match.groups()[4:])
    if start is None or end is None:
        return "minutes or seconds past 59"
    if end < start:
        return "cue ends before it starts"
    return start, end


def is_timing(line: str) -> bool:
    # a cue's text may not hold "-->" (both formats), so any line with it was meant as a timing line
    return "-->" in line


def is_index(line: str) -> bool:
    return INDEX.fullmatch(line) is not None


def blocks(lines: list[str], is_blank: Callable[[str], bool]) -> Iterator[tuple[int, list[str]]]:
    """(1-based number of the first line, lines) for each run of lines that are not blank."""
    run: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not is_blank(line):
            run.append(line)
            continue
        if run:
            yield number - len(run), run
        run = []
    if run:
        yield len(lines) + 1 - len(run), run


def split_block(first: int, block: list[str]) -> tuple[list[str], list[Cue]]:
    """The lines before the block's first timing line, and a cue for each timing line in it.

    A block holds several cues when the blank lines between them are missing; then a bare number
    right above a timing line is that cue's index, not the text of the cue before it."""
    starts = [i for i, line in enumerate(block) if is_timing(line)]
    cues = []
    for at, end in zip(starts, starts[1:] + [len(block)]):
        text = block[at + 1:end]
        if end < len(block) and text and is_index(text[-1]):
            text = text[:-1]
        cues.append(Cue(first + at, block[at], tuple(text)))
    return block[:starts[0]] if starts else block, cues


def cues_and_strays(text: str, is_blank: Callable[[str], bool],
                    expected: Callable[[list[str], int, bool], bool]) -> Iterator[Cue | Skipped]:
    """The file's cues, and a skip for each run of text outside any cue unless the format
    ``expected(lines, block_number, before_a_cue)`` it there (an index, a header, a comment)."""
    for number, (first, block) in enumerate(blocks(text.splitlines(), is_blank)):
        stray, cues = split_block(first, block)
        if stray and not expected(stray, number, bool(cues)):
            yield Skipped(first, "text outside any cue")
        yield from cues


def rolled_lines(shown: list[str], lines: list[str], placeholder: bool, duration: float) -> int:
    """How many of a cue's first (non-blank, plain) lines repeat the last lines the cue before it
    showed, moved up by a rolling caption; 0 when the cue does not roll.

    A repeat is a roll only when something comes below it (a new line, or the blank line YouTube
    puts there) or the cue is a transition too short to read: two ordinary cues that say the same
    thing ("No!", "No!") are both kept."""
    for count in range(min(len(shown), len(lines), ROLLING_LINES), 0, -1):
        if lines[:count] == shown[-count:]:
            return count if count < len(lines) or placeholder or duration <= TRANSITION_SECONDS else 0
    return 0


def spread(text: str, start: float, end: float) -> list[Word]:
    """The words of ``text``, sharing the span [start, end] evenly (a span without inline times
    between its words)."""
    words = plain_text(text).split()
    step = (end - start) / len(words) if words else 0.0
    return [Word(round(start + i * step, 6), round(start + (i + 1) * step, 6), word) for i, word in enumerate(words)]


def inline_words(markup: str, start: float, end: float) -> tuple[Word, ...]:
    """Word timings from WebVTT inline timestamps (``word<00:00:01.520><c> next</c>``): each
    timestamp starts the words after it, the cue's start the words before the first. Times out
    of order or outside the cue are pulled into it. A cue of one word times that word (YouTube
    gives a line of one word no timestamp); other cues without timestamps have no word timings."""
    pieces = INLINE_TIME.split(markup)
    if len(pieces) == 1:
        return tuple(spread(markup, start, end)) if len(plain_text(markup).split()) == 1 else ()
    times = [start]
    for clock in pieces[1::2]:
        moment = parse_clock(clock)
        times.append(min(max(moment if moment is not None else times[-1], times[-1]), end))
    times.append(end)
    words: list[Word] = []
    for text, begin, finish in zip(pieces[0::2], times, times[1:]):
        words.extend(spread(text, begin, finish))
    return tuple(words)


def segments(cues: Iterable[Cue | Skipped]) -> Iterator[Segment | Skipped]:
    """A segment for each cue, holding only the lines it adds to a rolling caption; a skip for
    each cue whose times cannot be used (and each skip a format's reader found around the cues)."""
    shown: list[str] = []      # the last cue's non-blank lines, as plain text
    for cue in cues:
        if isinstance(cue, Skipped):
            yield cue
            continue
        times = cue_times(cue.timing)
        if isinstance(times, str):
            yield Skipped(cue.line, times)
            continue
        start, end = times
        lines = [(markup, plain_text(markup)) for markup in cue.text]
        kept = [(markup, plain) for markup, plain in lines if plain]
        plains = [plain for _, plain in kept]
        rolled = rolled_lines(shown, plains, len(kept) < len(lines), end - start)
        shown = plains
        new = " ".join(markup for markup, _ in kept[rolled:])
        yield Segment(start, end, plain_text(new), inline_words(new, start, end))
