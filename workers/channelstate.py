"""What each channel has learned, for the queue and the webhook service: the same evidence as the
CLI's channel files (``pipeline/promotion/channels.py``), in Redis beside the job records.

Key ``peakclip:channel:<name>``: a hash, clip id -> that clip's features and summed feedback
counts (JSON). Each feedback is an optimistic transaction (WATCH the hash, add with
``pipeline.ranking.channel.add_evidence``, MULTI/EXEC, retry on a conflict), so feedback from any
number of processes adds up; with Redis's append-only file it survives restarts, and a worker
that starts reads it afresh for every job it ranks.
"""
from __future__ import annotations

import json
from typing import Mapping

import redis

from peakclip.detectors.errors import UserError
from peakclip.detectors.storage import read_json
from peakclip.pipeline.config import ChannelConfig, Config, check_channel_name
from peakclip.pipeline.promotion.channels import manifest_clip
from peakclip.pipeline.ranking.channel import Learned, add_evidence, learn
from peakclip.workers.jobs import Jobs

PREFIX = "peakclip:channel:"


class RedisChannelState:
    def __init__(self, client: redis.Redis):
        self.r = client

    def key(self, name: str) -> str:
        return PREFIX + check_channel_name(name)

    def evidence(self, name: str) -> dict[str, dict]:
        return {clip_id: json.loads(entry) for clip_id, entry in self.r.hgetall(self.key(name)).items()}

    def learned(self, name: str, config: ChannelConfig) -> Learned:
        return learn(name, self.evidence(name), config)

    def add(self, name: str, clip_id: str, features: dict, numbers: Mapping[str, float],
            config: ChannelConfig) -> Learned:
        """One clip's feedback added to the channel's evidence; what it has learned now. Bad
        numbers are a one-line UserError and change nothing."""
        key = self.key(name)
        with self.r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    before = {k: json.loads(v) for k, v in pipe.hgetall(key).items()}
                    after = add_evidence(before, clip_id, features, numbers, config.max_clips)
                    pipe.multi()
                    forgotten = [k for k in before if k not in after]
                    if forgotten:
                        pipe.hdel(key, *forgotten)
                    pipe.hset(key, clip_id, json.dumps(after[clip_id]))
                    pipe.execute()
                    return learn(name, after, config)
                except redis.WatchError:
                    continue   # another feedback landed first: read again


def job_channel_learning(client: redis.Redis, config: Config) -> Learned | None:
    """What the job's channel has learned, read from Redis now; None without a channel."""
    if not config.channel.name:
        return None
    return RedisChannelState(client).learned(config.channel.name, config.channel)


def learn_from_job(client: redis.Redis, job_id: str | None, clip_id: str, numbers: Mapping[str, float],
                   config: Config) -> Learned | None:
    """Feedback on a clip of queued job ``job_id`` teaches the job's channel; None when the job
    had no channel (or is unknown)."""
    if not job_id:
        return None
    try:
        manifest = Jobs(client).get(job_id).get("manifest")
    except UserError:
        return None
    if not manifest:
        return None
    found = manifest_clip(read_json(manifest, f"the manifest of job {job_id} is gone: {manifest}"), clip_id)
    if found is None:
        return None
    name, features = found
    return RedisChannelState(client).add(name, clip_id, features, numbers, config.channel)
