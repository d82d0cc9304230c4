"""A chaos run of the queue: many jobs, workers SIGKILLed as when machines die, the broker (or
Redis) restarted under them, then every job checked against a calm in-process run.

The faults follow a plan tied to the jobs' progress, not to the clock: each one waits until the
job store says a job is at the moment it is meant to hit (``MOMENTS``: a chunk being analysed
with half the chunks done, a clip being rendered...). It is made with every worker paused
(SIGSTOP), once the job store, read again, still says so: so the fault hits what it names, and
the events record which step of which job it hit. Jobs are submitted in waves, and the next wave
only once no job in flight can still reach the next fault's moment: however fast or slow the
machine, the jobs cannot all end before the plan is carried out (nor must one wait on a clock).

Used by ``tests/test_chaos.py`` (small, for CI) and ``bench/chaos.py`` (the full-size run).
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import redis

from conftest import REPO, ffprobe
from peakclip.detectors.errors import UserError
from peakclip.workers.jobs import Jobs, connect
from services import Fleet, ObjectStore, RabbitServer, RedisServer

FIELDS = ("id", "rank", "start", "end", "score", "stage", "tier", "pool", "signals")

# How often the job store is read while waiting for a moment: the sampling rate, not a pace (a
# moment lasts a whole chunk analysis or render; nothing is decided by how long anything takes).
POLL = 0.05
# How long a broker stays down when a fault takes it away: part of the fault's shape (workers
# see their connections fail and retry), not a pace.
BROKER_OUTAGE = 2.0

# A planned fault: (what, the moment it hits), e.g. ("kill a worker", "chunks half done").
Fault = tuple[str, str]
BROKER_FAULTS = {"restart the broker": "shut down", "SIGKILL the broker": "SIGKILLed"}
STORE_FAULT = "SIGKILL the object store"     # a run with objects: the SeaweedFS server, restarted after the outage
FAULTS = ("kill a worker", *BROKER_FAULTS, STORE_FAULT)


@dataclass
class Task:
    """A task marked active in the job store: ``step`` of the job, on ``worker`` since ``since``."""
    step: str
    worker: str
    task_id: str
    since: float


@dataclass
class JobProgress:
    """One job as its record in the job store (``workers/jobs.py``) says it is now."""
    job_id: str
    state: str
    updated: str                     # when a step of it last started or ended
    chunks: int | None               # chunks in its plan (None until planned)
    chunks_done: int
    renders: int | None              # clips it renders (None until ranked)
    renders_done: int
    running: list[Task]              # the tasks marked active

    @property
    def ended(self) -> bool:
        return self.state in ("success", "failure")

    def summary(self) -> str:
        chunks = f"chunks {self.chunks_done}/{self.chunks if self.chunks is not None else '?'}"
        return chunks + (f", renders {self.renders_done}/{self.renders}" if self.renders is not None else "")


def read_progress(store: Jobs, job_id: str) -> JobProgress:
    record = store.get(job_id)
    plan = store.load(job_id, "plan")
    render_ids = record.get("render_ids")      # written last by the rank step: the job is ranked
    return JobProgress(job_id, record["state"], record.get("updated", ""),
                       len(plan["chunks"]) if plan else None, store.count(job_id, "chunks"),
                       len(json.loads(render_ids)) if render_ids is not None else None,
                       store.count(job_id, "renders"),
                       sorted((Task(e["task"], e["worker"], task_id, float(e["since"]))
                               for task_id, e in store.active(job_id).items()), key=lambda t: t.since))


@dataclass(frozen=True)
class Moment:
    """A point in a job's life that a fault is meant to hit: ``within`` says the job is there,
    ``step`` which of its running tasks the fault hits (a prefix of step names, workers/steps.py),
    ``passed`` that the job is past the point for good (a stored chunk or render stays stored)."""
    name: str
    step: str
    within: Callable[[JobProgress], bool]
    passed: Callable[[JobProgress], bool]


def analysing(p: JobProgress) -> bool:
    return p.chunks is not None and p.chunks_done < p.chunks


def rendering(p: JobProgress) -> bool:
    return p.renders is not None and p.renders_done < p.renders


MOMENTS = {m.name: m for m in (
    Moment("a chunk running", "analyze chunk ", within=analysing,
           passed=lambda p: p.ended or p.renders is not None),
    Moment("chunks half done", "analyze chunk ", within=lambda p: analysing(p) and 2 * p.chunks_done >= p.chunks,
           passed=lambda p: p.ended or p.renders is not None),
    Moment("a render running", "render ", within=rendering,
           passed=lambda p: p.ended or (p.renders is not None and not rendering(p))),
)}


def check_plan(plan: list[Fault]) -> None:
    for what, at in plan:
        if what not in FAULTS or at not in MOMENTS:
            raise ValueError(f"unknown fault {(what, at)}: what is one of {FAULTS}, at one of {tuple(MOMENTS)}")


def spread_plan(kills: int, broker_faults: int, broker_fault: str, moments: tuple[str, ...]) -> list[Fault]:
    """``kills`` worker kills with ``broker_faults`` broker faults spread evenly among them, the
    moments taken in turn."""
    total = kills + broker_faults
    broker_at = {int((i + 0.5) * total / broker_faults) for i in range(broker_faults)} if broker_faults else set()
    return [(broker_fault if n in broker_at else "kill a worker", moments[n % len(moments)]) for n in range(total)]


@dataclass
class Hit:
    """A task at the moment a fault is meant to hit."""
    job: JobProgress
    task: Task

    def describe(self) -> str:
        return f"{self.task.step} of job {self.job.job_id} on {self.task.worker} ({self.job.summary()})"


def hits(moment: Moment, progress: list[JobProgress], running: Callable[[Task], bool]) -> list[Hit]:
    """The tasks at ``moment`` now, of those the ``running`` test accepts."""
    return [Hit(p, task) for p in progress if moment.within(p)
            for task in p.running if task.step.startswith(moment.step) and running(task)]


@dataclass
class MadeFault:
    what: str
    at: str            # the moment it was planned for
    step: str          # the step it hit, as the job store said with every worker paused
    seconds: float


@dataclass
class ChaosResult:
    jobs: dict[str, dict] = field(default_factory=dict)      # job id -> final status
    mismatched: list[str] = field(default_factory=list)      # jobs whose clips differ from the calm run
    strays: list[str] = field(default_factory=list)          # files no manifest lists (partial renders...)
    events: list[str] = field(default_factory=list)          # what the chaos did, when
    faults: list[MadeFault] = field(default_factory=list)    # the planned faults made, in order
    unmade: list[Fault] = field(default_factory=list)        # the planned faults whose moment never came
    died: list[str] = field(default_factory=list)            # workers that exited unbidden, and why
    resent: int = 0                                          # steps the reconcilers sent again
    seconds: float = 0.0
    scratch: str = ""                                        # where a run with objects fetches them to check

    @property
    def succeeded(self) -> int:
        return sum(s["state"] == "success" for s in self.jobs.values())

    def summary(self) -> str:
        states = {}
        for status in self.jobs.values():
            states[status["state"]] = states.get(status["state"], 0) + 1
        return (f"{self.succeeded}/{len(self.jobs)} succeeded ({states}), {len(self.mismatched)} with other clips, "
                f"{len(self.strays)} stray files, {len(self.faults)} faults made, {len(self.unmade)} unmade, "
                f"{len(self.died)} workers died unbidden, "
                f"{self.resent} steps sent again, {self.seconds:.0f} s")


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


def check_job(status: dict, expected: list[dict], out: str, result: ChaosResult,
              objects: ObjectStore | None = None) -> None:
    """A succeeded job against the calm run: its clips, each file whole and as long as its span,
    nothing beside them. With ``objects``, ``out`` is an ``s3://`` prefix in that store: its files
    are fetched into ``out``'s own scratch copy to be probed, and every object under the prefix
    must be one the manifest names."""
    if status["state"] != "success":
        if objects is not None and status["state"] == "failure":
            result.strays += half_objects(objects, out, result.scratch)
        return
    if objects is not None:
        bucket, prefix = out[len("s3://"):].split("/", 1)
        local = os.path.join(result.scratch, prefix.replace("/", "-"))
        os.makedirs(os.path.join(local, "clips"), exist_ok=True)
        keys = objects.keys(bucket, prefix + "/")
        for key in keys:
            objects.client().download_file(bucket, key, os.path.join(local, key[len(prefix) + 1:]))
        status, out = {**status, "manifest": os.path.join(local, "manifest.json")}, local
        named = {f"{prefix}/manifest.json"}
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
    if objects is not None:
        named |= {f"{prefix}/{p}" for c in manifest["clips"]
                  for p in [*(c.get("files") or {}).values(), c.get("thumbnail"), c.get("preview")] if p}
        named |= {f"{prefix}/{p}" for p in [manifest.get("report"), *manifest["exports"].values()] if p}
        result.strays += [f"s3://{bucket}/{key}" for key in keys if key not in named]
    else:
        result.strays += strays_in(out, manifest)


def half_objects(objects: ObjectStore, out: str, scratch: str) -> list[str]:
    """The clips under a failed job's ``s3://`` prefix that are not whole (ffprobe cannot read
    them): no render may leave one under its final name, whatever the chaos did."""
    bucket, prefix = out[len("s3://"):].split("/", 1)
    local = os.path.join(scratch, "failed-" + prefix.replace("/", "-"))
    os.makedirs(local, exist_ok=True)
    half = []
    for key in objects.keys(bucket, prefix + "/"):
        if key.endswith(".mp4"):
            path = os.path.join(local, os.path.basename(key))
            objects.client().download_file(bucket, key, path)
            try:
                ffprobe(path)
            except Exception:   # noqa: BLE001 - any failure to read it is the finding
                half.append(f"s3://{bucket}/{key}")
    return half


def reconciler_resends(logs: str) -> int:
    """How many steps the workers' reconcilers sent again (their log lines, workers/reconcile.py)."""
    sent_again = re.compile(r"job \w+: sent .+ again \(")
    count = 0
    for name in os.listdir(logs):
        with open(os.path.join(logs, name), encoding="utf-8", errors="replace") as handle:
            count += sum(bool(sent_again.search(line)) for line in handle)
    return count


def last_words(log: str) -> str:
    """The line of a worker's log that says why it stopped (its last critical or error line)."""
    with open(log, encoding="utf-8", errors="replace") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    telling = [line for line in lines if "CRITICAL" in line or "ERROR" in line]
    return (telling or lines or ["(empty log)"])[-1]


def group_members(pgid: int) -> list[int]:
    members = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue        # ended meanwhile
        if int(fields[2]) == pgid:
            members.append(int(pid))
    return members


def process_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"          # gone


def wait_stopped(pgids: list[int], limit: float = 10.0) -> None:
    """Until no process of the groups can run on: SIGSTOP is delivered asynchronously, and a
    process still running could change the job store after the harness read it. Stopped (T),
    gone (Z, X) or in uninterruptible sleep (D) will do: a process in D runs no code of its own
    before it stops (a parent in vfork, waiting for a child stopped before its exec, stays in D
    until both are continued). ``limit`` is a safety net, not expected to be reached."""
    deadline = time.monotonic() + limit
    pending = [pid for pgid in pgids for pid in group_members(pgid)]
    while pending and time.monotonic() < deadline:
        pending = [pid for pid in pending if process_state(pid) not in ("T", "t", "Z", "X", "D")]
        if pending:
            time.sleep(0.005)


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


class Chaos:
    """One chaos run: the servers, the fleet, the jobs not yet submitted, the plan's faults not
    yet made, and what happened."""

    def __init__(self, folder: str, jobs: list[tuple[str, str, list[str]]], config: str, plan: list[Fault], *,
                 broker: str, concurrency: int, wave: int, seed: int, env: dict, objects: ObjectStore | None = None):
        self.folder, self.config, self.broker = folder, config, broker
        self.plan = list(plan)
        self.concurrency, self.wave, self.rng = concurrency, wave, random.Random(seed)
        self.logs = os.path.join(folder, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.unsubmitted = list(enumerate(jobs))
        self.outs: dict[str, tuple[int, str]] = {}        # job id -> (job number, output folder)
        self.ended: dict[str, JobProgress] = {}           # jobs that ended (final: never read again)
        self.gone: set[str] = set()                       # workers known dead: killed by the plan, or died
        self.result = ChaosResult()
        self.names = itertools.count(1)
        self.started = time.monotonic()
        self.redis = RedisServer(os.path.join(folder, "redis"))
        try:
            self.rabbit = RabbitServer(os.path.join(folder, "rabbitmq")) if broker == "rabbitmq" else None
        except BaseException:
            self.redis.stop()
            raise
        self.target = self.rabbit or self.redis
        self.objects = objects       # jobs read from and write to its buckets: s3:// in and out
        env = {**(objects.env() if objects else {}), **env}
        self.fleet = Fleet(self.redis, 0, self.logs, broker_url=self.rabbit.url() if self.rabbit else None, **env)
        self.store = Jobs(connect(self.fleet.env["PEAKCLIP_RESULT_BACKEND"]))
        self.broker_back = 0.0          # when the broker last came back (time.time(), as heartbeats say)

    def note(self, text: str) -> None:
        self.result.events.append(f"{time.monotonic() - self.started:6.1f}s {text}")

    def start_worker(self) -> str:
        name = f"w{next(self.names)}"
        # With objects, nothing on disk is shared: each worker has a HOME and TMPDIR of its own.
        own = os.path.join(self.folder, "workers", name)
        os.makedirs(own, exist_ok=True)
        self.fleet.start(name, pool="prefork", concurrency=self.concurrency,
                         **({"HOME": own, "TMPDIR": own} if self.objects else {}))
        return name

    def alive(self) -> dict[str, subprocess.Popen]:
        """The fleet's live workers by the hostname they mark their tasks with (services.Fleet)."""
        return {f"{name}@test": proc for name, proc in self.fleet.workers.items() if proc.poll() is None}

    def running_now(self) -> Callable[[Task], bool]:
        """Which tasks marked active are running now: on a live worker whose heartbeat, written
        since the broker last came back, lists the task or came before it started. (A killed
        worker's entries stay until the reconciler clears them; so does the entry of a task that
        ended while Redis was away. Neither is a target.)"""
        alive = set(self.alive())
        beats = {w: b for w, b in self.store.live_workers().items() if w in alive and b["at"] > self.broker_back}
        return lambda task: task.worker in beats and (task.task_id in beats[task.worker]["tasks"]
                                                      or task.since > beats[task.worker]["at"])

    @contextlib.contextmanager
    def paused(self):
        """Every live worker's process group stopped (SIGSTOP), then continued: meanwhile the job
        store holds still, so a moment read from it is still there when the fault is made."""
        groups = [proc.pid for proc in self.alive().values()]
        for pgid in groups:
            signal_group(pgid, signal.SIGSTOP)
        try:
            wait_stopped(groups)
            yield
        finally:
            for pgid in groups:
                signal_group(pgid, signal.SIGCONT)   # a group SIGKILLed meanwhile is gone: no matter

    def progress(self) -> list[JobProgress] | None:
        """Every submitted job's progress, or None while the job store cannot be read (Redis just
        restarted and still loading its append-only file, say)."""
        try:
            progress = [self.ended.get(job_id) or read_progress(self.store, job_id) for job_id in self.outs]
        except (redis.RedisError, UserError):
            return None
        self.ended.update((p.job_id, p) for p in progress if p.ended)
        return progress

    def submit_wave(self, size: int) -> None:
        wave, self.unsubmitted = self.unsubmitted[:size], self.unsubmitted[size:]
        for n, (video, chat, options) in wave:
            out = f"s3://clips/job-{n}" if self.objects else os.path.join(self.folder, f"job-{n}")
            job_id = self.fleet.submit(video, "--chat", chat, "--out", out, "--config", self.config, *options)
            self.outs[job_id] = (n, out)
            self.note(f"submitted job {n}: {job_id}")

    def next_wave_due(self, progress: list[JobProgress]) -> bool:
        """Jobs are held back until no job in flight can still reach the next fault's moment
        (all of them at once when the plan is done): a fault then never waits on jobs that
        cannot come to it, and never comes too late because the jobs all ended first."""
        if not self.unsubmitted:
            return False
        return not self.plan or all(MOMENTS[self.plan[0][1]].passed(p) for p in progress)

    def try_fault(self, progress: list[JobProgress]) -> bool:
        """Make the next planned fault if a job is at its moment; True if it was made."""
        what, at = self.plan[0]
        moment = MOMENTS[at]
        if not any(moment.within(p) for p in progress):
            return False
        try:
            if not hits(moment, progress, self.running_now()):
                return False
        except redis.RedisError:
            return False
        with self.paused():
            # Read again with every worker stopped: the task seen a moment ago may have ended.
            try:
                progress, running = self.progress(), self.running_now()
            except redis.RedisError:
                return False
            found = hits(moment, progress, running) if progress else []
            if not found:
                return False
            hit = self.rng.choice(found)
            done, recover = self.strike(what, hit)
            self.note(f"{done} at {at}: {hit.describe()}")
        self.result.faults.append(MadeFault(what, at, hit.task.step, time.monotonic() - self.started))
        self.plan.pop(0)
        recover()
        return True

    def strike(self, what: str, hit: Hit) -> tuple[str, Callable[[], None]]:
        """Make the fault (workers paused); returns what was done and what brings the fleet back."""
        if what == "kill a worker":
            victim = hit.task.worker.split("@", 1)[0]
            self.fleet.kill(victim)          # the whole process group, paused or not
            self.gone.add(victim)
            return f"SIGKILL {victim} (process group)", lambda: self.note(f"started {self.start_worker()}")
        if what == STORE_FAULT:
            self.objects.kill()
            return "object store SIGKILLed", self.restart_store
        (self.target.kill if what == "SIGKILL the broker" else self.target.stop)()
        return f"{self.broker} {BROKER_FAULTS[what]}", self.restart_broker

    def note_deaths(self) -> None:
        """Workers that exited though no fault killed them (a crash the chaos brought out: a
        Celery worker can exit when its Redis broker goes away under it): each is noted with the
        line of its log that says why, and a new worker takes its place, as the supervisor of a
        real fleet (systemd, Kubernetes) would start one."""
        for name, proc in list(self.fleet.workers.items()):
            if name not in self.gone and proc.poll() is not None:
                self.gone.add(name)
                why = f"{name} exited unbidden (code {proc.returncode}): {last_words(os.path.join(self.logs, name + '.log'))}"
                self.result.died.append(why)
                self.note(why)
                self.note(f"started {self.start_worker()} in its place")

    def restart_broker(self) -> None:
        time.sleep(BROKER_OUTAGE)
        self.target.start()
        self.broker_back = time.time()
        self.note(f"{self.broker} restarted")

    def restart_store(self) -> None:
        time.sleep(BROKER_OUTAGE)
        self.objects.start()
        self.note("object store restarted")

    def drive(self, stuck_after: float, timeout: float) -> None:
        """Submit the jobs wave by wave and make the planned faults, until every job has ended.
        Safety nets only: no job's record changed for ``stuck_after`` s, or ``timeout`` s in all."""
        self.started = time.monotonic()
        self.submit_wave(self.wave)
        deadline = self.started + timeout
        last_seen, last_change = None, time.monotonic()
        while time.monotonic() < deadline:
            self.note_deaths()
            if not self.alive():
                self.note("no worker left: given up")
                break
            progress = self.progress()
            if progress is not None:
                if not self.unsubmitted and all(p.ended for p in progress):
                    break
                if self.plan and self.try_fault(progress):
                    last_change = time.monotonic()
                    continue
                if self.next_wave_due(progress):
                    self.submit_wave(self.wave if self.plan else len(self.unsubmitted))
                    last_change = time.monotonic()
                    continue
                seen = [(p.state, p.updated, p.chunks_done, p.renders_done, p.running) for p in progress]
                if seen != last_seen:
                    last_seen, last_change = seen, time.monotonic()
            if time.monotonic() - last_change > stuck_after:
                self.note(f"no job moved for {stuck_after:.0f} s: given up")
                break
            time.sleep(POLL)
        else:
            self.note(f"not all jobs ended in {timeout:.0f} s: given up")
        self.result.seconds = time.monotonic() - self.started
        self.result.unmade = list(self.plan)
        for fault in self.plan:
            self.note(f"never made: {fault[0]} at {fault[1]} (no job came to it)")

    def final_statuses(self) -> None:
        for job_id in self.outs:
            try:
                self.result.jobs[job_id] = self.fleet.status(job_id)      # what `peakclip status` says
            except (ValueError, subprocess.TimeoutExpired):
                self.result.jobs[job_id] = {"job_id": job_id, "state": "unknown"}
        for n, _ in self.unsubmitted:
            self.result.jobs[f"job {n} (never submitted)"] = {"job_id": f"job {n}", "state": "never submitted"}

    def stop(self) -> None:
        self.fleet.stop_all()        # a warm shutdown: a render still running finishes (or cleans up) first
        if self.rabbit:
            self.rabbit.stop()
        self.redis.stop()


def run_chaos(folder: str, samples: list[tuple[str, str]], option_sets: list[list[str]], config: str,
              plan: list[Fault], *, broker: str = "redis", workers: int = 2, concurrency: int = 2, wave: int = 2,
              stuck_after: float = 300.0, timeout: float = 3600.0, seed: int = 1,
              env: dict | None = None, objects: bool = False) -> ChaosResult:
    """Queue every (sample, option set) job on a fleet of ``workers`` prefork workers and make
    the faults of ``plan`` in order, each at its moment (``MOMENTS``): "kill a worker" SIGKILLs
    the process group of a worker running the moment's step and starts a new worker; "restart
    the broker" shuts the broker down, "SIGKILL the broker" kills it, and either starts it again
    ``BROKER_OUTAGE`` s later. With ``broker`` "redis" the broker is the Redis that also holds the
    job records, with "rabbitmq" a RabbitMQ node. With ``objects``, the recordings and chat logs
    are in a SeaweedFS server's bucket and every job is s3:// in -> s3:// out, each worker with its
    own HOME and TMPDIR; "SIGKILL the object store" kills the server and starts it again
    ``BROKER_OUTAGE`` s later. Jobs go in waves of ``wave`` (``next_wave_due``).
    Waits until every job has ended, then checks each against the calm run."""
    check_plan(plan)
    jobs = [(video, chat, options) for (video, chat), options in itertools.product(samples, option_sets)]
    expected = [calm_clips(video, chat, options, config, os.path.join(folder, f"calm-{n}"))
                for n, (video, chat, options) in enumerate(jobs)]
    store = ObjectStore(os.path.join(folder, "seaweedfs")) if objects else None
    try:
        if store:
            jobs = [upload_job(store, n, *job) for n, job in enumerate(jobs)]
        chaos = Chaos(folder, jobs, config, plan, broker=broker, concurrency=concurrency, wave=wave,
                      seed=seed, env=env or {}, objects=store)
        chaos.result.scratch = os.path.join(folder, "fetched")
        try:
            for _ in range(workers):
                chaos.start_worker()
            chaos.drive(stuck_after, timeout)
            chaos.final_statuses()
        finally:
            chaos.stop()
        result = chaos.result
        result.resent = reconciler_resends(chaos.logs)
        for job_id, (n, out) in chaos.outs.items():
            check_job(result.jobs[job_id], expected[n], out, result, store)
    finally:
        if store:
            store.stop()
    return result


def upload_job(store: ObjectStore, n: int, video: str, chat: str, options: list[str]) -> tuple[str, str, list[str]]:
    """Job ``n``'s recording and chat log put in the store's ``recordings`` bucket (the ``clips``
    bucket made for its outputs); the job as s3:// URLs."""
    client = store.client()
    for bucket in ("recordings", "clips"):
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou, client.exceptions.BucketAlreadyExists):
            client.create_bucket(Bucket=bucket)
    urls = []
    for path in (video, chat):
        key = f"{os.path.basename(os.path.dirname(path))}/{os.path.basename(path)}"
        client.upload_file(path, "recordings", key)
        urls.append(f"s3://recordings/{key}")
    return urls[0], urls[1], options
