"""chat-downloader JSON output: a list of items with ``time_in_seconds`` (replays) or ``timestamp``
(UNIX microseconds), ``message``, ``message_type``, ``author{id, name}`` and optional ``money``."""
from __future__ import annotations

from typing import Iterator

from peakclip.detectors.chat.jsonstream import stream_items
from peakclip.detectors.chat.records import EPOCH, OFFSET, Message, Skipped, number

NAME = "chat-downloader"
TYPES = {"text_message": "message", "paid_message": "paid", "paid_sticker": "paid",
         "membership_item": "member", "sponsorships_gift_purchase_announcement": "gift",
         "sponsorships_gift_redemption_announcement": "member"}


def sniff(head: str) -> bool:
    start = head.lstrip()
    return start.startswith("[") and '"message' in head and (
        '"time_in_seconds"' in head or '"message_type"' in head or '"action_type"' in head)


def parse(text) -> Iterator[Message | Skipped]:
    for index, item in stream_items(text, "item", NAME):
        if isinstance(item, Skipped):
            yield item
            continue
        try:
            message_type = item.get("message_type", "text_message")
            kind = TYPES.get(message_type)
            if kind is None:
                continue  # bans, deletions, polls: not the audience talking
            if item.get("time_in_seconds") is not None:
                t, clock = number(item["time_in_seconds"]), OFFSET
            else:
                t, clock = number(item["timestamp"]) / 1e6, EPOCH
            author = item.get("author") or {}
            user = author.get("id") or author.get("name")
            if not user:
                raise KeyError("author")
            money = item.get("money") or {}
            amount = number(money.get("amount") or item.get("amount") or 0)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            yield Skipped(index, f"missing or bad field {err}")
            continue
        yield Message(t=t, user=str(user), text=str(item.get("message") or ""), kind=kind, amount=amount,
                      name=str(author.get("name") or ""), emotes=len(item.get("emotes") or []),
                      clock=clock, line=index)
