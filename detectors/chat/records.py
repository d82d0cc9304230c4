"""What every chat parser yields, and the helpers parsers share.

A parser is a generator over one opened file that yields ``Message`` for each chat record it
understood and ``Skipped`` for each record it could not read. It never raises for a bad record;
it raises ``ChatError`` only when the file as a whole is not in its format.
"""
from __future__ import annotations

import gzip
import io
import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone

KINDS = ("message", "like", "gift", "follow", "cart", "order", "paid", "member", "enter", "product", "product_end")
# Live-commerce context, not people: the host starts presenting an item (``product``) or stops
# (``product_end``). They place what sold beside what was on show; they never weigh as a reaction.
CONTEXT_KINDS = ("product", "product_end")
MONEY_KINDS = ("paid", "gift", "order")   # records whose ``amount`` is money spent

# How a record's time is given; read_chat turns all of them into seconds from the recording start.
OFFSET = "offset"            # seconds from the start of the stream
EPOCH = "epoch"              # UNIX seconds (wall clock): needs the stream's start time
TIME_OF_DAY = "time_of_day"  # seconds since midnight (a `[HH:MM:SS]` logger): offset unless a start is given


@dataclass
class Message:
    t: float
    user: str                 # a stable id where the format has one, else the name
    text: str = ""
    kind: str = "message"     # one of KINDS
    amount: float = 0.0       # money or bits, for paid messages, gifts and orders
    name: str = ""            # display name (bots are recognised by it)
    emotes: int = 0           # emote/emoji pieces the format marked as such
    clock: str = OFFSET
    line: int = 0             # 1-based line or record number, for warnings
    item: str = ""            # the product a cart, order or paid record is for, or a product event presents
    title: str = ""           # a product event's name for its item ("Down jacket, navy")


@dataclass
class Skipped:
    line: int
    reason: str


def open_binary(path: str) -> io.BufferedIOBase:
    """Open a log for reading bytes (a file, or an object: ``s3://bucket/key``), gunzipping
    transparently."""
    from peakclip.detectors.errors import ChatError, open_input
    from peakclip.detectors.objects import is_object, open_object

    raw = open_object(path, "chat log") if is_object(path) else open_input(path, "chat log", ChatError)
    if raw.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(CutOffGzip(gzip.GzipFile(fileobj=raw)))
    return raw


class CutOffGzip(io.RawIOBase):
    """A gzip stream that ends where its data breaks (a download cut off, a damaged block)
    instead of raising: the log is read as far as it goes, and the parser skips and counts the
    record the break falls in, as it does for a cut-off plain file."""

    def __init__(self, inner: gzip.GzipFile):
        self.inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.inner.read(len(buffer))
        except (EOFError, OSError, zlib.error):
            return 0
        buffer[:len(data)] = data
        return len(data)


def open_text(path: str) -> io.TextIOWrapper:
    """Text with a BOM dropped and undecodable bytes replaced (U+FFFD), never an exception."""
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="replace", newline="")


class RepairedUtf8:
    """A bytes reader over a text stream: what a byte-level JSON/XML parser reads after the text
    layer has dropped the BOM and replaced broken bytes."""

    def __init__(self, text: io.TextIOBase):
        self.text = text

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # parsers probe with read(0) to learn whether they get bytes or text
            return b""
        return self.text.read(size if size > 0 else -1).encode("utf-8")


def number(value) -> float:
    """A float from JSON numbers, Decimals and numeric strings."""
    return float(value)


_AMOUNT = re.compile(r"\d[\d.,\s]*")


def parse_amount(text: str | None) -> float:
    """The number in a money text such as "$5.00", "¥1,000" or "€2,50" (0 when there is none)."""
    match = _AMOUNT.search(text or "")
    if not match:
        return 0.0
    digits = match.group().replace(" ", "").rstrip(".,")
    if "," in digits and "." in digits:
        # the separator that comes last is the decimal point
        if digits.rfind(",") > digits.rfind("."):
            digits = digits.replace(".", "").replace(",", ".")
        else:
            digits = digits.replace(",", "")
    elif "," in digits:
        head, _, tail = digits.rpartition(",")
        digits = digits.replace(",", "") if len(tail) == 3 else head.replace(",", "") + "." + tail
    try:
        return float(digits)
    except ValueError:
        return 0.0


def parse_time(value) -> tuple[float, str]:
    """A ``ts`` value as (seconds, clock): a number is UNIX time (ms if it is that large), a string
    is ISO 8601 (UTC when it names no zone) or a number in text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.timestamp(), EPOCH
    if seconds > 1e11:  # milliseconds since 1970
        seconds /= 1000.0
    return seconds, EPOCH


def parse_stream_start(text: str | None) -> float | None:
    """``--stream-start``: ISO 8601 or UNIX seconds; None when not given."""
    if text in (None, ""):
        return None
    from peakclip.detectors.errors import ChatError

    try:
        return parse_time(text)[0]
    except ValueError:
        raise ChatError(f"--stream-start must be ISO 8601 (2026-11-23T18:00:00Z) or UNIX seconds, got {text!r}") from None
