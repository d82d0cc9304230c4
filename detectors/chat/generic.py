"""Generic chat and commerce event logs, JSON Lines or CSV, one record each:

- ``t``: seconds from the stream start, or ``ts``: ISO 8601 / UNIX time (needs ``--stream-start``);
- ``user``, ``text``; optional ``type`` in message, like, gift, follow, cart, order, paid, member
  (default message) and ``amount`` (money, for gifts and orders);
- live commerce: ``{"type": "product", "item": "SKU-123", "title": "Down jacket, navy", "t": 120}``
  the host starts presenting an item (until the next product record, or ``{"type": "product_end"}``
  / an ``item`` of null); ``item`` on a cart, order or paid record names the item it is for.
  Product records need no ``user``: the host switching items is not a person in the audience.

This is also the format for live-commerce platforms' event exports.
"""
from __future__ import annotations

import csv
import json
from typing import Iterator

from peakclip.detectors.chat.records import (
    CONTEXT_KINDS,
    KINDS,
    OFFSET,
    Message,
    Skipped,
    number,
    parse_amount,
    parse_time,
)

JSONL_NAME = "jsonl"
CSV_NAME = "csv"


def sniff_jsonl(head: str) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    if not first.startswith("{"):
        return False
    try:
        record = json.loads(first)
    except json.JSONDecodeError:
        return '"user"' in first and ('"t"' in first or '"ts"' in first)
    return (isinstance(record, dict) and ("t" in record or "ts" in record)
            and ("user" in record or record.get("type") in CONTEXT_KINDS))   # an events log may open with a product


def sniff_csv(head: str) -> bool:
    header = head.lstrip().split("\n", 1)[0].strip().lower()
    columns = [c.strip().strip('"') for c in header.split(",")]
    return ("user" in columns or "item" in columns) and ("t" in columns or "ts" in columns)


def text_field(record: dict, name: str) -> str:
    """An item id or a title: text or a number; missing, null and "" are none; anything else is bad."""
    value = record.get(name)
    if value is None or isinstance(value, bool):
        return ""
    if not isinstance(value, (str, int, float)):
        raise ValueError(f"{name} is a JSON {type(value).__name__}")
    return str(value).strip()


def record_message(record: dict, line_no: int) -> Message | Skipped:
    try:
        if record.get("t") not in (None, ""):
            t, clock = number(record["t"]), OFFSET
        else:
            t, clock = parse_time(record["ts"])
        kind = str(record.get("type") or "message").strip().lower()
        if kind not in KINDS:
            return Skipped(line_no, f"unknown type {kind!r}")
        item = text_field(record, "item")
        if kind == "product" and not item:   # a product record with no item ends the presentation
            kind = "product_end"
        title = text_field(record, "title") if kind == "product" else ""
        # The host switching items is no one in the audience: a product record needs no user.
        user = str(record.get("user") or "").strip() if kind in CONTEXT_KINDS else str(record["user"]).strip()
        if not user and kind not in CONTEXT_KINDS:
            raise ValueError("empty user")
        raw_amount = record.get("amount") or 0
        amount = parse_amount(raw_amount) if isinstance(raw_amount, str) else number(raw_amount)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        return Skipped(line_no, f"missing or bad field {err}")
    return Message(t=t, user=user, text=str(record.get("text") or ""), kind=kind, amount=amount, name=user,
                   clock=clock, line=line_no, item=item, title=title)


def parse_jsonl(text) -> Iterator[Message | Skipped]:
    for line_no, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            yield Skipped(line_no, "not valid JSON")
            continue
        yield record_message(record, line_no) if isinstance(record, dict) else Skipped(line_no, "not a JSON object")


def parse_csv(text) -> Iterator[Message | Skipped]:
    reader = csv.DictReader(text)
    if reader.fieldnames:
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    for row in reader:
        line_no = reader.line_num
        if None in row:  # more cells than the header has
            yield Skipped(line_no, "more fields than the header")
            continue
        yield record_message(row, line_no)
