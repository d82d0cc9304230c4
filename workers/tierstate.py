"""Clip tier state in Redis, for the queue and the webhook service (the CLI's default is SQLite
beside a job's output, ``pipeline/promotion/pools.py``; both apply the same ``settle``).

Keys: ``peakclip:tiers:<clip id>`` (a hash: pool, status, tier, stage, length, the counts of the
current pool, the lifetime counts and the latest judgement (JSON), the job it belongs to, and the
file and render profile it has now), ``peakclip:tiers:<clip id>:history`` (a list of moves, each
with its posterior and reason), ``peakclip:tiers:job:<job id>`` (the set of a job's clips: a pool
with slots is shared among them), ``peakclip:tiers:pooled`` (the calibration totals of every
tier, ``<tier>:<metric>:s`` and ``:w``, over every clip the service knows: the platform's past
feedback) and ``peakclip:tiers:<clip id>:rendering`` (the profile a render was queued at, while it
runs: one render per promotion, however much feedback arrives meanwhile; it expires if the
render's worker dies, so later feedback queues it again). Each feedback is an optimistic
transaction (WATCH the clip's hash, and its job's clips' when a pool has slots; compute;
MULTI/EXEC; retry on a conflict), so feedback from any number of processes adds up exactly; with
Redis's append-only file it survives restarts. The calibration totals change by increments in the
same transaction and are read without a watch: a prior a moment stale is as good a prior.
"""
from __future__ import annotations

import json

import numpy as np
import redis

from peakclip.detectors.errors import UserError
from peakclip.pipeline.promotion.pools import COUNTS, Feedback, lifetime_of, pooled_change, settle
from peakclip.pipeline.ranking.rules import METRICS, Rules

PREFIX = "peakclip:tiers:"
POOLED = PREFIX + "pooled"


class RedisTierState:
    def __init__(self, client: redis.Redis):
        self.r = client

    def ensure(self, manifest: dict, job_id: str | None = None) -> None:
        for clip in manifest["clips"]:
            key = PREFIX + clip["id"]
            if self.r.hsetnx(key, "pool", clip["pool"]):
                self.r.hset(key, mapping={"status": "active", "tier": clip["tier"], "stage": clip["stage"],
                                          "length": clip["end"] - clip["start"], **dict.fromkeys(COUNTS, 0)})
            for name in ("file", "profile"):   # what it was first rendered as; renders on promotion update it
                if clip.get(name):
                    self.r.hsetnx(key, name, clip[name])
            if job_id:
                self.r.hset(key, "job", job_id)
                self.r.sadd(PREFIX + "job:" + job_id, clip["id"])

    def set_render(self, clip_id: str, file: str, profile: str) -> None:
        """The clip's files are now ``file`` (its first format), rendered at ``profile``."""
        self.r.hset(PREFIX + clip_id, mapping={"file": file, "profile": profile})

    def claim_render(self, clip_id: str, profile: str, ttl: float) -> bool:
        """True for the one caller that should queue the render of ``clip_id`` at ``profile`` now."""
        return bool(self.r.set(PREFIX + clip_id + ":rendering", profile, nx=True, ex=max(1, int(ttl))))

    def release_render(self, clip_id: str) -> None:
        self.r.delete(PREFIX + clip_id + ":rendering")

    def pooled(self) -> dict:
        """The calibration totals: tier -> metric -> (weighted successes, weight)."""
        raw = self.r.hgetall(POOLED)
        out: dict = {}
        for field, value in raw.items():
            tier, metric, part = field.split(":")
            s, w = out.setdefault(tier, {}).get(metric, (0.0, 0.0))
            out[tier][metric] = (float(value), w) if part == "s" else (s, float(value))
        return out

    def _state(self, reader, clip_id: str) -> dict | None:
        raw = reader.hgetall(PREFIX + clip_id)
        if not raw:
            return None
        counts = {name: float(raw[name]) for name in COUNTS}
        if raw.get("lifetime"):
            lifetime = json.loads(raw["lifetime"])
        else:   # state from before lifetime counts were kept
            lifetime = lifetime_of(counts, [json.loads(h) for h in reader.lrange(PREFIX + clip_id + ":history", 0, -1)])
        return {"pool": raw["pool"], "status": raw["status"], "tier": raw["tier"], "length": float(raw["length"]),
                "counts": counts, "lifetime": lifetime, "judgement": json.loads(raw["judgement"]) if raw.get("judgement") else None}

    def add(self, clip_id: str, feedback: Feedback, rules: Rules) -> dict:
        """Add feedback and apply the rules in one transaction; returns the clip's state. Bad
        feedback or an unknown clip is a one-line UserError, and nothing changes."""
        feedback.validate()
        key = PREFIX + clip_id
        slotted = any(pool.slots is not None for pool in rules.pools)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    job = pipe.hget(key, "job")
                    others = sorted(pipe.smembers(PREFIX + "job:" + job) - {clip_id}) if slotted and job else []
                    if others:
                        pipe.watch(*[PREFIX + c for c in others])
                    state = self._state(pipe, clip_id)
                    if state is None:
                        raise UserError(f"no clip {clip_id} known to the service")
                    states = {clip_id: state}
                    for other in others:
                        found = self._state(pipe, other)
                        if found is not None:
                            states[other] = found
                    unchanged = {c: json.dumps(s, sort_keys=True) for c, s in states.items()}
                    before = dict(state["lifetime"])
                    pooled = self.pooled()
                    moves = settle(states, clip_id, feedback, rules, pooled, np.random.default_rng())
                    change = pooled_change(before, state["lifetime"], state["length"], rules)
                    pipe.multi()
                    for cid, s in states.items():
                        if cid == clip_id or json.dumps(s, sort_keys=True) != unchanged[cid]:
                            pipe.hset(PREFIX + cid, mapping={"pool": s["pool"], "status": s["status"], **s["counts"],
                                                             "lifetime": json.dumps(s["lifetime"]),
                                                             "judgement": json.dumps(s["judgement"])})
                    for made in moves:
                        pipe.rpush(PREFIX + made.pop("clip") + ":history", json.dumps(made))
                    for metric in METRICS:
                        s_change, w_change = change[metric]
                        pipe.hincrbyfloat(POOLED, f"{state['tier']}:{metric}:s", s_change)
                        pipe.hincrbyfloat(POOLED, f"{state['tier']}:{metric}:w", w_change)
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue  # another feedback landed first: read again
        return self.clip(clip_id)

    def clip(self, clip_id: str) -> dict:
        state = self.r.hgetall(PREFIX + clip_id)
        if not state:
            raise UserError(f"no clip {clip_id} known to the service")
        return {"id": clip_id, "pool": state["pool"], "tier": state["tier"], "stage": int(state["stage"]),
                "status": state["status"], "counts": {n: float(state[n]) for n in COUNTS},
                "judgement": json.loads(state["judgement"]) if state.get("judgement") else None,
                "job": state.get("job"), "file": state.get("file"), "profile": state.get("profile"),
                "history": [json.loads(h) for h in self.r.lrange(PREFIX + clip_id + ":history", 0, -1)]}
