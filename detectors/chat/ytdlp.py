"""yt-dlp ``live_chat.json``: JSON Lines, each a ``replayChatItemAction`` holding
``addChatItemAction`` items and ``videoOffsetTimeMsec`` (beside it instead on lines recorded live).
Text, Super Chat (paid message and sticker) and membership items are read; the rest is ignored."""
from __future__ import annotations

import json
from typing import Iterator

from peakclip.detectors.chat.records import Message, Skipped, number, parse_amount

NAME = "yt-dlp"
RENDERERS = {"liveChatTextMessageRenderer": "message", "liveChatPaidMessageRenderer": "paid",
             "liveChatPaidStickerRenderer": "paid", "liveChatMembershipItemRenderer": "member",
             "liveChatSponsorshipsGiftPurchaseAnnouncementRenderer": "gift"}


def sniff(head: str) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    return first.startswith("{") and ("replayChatItemAction" in first or "addChatItemAction" in first)


def _simple(value) -> str:
    if isinstance(value, dict):
        if "simpleText" in value:
            return str(value["simpleText"])
        return "".join(_run_text(r) for r in value.get("runs") or [])
    return str(value or "")


def _run_text(run: dict) -> str:
    if "text" in run:
        return str(run["text"])
    emoji = run.get("emoji") or {}
    shortcuts = emoji.get("shortcuts") or []
    return str(shortcuts[0] if shortcuts else emoji.get("emojiId", ""))


def parse(text) -> Iterator[Message | Skipped]:
    for line_no, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            replay = record.get("replayChatItemAction", record)
            offset = replay.get("videoOffsetTimeMsec", record.get("videoOffsetTimeMsec"))
            if offset is None:
                raise KeyError("videoOffsetTimeMsec")
            t = number(offset) / 1000.0
            actions = replay.get("actions") or []
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as err:
            yield Skipped(line_no, "not valid JSON" if isinstance(err, json.JSONDecodeError) else f"missing or bad field {err}")
            continue
        for action in actions:
            item = ((action or {}).get("addChatItemAction") or {}).get("item") or {}
            for renderer_name, kind in RENDERERS.items():
                renderer = item.get(renderer_name)
                if renderer is None:
                    continue
                runs = (renderer.get("message") or {}).get("runs") or []
                user = renderer.get("authorExternalChannelId") or _simple(renderer.get("authorName"))
                if not user:
                    yield Skipped(line_no, "chat item without an author")
                    continue
                yield Message(t=t, user=str(user), text="".join(_run_text(r) for r in runs), kind=kind,
                              amount=parse_amount(_simple(renderer.get("purchaseAmountText"))),
                              name=_simple(renderer.get("authorName")),
                              emotes=sum(1 for r in runs if "emoji" in r), line=line_no)
