"""What every transcript reader and recogniser yields: timed segments of speech, with optional
word timings, on the recording's clock (seconds).

A reader is a generator over one opened file that yields ``Segment`` for each cue it understood
and ``Skipped`` for each it could not read (like the chat parsers: a bad cue never raises); it
raises ``TranscriptError`` only when the file as a whole is no transcript.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from peakclip.detectors.errors import UserError


class TranscriptError(UserError):
    """The transcript is missing, or is not in any format peakclip reads."""


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str                        # one cue's words, whitespace folded, no markup
    words: tuple[Word, ...] = ()     # word timings, when the source has them


@dataclass(frozen=True)
class Skipped:
    line: int                        # 1-based line (or record) number, for warnings
    reason: str


@dataclass
class Transcript:
    format: str                      # "srt", "webvtt", "whisper-json", "embedded", or a recogniser's name
    segments: list[Segment] = field(default_factory=list)   # sorted by start, not overlapping
    skipped: int = 0
    skipped_lines: list[Skipped] = field(default_factory=list)   # the first few, for warnings
    language: str | None = None

    def summary(self) -> dict:
        return {"format": self.format, "segments": len(self.segments), "skipped": self.skipped,
                "language": self.language}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Transcript":
        segments = [Segment(s["start"], s["end"], s["text"], tuple(Word(**w) for w in s["words"]))
                    for s in data["segments"]]
        return cls(data["format"], segments, data["skipped"], [Skipped(**s) for s in data["skipped_lines"]],
                   data["language"])
