"""Job records in Redis: state, progress, and the step results that must count once.

The job record is the source of truth for what a job still needs; the broker only carries the
messages that ask for it (``workers/reconcile.py`` re-sends what the broker lost).

Keys, for job ``J``:
  peakclip:job:J          hash: state, kind, input, chat, out, config, render_ids, error, manifest,
                          created, updated (the last time any step started or ended)
  peakclip:job:J:plan     the analysis plan (probe, chunks)
  peakclip:job:J:transcript  the transcript, as read when the job was planned (when it has one)
  peakclip:job:J:chunks   hash: chunk index -> raw chunk result (the first stored wins: a chunk run
                          twice counts once)
  peakclip:job:J:ranking  the ranked, tagged clips
  peakclip:job:J:renders  hash: clip id -> render result (first wins)
  peakclip:job:J:active   hash: task id -> {step, worker, since}, for the tasks running now
  peakclip:job:J:pending  hash: step -> {task, queue, due}, the message sent for a step not yet taken
  peakclip:job:J:attempts hash: step -> how often the reconciler sent it again
  peakclip:jobs:open      set of the jobs not yet ended (what the reconciler looks at)
  peakclip:worker:W       a live worker's heartbeat (expires when it stops beating)
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from urllib.parse import urlsplit, urlunsplit

import redis

from peakclip.detectors.errors import UserError
from peakclip.detectors.objects import etag, is_object, scrub
from peakclip.detectors.probe import is_url
from peakclip.detectors.storage import write_atomic

PREFIX = "peakclip:job:"
OPEN = "peakclip:jobs:open"
WORKER = "peakclip:worker:"
STATES = ("queued", "running", "success", "failure")
PARTS = ("plan", "transcript", "chunks", "ranking", "renders", "active", "pending", "attempts", "live_chunks", "provisional")


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


def check_broker(url: str) -> None:
    """One line naming the broker and its URL when it does not answer (Redis or RabbitMQ)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        connect(url, check=True, what=BROKER)
        return
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
    except Exception as err:  # noqa: BLE001 -- kombu raises the transport's own errors
        raise UserError(f"cannot reach {BROKER} at {safe_url(url)} ({err})") from None


def fingerprint(path: str | None) -> dict | None:
    if path is None:
        return None
    if is_object(path):
        return {"url": path, "etag": etag(path)}   # a new object at the same key is a new job
    if is_url(path):
        return {"url": path}
    if not os.path.exists(path):
        return {"path": os.path.realpath(path), "not yet written": True}   # a live stream's recording, chat
    stat = os.stat(path)
    return {"path": os.path.realpath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def job_id_for(input_path: str, chat: str | None, out: str, config: dict, transcript: str | None = None) -> str:
    """The same recording, chat log, transcript file, output folder and options always give the same id."""
    key = json.dumps({"input": fingerprint(input_path), "chat": fingerprint(chat),
                      "out": out if is_object(out) else os.path.realpath(out),
                      "config": config, **({"transcript": fingerprint(transcript)} if transcript else {})},
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:20]


# The mark ``submit`` leaves in a job's local output folder: a worker that cannot see it does not
# see the folder the submitter meant (another machine, no shared mount) and fails the job.
SUBMITTED = ".peakclip-job-{}"


def mark_output(out: str, job_id: str) -> None:
    """Leave the job's mark in its local output folder (made, and checked writable, before)."""
    write_atomic(os.path.join(out, SUBMITTED.format(job_id)), job_id + "\n")


def check_shared(out: str, job_id: str, worker: str) -> None:
    """That this worker sees the local output folder the job was submitted with (its mark is
    there); otherwise one line saying so, which fails the job before anything is written where
    nobody looks."""
    if not os.path.isfile(os.path.join(out, SUBMITTED.format(job_id))):
        raise UserError(f"output folder {out} is not shared with worker {worker} (it does not see the mark "
                        f"{SUBMITTED.format(job_id)} that submit left there): give --out s3://bucket/prefix, or "
                        "mount the folder at the same path on every machine")


def unmark_output(out: str, job_id: str) -> None:
    """The job succeeded: its mark goes."""
    try:
        os.remove(os.path.join(out, SUBMITTED.format(job_id)))
    except OSError:
        pass


# One round trip, so no success lands between the look and the write.
FAIL_UNLESS_DONE = """
if redis.call('HGET', KEYS[1], 'state') == 'success' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'failure', 'error', ARGV[1], 'updated', ARGV[2])
return 1
"""


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
            self.r.delete(*(self.key(job_id, p) for p in PARTS))
            self.r.hset(key, "state", "queued")
            self.r.hdel(key, "error", "manifest", "render_ids")
        self.r.hset(key, mapping={**fields, "created": now, "updated": now})
        self.r.sadd(OPEN, job_id)
        return True

    def get(self, job_id: str) -> dict:
        record = self.r.hgetall(self.key(job_id))
        if not record:
            raise UserError(f"no job {job_id} (unknown id, or its record has expired)")
        return record

    def set_state(self, job_id: str, state: str, **fields) -> None:
        self.r.hset(self.key(job_id), mapping={"state": state, "updated": time.time(), **fields})
        if state in ("success", "failure"):
            self.r.srem(OPEN, job_id)

    def open_jobs(self) -> list[str]:
        return sorted(self.r.smembers(OPEN))

    def touch(self, job_id: str) -> None:
        """A step started or ended: the job is making progress."""
        self.r.hset(self.key(job_id), "updated", time.time())

    def fail(self, job_id: str, error: str) -> bool:
        """Mark the job failed with ``error``, unless it has succeeded: a step delivered twice (the
        broker restarted before its ack) may still be running when its twin finishes the job, and
        what it then meets (the output folder's mark gone, say) is no failure of the job. True if
        the job is now failed."""
        failed = self.r.eval(FAIL_UNLESS_DONE, 1, self.key(job_id), error, time.time())
        if failed:
            self.r.srem(OPEN, job_id)
        return bool(failed)

    def put(self, job_id: str, part: str, data: dict) -> None:
        self.r.set(self.key(job_id, part), json.dumps(data))

    def load(self, job_id: str, part: str) -> dict | None:
        raw = self.r.get(self.key(job_id, part))
        return json.loads(raw) if raw else None

    def put_item(self, job_id: str, part: str, item: str, data: dict) -> bool:
        """Store a step's result unless one is stored already (a duplicate task's is dropped, so
        what was first recorded is what every later step reads); True if this one was stored."""
        return bool(self.r.hsetnx(self.key(job_id, part), item, json.dumps(data)))

    def item(self, job_id: str, part: str, item: str) -> dict | None:
        found = self.r.hget(self.key(job_id, part), item)
        return json.loads(found) if found else None

    def has_item(self, job_id: str, part: str, item: str) -> bool:
        return bool(self.r.hexists(self.key(job_id, part), item))

    def items(self, job_id: str, part: str) -> dict[str, dict]:
        return {k: json.loads(v) for k, v in self.r.hgetall(self.key(job_id, part)).items()}

    def count(self, job_id: str, part: str) -> int:
        return int(self.r.hlen(self.key(job_id, part)))

    def mark_active(self, job_id: str, task_id: str, worker: str, step: str) -> None:
        self.r.hset(self.key(job_id, "active"), task_id, json.dumps({"worker": worker, "task": step,
                                                                       "since": time.time()}))
        self.r.hdel(self.key(job_id, "pending"), step)   # its message has been taken
        self.touch(job_id)

    def clear_active(self, job_id: str, task_id: str) -> None:
        self.r.hdel(self.key(job_id, "active"), task_id)
        self.touch(job_id)

    def active(self, job_id: str) -> dict[str, dict]:
        return self.items(job_id, "active")

    def note_sent(self, job_id: str, step: str, task_id: str, queue: str, countdown: float = 0.0) -> None:
        """A message asking for ``step`` is about to be sent (recorded first: a send that fails
        leaves a note the reconciler acts on, never a step nobody knows about)."""
        self.r.hset(self.key(job_id, "pending"), step, json.dumps({"task": task_id, "queue": queue,
                                                                    "due": time.time() + countdown}))

    def attempt(self, job_id: str, step: str) -> int:
        """Count one more sending of ``step`` by the reconciler; returns the count."""
        return int(self.r.hincrby(self.key(job_id, "attempts"), step, 1))

    def beat(self, worker: str, info: dict, ttl: float) -> None:
        self.r.set(WORKER + worker, json.dumps(info), px=int(ttl * 1000))

    def live_workers(self) -> dict[str, dict]:
        """Every worker whose heartbeat has not expired: name -> what it last said."""
        names = list(self.r.scan_iter(WORKER + "*", count=500))
        values = self.r.mget(names) if names else []
        return {n[len(WORKER):]: json.loads(v) for n, v in zip(names, values) if v}

    def status(self, job_id: str) -> dict:
        """State, progress per step, manifest path and error, as one JSON-able dict. A step
        whose worker has stopped beating is shown as waiting to be retried, not as running."""
        record = self.get(job_id)
        plan = self.load(job_id, "plan")
        ranking = self.load(job_id, "ranking")
        progress = {"analyze": f"{self.count(job_id, 'chunks')}/{len(plan['chunks'])}" if plan else "0/?"}
        if record.get("kind") == "watch":
            progress = {"provisional clips": str(self.count(job_id, "provisional"))}
        if ranking is not None:
            progress["render"] = f"{self.count(job_id, 'renders')}/{len(json.loads(record.get('render_ids') or '[]'))}"
        alive = self.live_workers()
        active, retrying = [], []
        for entry in self.active(job_id).values():
            (active if entry["worker"] in alive else retrying).append(entry)
        queued = sorted(self.items(job_id, "pending"))
        # No presigned URL's signature is shown (an s3:// URL carries no secret).
        shown = {k: scrub(record[k]) if record.get(k) else record.get(k) for k in ("manifest", "error", "input", "out")}
        return {"job_id": job_id, "state": record["state"], "progress": progress, **shown, "active": active,
                "retrying": retrying if record["state"] not in ("success", "failure") else [],
                "queued": queued if record["state"] not in ("success", "failure") else []}
