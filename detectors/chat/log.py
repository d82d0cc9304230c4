"""Read a chat log of any supported format into an audience signal.

``read_chat(path, config, hop, duration)`` detects the format (or takes ``config.format``), streams
the records through the format's parser, puts every time on the recording's clock, skips and
counts what it cannot use, and feeds the rest to an ``Audience`` (the chat signal) and a
``ProductBook`` (live commerce per item: ``ChatLog.products``, ``ChatLog.item_commerce``). Only a
file that is no chat log at all (or a wall-clock log without the stream's start) raises ``ChatError``.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from peakclip.detectors.chat import bilibili, chatdownloader, douyin, generic, twitchdownloader, twitchirc, ytdlp
from peakclip.detectors.chat.audience import BOTS, COMMANDS, VOTES, Audience, ChatConfig
from peakclip.detectors.chat.products import ProductBook, ProductWindow
from peakclip.detectors.chat.records import (
    CONTEXT_KINDS,
    EPOCH,
    TIME_OF_DAY,
    Message,
    Skipped,
    open_text,
    parse_stream_start,
)
from peakclip.detectors.errors import ChatError
from peakclip.detectors.series import Series, bins_for

MAX_SKIPPED_LINES_REPORTED = 5
MAX_UNKNOWN_ITEMS_REPORTED = 5
SNIFF_BYTES = 64 * 1024
DROPPED = (COMMANDS, BOTS, VOTES)   # what the summary's "dropped" counts: messages kept out of the chat signal
EMPTY = "empty"   # what detect_format calls a log with nothing in it (a stream nobody chatted in)

# name -> (sniff, parse), in detection order: the most specific layouts first.
FORMATS = {
    twitchdownloader.NAME: (twitchdownloader.sniff, twitchdownloader.parse),
    chatdownloader.NAME: (chatdownloader.sniff, chatdownloader.parse),
    ytdlp.NAME: (ytdlp.sniff, ytdlp.parse),
    douyin.NAME: (douyin.sniff, douyin.parse),
    bilibili.NAME: (bilibili.sniff, bilibili.parse),
    twitchirc.NAME: (twitchirc.sniff, twitchirc.parse),
    twitchirc.TEXT_NAME: (twitchirc.sniff_text, twitchirc.parse_text),
    generic.JSONL_NAME: (generic.sniff_jsonl, generic.parse_jsonl),
    generic.CSV_NAME: (generic.sniff_csv, generic.parse_csv),
}


@dataclass
class ChatLog:
    format: str
    audience: Audience
    n_bins: int
    messages: int = 0            # records read and placed on the recording's clock
    skipped: int = 0             # records that could not be read
    skipped_lines: list[Skipped] = field(default_factory=list)
    before: int = 0              # records timed before the recording started (pre-show chat, or a wrong clock)
    after: int = 0               # records timed after it ended (the log ran on, or the recording was cut off)
    duration: float | None = None  # the recording's, where known: the last product window ends there
    book: ProductBook | None = None  # live commerce per item; made on the audience's bin grid when not given

    def __post_init__(self) -> None:
        if self.book is None:
            self.book = ProductBook(self.audience.hop)

    @property
    def users(self) -> int:
        return len(self.audience.last)

    @property
    def end(self) -> float:
        """Where the recording ends: its duration, or without one the end of the last bin read."""
        return self.duration if self.duration is not None else self.n_bins * self.audience.hop

    @property
    def products(self) -> list[ProductWindow]:
        """The host's product presentations, in time order (an item presented twice: two windows)."""
        return self.book.windows(self.end)

    def item_commerce(self, n_bins: int) -> dict[str, dict[str, np.ndarray]]:
        """Per item, per-bin ``carts``, ``orders`` and ``paid`` money on the chat series' grid."""
        return self.book.commerce(n_bins)

    def series(self) -> Series:
        return self.audience.series(self.n_bins)

    def summary(self) -> dict:
        found = {"format": self.format, "messages": self.messages, "skipped": self.skipped,
                 "outside": {"before": self.before, "after": self.after}, "users": self.users, "kinds": dict(sorted(self.audience.kinds.items())),
                 "dropped": {kind: self.audience.counts[kind] for kind in DROPPED}}
        presented = {window.item for window in self.products}
        if presented:   # only a live-commerce log has the key: chat-only summaries stay as they were
            found["products"] = len(presented)
        return found

    def warnings(self) -> list[str]:
        found = []
        if self.format == EMPTY:
            found.append("chat: the log is empty: the chat signal is flat")
        outside = self.before + self.after
        where = f"{self.before} before the recording starts, {self.after} after it ends"
        if outside and not self.messages:
            found.append(f"chat: none of the log's {outside} records falls inside the recording ({where}): "
                         "is its clock right? (--chat-offset, --stream-start)")
        elif outside:
            found.append(f"chat: {outside} records fall outside the recording and are left out ({where})")
        if self.skipped:
            shown = ", ".join(f"line {s.line} ({s.reason})" for s in self.skipped_lines)
            more = ", ..." if self.skipped > len(self.skipped_lines) else ""
            found.append(f"chat: skipped {self.skipped} record(s) it could not use: {shown}{more}")
        unknown = self.book.unknown_items(self.end)
        if unknown:
            named = ", ".join(list(unknown)[:MAX_UNKNOWN_ITEMS_REPORTED])
            more = ", ..." if len(unknown) > MAX_UNKNOWN_ITEMS_REPORTED else ""
            found.append(f"chat: {sum(unknown.values())} order(s) name items never presented: {named}{more}")
        return found


def detect_format(path: str) -> str:
    with open_text(path) as text:
        try:
            head = text.read(SNIFF_BYTES)
        except (OSError, EOFError) as err:
            raise ChatError(f"cannot read chat log {path}: {err}") from None
    if not head.strip():
        return EMPTY
    for name, (sniff, _) in FORMATS.items():
        if sniff(head):
            return name
    raise ChatError(f"not a chat log peakclip can read: {path} (formats: {', '.join(FORMATS)}; "
                    "force one with --chat-format)")


def _midnight_before(moment: float) -> float:
    day = datetime.fromtimestamp(moment, tz=timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


def to_recording_time(message: Message, stream_start: float | None, path: str) -> float:
    if message.clock == EPOCH:
        if stream_start is None:
            raise ChatError(f"chat log {path} has wall-clock times: give the recording's start with --stream-start")
        return message.t - stream_start
    if message.clock == TIME_OF_DAY and stream_start is not None:
        t = _midnight_before(stream_start) + message.t - stream_start
        return t + 86400 if t < -12 * 3600 else t  # the log went past midnight
    return message.t


class ChatReader:
    """Puts parsed records on the recording's clock and counts them into one ``ChatLog``: what
    ``read_chat`` does over a whole log, and a live watch does piece by piece as a log grows."""

    def __init__(self, path: str, fmt: str, config: ChatConfig, hop: float, duration: float | None):
        self.path, self.config, self.duration = path, config, duration
        self.stream_start = parse_stream_start(config.stream_start)
        self.log = ChatLog(fmt, Audience(hop, config), bins_for(duration, hop) if duration else 0, duration=duration)

    def feed(self, items, first_line: int = 1, path: str | None = None) -> None:
        """Count ``items`` in; ``path`` names the log they come from when it is not the chat log."""
        log = self.log
        for item in items:
            if isinstance(item, Skipped):
                log.skipped += 1
                if len(log.skipped_lines) < MAX_SKIPPED_LINES_REPORTED:
                    log.skipped_lines.append(Skipped(item.line + first_line - 1, item.reason))
                continue
            t = to_recording_time(item, self.stream_start, path or self.path) + self.config.offset
            if t < 0 and item.kind in CONTEXT_KINDS:
                t = 0.0   # a product shown since before the recording started is on show from its first second
            if t < 0:
                log.before += 1
                continue
            if self.duration is not None and t > self.duration:
                log.after += 1
                continue
            item.t = t
            log.audience.add(item)
            log.book.add(item)
            log.messages += 1
        if not self.duration:
            log.n_bins = log.audience.max_bin + 1


def log_format(path: str, forced: str | None) -> str:
    fmt = forced or detect_format(path)
    if fmt not in FORMATS and fmt != EMPTY:
        raise ChatError(f"unknown chat format {fmt!r} (choose from {', '.join(FORMATS)})")
    return fmt


def read_chat(path: str, config: ChatConfig, hop: float, duration: float | None = None) -> ChatLog:
    """The chat log at ``path``, and the events log ``config.events`` if one is named, read into
    one ``ChatLog``: one audience, one product book."""
    fmt = log_format(path, config.format)
    reader = ChatReader(path, fmt, config, hop, duration)
    for source, source_fmt in [(path, fmt)] + ([(config.events, log_format(config.events, None))] if config.events else []):
        if source_fmt != EMPTY:
            with open_text(source) as text:
                reader.feed(FORMATS[source_fmt][1](text), path=source)
    return reader.log


# Formats a record of which is one line, so a growing log can be read a piece at a time (a Douyin
# log too when it is JSON Lines, not an array).
LINE_FORMATS = (generic.JSONL_NAME, twitchirc.NAME, twitchirc.TEXT_NAME, douyin.NAME)


def piece_parser(fmt: str):
    """The parser of a followed log's pieces: the format's own, with what it must remember from
    one piece to the next (a Douyin gift combo's count so far)."""
    if fmt == douyin.NAME:
        gifts = douyin.Gifts()
        return lambda text: douyin.parse(text, gifts)
    return FORMATS[fmt][1]


class ChatFollower:
    """A chat log that grows while the stream is on air (and the events log beside it, if
    ``config.events`` names one). ``read(duration)`` reads only the whole lines added to each
    since the last call (JSON Lines, IRC and text logs, a Douyin log of one message a line; not
    compressed); when a log is in any other format, both are read whole each time. Records after ``duration`` are kept for later
    reads. An events log that does not exist yet (or is still empty) is looked at again next time."""

    def __init__(self, path: str, config: ChatConfig, hop: float):
        self.path, self.config, self.hop = path, config, hop
        self.reader: ChatReader | None = None
        self.tails: dict[str, list] = {}   # path -> [format, bytes read so far (whole lines), lines, parser]
        self.whole = False                 # a log in a format read whole: every read reads both whole

    @property
    def offset(self) -> int:
        """Bytes of the chat log read so far."""
        return self.tails.get(self.path, [None, 0, 0])[1]

    @property
    def lines(self) -> int:
        return self.tails.get(self.path, [None, 0, 0])[2]

    def line_format(self, path: str, forced: str | None) -> str | None:
        """The log's format if it can be followed line by line; EMPTY while there is nothing to
        tell; None when it must be read whole."""
        fmt = forced or detect_format(path)
        with open(path, "rb") as handle:
            head = handle.read(4096)
        if fmt == EMPTY:
            return EMPTY
        if fmt == douyin.NAME and not douyin.is_json_lines(head.decode("utf-8", "replace").removeprefix("\ufeff")):
            return None
        return fmt if fmt in LINE_FORMATS and not head.startswith(b"\x1f\x8b") else None

    def read(self, duration: float) -> ChatLog:
        if self.whole:
            return read_chat(self.path, self.config, self.hop, duration)
        if self.reader is None:
            fmt = self.line_format(self.path, self.config.format)
            if fmt is None:
                self.whole = True
            if fmt in (None, EMPTY):
                return read_chat(self.path, self.config, self.hop, duration)
            self.reader = ChatReader(self.path, fmt, self.config, self.hop, None)
            self.tails[self.path] = [fmt, 0, 0, piece_parser(fmt)]
        events = self.config.events
        if events and events not in self.tails and os.path.exists(events):
            fmt = self.line_format(events, None)
            if fmt is None:
                self.whole = True
                return read_chat(self.path, self.config, self.hop, duration)
            if fmt != EMPTY:
                self.tails[events] = [fmt, 0, 0, piece_parser(fmt)]
        for path, tail in self.tails.items():
            self.read_new_lines(path, tail)
        self.reader.log.n_bins = bins_for(duration, self.hop)
        self.reader.log.duration = duration
        return self.reader.log

    def read_new_lines(self, path: str, tail: list) -> None:
        _, offset, lines, parse = tail
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
        whole = data[:data.rfind(b"\n") + 1]       # a line still being written waits for the next read
        if whole:
            text = whole.decode("utf-8", "replace")
            if offset == 0:
                text = text.removeprefix("\ufeff")
            self.reader.feed(parse(io.StringIO(text, newline="")), lines + 1, path)
            tail[1] = offset + len(whole)
            tail[2] = lines + whole.count(b"\n")
