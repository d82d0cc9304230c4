"""TwitchDownloader chat JSON (schema 1.x): ``{"FileInfo", "streamer", "video", "comments": [{
"content_offset_seconds", "commenter": {"_id", "name", "display_name"}, "message": {"body",
"fragments": [{"text", "emoticon"}], "bits_spent", "user_notice_params": {"msg_id"}}}]}``,
plain or gzip-compressed. Read as a stream (ijson): memory does not grow with the log, and a file
cut off mid-way yields every comment before the cut."""
from __future__ import annotations

from typing import Iterator

from peakclip.detectors.chat.jsonstream import stream_items
from peakclip.detectors.chat.records import Message, Skipped, number

NAME = "twitchdownloader"


def sniff(head: str) -> bool:
    return head.lstrip().startswith("{") and '"comments"' in head and (
        '"content_offset_seconds"' in head or '"FileInfo"' in head or '"streamer"' in head)


def parse(text) -> Iterator[Message | Skipped]:
    for number_, comment in stream_items(text, "comments.item", NAME):
        if isinstance(comment, Skipped):
            yield comment
            continue
        try:
            t = number(comment["content_offset_seconds"])
            commenter = comment.get("commenter") or {}
            name = commenter.get("name") or commenter.get("display_name") or ""
            user = commenter.get("_id") or name
            if not user:
                raise KeyError("commenter")
            message = comment.get("message") or {}
            fragments = message.get("fragments") or []
            body = message.get("body")
            if body is None:
                body = "".join(str(f.get("text", "")) for f in fragments)
            bits = number(message.get("bits_spent") or 0)
            notice = (message.get("user_notice_params") or {}).get("msg_id") or ""
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            yield Skipped(number_, f"missing or bad field {err}")
            continue
        kind = "paid" if bits > 0 else "gift" if "gift" in notice else "member" if notice in ("sub", "resub") else "message"
        yield Message(t=t, user=str(user), text=str(body), kind=kind, amount=bits / 100.0, name=str(name),
                      emotes=sum(1 for f in fragments if isinstance(f, dict) and f.get("emoticon")), line=number_)
