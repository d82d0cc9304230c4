"""The plan of a sample stream: which highlights and distractors lie where (seconds), how
busy the audience is when, and who is watching."""
from __future__ import annotations

import numpy as np

HIGHLIGHT_KINDS = ("crowd", "chat", "action")
# The ways each kind can be planted; the first is the default. Picture, sound and chat differ per
# way (see ``frames``, ``audio`` and ``chat``), so that no one way's habits can be tuned to.
WAYS = {"crowd": ("roar", "applause", "chant"),
        "chat": ("reactions", "price-drop", "emoji-wave"),
        "action": ("roar", "rumble-pan", "strobe")}
DISTRACTOR_KINDS = ("music", "shout", "bots", "giveaway", "votes", "spam", "camera", "cuts")
LENGTHS = {"crowd": (6, 10), "chat": (6, 10), "action": (6, 10), "music": (15, 25), "shout": (4, 6),
           "bots": (10, 10), "giveaway": (15, 15), "votes": (10, 20), "spam": (10, 10), "camera": (0.5, 0.5),
           "cuts": (6, 10)}
# A real stream's edges: a "starting soon" card with a jingle while people arrive and greet, and
# an outro card while they say goodbye (seconds; ``generate(edges=True)``).
INTRO, OUTRO = 20.0, 15.0


class SampleError(ValueError):
    """A stream that cannot be made as asked: the user's numbers, told in one line."""


def plan(rng: np.random.Generator, duration: float, highlights: list[str], distractors: list[str],
         margin: float = 15.0, edges: bool = False, fixed: list[dict] | None = None) -> dict:
    """Place every event at random, never closer than ``margin`` seconds to another; with
    ``edges``, an intro and an outro (distractors) hold the stream's first and last seconds;
    ``fixed`` events (each with its ``group``) are already placed (a commerce stream's price reveals)."""
    for spec in highlights:
        kind, _, way = spec.partition(":")
        if kind not in WAYS or (way and way not in WAYS[kind]):
            raise SampleError(f"unknown highlight {spec!r}: kinds are " + ", ".join(
                f"{k} ({' | '.join(w)})" for k, w in WAYS.items()))
    events = [(spec, "highlights") for spec in highlights] + [(kind, "distractors") for kind in distractors]
    edge_cards = [{"start": 0.0, "end": INTRO, "kind": "intro", "group": "distractors"},
                  {"start": round(duration - OUTRO, 2), "end": duration, "kind": "outro", "group": "distractors"}] if edges else []
    fixed = edge_cards + list(fixed or [])
    for _ in range(200):
        placed: list[dict] = [dict(e) for e in fixed]
        order = rng.permutation(len(events))
        for index in order:
            spec, group = events[index]
            kind, _, way = spec.partition(":")
            low, high = LENGTHS[kind]
            length = round(float(rng.uniform(low, high)), 2)
            latest = duration - length - 8        # an event starts and ends at least 8 s inside the stream
            for _ in range(200 if latest >= 8 else 0):
                start = round(float(rng.uniform(8, latest)), 2)
                if all(start + length + margin <= e["start"] or start >= e["end"] + margin for e in placed):
                    event = {"start": start, "end": round(start + length, 2), "kind": kind, "group": group}
                    if group == "highlights":
                        event["way"] = way or WAYS[kind][0]
                    placed.append(event)
                    break
            else:
                break
        if len(placed) == len(events) + len(fixed):
            truth = {"duration": duration, "highlights": [], "distractors": []}
            for event in sorted(placed, key=lambda e: e["start"]):
                truth[event.pop("group")].append(event)
            # The audience grows or shrinks between the stages of the broadcast.
            truth["audience"] = [round(float(x), 2) for x in rng.choice([0.5, 0.8, 1.0, 1.4, 1.8], size=3)]
            return truth
    raise SampleError(f"cannot fit {len(events)} highlights and distractors into {duration:g} s: "
                      "make the stream longer (--duration) or plant fewer (--highlights)")


def windows(truth: dict, *kinds: str) -> list[dict]:
    return [e for e in truth["highlights"] + truth["distractors"] if not kinds or e["kind"] in kinds]


def active(t: float, events: list[dict]) -> dict | None:
    for event in events:
        if event["start"] <= t < event["end"]:
            return event
    return None


def audience_at(truth: dict, t: float) -> float:
    stage = min(2, int(3 * t / truth["duration"]))
    return truth["audience"][stage]


def viewer_names(viewers: int) -> list[str]:
    return [f"viewer{i:03d}" for i in range(viewers)]
