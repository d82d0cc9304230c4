"""TwitchDownloader chat JSON (schema 1.x): ``{"comments": [{"content_offset_seconds", "commenter",
"message": {"body", "fragments"}}, ...]}``, plain or gzip-compressed."""
from __future__ import annotations

import json
from typing import Iterator

from detectors.chat.log import Message, Skipped
from detectors.errors import ChatError


def sniff(head: str) -> bool:
    return head.lstrip().startswith("{") and '"comments"' in head and (
        '"content_offset_seconds"' in head or '"FileInfo"' in head or '"streamer"' in head)


def parse(text) -> Iterator[Message | Skipped]:
    try:
        document = json.load(text)
    except json.JSONDecodeError as err:
        raise ChatError(f"TwitchDownloader chat log is not valid JSON ({err.msg} at line {err.lineno})") from None
    comments = document.get("comments") if isinstance(document, dict) else None
    if not isinstance(comments, list):
        raise ChatError("TwitchDownloader chat log has no 'comments' list")
    for number, comment in enumerate(comments, start=1):
        try:
            t = float(comment["content_offset_seconds"])
            commenter = comment.get("commenter") or {}
            user = commenter.get("_id") or commenter.get("name") or commenter["display_name"]
            message = comment.get("message") or {}
            text_body = message.get("body")
            if text_body is None:
                text_body = "".join(f.get("text", "") for f in message.get("fragments") or [])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            yield Skipped(number, f"missing or bad field {err}")
            continue
        yield Message(t=t, user=str(user), text=str(text_body), line=number)
