"""Stream the items of a large JSON document without loading it (ijson, C backend)."""
from __future__ import annotations

from typing import Iterator

import ijson

from peakclip.detectors.chat.records import RepairedUtf8, Skipped
from peakclip.detectors.errors import ChatError


def first_line(err: Exception) -> str:
    """yajl's messages draw a caret under the bad character on further lines: keep the first."""
    lines = str(err).strip().splitlines()
    return lines[0].strip() if lines else type(err).__name__


def stream_items(text, prefix: str, format_name: str) -> Iterator[tuple[int, object]]:
    """``(record number, item)`` for each item under ``prefix``; where the document breaks off
    (a cut-off file) a single ``Skipped`` marks the spot, after every item that came before it."""
    count = 0
    try:
        for count, item in enumerate(ijson.items(RepairedUtf8(text), prefix, use_float=True), start=1):
            yield count, item
    except ijson.common.IncompleteJSONError as err:
        if count == 0 and "premature EOF" not in str(err):
            raise ChatError(f"{format_name} chat log is not valid JSON ({first_line(err)})") from None
        yield count + 1, Skipped(count + 1, "the file ends in the middle of a record")
    except ijson.common.JSONError as err:
        if count == 0:
            raise ChatError(f"{format_name} chat log is not valid JSON ({first_line(err)})") from None
        yield count + 1, Skipped(count + 1, f"unreadable JSON from here on ({first_line(err)})")
