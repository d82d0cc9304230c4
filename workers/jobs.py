"""Job records in Redis: state, progress, and the step results that must count once.

Keys, for job ``J``:
  peakclip:job:J          hash: state, input, chat, out, config, error, manifest, created, updated
  peakclip:job:J:plan     the analysis plan (probe, chunks)
  peakclip:job:J:chunks   hash: chunk index -> raw chunk result (HSET: a chunk run twice counts once)
  peakclip:job:J:ranking  the ranked, tagged clips
  peakclip:job:J:renders  hash: clip id -> render result
  peakclip:job:J:active   hash: task id -> worker, for the tasks running now
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from urllib.parse import urlsplit, urlunsplit

import redis

from detectors.errors import UserError
from detectors.probe import is_url

PREFIX = "peakclip:job:"
STATES = ("queued", "running", "success", "failure")


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


BROKER = "the broker (PEAKCLIP_BROKER_URL)"
JOB_STORE = "the job store (PEAKCLIP_RESULT_BACKEND)"


def connect(url: str, check: bool = False, what: str = JOB_STORE) -> redis.Redis:
    """A Redis client; with ``check``, a server that does not answer is one line naming ``what``
    it is for and its URL."""
    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10, decode_responses=True,
                                  retry_on_timeout=True)
    if check:
        try:
            client.ping()
        except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
            raise UserError(f"cannot reach {what} at {safe_url(url)} ({err})") from None
    return client


def fingerprint(path: str | None) -> dict | None:
    if path is None:
        return None
    if is_url(path):
        return {"url": path}
    if not os.path.exists(path):
        return {"path": os.path.realpath(path), "not yet written": True}   # a live stream's recording, chat
    stat = os.stat(path)
    return {"path": os.path.realpath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def job_id_for(input_path: str, chat: str | None, out: str, config: dict) -> str:
    """The same recording, chat log, output folder and options always give the same id."""
    key = json.dumps({"input": fingerprint(input_path), "chat": fingerprint(chat), "out": os.path.realpath(out),
                      "config": config}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:20]


class Jobs:
    def __init__(self, client: redis.Redis):
        self.r = client

    def key(self, job_id: str, part: str = "") -> str:
        return f"{PREFIX}{job_id}" + (f":{part}" if part else "")

    def create(self, job_id: str, fields: dict) -> bool:
        """Record a new job; False if the same job exists and has not failed (nothing to do)."""
        key = self.key(job_id)
        now = time.time()
        if not self.r.hsetnx(key, "state", "queued"):
            if self.r.hget(key, "state") != "failure":
                return False
            # A failed job submitted again starts over.
            self.r.delete(*(self.key(job_id, p) for p in ("plan", "chunks", "ranking", "renders", "active")))
            self.r.hset(key, "state", "queued")
            self.r.hdel(key, "error", "manifest")
        self.r.hset(key, mapping={**fields, "created": now, "updated": now})
        return True

    def get(self, job_id: str) -> dict:
        record = self.r.hgetall(self.key(job_id))
        if not record:
            raise UserError(f"no job {job_id} (unknown id, or its record has expired)")
        return record

    def set_state(self, job_id: str, state: str, **fields) -> None:
        self.r.hset(self.key(job_id), mapping={"state": state, "updated": time.time(), **fields})

    def fail(self, job_id: str, error: str) -> None:
        self.set_state(job_id, "failure", error=error)

    def put(self, job_id: str, part: str, data: dict) -> None:
        self.r.set(self.key(job_id, part), json.dumps(data))

    def load(self, job_id: str, part: str) -> dict | None:
        raw = self.r.get(self.key(job_id, part))
        return json.loads(raw) if raw else None

    def put_item(self, job_id: str, part: str, item: str, data: dict) -> None:
        self.r.hset(self.key(job_id, part), item, json.dumps(data))

    def item(self, job_id: str, part: str, item: str) -> dict | None:
        found = self.r.hget(self.key(job_id, part), item)
        return json.loads(found) if found else None

    def has_item(self, job_id: str, part: str, item: str) -> bool:
        return bool(self.r.hexists(self.key(job_id, part), item))

    def items(self, job_id: str, part: str) -> dict[str, dict]:
        return {k: json.loads(v) for k, v in self.r.hgetall(self.key(job_id, part)).items()}

    def count(self, job_id: str, part: str) -> int:
        return int(self.r.hlen(self.key(job_id, part)))

    def mark_active(self, job_id: str, task_id: str, worker: str, what: str) -> None:
        self.r.hset(self.key(job_id, "active"), task_id, json.dumps({"worker": worker, "task": what}))

    def clear_active(self, job_id: str, task_id: str) -> None:
        self.r.hdel(self.key(job_id, "active"), task_id)

    def status(self, job_id: str) -> dict:
        """State, progress per step, manifest path and error, as one JSON-able dict."""
        record = self.get(job_id)
        plan = self.load(job_id, "plan")
        ranking = self.load(job_id, "ranking")
        progress = {"analyze": f"{self.count(job_id, 'chunks')}/{len(plan['chunks'])}" if plan else "0/?"}
        if record.get("kind") == "watch":
            progress = {"provisional clips": str(self.count(job_id, "provisional"))}
        if ranking is not None:
            progress["render"] = f"{self.count(job_id, 'renders')}/{int(record.get('render_total', 0))}"
        active = [json.loads(v) for v in self.r.hvals(self.key(job_id, "active"))]
        return {"job_id": job_id, "state": record["state"], "progress": progress,
                "manifest": record.get("manifest"), "error": record.get("error"),
                "input": record.get("input"), "out": record.get("out"), "active": active}
