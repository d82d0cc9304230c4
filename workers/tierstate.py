"""Clip tier state in Redis, for the queue and the webhook service (the CLI's default is SQLite
beside a job's output, ``pipeline/promotion.py``; both apply the same ``apply_feedback``).

Keys: ``peakclip:tiers:<clip id>`` (a hash: pool, status, tier, stage, length and the counts of the
current pool) and ``peakclip:tiers:<clip id>:history`` (a list of moves). Each feedback is an
optimistic transaction (WATCH the hash, compute, MULTI/EXEC, retry on a conflict), so feedback
from any number of processes adds up exactly; with Redis's append-only file it survives restarts.
"""
from __future__ import annotations

import json

import redis

from detectors.errors import UserError
from pipeline.promotion import COUNTS, Feedback, apply_feedback
from pipeline.rules import Rules

PREFIX = "peakclip:tiers:"


class RedisTierState:
    def __init__(self, client: redis.Redis):
        self.r = client

    def ensure(self, manifest: dict) -> None:
        for clip in manifest["clips"]:
            key = PREFIX + clip["id"]
            if self.r.hsetnx(key, "pool", clip["pool"]):
                self.r.hset(key, mapping={"status": "active", "tier": clip["tier"], "stage": clip["stage"],
                                          "length": clip["end"] - clip["start"], **dict.fromkeys(COUNTS, 0)})

    def add(self, clip_id: str, feedback: Feedback, rules: Rules) -> dict:
        feedback.validate()
        key = PREFIX + clip_id
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    state = pipe.hgetall(key)
                    if not state:
                        raise UserError(f"no clip {clip_id} known to the service")
                    counts = {name: float(state[name]) for name in COUNTS}
                    pool, status, counts, move = apply_feedback(state["pool"], state["status"], float(state["length"]),
                                                                counts, feedback, rules)
                    pipe.multi()
                    pipe.hset(key, mapping={"pool": pool, "status": status, **counts})
                    if move:
                        pipe.rpush(key + ":history", json.dumps(move))
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
                "history": [json.loads(h) for h in self.r.lrange(PREFIX + clip_id + ":history", 0, -1)]}
