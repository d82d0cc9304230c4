"""Celery tasks: each one calls one pipeline step, and keeps the job record up to date.

start -> chord(analyze_chunk x N) -> rank -> chord(render_clip x M) -> finalize (-> notify)

Every step is idempotent: a chunk or clip already done is not done again, and results are stored
per chunk/clip (a task that runs twice after a redelivery counts once). Large data (PCM, frames)
never travels through the broker: workers read the recording from shared storage and pass only
job ids and indices; chunk results are compact series.
"""
from __future__ import annotations

import json
import os
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict

import redis
from celery import Task, chord, group
from celery.exceptions import SoftTimeLimitExceeded

from detectors.chunks import Chunk
from detectors.errors import UserError
from pipeline.analyze import ChunkResult, Plan, analyze_chunk, assemble, plan_analysis, read_plan_chat
from pipeline.config import Config
from pipeline.render import Rendered, render_clip
from pipeline.run import Ranking, check_output_dir, clips_to_render, finish, rank
from workers.app import app
from workers.jobs import Jobs, connect
from workers.signing import sign
from workers.tierstate import RedisTierState

TRANSIENT = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)


def jobs() -> Jobs:
    return Jobs(connect(app.peakclip_config.queue.result_backend))


class JobTask(Task):
    """A task of one job: transient errors are retried with backoff; anything else fails the job
    with a one-line reason that ``peakclip status`` shows."""
    autoretry_for = TRANSIENT
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = app.peakclip_config.queue.retries
    acks_late = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id:
            try:
                reason = str(exc) if isinstance(exc, UserError) else f"{self.name} failed: {type(exc).__name__}: {exc}"
                jobs().fail(job_id, reason.splitlines()[0] if reason else type(exc).__name__)
            except TRANSIENT:
                pass  # the broker is gone too; the redelivered task will try again


def live_job(store: Jobs, job_id: str, ended: tuple[str, ...] = ("failure",)) -> tuple[dict, Config] | None:
    """The job's record and config, or None when it is in one of the ``ended`` states (a late or
    redelivered task then has nothing to do)."""
    record = store.get(job_id)
    if record["state"] in ended:
        return None
    return record, Config.from_dict(json.loads(record["config"]))


def begin_job(store: Jobs, job_id: str) -> tuple[dict, Config] | None:
    """The first task of a job: its record and config, the job marked running, the output folder
    checked; None when the job already ended (a redelivered start)."""
    job = live_job(store, job_id, ended=("success", "failure"))
    if job is not None:
        store.set_state(job_id, "running")
        check_output_dir(job[0]["out"])
    return job


@contextmanager
def job_step(task: Task, job_id: str, what: str):
    """Mark the task as running on this worker for ``status``; turn user errors into a failed job."""
    store = jobs()
    store.mark_active(job_id, task.request.id or what, task.request.hostname or "?", what)
    try:
        yield store
    except UserError as err:
        store.fail(job_id, str(err))
    except SoftTimeLimitExceeded:
        store.fail(job_id, f"{what} took longer than its time limit")
    finally:
        store.clear_active(job_id, task.request.id or what)


@app.task(name="peakclip.start", base=JobTask, bind=True)
def start(self, job_id: str) -> None:
    with job_step(self, job_id, "plan") as store:
        job = begin_job(store, job_id)
        if job is None:
            return
        record, config = job
        plan = plan_analysis(record["input"], record.get("chat") or None, config)
        store.put(job_id, "plan", plan.to_dict())
        header = group(analyze.s(job_id, chunk.index) for chunk in plan.chunks)
        if plan.chunks:
            chord(header)(rank_job.si(job_id))
        else:
            rank_job.delay(job_id)


def time_limits(seconds: float) -> dict:
    """A task's soft limit (it is told, and fails its job with a reason) and, a minute later, the
    hard one (its process is killed)."""
    return {"soft_time_limit": seconds, "time_limit": seconds + 60}


@app.task(name="peakclip.analyze_chunk", base=JobTask, bind=True, **time_limits(app.peakclip_config.queue.analyze_time_limit))
def analyze(self, job_id: str, index: int) -> None:
    with job_step(self, job_id, f"analyze chunk {index}") as store:
        if store.has_item(job_id, "chunks", str(index)):
            return  # done before (a redelivered task): count it once
        job = live_job(store, job_id)
        if job is None:
            return
        _, config = job
        plan = Plan.from_dict(store.load(job_id, "plan"))
        chunk: Chunk = plan.chunks[index]
        result = analyze_chunk(plan.path, chunk, plan.media, config.analysis)
        store.put_item(job_id, "chunks", str(index), result.to_dict())


@app.task(name="peakclip.analyze_live_chunk", base=JobTask, bind=True,
          **time_limits(app.peakclip_config.queue.analyze_time_limit))
def analyze_live_chunk(self, job_id: str, path: str, chunk: dict, media: list[str]) -> None:
    """One chunk of a stream on air, for the watch that sent it (it reads the result from the job)."""
    with job_step(self, job_id, f"analyze live chunk {chunk['index']}") as store:
        job = live_job(store, job_id, ended=("success", "failure"))
        if job is None:
            return
        result = analyze_chunk(path, Chunk(**chunk), media, job[1].analysis)
        store.put_item(job_id, "chunks", str(chunk["index"]), result.to_dict())


@app.task(name="peakclip.rank", base=JobTask, bind=True, max_retries=60)
def rank_job(self, job_id: str) -> None:
    with job_step(self, job_id, "rank") as store:
        job = live_job(store, job_id)
        if job is None:
            return
        _, config = job
        plan = Plan.from_dict(store.load(job_id, "plan"))
        chunks = store.items(job_id, "chunks")
        if len(chunks) < len(plan.chunks):
            # The chord counted a chunk twice (a redelivered task) and fired early: wait for the rest.
            raise self.retry(countdown=2)
        ranking = store.load(job_id, "ranking")
        if ranking is None:
            results = [ChunkResult.from_dict(chunks[str(c.index)]) for c in plan.chunks]
            ranking = rank(assemble(plan, results, read_plan_chat(plan, config), config), config)
            to_render = clips_to_render(ranking, config)
            store.r.hset(store.key(job_id), "render_total", len(to_render))
            store.put(job_id, "ranking", ranking.to_dict())
        else:
            ranking = Ranking.from_dict(ranking)
            to_render = clips_to_render(ranking, config)
        if to_render:
            chord(group(render.s(job_id, clip.id) for clip in to_render))(finalize.si(job_id))
        else:
            finalize.delay(job_id)


@app.task(name="peakclip.render_clip", base=JobTask, bind=True, **time_limits(app.peakclip_config.queue.render_time_limit))
def render(self, job_id: str, clip_id: str) -> None:
    with job_step(self, job_id, f"render {clip_id}") as store:
        if store.has_item(job_id, "renders", clip_id):
            return
        job = live_job(store, job_id)
        if job is None:
            return
        record, config = job
        ranking = Ranking.from_dict(store.load(job_id, "ranking"))
        clip = next(c for c in ranking.clips if c.id == clip_id)
        result = render_clip(ranking.probe, clip, record["out"], config.render)
        store.put_item(job_id, "renders", clip_id, asdict(result))


@app.task(name="peakclip.finalize", base=JobTask, bind=True, max_retries=60)
def finalize(self, job_id: str) -> None:
    with job_step(self, job_id, "finalize") as store:
        job = live_job(store, job_id, ended=("success", "failure"))
        if job is None:
            return
        record, config = job
        ranking = Ranking.from_dict(store.load(job_id, "ranking"))
        renders = store.items(job_id, "renders")
        if len(renders) < int(record.get("render_total", 0)):
            raise self.retry(countdown=2)  # fired early after a redelivery: wait for the rest
        rendered = [Rendered(**{**r, "cut": tuple(r["cut"]) if r["cut"] else None}) for r in renders.values()]
        manifest = finish(ranking, rendered, record["out"], config)
        path = os.path.join(record["out"], "manifest.json")
        RedisTierState(store.r).ensure(manifest)  # the clips' tier state, for feedback through the queue
        store.set_state(job_id, "success", manifest=path)
        if config.queue.callback_url:
            notify.delay(job_id, config.queue.callback_url, {"job_id": job_id, "state": "success", "manifest": path,
                                  "clips": [{k: c[k] for k in ("id", "rank", "start", "end", "score", "stage", "tier", "file")}
                                            for c in manifest["clips"]], "warnings": manifest["warnings"]})


@app.task(name="peakclip.watch", base=JobTask, bind=True, acks_late=False)
def watch(self, job_id: str) -> None:
    """Follow a stream on air to its end (``pipeline.live.Watch``): provisional clips as its
    highlights are confirmed, the final manifest when it ends. Acknowledged when it starts: a
    watch lasts as long as its stream, longer than any visibility timeout, and must not be handed
    to a second worker while the first still runs it. Its chunks go to the analyze queue."""
    from pipeline.live import Watch

    with job_step(self, job_id, "watch") as store:
        job = begin_job(store, job_id)
        if job is None:
            return
        record, config = job
        stop_key = f"peakclip:job:{job_id}:stop"

        def provisional(item) -> None:
            store.put_item(job_id, "provisional", item.clip.id, item.to_dict())

        def analyse(path: str, chunk: Chunk, media: list[str]) -> ChunkResult:
            """On the analyze queue, like a batch job's chunks; here if no worker answers in time."""
            analyze_live_chunk.delay(job_id, path, chunk.to_dict(), media)
            deadline = time.monotonic() + config.live.analyze_wait
            while time.monotonic() < deadline:
                found = store.item(job_id, "chunks", str(chunk.index))
                if found:
                    return ChunkResult.from_dict(found)
                time.sleep(0.05)
            return analyze_chunk(path, chunk, media, config.analysis)

        manifest = Watch(record["input"], record.get("chat") or None, record["out"], config, on_clip=provisional,
                         should_stop=lambda: bool(store.r.exists(stop_key)), analyse=analyse).run()
        RedisTierState(store.r).ensure(manifest)
        store.set_state(job_id, "success", manifest=os.path.join(record["out"], "manifest.json"))


@app.task(name="peakclip.notify", bind=True, autoretry_for=(OSError,), retry_backoff=5, retry_backoff_max=600,
          max_retries=12, acks_late=True)
def notify(self, job_id: str, url: str, summary: dict) -> None:
    """POST the job's summary to its completion URL, signed with this worker's secret (secrets are
    never stored in job records), retried with backoff."""
    config = app.peakclip_config
    body = json.dumps(summary).encode()
    headers = {"Content-Type": "application/json"}
    if config.service.secret:
        headers["X-Peakclip-Signature"] = sign(config.service.secret, int(time.time()), body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=15) as response:
        if response.status >= 300:
            raise OSError(f"completion callback answered {response.status}")
