"""Staged promotion: clips climb the traffic ladder as their numbers come in.

Feedback (impressions, plays, watch seconds, clicks, orders) adds to the counts of the pool a clip
is in. Once the pool's ``min_impressions`` are reached, ``decide`` compares the clip's completion
rate, click-through and conversion with the pool's thresholds (``pipeline/ranking/rules.toml``): promote
to the next pool (counts start again there), retire, or hold. Every move is recorded with the
numbers that caused it.

State lives in SQLite beside a job's output (``tiers.sqlite``): each feedback is one
``BEGIN IMMEDIATE`` transaction, so feedback from many processes at once adds up exactly, and the
state survives restarts. Beside a clip's pool it keeps the file and render profile the clip has
now: a promotion to a pool with another profile renders it again (``pipeline/promotion/rerender.py``).
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass

from peakclip.detectors.errors import UserError
from peakclip.detectors.storage import read_json
from peakclip.pipeline.output.names import MANIFEST
from peakclip.pipeline.ranking.rules import Pool, Rules

COUNTS = ("impressions", "plays", "watch_seconds", "clicks", "orders")
STATE_FILE = "tiers.sqlite"


@dataclass
class Feedback:
    """A clip's performance numbers as reported: counts, and seconds watched."""
    impressions: int = 0
    plays: int = 0
    watch_seconds: float = 0.0
    clicks: int = 0
    orders: int = 0

    def validate(self) -> None:
        if any(getattr(self, name) < 0 for name in COUNTS):
            raise UserError("feedback numbers cannot be negative")
        if self.plays > self.impressions or self.clicks > self.impressions:
            raise UserError("plays and clicks cannot exceed impressions")


def metrics(counts: dict, clip_length: float) -> dict[str, float]:
    """Completion (share of the clip watched per play), click-through and conversion from the counts
    (``clip_length`` in seconds)."""
    plays, impressions, clicks = counts["plays"], counts["impressions"], counts["clicks"]
    return {"completion": round(counts["watch_seconds"] / (plays * clip_length), 4) if plays and clip_length else 0.0,
            "ctr": round(clicks / impressions, 4) if impressions else 0.0,
            "conversion": round(counts["orders"] / clicks, 4) if clicks else 0.0}


def decide(pool: Pool, counts: dict, clip_length: float, has_next: bool) -> tuple[str, dict[str, float]]:
    """``promote``, ``retire`` or ``hold``, and the metrics it was decided on."""
    measured = metrics(counts, clip_length)
    if counts["impressions"] < pool.min_impressions:
        return "hold", measured
    if any(measured[name] < floor for name, floor in pool.retire.items()):
        return "retire", measured
    if has_next and all(measured[name] >= bar for name, bar in pool.promote.items()):
        return "promote", measured
    return "hold", measured


def apply_feedback(pool_name: str, status: str, length: float, counts: dict, feedback: Feedback,
                   rules: Rules) -> tuple[str, str, dict, dict | None]:
    """One clip's next state: (pool, status, counts, the move made or None). Pure: both stores
    call it inside their own transaction."""
    counts = {name: counts[name] + getattr(feedback, name) for name in COUNTS}
    if status != "active":
        return pool_name, status, counts, None
    next_pool = rules.next_pool(pool_name)
    action, measured = decide(rules.pool(pool_name), counts, length, next_pool is not None)
    if action == "hold":
        return pool_name, status, counts, None
    target = next_pool if action == "promote" else pool_name
    move = {"at": time.time(), "action": action, "from": pool_name, "to": target, "counts": counts, "metrics": measured}
    if action == "promote":
        return target, "active", dict.fromkeys(COUNTS, 0), move   # judged afresh in the bigger pool
    return target, "retired", counts, move


class PromotionStore:
    """Clip states and their history in one SQLite file."""

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
                clicks INTEGER DEFAULT 0, orders INTEGER DEFAULT 0, rules_version TEXT, file TEXT, profile TEXT);
            CREATE TABLE IF NOT EXISTS history (
                clip_id TEXT, at REAL, action TEXT, from_pool TEXT, to_pool TEXT, counts TEXT, metrics TEXT);
        """)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(clips)")}
        for name in ("file", "profile"):   # a state file from before render profiles
            if name not in columns:
                self.db.execute(f"ALTER TABLE clips ADD COLUMN {name} TEXT")

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

    def add(self, clip_id: str, feedback: Feedback, rules: Rules) -> dict:
        """Add feedback and apply the rules, in one transaction; returns the clip's state."""
        feedback.validate()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT pool, status, length, " + ", ".join(COUNTS) + " FROM clips WHERE id = ?",
                                  (clip_id,)).fetchone()
            if row is None:
                raise UserError(f"no clip {clip_id} here")
            pool, status, counts, move = apply_feedback(row[0], row[1], row[2], dict(zip(COUNTS, row[3:])), feedback, rules)
            if move:
                self.db.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (clip_id, move["at"], move["action"], move["from"], move["to"], json.dumps(move["counts"]),
                                 json.dumps(move["metrics"])))
            self.db.execute("UPDATE clips SET pool = ?, status = ?, " + ", ".join(f"{n} = ?" for n in COUNTS) + " WHERE id = ?",
                            (pool, status, *[counts[n] for n in COUNTS], clip_id))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.clip(clip_id)

    def set_render(self, clip_id: str, file: str, profile: str) -> None:
        """The clip's files are now ``file`` (its first format), rendered at ``profile``."""
        with self.db:
            self.db.execute("UPDATE clips SET file = ?, profile = ? WHERE id = ?", (file, profile, clip_id))

    def clip(self, clip_id: str) -> dict:
        row = self.db.execute("SELECT id, pool, tier, stage, status, file, profile, " + ", ".join(COUNTS)
                              + " FROM clips WHERE id = ?", (clip_id,)).fetchone()
        if row is None:
            raise UserError(f"no clip {clip_id} here")
        history = [{"at": at, "action": action, "from": a, "to": b, "counts": json.loads(c), "metrics": json.loads(m)}
                   for at, action, a, b, c, m in self.db.execute(
                       "SELECT at, action, from_pool, to_pool, counts, metrics FROM history WHERE clip_id = ? ORDER BY rowid",
                       (clip_id,))]
        return {"id": row[0], "pool": row[1], "tier": row[2], "stage": row[3], "status": row[4], "file": row[5],
                "profile": row[6], "counts": dict(zip(COUNTS, row[7:])), "history": history}

    def clips(self) -> list[dict]:
        return [self.clip(clip_id) for (clip_id,) in self.db.execute("SELECT id FROM clips ORDER BY rowid")]


def open_store(out_dir: str) -> PromotionStore:
    """The state of the job whose output is ``out_dir``, created from its manifest on first use."""
    manifest = read_json(os.path.join(out_dir, MANIFEST),
                         f"no manifest.json in {out_dir}: give a job's output folder or a job id")
    store = PromotionStore(os.path.join(out_dir, STATE_FILE))
    store.ensure(manifest)
    return store



