"""From chat records to the audience signal: who is reacting, how strongly, bin by bin.

Contract: an ``Audience`` receives messages one at a time (``add``) and keeps only per-bin arrays,
one small entry per user and the class of at most ``SAID_CACHE`` distinct texts, so a log of
millions of messages needs no more memory than its bins and its people. ``series()`` gives the
``chat`` Series: in each bin, the sum over people who posted within the last ``window`` seconds
of the weight of their strongest recent message.

Why people, not messages: one user pasting the same line, a bot announcing a giveaway, or a log
tool that keeps one message a second would otherwise look like a crowd. Commands (``!join``),
known bots and votes (``1``, ``1111``, ``扣1``, ``+1``: the host's call answered, a poll) are
dropped and counted; reactions (emotes, LUL, 666, 哈哈哈, 233333, ？？？) weigh more than talk; a
message that is only a hello or a goodbye ("hi", "hello from Berlin", "bye", "gg", "主播好",
"晚安") weighs little: people arriving as a stream opens and leaving as it closes are not reacting
to anything; commerce events (likes, gifts, follows, add-to-cart, orders, paid messages) carry
their own weights. What counts as each is in ``words`` (English and Chinese).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from peakclip.detectors.chat.records import CONTEXT_KINDS, MONEY_KINDS, Message
from peakclip.detectors.chat.words import DEFAULT_GREETINGS, DEFAULT_REACTIONS, DEFAULT_VOTES, fold
from peakclip.detectors.series import Series

# What ``Audience.classify`` calls a record; the first five are also the keys of ``Audience.counts``.
BOTS, COMMANDS, VOTES, GREETINGS, REACTIONS = "bots", "commands", "votes", "greetings", "reactions"
CONTEXT, TALK = "context", "talk"   # a product switch; anything else (ordinary talk, commerce events)


@dataclass
class ChatConfig:
    format: str | None = None      # force a chat format instead of detecting it
    # A second log read into the same audience and product book: a live-commerce platform keeps
    # the chat in one file and the product switches, carts and orders in another (--events).
    # Its format is always detected (``format`` forces the chat log's only).
    events: str | None = None
    offset: float = 0.0            # seconds added to every chat time (a log whose clock is off)
    stream_start: str | None = None  # ISO 8601 or UNIX time the recording started (wall-clock logs)
    window: float = 5.0            # a person counts for this many seconds after posting
    lag: float = 5.0               # chat reacts about this long after the moment; fusion shifts it back
    weight_message: float = 1.0    # weight of one person per event type
    weight_like: float = 0.3
    weight_gift: float = 2.0
    weight_follow: float = 1.0
    weight_cart: float = 2.0
    weight_order: float = 4.0
    weight_paid: float = 3.0
    weight_member: float = 2.0
    # Someone coming into the room (Douyin's member messages): a person arriving reacts to nothing.
    weight_enter: float = 0.0
    reaction_boost: float = 1.5    # a reaction message weighs this many times ordinary talk
    # `reactions`, `greetings` and `votes` are regexes matched case-insensitively after Unicode NFKC
    # (fullwidth ？１ read as ?1), a greeting first, then a reaction, then a vote (so 88 is a
    # goodbye and 666 a reaction, never votes); the defaults are built in detectors/chat/words.py.
    reactions: str = DEFAULT_REACTIONS  # reaction text, anywhere in a message: LUL, 666, 哈哈哈, 233333, ？？？
    greetings: str = DEFAULT_GREETINGS  # a message that only says hello or bye: hi all, 主播好, 晚安
    votes: str = DEFAULT_VOTES          # a message that is only a vote: 1, 11, 1111, 扣1, +1
    greeting_weight: float = 0.2   # a greeting or goodbye weighs this share of ordinary talk
    drop_commands: bool = True     # messages starting with !word are bot commands, not reactions
    drop_votes: bool = True        # votes are the host's call answered or a poll, not reactions
    bots: list[str] = field(default_factory=lambda: [
        "nightbot", "streamelements", "moobot", "fossabot", "streamlabs", "wizebot", "botisimo", "sery_bot"])

    def weight(self, kind: str) -> float:
        return getattr(self, f"weight_{kind}", 0.0)


_COMMAND = re.compile(r"^\s*!\w")
SAID_CACHE = 4096   # distinct message texts whose class is remembered (chat repeats itself: 1, 666, LUL)


class Audience:
    """Accumulates the audience signal and commerce counts on a growing bin grid."""

    def __init__(self, hop: float, config: ChatConfig):
        self.hop = hop
        self.config = config
        self.window_bins = max(1, int(round(config.window / hop)))
        self.reaction = re.compile(config.reactions, re.IGNORECASE)
        self.greeting = re.compile(config.greetings, re.IGNORECASE)
        self.vote = re.compile(config.votes, re.IGNORECASE)
        self.bots = {b.lower() for b in config.bots}
        self.presence_delta = np.zeros(1024)   # +w where a presence starts, -w where it ends
        self.orders = np.zeros(1024)           # order events per bin
        self.paid = np.zeros(1024)             # money in paid messages and gifts per bin
        self.last: dict[str, tuple[int, float]] = {}  # user -> (bin of last post, its weight)
        self.counts = {COMMANDS: 0, BOTS: 0, VOTES: 0, REACTIONS: 0, GREETINGS: 0}  # messages of each
        self.said: dict[str, str] = {}         # message text -> ``says(text)``, for at most SAID_CACHE texts
        self.kinds: dict[str, int] = {}
        self.max_bin = -1

    def _grow(self, needed: int) -> None:
        size = len(self.presence_delta)
        if needed < size:
            return
        new_size = max(needed + 1, size * 2)
        for name in ("presence_delta", "orders", "paid"):
            array = getattr(self, name)
            setattr(self, name, np.concatenate([array, np.zeros(new_size - size)]))

    def classify(self, message: Message) -> str:
        """What a record is to the audience: ``CONTEXT`` (a product switch), ``BOTS``, ``COMMANDS``
        (``!join``), ``GREETINGS`` (a hello or goodbye and nothing more), ``REACTIONS``, ``VOTES``
        (``1``, ``扣1``), or ``TALK`` (anything else, commerce events included). Greetings are
        checked before reactions (a closing "gg" is a goodbye) and both before votes (``88`` is
        a goodbye, ``666`` a reaction)."""
        if message.kind in CONTEXT_KINDS:   # the host's product switches: context, not people
            return CONTEXT
        if message.name.lower() in self.bots or message.user.lower() in self.bots:
            return BOTS
        if message.kind != "message":
            return TALK
        kind = self.said.get(message.text)
        if kind is None:
            kind = self.says(message.text)
            if len(self.said) >= SAID_CACHE:
                self.said.clear()
            self.said[message.text] = kind
        if message.emotes and kind in (VOTES, TALK):   # emotes the format marked make a reaction
            return REACTIONS
        return kind

    def says(self, text: str) -> str:
        """What a chat message's text is, emotes aside: ``COMMANDS``, ``GREETINGS``,
        ``REACTIONS``, ``VOTES`` or ``TALK``."""
        text = fold(text)
        if self.config.drop_commands and _COMMAND.match(text):
            return COMMANDS
        if self.greeting.match(text):
            return GREETINGS
        if self.reaction.search(text):
            return REACTIONS
        if self.config.drop_votes and self.vote.match(text):
            return VOTES
        return TALK

    def weigh(self, message: Message) -> float:
        """A message's weight (people: 1 is one person talking), 0 for what is not the audience
        reacting; counts what it classified."""
        kind = self.classify(message)
        if kind in self.counts:
            self.counts[kind] += 1
        if kind in (CONTEXT, BOTS, COMMANDS, VOTES):
            return 0.0
        weight = self.config.weight(message.kind)
        if kind == GREETINGS:
            return weight * self.config.greeting_weight
        if kind == REACTIONS:
            return weight * self.config.reaction_boost
        return weight

    def add(self, message: Message) -> bool:
        """Count one message (its ``t`` already in seconds from the recording start). False when
        it was dropped (a bot, a command or a vote)."""
        self.kinds[message.kind] = self.kinds.get(message.kind, 0) + 1
        b = int(message.t // self.hop)
        self._grow(b + self.window_bins + 1)
        self.max_bin = max(self.max_bin, b)
        if message.kind == "order":
            self.orders[b] += 1
        if message.kind in MONEY_KINDS:
            self.paid[b] += message.amount
        weight = self.weigh(message)
        if weight <= 0:
            return False
        k = self.window_bins
        previous = self.last.get(message.user)
        if previous is not None:
            last_bin, last_weight = previous
            b = max(b, last_bin)  # a record out of order joins the person's later presence
            if b < last_bin + k:
                # Still present from the last post: end that presence here, carry the stronger weight on.
                self.presence_delta[b] -= last_weight
                self.presence_delta[last_bin + k] += last_weight
                weight = max(weight, last_weight)
        self.presence_delta[b] += weight
        self.presence_delta[b + k] -= weight
        self.last[message.user] = (b, weight)
        return True

    def series(self, n_bins: int) -> Series:
        values = np.cumsum(self.presence_delta)[:n_bins]
        return Series("chat", 0.0, self.hop, np.round(values, 9)).fit(n_bins)

    def commerce(self, n_bins: int) -> dict[str, np.ndarray]:
        """Per-bin orders and paid amounts, for the clip breakdown."""
        return {"orders": Series("orders", 0.0, self.hop, self.orders[:n_bins]).fit(n_bins).values,
                "paid": Series("paid", 0.0, self.hop, self.paid[:n_bins]).fit(n_bins).values}
