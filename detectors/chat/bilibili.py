"""Bilibili danmaku XML: ``<i>...<d p="offset,mode,size,color,send_unix_time,pool,user_hash,dmid">
text</d>...</i>``. The first field of ``p`` is the video offset in seconds; the seventh is a hash
of the sender. Parsed incrementally (iterparse), so a cut-off file yields every comment before the cut."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterator

from peakclip.detectors.chat.records import Message, RepairedUtf8, Skipped
from peakclip.detectors.errors import ChatError

NAME = "bilibili"


def sniff(head: str) -> bool:
    return "<d p=" in head or ("<i>" in head and "chatserver" in head)


def parse(text) -> Iterator[Message | Skipped]:
    count = 0
    try:
        for _, element in ET.iterparse(RepairedUtf8(text), events=("end",)):
            if element.tag != "d":
                continue
            count += 1
            fields = (element.get("p") or "").split(",")
            body = element.text or ""
            element.clear()  # keep memory flat
            try:
                t = float(fields[0])
                user = fields[6] if len(fields) > 6 and fields[6] else ""
                if not user:
                    raise ValueError("no sender hash")
            except (ValueError, IndexError) as err:
                yield Skipped(count, f"bad p attribute ({err})")
                continue
            yield Message(t=t, user=user, text=body, name=user, line=count)
    except ET.ParseError as err:
        if count == 0:
            raise ChatError(f"bilibili danmaku file is not valid XML ({err})") from None
        yield Skipped(count + 1, "the file breaks off or is damaged here")
