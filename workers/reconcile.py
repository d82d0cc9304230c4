"""Every job ends: worker heartbeats and the reconciler that re-sends what the broker lost.

A broker can lose a message: the Redis transport drops one popped but not yet recorded as unacked
when the connection breaks, restores can race, a worker can die between storing a result and
sending the next step. So "the broker will redeliver" is not the whole guarantee; the job record
is (``workers/steps.py``).

Each worker's main process runs a small thread (``Heartbeat``, started by a Celery bootstep):

- every ``queue.heartbeat`` seconds it writes ``peakclip:worker:<name>`` (its queues, the tasks
  it runs, since when it has had a free slot), expiring after ``queue.worker_gone``: a
  worker that stops beating (killed, machine gone) is gone once the key expires;
- every ``queue.reconcile_interval`` seconds, if it wins a short lock in Redis (one worker sweeps
  at a time, and a killed sweeper's lock simply expires), it sweeps the open jobs: for each step
  a job still needs, ``judge`` decides whether the step is in hand or must be sent again.

Sending again is safe because every step is idempotent (the first stored result wins). A step
sent again ``queue.max_attempts`` times fails its job with the reason, so no job stays
``running`` with nothing working on it.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from celery import bootsteps

from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import QueueConfig
from peakclip.workers.jobs import OPEN, Jobs, connect
from peakclip.workers.steps import missing_steps, queue_of, send_step

log = logging.getLogger("peakclip.reconcile")
LOCK = "peakclip:reconciler"


@dataclass
class Run:
    """A task that marked itself as running a step (an entry of the job's active hash)."""
    worker: str
    task_id: str
    since: float


@dataclass
class StepState:
    """What the job record says about one step the job still needs."""
    step: str
    queue: str
    runs: list[Run]             # tasks that started it and have not cleared their entry
    due: float | None           # when its last message became due (sent, or a retry's backoff), if noted


def judge(state: StepState, live: dict[str, dict], now: float, last_progress: float,
          config: QueueConfig) -> str | None:
    """Why ``state.step`` must be sent again, or None while it is in hand. Pure.

    - running on a worker that still beats and still lists the task among those it runs (or
      started it so recently that its heartbeat may not say so yet): in hand;
    - started by tasks that are gone (their worker stopped beating, or runs them no more: an
      entry a task could not clear because Redis was away as it ended): gone with them;
    - its message noted and a worker serving its queue has had a free slot for ``stall_timeout``
      since the message was due, yet did not take it: the broker lost it (a free worker takes
      what is waiting on its queues at once; while every worker is busy, a message just waits);
    - never noted (a worker died between storing a result and sending the next step): sent once
      the job has made no progress for ``worker_gone``.
    """
    for run in state.runs:
        if run.worker in live and (run.task_id in live[run.worker].get("tasks", [])
                                   or now - run.since < config.worker_gone):
            return None
    if state.runs:
        last = state.runs[-1]
        return (f"its worker {last.worker} no longer runs it" if last.worker in live
                else f"its worker {last.worker} is gone")
    if state.due is not None:
        for name, info in live.items():
            free_since = info.get("free_since")
            if state.queue in info.get("queues", []) and free_since is not None \
                    and now - max(free_since, state.due) > config.stall_timeout:
                return f"its message was not taken in {config.stall_timeout:g} s though {name} was free"
        return None
    if now - last_progress > config.worker_gone:
        return "it was never sent"
    return None


def step_states(store: Jobs, job_id: str, record: dict) -> list[StepState]:
    active: dict[str, list[Run]] = {}
    for task_id, entry in store.active(job_id).items():
        active.setdefault(entry["task"], []).append(Run(entry["worker"], task_id, float(entry.get("since", 0))))
    pending = store.items(job_id, "pending")
    return [StepState(step, queue_of(step), active.get(step, []), pending[step]["due"] if step in pending else None)
            for step in missing_steps(store, job_id, record)]


def sweep(app, store: Jobs, config: QueueConfig, now: float | None = None) -> list[tuple[str, str, str]]:
    """One pass over the open jobs: send again each step that ``judge`` finds lost, or fail the job
    when a step has been sent again ``max_attempts`` times. Returns (job, step, reason) acted on."""
    now = time.time() if now is None else now
    live = store.live_workers()
    acted = []
    for job_id in store.open_jobs():
        try:
            record = store.get(job_id)
        except UserError:          # the record expired: nothing left to drive
            store.r.srem(OPEN, job_id)
            continue
        if record["state"] in ("success", "failure"):
            store.r.srem(OPEN, job_id)
            continue
        last_progress = float(record.get("updated") or record.get("created") or now)
        for state in step_states(store, job_id, record):
            reason = judge(state, live, now, last_progress, config)
            if reason is None:
                continue
            attempts = store.attempt(job_id, state.step)
            if attempts > config.max_attempts:
                store.fail(job_id, f"{state.step} was lost {attempts - 1} times, last because {reason}; "
                                   f"gave up (queue.max_attempts = {config.max_attempts})")
                acted.append((job_id, state.step, "failed the job"))
                break
            # The gone tasks' entries go: status shows the step queued again, not running.
            for run in state.runs:
                store.clear_active(job_id, run.task_id)
            send_step(app, store, job_id, state.step)
            log.warning("job %s: sent %s again (%s; attempt %d)", job_id, state.step, reason, attempts)
            acted.append((job_id, state.step, reason))
    return acted


class Heartbeat(threading.Thread):
    """The worker's heartbeat and, when it holds the lock, the reconciler's sweep."""

    def __init__(self, app, worker_name: str, queues: list[str], concurrency: int, running):
        super().__init__(name="peakclip-heartbeat", daemon=True)
        self.app, self.worker_name, self.queues, self.concurrency = app, worker_name, queues, concurrency
        self.running = running          # () -> the ids of the tasks this worker is running now
        self.config: QueueConfig = app.peakclip_config.queue
        self.stopped = threading.Event()
        self.free_since: float | None = time.time()

    def beat(self, store: Jobs) -> None:
        now = time.time()
        tasks = self.running()
        if len(tasks) >= self.concurrency:
            self.free_since = None
        elif self.free_since is None:
            self.free_since = now
        store.beat(self.worker_name, {"queues": self.queues, "concurrency": self.concurrency, "tasks": tasks,
                                      "free_since": self.free_since, "at": now}, self.config.worker_gone)

    def run(self) -> None:
        store = Jobs(connect(self.config.result_backend))
        up_since = None          # since when this worker has reached Redis without a break
        down_since = None        # since when it has not (one line when it goes, one when it is back)
        next_sweep = time.monotonic() + self.config.reconcile_interval
        while not self.stopped.wait(self.config.heartbeat):
            try:
                self.beat(store)
                up_since = up_since or time.monotonic()
                if down_since is not None:
                    log.warning("heartbeat: beating again after %.0f s", time.monotonic() - down_since)
                    down_since = None
                # Judge others only once every live worker has had time to beat again since
                # Redis came back (after a Redis restart every key may have expired at once).
                if time.monotonic() >= next_sweep and time.monotonic() - up_since > self.config.worker_gone:
                    next_sweep = time.monotonic() + self.config.reconcile_interval
                    if store.r.set(LOCK, self.worker_name, nx=True, px=int(self.config.reconcile_interval * 1000)):
                        sweep(self.app, store, self.config)
            except Exception as err:      # noqa: BLE001 -- Redis or the broker away: beat again later
                up_since = None
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("heartbeat: cannot beat (%s); trying again every %g s", err, self.config.heartbeat)

    def stop(self) -> None:
        self.stopped.set()


class HeartbeatStep(bootsteps.StartStopStep):
    """Runs ``Heartbeat`` in the worker's main process, once its pool is up."""
    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.thread: Heartbeat | None = None

    def start(self, worker) -> None:
        from celery.worker import state

        queues = sorted(worker.app.amqp.queues.consume_from or worker.app.amqp.queues)
        self.thread = Heartbeat(worker.app, worker.hostname, queues, worker.concurrency,
                                lambda: sorted(r.id for r in list(state.active_requests)))
        self.thread.start()

    def stop(self, worker) -> None:
        if self.thread is not None:
            self.thread.stop()
