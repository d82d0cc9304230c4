"""Generic chat and commerce event logs, JSON Lines or CSV, one record each:

- ``t``: seconds from the stream start, or ``ts``: ISO 8601 / UNIX time (needs ``--stream-start``);
- ``user``, ``text``; optional ``type`` in message, like, gift, follow, cart, order (default
  message) and ``amount`` (money, for gifts and orders).

This is also the format for live-commerce platforms' event exports.
"""
from __future__ import annotations

import csv
import json
from typing import Iterator

from detectors.chat.records import KINDS, OFFSET, Message, Skipped, number, parse_amount, parse_time

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
    return isinstance(record, dict) and "user" in record and ("t" in record or "ts" in record)


def sniff_csv(head: str) -> bool:
    header = head.lstrip().split("\n", 1)[0].strip().lower()
    columns = [c.strip().strip('"') for c in header.split(",")]
    return "user" in columns and ("t" in columns or "ts" in columns)


def record_message(record: dict, line_no: int) -> Message | Skipped:
    try:
        if record.get("t") not in (None, ""):
            t, clock = number(record["t"]), OFFSET
        else:
            t, clock = parse_time(record["ts"])
        user = str(record["user"]).strip()
        if not user:
            raise ValueError("empty user")
        kind = str(record.get("type") or "message").strip().lower()
        if kind not in KINDS:
            return Skipped(line_no, f"unknown type {kind!r}")
        raw_amount = record.get("amount") or 0
        amount = parse_amount(raw_amount) if isinstance(raw_amount, str) else number(raw_amount)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        return Skipped(line_no, f"missing or bad field {err}")
    return Message(t=t, user=user, text=str(record.get("text") or ""), kind=kind, amount=amount, name=user,
                   clock=clock, line=line_no)


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
