"""Captions burned into a clip: most short videos are watched muted.

A transcript's segments (recording clock) become cues on the clip's clock (0 = its first frame),
each at most two short lines, so the render can draw them large and the feed's UI covers none:
``caption_cues`` cuts and times them, ``srt_text`` writes the sidecar file, ``ass_text`` the
styled script libass draws (the ffmpeg ``subtitles`` filter). ``captions_for`` decides a clip's
captions for every render path (``peakclip clip``, the queue's render task, live mode), so they
all caption a clip alike: from the transcript, or recognised from the clip's own span.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

from peakclip.detectors.probe import Probe
from peakclip.detectors.transcript.recognise import check_language, get_recogniser
from peakclip.detectors.transcript.records import Segment, Transcript
from peakclip.pipeline.config import Config, RenderConfig, TranscriptConfig
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.tag import spoken_between

LINES_PER_CUE = 2
LINE_HEIGHT = 1.25     # a line's height as a share of the font size (ascent, descent, the outline)
# ASS has no escape for a backslash: a word joiner (invisible, zero width) after one keeps
# libass from reading it together with the next character as a command such as \N.
WORD_JOINER = "\u2060"


@dataclass(frozen=True)
class Cue:
    """A caption on the clip's clock: start and end in seconds, its text."""
    start: float   # seconds on the clip's clock
    end: float
    text: str      # one or two lines, joined by "\n"


@dataclass(frozen=True)
class _Piece:
    """The smallest thing a line may break between: a word, or one CJK character."""
    text: str
    start: float
    end: float
    spaced: bool   # written with a space before it (not so between CJK characters)


def is_wide(char: str) -> bool:
    """Drawn about twice as wide as a Latin letter (CJK ideographs, kana, Hangul, full-width forms)."""
    return unicodedata.east_asian_width(char) in "WF"


def text_width(text: str) -> int:
    """Width in units of a Latin character: a wide character counts two."""
    return sum(2 if is_wide(c) else 1 for c in text)


def _breaks_anywhere(char: str) -> bool:
    # Chinese and Japanese put no spaces between words, so a line may break after any character;
    # Korean does space its words, so it breaks at the spaces, like Latin text.
    return is_wide(char) and not ("\uac00" <= char <= "\ud7a3" or "\u1100" <= char <= "\u11ff")


def _closing(char: str) -> bool:
    """Punctuation that ends what comes before it (，。！」 , . !): never the first on a line."""
    return unicodedata.category(char) in ("Pe", "Pf", "Po")


def _parts(token: str, max_chars: int) -> list[str]:
    """A run of text without spaces cut where a line may break: after each CJK character (closing
    punctuation stays on the character before it), and inside a word too wide for a line."""
    parts: list[str] = []
    for char in token:
        glued = parts and not _breaks_anywhere(parts[-1][-1]) and not _breaks_anywhere(char)
        if parts and (glued or _closing(char)):
            if text_width(parts[-1] + char) <= max_chars:
                parts[-1] += char
                continue
        parts.append(char)
    return parts


def _pieces(text: str, start: float, end: float, max_chars: int, spaced: bool) -> list[_Piece]:
    """The pieces of ``text`` spoken from ``start`` to ``end``, each lasting in proportion to its
    characters (the best guess without word timings); ``spaced``: whether the first has a space."""
    scale = (end - start) / max(1, len(text))
    found: list[tuple[str, int, bool]] = []   # text, offset in ``text``, space before
    for match in re.finditer(r"\S+", text):
        offset = match.start()
        for index, part in enumerate(_parts(match.group(), max_chars)):
            found.append((part, offset, spaced if not found else index == 0))
            offset += len(part)
    starts = [start + offset * scale for _, offset, _ in found] + [end]
    return [_Piece(part, starts[i], starts[i + 1], space) for i, (part, _, space) in enumerate(found)]


def _segment_pieces(segment: Segment, max_chars: int) -> list[_Piece]:
    """A segment's pieces, timed by its words where it has word timings."""
    if not segment.words:
        return _pieces(segment.text, segment.start, segment.end, max_chars, False)
    pieces: list[_Piece] = []
    for word in segment.words:
        text = word.text.strip()
        if not text:
            continue
        # Words of Chinese or Japanese come without spaces between them; a recogniser may give
        # punctuation as a word of its own.
        spaced = bool(pieces) and not (is_wide(pieces[-1].text[-1]) and is_wide(text[0])) and not _closing(text[0])
        pieces += _pieces(text, word.start, word.end, max_chars, spaced)
    return pieces


def _lines(pieces: list[_Piece], max_chars: int) -> list[list[_Piece]]:
    """Pieces filled into lines of at most ``max_chars`` width units, in order."""
    lines: list[list[_Piece]] = []
    width = 0
    for piece in pieces:
        added = text_width(piece.text) + (1 if piece.spaced else 0)
        if lines and width + added <= max_chars:
            lines[-1].append(piece)
            width += added
        else:
            lines.append([piece])
            width = text_width(piece.text)
    return lines


def _line_text(line: list[_Piece]) -> str:
    return "".join((" " if index and piece.spaced else "") + piece.text for index, piece in enumerate(line))


def caption_cues(segments: list[Segment], clip_start: float, clip_end: float, max_chars: int) -> list[Cue]:
    """The speech of ``[clip_start, clip_end)`` (recording clock) as cues on the clip's clock: at
    most two lines of at most ``max_chars`` width units each (a CJK character counts two), a cue
    lasting from its first word's start to its last word's end. Cues never overlap and lie
    within the clip."""
    length = float(clip_end - clip_start)
    cues = []
    for segment in segments:
        if segment.end <= clip_start or segment.start >= clip_end:
            continue
        # Only the words heard in the clip: a sentence cut by the clip's edge shows its heard half.
        heard = [p for p in _segment_pieces(segment, max_chars) if p.end > clip_start and p.start < clip_end]
        lines = _lines(heard, max_chars)
        for first in range(0, len(lines), LINES_PER_CUE):
            held = lines[first:first + LINES_PER_CUE]
            start = min(max(0.0, held[0][0].start - clip_start), length)
            end = min(max(0.0, held[-1][-1].end - clip_start), length)
            cues.append(Cue(round(start, 3), round(end, 3), "\n".join(_line_text(line) for line in held)))
    cues.sort(key=lambda cue: cue.start)
    # Word timings of neighbouring segments may overlap: a cue gives way to the next one.
    trimmed = [Cue(cue.start, min(cue.end, after.start), cue.text) for cue, after in zip(cues, cues[1:])] + cues[-1:]
    return [cue for cue in trimmed if cue.end > cue.start and cue.text.strip()]


# ---- files ---------------------------------------------------------------------------------

def _clock(seconds: float, fraction_digits: int, separator: str, hour_digits: int) -> str:
    """``seconds`` as H:MM:SS plus a fraction of ``fraction_digits`` digits (rounded, not cut)."""
    scale = 10 ** fraction_digits
    units = round(max(0.0, seconds) * scale)
    whole, fraction = divmod(units, scale)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:0{hour_digits}d}:{minutes:02d}:{secs:02d}{separator}{fraction:0{fraction_digits}d}"


def srt_text(cues: list[Cue]) -> str:
    """The cues as a SubRip file (``HH:MM:SS,mmm``), numbered from 1."""
    return "".join(f"{number}\n{_clock(cue.start, 3, ',', 2)} --> {_clock(cue.end, 3, ',', 2)}\n{cue.text}\n\n"
                   for number, cue in enumerate(cues, 1))


def srt_cues(text: str) -> list[Cue]:
    """``srt_text`` read back: the cues of a SubRip file peakclip wrote, their lines kept."""
    cues = []
    for block in text.replace("\r\n", "\n").strip().split("\n\n"):
        lines = block.split("\n")
        times = re.fullmatch(r"(\d+):(\d\d):(\d\d),(\d{3}) --> (\d+):(\d\d):(\d\d),(\d{3})", lines[1].strip()) \
            if len(lines) > 2 else None
        if times:
            h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, times.groups())
            cues.append(Cue(h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000,
                            "\n".join(lines[2:])))
    return cues


@dataclass(frozen=True)
class CaptionLayout:
    """Where and how large captions are drawn on one output size, in its pixels."""
    size: int            # font size
    outline: float       # black border around every glyph: readable on any picture
    shadow: float
    side: int            # margin left and right
    bottom: int          # from the bottom edge to the bottom of the last line
    height: int          # of the picture

    def rows(self) -> tuple[int, int]:
        """The rows two lines of captions can cover (with outline and shadow): top, bottom."""
        edge = int(self.outline + self.shadow + 2)
        top = self.height - self.bottom - int(LINES_PER_CUE * LINE_HEIGHT * self.size) - edge
        return max(0, top), min(self.height, self.height - self.bottom + edge)


def caption_layout(width: int, height: int, config: RenderConfig) -> CaptionLayout:
    """Large text for a phone, sized to the picture's shorter side (~77 px on 1080x1920), above the
    band a vertical feed covers with its UI (caption, buttons: the lowest ~20-25%) on tall pictures."""
    size = max(12, round(min(width, height) * config.caption_size))
    tall = height >= 1.5 * width
    bottom = round(height * (config.caption_bottom if tall else config.caption_margin))
    return CaptionLayout(size, round(size / 10, 1), round(size / 25, 1), round(width * config.caption_margin),
                         bottom, height)


def escape_ass(text: str) -> str:
    """Text that libass draws as written: braces would open override tags, a backslash a command;
    line breaks become ASS's own ``\\N``."""
    text = text.replace("\\", "\\" + WORD_JOINER).replace("{", "\\{").replace("}", "\\}")
    return text.replace("\n", "\\N")


def ass_text(cues: list[Cue], width: int, height: int, font_name: str, config: RenderConfig) -> str:
    """An ASS script drawing the cues on a ``width`` x ``height`` picture (its own pixels: PlayRes):
    white, bold, a thick black outline and a soft shadow, centred at the bottom of the safe area."""
    layout = caption_layout(width, height, config)
    blur = max(1, round(layout.size / 40))   # softens the shadow's and outline's edges
    # Colours are &HAABBGGRR (AA: 00 opaque). BorderStyle 1: outline and drop shadow, no box.
    style = (f"Style: Caption,{font_name},{layout.size},&H00FFFFFF,&H00FFFFFF,&H00000000,&H80000000,"
             f"-1,0,0,0,100,100,0,0,1,{layout.outline:g},{layout.shadow:g},2,"
             f"{layout.side},{layout.side},{layout.bottom},1")
    events = "".join(f"Dialogue: 0,{_clock(cue.start, 2, '.', 1)},{_clock(cue.end, 2, '.', 1)},Caption,,0,0,0,,"
                     f"{{\\blur{blur}}}{escape_ass(cue.text)}\n" for cue in cues)
    return ("[Script Info]\nScriptType: v4.00+\n"
            f"PlayResX: {width}\nPlayResY: {height}\n"
            # 2: no wrapping of its own; our lines break only where caption_cues broke them.
            "WrapStyle: 2\nScaledBorderAndShadow: yes\n\n"
            "[V4+ Styles]\n"
            "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
            "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
            "Alignment, MarginL, MarginR, MarginV, Encoding\n"
            f"{style}\n\n"
            "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
            f"{events}")


# ---- which captions a clip gets ------------------------------------------------------------

@dataclass(frozen=True)
class ClipCaptions:
    """A clip's captions (cues on its clock) and, when recognised, what was heard."""
    cues: list[Cue]          # on the clip's clock
    # What the recogniser heard in the clip, for its text in the manifest; None when the cues
    # come from the transcript, whose words the clip's text holds already.
    heard: str | None = None


def recognises(config: TranscriptConfig) -> bool:
    """Whether captions are recognised from the clips' sound: ``auto`` with no transcript."""
    return config.captions == "auto" and not config.path


def check_captions(config: TranscriptConfig) -> None:
    """Fail in one line before any work when the captions would need a recogniser that cannot be
    had or does not cover the language: at the start, not after the analysis or half the renders."""
    if recognises(config):
        check_language(get_recogniser(config.recogniser), config.language)


def captions_for(clip: Clip, source: Probe, segments: list[Segment] | None, config: Config) -> ClipCaptions | None:
    """The captions of one clip: None with captions off; with a transcript, its ``segments``
    (recording clock; None or empty when it holds nothing yet, e.g. a live captioner's file read
    early: then no words); else recognised from the clip's span of ``source`` alone (a recording
    without sound has nothing to recognise: no words)."""
    t = config.transcript
    if t.captions == "off":
        return None
    heard = None
    if recognises(t):
        recogniser = get_recogniser(t.recogniser)
        segments = (recogniser.transcribe(source.path, clip.start, clip.end, t.language, source.audio_track)
                    if source.has_audio else [])
        heard = spoken_between(segments, clip.start, clip.end)
    return ClipCaptions(caption_cues(segments or [], clip.start, clip.end, config.render.caption_max_chars), heard)


def clip_captions(clips: list[Clip], source: Probe, transcript: Transcript | None, config: Config,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, ClipCaptions | None]:
    """``captions_for`` each clip (by id), telling ``progress`` (done, total) as clips are recognised."""
    found = {}
    for done, clip in enumerate(clips, start=1):
        found[clip.id] = captions_for(clip, source, transcript.segments if transcript else None, config)
        if progress and recognises(config.transcript):
            progress(done, len(clips))
    return found
