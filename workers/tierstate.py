"""Clip tier state in Redis, for the queue and the webhook service (the CLI's default is SQLite
beside a job's output, ``pipeline/promotion/pools.py``; both apply the same ``apply_feedback``).

Keys: ``peakclip:tiers:<clip id>`` (a hash: pool, status, tier, stage, length, the counts of the
current pool, the job it belongs to, and the file and render profile it has now),
``peakclip:tiers:<clip id>:history`` (a list of moves) and ``peakclip:tiers:<clip id>:rendering``
(the profile a render was queued at, while it runs: one render per promotion, however much
feedback arrives meanwhile; it expires if the render's worker dies, so later feedback queues it again). Each feedback is an
optimistic transaction (WATCH the hash, compute, MULTI/EXEC, retry on a conflict), so feedback
from any number of processes adds up exactly; with Redis's append-only file it survives restarts.
"""
from __future__ import annotations

import json

import redis

from peakclip.detectors.errors import UserError
from peakclip.pipeline.promotion.pools import COUNTS, Feedback, apply_feedback
from peakclip.pipeline.ranking.rules import Rules

PREFIX = "peakclip:tiers:"


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

    def set_render(self, clip_id: str, file: str, profile: str) -> None:
        """The clip's files are now ``file`` (its first format), rendered at ``profile``."""
        self.r.hset(PREFIX + clip_id, mapping={"file": file, "profile": profile})

    def claim_render(self, clip_id: str, profile: str, ttl: float) -> bool:
        """True for the one caller that should queue the render of ``clip_id`` at ``profile`` now."""
        return bool(self.r.set(PREFIX + clip_id + ":rendering", profile, nx=True, ex=max(1, int(ttl))))

    def release_render(self, clip_id: str) -> None:
        self.r.delete(PREFIX + clip_id + ":rendering")

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
                "job": state.get("job"), "file": state.get("file"), "profile": state.get("profile"),
                "history": [json.loads(h) for h in self.r.lrange(PREFIX + clip_id + ":history", 0, -1)]}
