"""The common shape every chat format is read into, and format detection."""
from __future__ import annotations

import gzip
import io
from array import array
from dataclasses import dataclass, field
import numpy as np

from detectors.errors import ChatError

MAX_SKIPPED_LINES_REPORTED = 5


@dataclass
class Message:
    t: float            # seconds from the start of the recording
    user: str
    text: str = ""
    kind: str = "message"
    amount: float = 0.0
    line: int = 0       # where it was in the file, for warnings


@dataclass
class Skipped:
    line: int           # 1-based line (or record) number in the file
    reason: str


@dataclass
class ChatLog:
    """Messages as compact parallel arrays (time, interned user id), plus what was skipped."""
    format: str
    t: np.ndarray
    user: np.ndarray
    users: int
    skipped: int = 0
    skipped_lines: list[Skipped] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return len(self.t)

    def summary(self) -> dict:
        return {"format": self.format, "messages": self.messages, "skipped": self.skipped}

    def warnings(self) -> list[str]:
        if not self.skipped:
            return []
        shown = ", ".join(f"line {s.line} ({s.reason})" for s in self.skipped_lines)
        more = "" if self.skipped <= len(self.skipped_lines) else ", ..."
        return [f"chat: skipped {self.skipped} unreadable record(s): {shown}{more}"]


def _formats():
    # Imported lazily so that the registry lists modules in detection order, most specific first.
    from detectors.chat import twitchdownloader
    return {"twitchdownloader": twitchdownloader}


def open_text(path: str) -> io.TextIOBase:
    """Open a chat log as text: gzip transparently, UTF-8 with or without BOM, bad bytes replaced."""
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise ChatError(f"chat log not found: {path}") from None
    except IsADirectoryError:
        raise ChatError(f"chat log is a directory: {path}") from None
    except OSError as err:
        raise ChatError(f"cannot read chat log {path}: {err.strerror}") from None
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    stream = gzip.GzipFile(fileobj=raw) if magic == b"\x1f\x8b" else raw
    return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")


def detect_format(path: str) -> str:
    with open_text(path) as text:
        try:
            head = text.read(64 * 1024)
        except (OSError, EOFError) as err:
            raise ChatError(f"cannot read chat log {path}: {err}") from None
    for name, module in _formats().items():
        if module.sniff(head):
            return name
    raise ChatError(f"not a chat log peakclip can read: {path} "
                    f"(formats: {', '.join(_formats())}; force one with --chat-format)")


def read_chat(path: str, fmt: str | None = None, offset: float = 0.0,
              duration: float | None = None) -> ChatLog:
    """Read a chat log; messages are shifted by ``offset`` seconds and kept if inside
    ``[0, duration]``. Records that cannot be read, or fall outside, are skipped and counted."""
    formats = _formats()
    if fmt is None:
        fmt = detect_format(path)
    elif fmt not in formats:
        raise ChatError(f"unknown chat format {fmt!r} (choose from {', '.join(formats)})")
    times = array("d")
    user_ids = array("q")
    interned: dict[str, int] = {}
    skipped: list[Skipped] = []
    n_skipped = 0
    with open_text(path) as text:
        for item in formats[fmt].parse(text):
            if isinstance(item, Message):
                t = item.t + offset
                if t < 0 or (duration is not None and t > duration):
                    item = Skipped(item.line, f"time {t:.1f}s outside the recording")
                else:
                    times.append(t)
                    user_ids.append(interned.setdefault(item.user, len(interned)))
                    continue
            n_skipped += 1
            if len(skipped) < MAX_SKIPPED_LINES_REPORTED:
                skipped.append(item)
    return ChatLog(fmt, np.array(times, dtype=np.float64), np.array(user_ids, dtype=np.int64),
                   len(interned), n_skipped, skipped)
