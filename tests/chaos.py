"""A chaos run of the queue: many jobs, workers SIGKILLed as when machines die, the broker (or
Redis) restarted under them, then every job checked against a calm in-process run.

Used by ``tests/test_chaos.py`` (small, for CI) and ``bench/chaos.py`` (the full-size run).
"""
from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from conftest import REPO, ffprobe
from services import Fleet, RabbitServer, RedisServer

FIELDS = ("id", "rank", "start", "end", "score", "stage", "tier", "pool", "signals")


@dataclass
class ChaosResult:
    jobs: dict[str, dict] = field(default_factory=dict)      # job id -> final status
    mismatched: list[str] = field(default_factory=list)      # jobs whose clips differ from the calm run
    strays: list[str] = field(default_factory=list)          # files no manifest lists (partial renders...)
    events: list[str] = field(default_factory=list)          # what the chaos did, when
    seconds: float = 0.0

    @property
    def succeeded(self) -> int:
        return sum(s["state"] == "success" for s in self.jobs.values())

    def summary(self) -> str:
        states = {}
        for status in self.jobs.values():
            states[status["state"]] = states.get(status["state"], 0) + 1
        return (f"{self.succeeded}/{len(self.jobs)} succeeded ({states}), {len(self.mismatched)} with other clips, "
                f"{len(self.strays)} stray files, {self.seconds:.0f} s")


def calm_clips(video: str, chat: str, options: list[str], config: str, out: str) -> list[dict]:
    """The clips the in-process CLI makes of the same job (analysis only: the spans, scores and
    tags; the queued job's files are checked on their own)."""
    result = subprocess.run([sys.executable, "-m", "peakclip", "clip", video, "--chat", chat, "--out", out,
                             "--config", config, "--no-render", "--quiet", *options],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        return [{k: c[k] for k in FIELDS} for c in json.load(handle)["clips"]]


def strays_in(out: str, manifest: dict) -> list[str]:
    """Files under ``out/clips`` that the manifest does not list (hidden done-records aside)."""
    listed = {os.path.basename(p) for c in manifest["clips"]
              for p in [*(c.get("files") or {}).values(), c.get("thumbnail"), c.get("preview")] if p}
    folder = os.path.join(out, "clips")
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return [os.path.join(folder, n) for n in names
            if n not in listed and not (n.startswith(".") and n.endswith(".done.json"))]


def check_job(status: dict, expected: list[dict], out: str, result: ChaosResult) -> None:
    if status["state"] != "success":
        return
    with open(status["manifest"], encoding="utf-8") as handle:
        manifest = json.load(handle)
    if [{k: c[k] for k in FIELDS} for c in manifest["clips"]] != expected:
        result.mismatched.append(status["job_id"])
    for clip in manifest["clips"]:
        path = os.path.join(out, clip["file"]) if clip["file"] else None
        if path is None or not os.path.isfile(path):
            result.mismatched.append(f"{status['job_id']}: clip {clip['id']} has no file")
            continue
        duration = float(ffprobe(path)["format"]["duration"])
        if abs(duration - (clip["end"] - clip["start"])) > 0.5:
            result.mismatched.append(f"{status['job_id']}: clip {clip['id']} lasts {duration:.2f} s")
    result.strays += strays_in(out, manifest)


def run_chaos(folder: str, samples: list[tuple[str, str]], option_sets: list[list[str]], config: str, *,
              broker: str = "redis", workers: int = 2, concurrency: int = 2, kills: int = 3,
              kill_every: float = 6.0, restarts: int = 1, restart_mode: str = "term",
              restart_at: float = 8.0, timeout: float = 900.0, seed: int = 1, env: dict | None = None) -> ChaosResult:
    """Submit every (sample, option set) job to a fleet of ``workers`` prefork workers, SIGKILL
    one worker's whole process group every ``kill_every`` s (``kills`` times, a new worker taking
    its place each time), and restart the broker ``restarts`` times, the first at ``restart_at``
    s (``restart_mode``: ``term`` shuts it down, ``kill`` SIGKILLs it); with ``broker`` "redis"
    the broker is the Redis that also holds the job records, with "rabbitmq" a RabbitMQ node.
    Waits until every job has ended (or ``timeout``) and checks each against the calm run."""
    rng = random.Random(seed)
    result = ChaosResult()
    logs = os.path.join(folder, "logs")
    os.makedirs(logs, exist_ok=True)
    jobs = [(video, chat, options) for (video, chat), options in itertools.product(samples, option_sets)]
    expected = [calm_clips(video, chat, options, config, os.path.join(folder, f"calm-{n}"))
                for n, (video, chat, options) in enumerate(jobs)]
    redis = RedisServer(os.path.join(folder, "redis"))
    rabbit = RabbitServer(os.path.join(folder, "rabbitmq")) if broker == "rabbitmq" else None
    target = rabbit or redis
    fleet = Fleet(redis, 0, logs, broker_url=rabbit.url() if rabbit else None, **(env or {}))
    names = itertools.count(1)
    started = time.monotonic()
    stop = threading.Event()

    def note(text: str) -> None:
        result.events.append(f"{time.monotonic() - started:6.1f}s {text}")

    def start_worker() -> str:
        name = f"w{next(names)}"
        fleet.start(name, pool="prefork", concurrency=concurrency)
        return name

    def chaos() -> None:
        # Kills and restarts on their own clocks, so a restart can fall between two kills.
        plan = [(restart_at + k * 2 * kill_every, "restart") for k in range(restarts)]
        plan += [((k + 1) * kill_every, "kill") for k in range(kills)]
        for when, what in sorted(plan):
            if stop.wait(max(0.0, when - (time.monotonic() - started))):
                return
            if what == "kill":
                alive = [n for n, p in fleet.workers.items() if p.poll() is None]
                victim = rng.choice(alive)
                fleet.kill(victim)
                note(f"SIGKILL {victim} (process group)")
                note(f"started {start_worker()}")
            else:
                (target.kill if restart_mode == "kill" else target.stop)()
                note(f"{broker} {'SIGKILLed' if restart_mode == 'kill' else 'shut down'}")
                time.sleep(2.0)
                target.start()
                note(f"{broker} restarted")

    outs = {}
    try:
        for _ in range(workers):
            start_worker()
        for n, (video, chat, options) in enumerate(jobs):
            out = os.path.join(folder, f"job-{n}")
            outs[fleet.submit(video, "--chat", chat, "--out", out, "--config", config, *options)] = (n, out)
        started = time.monotonic()      # the chaos clock starts with every job queued
        note(f"submitted {len(outs)} jobs")
        chaos_thread = threading.Thread(target=chaos, daemon=True)
        chaos_thread.start()
        deadline = time.monotonic() + timeout
        pending = dict(outs)
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                try:
                    status = fleet.status(job_id)
                except (ValueError, subprocess.TimeoutExpired):
                    continue        # Redis is down for a moment: ask again
                if status["state"] in ("success", "failure"):
                    result.jobs[job_id] = status
                    del pending[job_id]
            time.sleep(1.0)
        stop.set()
        chaos_thread.join(timeout=120)
        result.seconds = time.monotonic() - started
        for job_id in pending:
            try:
                result.jobs[job_id] = fleet.status(job_id)
            except ValueError:
                result.jobs[job_id] = {"job_id": job_id, "state": "unknown"}
    finally:
        stop.set()
        fleet.stop_all()        # a warm shutdown: a render still running finishes (or cleans up) first
        if rabbit:
            rabbit.stop()
        redis.stop()
    for job_id, (n, out) in outs.items():
        check_job(result.jobs[job_id], expected[n], out, result)
    return result
