"""Twitch IRC logs.

Two layouts:
- raw IRCv3 lines, ``@badge-info=;...;tmi-sent-ts=<ms>;user-id=... :nick!nick@nick.tmi.twitch.tv
  PRIVMSG #channel :text`` (also USERNOTICE for subs and gifts). ``tmi-sent-ts`` is wall-clock
  time, so these logs need the stream's start (``--stream-start``).
- chat-logger text, ``[HH:MM:SS] user: text`` (TwitchDownloader's TXT export, Chatterino-style
  loggers). The clock is read as time since the stream started, unless ``--stream-start`` is
  given, in which case it is the time of day and the start is subtracted.
"""
from __future__ import annotations

import re
from typing import Iterator

from peakclip.detectors.chat.records import EPOCH, TIME_OF_DAY, Message, Skipped

NAME = "twitch-irc"
TEXT_NAME = "chat-text"

_IRC = re.compile(r"^(?:@(?P<tags>\S*) )?:(?P<nick>[^!\s]+)(?:!\S*)? (?P<command>PRIVMSG|USERNOTICE) #\S+(?: :(?P<text>.*))?$")
_TEXT = re.compile(r"^\[(?P<h>\d{1,2}):(?P<m>\d{2}):(?P<s>\d{2}(?:\.\d+)?)\]\s+(?P<user>[^:\s][^:]*?):\s?(?P<text>.*)$")
_TAG_ESCAPES = {r"\s": " ", r"\:": ";", r"\\": "\\", r"\r": "\r", r"\n": "\n"}


def sniff(head: str) -> bool:
    lines = [ln for ln in head.splitlines()[:20] if ln.strip()]
    return any(_IRC.match(ln) for ln in lines)


def sniff_text(head: str) -> bool:
    lines = [ln for ln in head.splitlines()[:20] if ln.strip()]
    return bool(lines) and sum(1 for ln in lines if _TEXT.match(ln)) >= max(1, len(lines) // 2)


def _tags(raw: str) -> dict[str, str]:
    tags = {}
    for pair in raw.split(";"):
        key, _, value = pair.partition("=")
        tags[key] = re.sub(r"\\[s:\\rn]", lambda m: _TAG_ESCAPES[m.group()], value)
    return tags


def parse(text) -> Iterator[Message | Skipped]:
    for line_no, line in enumerate(text, start=1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith(("PING", ":tmi.twitch.tv")) or " PRIVMSG " not in line and " USERNOTICE " not in line:
            continue  # server chatter: joins, pings, room states
        match = _IRC.match(line)
        if not match:
            yield Skipped(line_no, "not an IRC chat line")
            continue
        tags = _tags(match.group("tags") or "")
        try:
            t = float(tags["tmi-sent-ts"]) / 1000.0
        except (KeyError, ValueError):
            yield Skipped(line_no, "no tmi-sent-ts time tag")
            continue
        bits = float(tags.get("bits") or 0)
        notice = tags.get("msg-id", "")
        if match.group("command") == "USERNOTICE":
            kind = "gift" if "gift" in notice else "member" if notice in ("sub", "resub") else "message"
        else:
            kind = "paid" if bits else "message"
        yield Message(t=t, user=tags.get("user-id") or match.group("nick"), text=match.group("text") or "",
                      kind=kind, amount=bits / 100.0, name=tags.get("display-name") or match.group("nick"),
                      emotes=len([e for e in tags.get("emotes", "").split("/") if e]), clock=EPOCH, line=line_no)


def parse_text(text) -> Iterator[Message | Skipped]:
    for line_no, line in enumerate(text, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        match = _TEXT.match(line)
        if not match:
            yield Skipped(line_no, "not a `[HH:MM:SS] user: text` line")
            continue
        seconds = int(match.group("h")) * 3600 + int(match.group("m")) * 60 + float(match.group("s"))
        user = match.group("user").strip()
        yield Message(t=seconds, user=user, text=match.group("text"), name=user, clock=TIME_OF_DAY, line=line_no)
