"""Staged promotion: clips climb the traffic ladder as the evidence comes in.

Feedback (impressions, plays, watch seconds, clicks, orders) adds to the counts of the pool a clip
is in and to its lifetime counts. Each metric is a Beta posterior whose prior is the clip's tier,
calibrated on the feedback of the tier's other clips (``evidence.py``); after the pool's
``min_impressions``, the posterior probability that the clip clears the pool's ``promote`` bars
decides: promote to the next pool (its pool counts start again there), retire, or hold. A pool
with ``slots`` holds at most that many of the job's clips; when more qualify than are free, a
Thompson draw picks who moves up and the others wait. Every move is recorded with the counts, the
rates, the posterior and the reason in words, and each clip keeps its latest judgement.

State lives in SQLite beside a job's output (``tiers.sqlite``): each feedback is one
``BEGIN IMMEDIATE`` transaction, so feedback from many processes at once adds up exactly, and the
state survives restarts. Beside a clip's pool it keeps the file and render profile the clip has
now: a promotion to a pool with another profile renders it again (``pipeline/promotion/rerender.py``).
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from dataclasses import dataclass

import numpy as np

from peakclip.detectors.errors import UserError
from peakclip.detectors.storage import read_json
from peakclip.pipeline.output.names import MANIFEST
from peakclip.pipeline.promotion.evidence import (Judgement, allocate_slots, contribution, judge, posterior, summary,
                                                  tier_prior)
from peakclip.pipeline.ranking.rules import METRICS, Rules

COUNTS = ("impressions", "plays", "watch_seconds", "clicks", "orders")
WHOLE = ("impressions", "plays", "clicks", "orders")   # counted in whole numbers
STATE_FILE = "tiers.sqlite"
Pooled = dict[str, dict[str, tuple[float, float]]]      # tier -> metric -> (weighted successes, weight)


@dataclass
class Feedback:
    """A clip's performance numbers as reported: counts, and seconds watched."""
    impressions: int = 0
    plays: int = 0
    watch_seconds: float = 0.0
    clicks: int = 0
    orders: int = 0

    def validate(self) -> None:
        """A one-line UserError for numbers no audience makes; nothing is stored before this passes."""
        for name in COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UserError(f"feedback {name} must be a number (got {value!r})")
            if value < 0:
                raise UserError(f"feedback numbers cannot be negative ({name} {value:g})")
            if name in WHOLE and value != int(value):
                raise UserError(f"feedback {name} must be a whole number (got {value:g})")
        if self.plays > self.impressions or self.clicks > self.impressions:
            raise UserError(f"plays and clicks cannot exceed impressions (impressions {self.impressions:g}, "
                            f"plays {self.plays:g}, clicks {self.clicks:g})")
        if self.orders > self.clicks:
            raise UserError(f"orders cannot exceed clicks (conversion is orders per click: clicks {self.clicks:g}, "
                            f"orders {self.orders:g})")


def metrics(counts: dict, clip_length: float) -> dict[str, float]:
    """Raw completion (share of the clip watched per play), click-through and conversion from the
    counts (``clip_length`` in seconds): what the move records beside the posterior."""
    plays, impressions, clicks = counts["plays"], counts["impressions"], counts["clicks"]
    return {"completion": round(counts["watch_seconds"] / (plays * clip_length), 4) if plays and clip_length else 0.0,
            "ctr": round(clicks / impressions, 4) if impressions else 0.0,
            "conversion": round(counts["orders"] / clicks, 4) if clicks else 0.0}


def pooled_of(states: dict[str, dict], strength: dict[str, float]) -> Pooled:
    """The calibration totals of every tier over ``states`` (their lifetime counts)."""
    pooled: Pooled = {}
    for state in states.values():
        tier = pooled.setdefault(state["tier"], {m: (0.0, 0.0) for m in METRICS})
        for m, (s, w) in contribution(state["lifetime"], state["length"], strength).items():
            tier[m] = (tier[m][0] + s, tier[m][1] + w)
    return pooled


def pooled_change(before: dict, after: dict, length: float, rules: Rules) -> dict[str, tuple[float, float]]:
    """How a clip's calibration contribution changes when its lifetime counts go from ``before``
    to ``after``: per metric (weighted successes, weight)."""
    old, new = contribution(before, length, rules.strength), contribution(after, length, rules.strength)
    return {m: (new[m][0] - old[m][0], new[m][1] - old[m][1]) for m in METRICS}


def add_pooled(pooled: Pooled, tier: str, change: dict[str, tuple[float, float]]) -> Pooled:
    """``pooled`` with ``change`` added to ``tier`` (a new mapping)."""
    out = {t: dict(v) for t, v in pooled.items()}
    mine = out.setdefault(tier, {m: (0.0, 0.0) for m in METRICS})
    for m, (s, w) in change.items():
        mine[m] = (mine.get(m, (0.0, 0.0))[0] + s, mine.get(m, (0.0, 0.0))[1] + w)
    return out


def clip_posterior(state: dict, rules: Rules, pooled: Pooled) -> tuple[dict, dict]:
    """(prior, posterior) of a clip: its tier's prior calibrated on the pooled feedback of the
    tier's other clips (its own contribution taken out), moved by its lifetime counts."""
    own = contribution(state["lifetime"], state["length"], rules.strength)
    tier = pooled.get(state["tier"], {})
    others = {m: (max(0.0, tier.get(m, (0.0, 0.0))[0] - own[m][0]), max(0.0, tier.get(m, (0.0, 0.0))[1] - own[m][1]))
              for m in METRICS}
    prior = tier_prior(state["tier"], rules, others)
    return prior, posterior(prior, state["lifetime"], state["length"])


def judgement_of(state: dict, rules: Rules, pooled: Pooled) -> tuple[Judgement, dict]:
    """The evidence's verdict on an active clip where it is, and its posterior."""
    _, post = clip_posterior(state, rules, pooled)
    has_next = rules.next_pool(state["pool"]) is not None
    return judge(rules.pool(state["pool"]), post, state["counts"]["impressions"], has_next, rules.confidence), post


def record(state: dict, action: str, p_clear: float, reason: str, post: dict) -> None:
    """The clip's latest judgement, kept with its state."""
    state["judgement"] = {"action": action, "p_clear": round(p_clear, 4), "reason": reason, "posterior": summary(post)}


def move(clip_id: str, state: dict, action: str, target: str) -> dict:
    """Make the move (promote or retire) on ``state``; returns it as recorded."""
    made = {"clip": clip_id, "at": time.time(), "action": action, "from": state["pool"], "to": target,
            "counts": dict(state["counts"]), "metrics": metrics(state["counts"], state["length"]),
            "p_clear": state["judgement"]["p_clear"], "reason": state["judgement"]["reason"],
            "posterior": state["judgement"]["posterior"]}
    if action == "promote":
        state["pool"], state["counts"] = target, dict.fromkeys(COUNTS, 0)   # judged afresh in the bigger pool
    else:
        state["status"] = "retired"
    return made


def judge_where_it_is_now(state: dict, rules: Rules, pooled: Pooled, came_from: str) -> None:
    """After a promotion, the clip's judgement is of the pool it is in now (its chance of clearing
    that pool's bars, on everything it did before), with why it moved up kept after it: ``tiers``
    must not show a clip in one pool with the verdict of the pool it left."""
    why = state["judgement"]["reason"]
    verdict, post = judgement_of(state, rules, pooled)
    record(state, verdict.action, verdict.p_clear, f"{verdict.reason}; promoted from {came_from}: {why}", post)


def settle(states: dict[str, dict], clip_id: str, feedback: Feedback, rules: Rules, pooled: Pooled,
           rng: np.random.Generator | None = None) -> list[dict]:
    """Add ``feedback`` to ``states[clip_id]`` and apply the rules, changing ``states`` in place;
    returns the moves made. Pure: both stores call it inside their own transaction. ``states``
    holds the clip and, when a pool has slots, every clip of its job (state: pool, status, tier,
    length, counts of the current pool, lifetime counts, judgement); ``pooled`` the calibration
    totals of every tier before this feedback, this clip's included."""
    state = states[clip_id]
    before = dict(state["lifetime"])
    for name in COUNTS:
        state["counts"][name] += getattr(feedback, name)
        state["lifetime"][name] += getattr(feedback, name)
    pooled = add_pooled(pooled, state["tier"], pooled_change(before, state["lifetime"], state["length"], rules))
    moves: list[dict] = []
    if state["status"] != "active":
        return moves
    verdict, post = judgement_of(state, rules, pooled)
    action = verdict.action
    next_pool = rules.next_pool(state["pool"])
    if action == "promote" and rules.pool(next_pool).slots is not None:
        action = "wait"   # the slot filling below decides
    record(state, action, verdict.p_clear, verdict.reason, post)
    if action == "promote":
        moves.append(move(clip_id, state, "promote", next_pool))
        judge_where_it_is_now(state, rules, pooled, moves[-1]["from"])
    elif action == "retire":
        moves.append(move(clip_id, state, "retire", state["pool"]))
    moves += fill_slots(states, rules, pooled, rng or np.random.default_rng())
    return moves


def fill_slots(states: dict[str, dict], rules: Rules, pooled: Pooled, rng: np.random.Generator) -> list[dict]:
    """Promote waiting clips into pools with free slots: all of them when they fit, else the
    winners of a Thompson draw. A waiting clip is one that qualified while its next pool was full."""
    moves = []
    for pool in rules.pools:
        target = rules.next_pool(pool.name)
        if target is None or rules.pool(target).slots is None:
            continue
        waiting = [cid for cid, s in states.items() if s["status"] == "active" and s["pool"] == pool.name
                   and (s.get("judgement") or {}).get("action") == "wait"]
        if not waiting:
            continue
        slots = rules.pool(target).slots
        held = sum(1 for s in states.values() if s["status"] == "active" and s["pool"] == target)
        free = slots - held
        posts = [clip_posterior(states[cid], rules, pooled)[1] for cid in waiting]
        chosen = set(allocate_slots(posts, pool.promote, free, rng))
        for index, cid in enumerate(waiting):
            judgement = states[cid]["judgement"]
            if index in chosen:
                how = "a free slot" if len(waiting) <= free else \
                    f"a Thompson draw among {len(waiting)} for {free} free slot{'s' * (free != 1)}"
                judgement["reason"] += f"; {target}'s slot by {how}"
                moves.append(move(cid, states[cid], "promote", target))
                judge_where_it_is_now(states[cid], rules, pooled, pool.name)
            elif not judgement["reason"].endswith("taken"):
                judgement["reason"] += f"; waiting: {target}'s {slots} slot{'s' * (slots != 1)} taken"
    return moves


def lifetime_of(counts: dict, history: list[dict]) -> dict:
    """A clip's counts over all its pools, for state from before lifetime counts were kept: its
    current pool's and those its promotions recorded."""
    total = {n: float(counts[n]) for n in COUNTS}
    for made in history:
        if made["action"] == "promote":
            for n in COUNTS:
                total[n] += made["counts"][n]
    return total


class PromotionStore:
    """Clip states, their latest judgements and their history in one SQLite file."""

    def __init__(self, path: str):
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
        except sqlite3.Error as err:
            raise UserError(f"cannot open tier state {path}: {err}") from None
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=60000")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS clips (
                id TEXT PRIMARY KEY, length REAL, stage INTEGER, tier TEXT, pool TEXT, status TEXT,
                impressions INTEGER DEFAULT 0, plays INTEGER DEFAULT 0, watch_seconds REAL DEFAULT 0,
                clicks INTEGER DEFAULT 0, orders INTEGER DEFAULT 0, rules_version TEXT, file TEXT, profile TEXT,
                lifetime TEXT, judgement TEXT);
            CREATE TABLE IF NOT EXISTS history (
                clip_id TEXT, at REAL, action TEXT, from_pool TEXT, to_pool TEXT, counts TEXT, metrics TEXT,
                p_clear REAL, reason TEXT, posterior TEXT);
        """)
        # State files from before render profiles, and from before promotion on evidence.
        for table, names in (("clips", ("file", "profile", "lifetime", "judgement")),
                             ("history", ("p_clear", "reason", "posterior"))):
            columns = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
            for name in names:
                if name not in columns:
                    kind = "REAL" if name == "p_clear" else "TEXT"
                    self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    def close(self) -> None:
        self.db.close()

    def ensure(self, manifest: dict) -> None:
        """Know every clip of a manifest (first use); existing states are left as they are."""
        version = (manifest.get("rules") or {}).get("version", "")
        with self.db:
            for clip in manifest["clips"]:
                self.db.execute("INSERT OR IGNORE INTO clips (id, length, stage, tier, pool, status, rules_version) "
                                "VALUES (?, ?, ?, ?, ?, 'active', ?)",
                                (clip["id"], clip["end"] - clip["start"], clip["stage"], clip["tier"], clip["pool"], version))
                self.db.execute("UPDATE clips SET file = ?, profile = ? WHERE id = ? AND profile IS NULL",
                                (clip.get("file"), clip.get("profile"), clip["id"]))

    def states(self) -> dict[str, dict]:
        """Every clip's state as ``settle`` takes it."""
        out = {}
        for row in self.db.execute("SELECT id, pool, status, tier, length, lifetime, judgement, " + ", ".join(COUNTS)
                                   + " FROM clips ORDER BY rowid"):
            counts = dict(zip(COUNTS, row[7:]))
            lifetime = json.loads(row[5]) if row[5] else lifetime_of(counts, self.history(row[0]))
            out[row[0]] = {"pool": row[1], "status": row[2], "tier": row[3], "length": row[4], "counts": counts,
                           "lifetime": lifetime, "judgement": json.loads(row[6]) if row[6] else None}
        return out

    def add(self, clip_id: str, feedback: Feedback, rules: Rules) -> dict:
        """Add feedback and apply the rules, in one transaction; returns the clip's state. Bad
        feedback or an unknown clip is a one-line UserError, and nothing changes."""
        feedback.validate()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            states = self.states()
            if clip_id not in states:
                raise UserError(f"no clip {clip_id} here")
            pooled = pooled_of(states, rules.strength)
            unchanged = {cid: json.dumps(s, sort_keys=True) for cid, s in states.items()}
            moves = settle(states, clip_id, feedback, rules, pooled)
            for made in moves:
                self.db.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                (made["clip"], made["at"], made["action"], made["from"], made["to"],
                                 json.dumps(made["counts"]), json.dumps(made["metrics"]), made["p_clear"],
                                 made["reason"], json.dumps(made["posterior"])))
            for cid, state in states.items():   # the clip, and any a freed slot moved
                if cid == clip_id or json.dumps(state, sort_keys=True) != unchanged[cid]:
                    self.db.execute("UPDATE clips SET pool = ?, status = ?, lifetime = ?, judgement = ?, "
                                    + ", ".join(f"{n} = ?" for n in COUNTS) + " WHERE id = ?",
                                    (state["pool"], state["status"], json.dumps(state["lifetime"]),
                                     json.dumps(state["judgement"]), *[state["counts"][n] for n in COUNTS], cid))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.clip(clip_id)

    def set_render(self, clip_id: str, file: str, profile: str) -> None:
        """The clip's files are now ``file`` (its first format), rendered at ``profile``."""
        with self.db:
            self.db.execute("UPDATE clips SET file = ?, profile = ? WHERE id = ?", (file, profile, clip_id))

    def history(self, clip_id: str) -> list[dict]:
        """The clip's moves, oldest first."""
        return [{"at": at, "action": action, "from": a, "to": b, "counts": json.loads(c), "metrics": json.loads(m),
                 "p_clear": p, "reason": reason, "posterior": json.loads(post) if post else None}
                for at, action, a, b, c, m, p, reason, post in self.db.execute(
                    "SELECT at, action, from_pool, to_pool, counts, metrics, p_clear, reason, posterior FROM history "
                    "WHERE clip_id = ? ORDER BY rowid", (clip_id,))]

    def clip(self, clip_id: str) -> dict:
        row = self.db.execute("SELECT id, pool, tier, stage, status, file, profile, judgement, " + ", ".join(COUNTS)
                              + " FROM clips WHERE id = ?", (clip_id,)).fetchone()
        if row is None:
            raise UserError(f"no clip {clip_id} here")
        return {"id": row[0], "pool": row[1], "tier": row[2], "stage": row[3], "status": row[4], "file": row[5],
                "profile": row[6], "judgement": json.loads(row[7]) if row[7] else None,
                "counts": dict(zip(COUNTS, row[8:])), "history": self.history(clip_id)}

    def clips(self) -> list[dict]:
        return [self.clip(clip_id) for (clip_id,) in self.db.execute("SELECT id FROM clips ORDER BY rowid")]


def open_store(out_dir: str) -> PromotionStore:
    """The state of the job whose output is ``out_dir``, created from its manifest on first use."""
    manifest = read_json(os.path.join(out_dir, MANIFEST),
                         f"no manifest.json in {out_dir}: give a job's output folder or a job id")
    store = PromotionStore(os.path.join(out_dir, STATE_FILE))
    store.ensure(manifest)
    return store
