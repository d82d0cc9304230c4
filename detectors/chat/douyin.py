"""Douyin ("webcast") and Taobao live-room logs, as the open-source room listeners save them: one
JSON object a line, or a JSON array of them (read as a stream).

Douyin pushes each room event as a protobuf "webcast" message; listeners turn it into JSON
(protobuf's ``MessageToDict``/``protojson``, so 64-bit numbers come as strings and names in
lowerCamelCase, or the ``.proto`` names with ``preserving_proto_field_name``) and write it
as is, or inside ``{"method": ..., "payload": {...}}``:

- ``WebcastChatMessage``: ``{"common": {"method", "msgId", "roomId", "createTime"}, "user": {"id",
  "nickName", "secUid"}, "content"}``; ``createTime`` is UNIX milliseconds (the wall clock, so the
  recording's start is needed: ``--stream-start``) -> a ``message``;
- ``WebcastEmojiChatMessage`` (a sticker sent alone, ``defaultContent`` its name) -> a ``message``
  with an emote;
- ``WebcastGiftMessage``: ``gift{"id", "name", "diamondCount"}``, ``repeatCount``/``comboCount``
  (a combo repeats the message with a growing count; only the gifts it adds are paid for),
  ``repeatEnd`` -> a ``gift`` of ``diamondCount`` Douyin coins each, 10 coins a yuan;
- ``WebcastLikeMessage`` -> a ``like``; ``WebcastSocialMessage`` with ``action`` 1 -> a ``follow``
  (a share, any other action, is no reaction and is left out);
- ``WebcastMemberMessage`` (someone comes into the room) -> an ``enter``, which weighs nothing:
  people arriving react to nothing; ``WebcastFansclubMessage`` of ``type`` 2 (joining the fan
  club, Douyin's subscription) -> a ``member``;
- the room's own messages (viewer counts, rankings, stats, control) are not the audience and are
  left out, as unknown methods are.

Taobao live comments, as listeners save the comment API's items (``mtop.taobao.iliad.comment.
query.latest``, ``data.comments[]``; one a line, or whole responses a line): ``{"commentId",
"content", "publisherId", "publisherNick", "timestamp"}`` (UNIX milliseconds) -> a ``message``.

A record's time is ``common.createTime`` (or a time the listener added beside the message:
``timestamp``, ``time``, ``ts``, ``createTime``; ISO 8601 or UNIX seconds or milliseconds).
Records without a time or a sender are skipped and counted.

Where the shapes come from: the webcast ``.proto`` files of
saermart/DouyinLiveWebFetcher (``douyin.proto``: ``Common``, ``User``, ``ChatMessage``,
``GiftMessage``, ``LikeMessage``, ``MemberMessage``, ``SocialMessage``), the methods and fields
skmcj/dycast decodes (``src/core/dycast.ts``), jwwsjlm/douyinLive's JSON messages
(``docs/websocket-client.md``: the message's fields beside ``method``), HaoDong108/DouyinBarrageGrab's
event kinds (``BarrageMessages.cs``), and the Taobao comment listeners built on
DouyinLiveWebFetcher (``TaobaoLiveWebFetcher``: ``publisherNick``, ``publisherId``, ``content``).
"""
from __future__ import annotations

import itertools
import json
import math
import re
from typing import Iterator

from peakclip.detectors.chat.jsonstream import stream_items
from peakclip.detectors.chat.records import EPOCH, Message, Skipped, number, parse_time

NAME = "douyin"
DIAMONDS_PER_YUAN = 10.0   # Douyin coins (抖币) a gift is priced in, 10 to the yuan
FOLLOW = 1                 # WebcastSocialMessage.action of a follow
FANSCLUB_JOIN = 2          # WebcastFansclubMessage.type of joining the fan club
# method -> the kind of record it is; methods not named here are the room's, not the audience's.
METHODS = {"WebcastChatMessage": "message", "WebcastEmojiChatMessage": "message", "WebcastGiftMessage": "gift",
           "WebcastLikeMessage": "like", "WebcastSocialMessage": "follow", "WebcastMemberMessage": "enter",
           "WebcastFansclubMessage": "member"}
TIME_FIELDS = ("timestamp", "time", "ts", "createTime", "create_time", "eventTime", "event_time")
USER_IDS = ("id", "idStr", "id_str", "uid", "secUid", "sec_uid", "shortId", "short_id", "displayId", "display_id")
NICKNAMES = ("nickName", "nickname", "nick_name")
_WEBCAST = re.compile(r'"Webcast\w+Message"')


def sniff(head: str) -> bool:
    start = head.lstrip()[:1]
    return start in ("{", "[") and (bool(_WEBCAST.search(head)) or '"publisherNick"' in head)


def is_json_lines(head: str) -> bool:
    """Whether a log opening with ``head`` has one message a line (so a growing one can be read a
    piece at a time), not a JSON array."""
    return head.lstrip()[:1] == "{"


def first(record: dict, names) -> object:
    """The first of ``names`` that ``record`` holds a value for (not null, not "")."""
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return value
    return None


def record_time(record: dict, body: dict) -> float:
    """UNIX seconds: the message's ``common.createTime``, or a time beside it."""
    common = body.get("common") if isinstance(body.get("common"), dict) else {}
    value = first(common, ("createTime", "create_time"))
    if value is None:
        value = first(body, TIME_FIELDS) if body is not record else None
    if value is None:
        value = first(record, TIME_FIELDS)
    if value is None:
        raise KeyError("createTime")
    return finite_time(value)


def finite_time(value) -> float:
    """UNIX seconds from a time field (``parse_time``); NaN and infinities are no time."""
    seconds = parse_time(value)[0]
    if not math.isfinite(seconds):
        raise ValueError(f"time {value!r}")
    return seconds


def sender(body: dict) -> tuple[str, str]:
    """(stable id, nickname) of the webcast message's ``user``."""
    user = body.get("user")
    if not isinstance(user, dict):
        raise KeyError("user")
    name = first(user, NICKNAMES)
    who = first(user, USER_IDS) or name
    if who is None:
        raise KeyError("user id")
    return str(who), str(name or who)


class Gifts:
    """What a gift message adds: a combo (the same gift sent again and again) repeats its message
    with a growing ``repeatCount``, so only the increase over the last one is new. Where the
    message names its combo (``groupId``), a count no higher than the combo's so far is the same
    message delivered again; without one, a lower or equal count starts another combo."""

    def __init__(self):
        self.last: dict[tuple[str, str, str], int] = {}   # (sender, gift id, combo) -> its count so far

    def added(self, who: str, body: dict) -> tuple[float, int]:
        """(money in yuan, gifts) this message adds."""
        gift = body.get("gift") if isinstance(body.get("gift"), dict) else {}
        gift_id = str(first(gift, ("id",)) or first(body, ("giftId", "gift_id")) or "")
        diamonds = max(0.0, number(first(gift, ("diamondCount", "diamond_count")) or 0))
        count = max(1, int(number(first(body, ("repeatCount", "repeat_count", "comboCount", "combo_count")) or 1)))
        combo = str(first(body, ("groupId", "group_id")) or "")
        key = (who, gift_id, combo)
        before = self.last.get(key, 0)
        new = count - before if count > before or combo else count   # without a combo id: another combo
        new = max(0, new)
        if str(first(body, ("repeatEnd", "repeat_end")) or 0) == "1":
            self.last.pop(key, None)   # the combo's closing message repeats its total
            new = max(0, count - before)
        else:
            self.last[key] = count
        return diamonds * new / DIAMONDS_PER_YUAN, new


def webcast(record: dict, body: dict, method: str, index: int, gifts: Gifts) -> Message | Skipped | None:
    kind = METHODS.get(method)
    if kind is None:
        return None
    try:
        t = record_time(record, body)
        who, name = sender(body)
        text, emotes, amount = "", 0, 0.0
        if method == "WebcastChatMessage":
            text = str(body.get("content") or "")
        elif method == "WebcastEmojiChatMessage":
            text, emotes = str(first(body, ("defaultContent", "default_content")) or ""), 1
        elif kind == "gift":
            amount, sent = gifts.added(who, body)
            if not sent:
                return None   # a combo's closing message: its gifts were counted as they came
        elif kind == "follow" and int(number(body.get("action") or 0)) != FOLLOW:
            return None
        elif kind == "member" and int(number(body.get("type") or 0)) != FANSCLUB_JOIN:
            return None
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
        return Skipped(index, f"missing or bad field {err}")
    return Message(t=t, user=who, text=text, kind=kind, amount=amount, name=name, emotes=emotes,
                   clock=EPOCH, line=index)


def taobao(comment: dict, index: int) -> Message | Skipped:
    try:
        moment = first(comment, TIME_FIELDS)
        if moment is None:
            raise KeyError("timestamp")
        t = finite_time(moment)
        name = first(comment, ("publisherNick", "nick"))
        who = first(comment, ("publisherId", "userId")) or name
        if who is None:
            raise KeyError("publisherId")
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
        return Skipped(index, f"missing or bad field {err}")
    return Message(t=t, user=str(who), text=str(comment.get("content") or ""), name=str(name or who),
                   clock=EPOCH, line=index)


def records_of(item, index: int, gifts: Gifts) -> Iterator[Message | Skipped]:
    """What one JSON value of the log holds: a webcast message (bare or wrapped), a Taobao
    comment, or a Taobao comment response with its comments."""
    if not isinstance(item, dict):
        yield Skipped(index, "not a JSON object")
        return
    payload = item.get("payload")
    body = payload if isinstance(payload, dict) else item
    common = body.get("common") if isinstance(body.get("common"), dict) else {}
    method = item.get("method") or common.get("method") or body.get("method")
    if isinstance(method, str) and method:
        found = webcast(item, body, method, index, gifts)
        if found is not None:
            yield found
        return
    data = item.get("data")
    comments = data.get("comments") if isinstance(data, dict) else None
    if isinstance(comments, list):
        for comment in comments:
            yield taobao(comment, index) if isinstance(comment, dict) else Skipped(index, "not a JSON object")
        return
    if "publisherNick" in item or "publisherId" in item:
        yield taobao(item, index)
        return
    yield Skipped(index, "neither a webcast message nor a comment")


class Prefixed:
    """A text stream with its first characters, already read to tell the layout, put back."""

    def __init__(self, head: str, text):
        self.head, self.text = head, text

    def read(self, size: int = -1) -> str:
        if self.head:
            if size is None or size < 0:
                out, self.head = self.head + self.text.read(), ""
                return out
            out, self.head = self.head[:size], self.head[size:]
            return out
        return self.text.read(size)


def parse(text, gifts: Gifts | None = None) -> Iterator[Message | Skipped]:
    """The log's messages. ``gifts``: the combos counted so far, kept by a reader that follows a
    growing JSON Lines log a piece at a time (a combo's messages can fall in two pieces)."""
    gifts = gifts if gifts is not None else Gifts()
    head = ""
    while not head.strip():   # what the log opens with tells its layout
        chunk = text.read(1)
        if not chunk:
            return
        head += chunk
    if head.endswith("["):   # a JSON array of messages, streamed
        for index, item in stream_items(Prefixed(head, text), "item", NAME):
            if isinstance(item, Skipped):
                yield item
            else:
                yield from records_of(item, index, gifts)
        return
    blank = head.count("\n")   # JSON Lines: one message a line, read a line at a time
    lines = itertools.chain([head[head.rfind("\n") + 1:] + text.readline()], text)
    for line_no, line in enumerate(lines, start=blank + 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            yield Skipped(line_no, "not valid JSON")
            continue
        yield from records_of(item, line_no, gifts)
