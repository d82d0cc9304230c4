"""Celery tasks: each one calls one pipeline step, and keeps the job record up to date.

plan -> analyze chunk x N -> rank -> render clip x M -> finalize (-> notify); or one watch.

The job record is the source of truth (``workers/steps.py``): a task stores its result, then, if
that completed what the next step waits for, sends the next step. No chord counts completions
in the broker, so a lost or doubled message cannot stall a job or fire a step early; what the
broker loses, the reconciler (``workers/reconcile.py``) sends again.

Every step is idempotent: a chunk or clip already done is not done again, and results are stored
per chunk/clip, the first one stored winning (a task that runs twice counts once). Large data
(PCM, frames) never travels through the broker: workers pass only job ids and indices; chunk
results are compact series.

Workers share no disk unless the job's output is a local folder (which every worker must then
see: ``check_shared``). Steps hand each other only the job record (Redis) and, for an output in a
bucket (``s3://``), objects: every step fetches the small inputs it reads into its own scratch
folder (``fetched``), a render uploads its clip's files whole, and the finalize step writes the
report and the manifest last (``publish``), so the manifest is the job's commit point.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from kombu.exceptions import OperationalError

from peakclip.detectors.chunks import Chunk
from peakclip.detectors.errors import MediaError, UserError
from peakclip.detectors.objects import (StoreUnreachable, check_bucket, check_served, download, is_object, join,
                                       server_failed, upload)
from peakclip.detectors.transcript import Transcript
from peakclip.pipeline.analysis.assemble import assemble
from peakclip.pipeline.analysis.chunk import ChunkResult, analyze_chunk
from peakclip.pipeline.analysis.plan import Plan, load_transcript, plan_analysis, read_plan_chat
from peakclip.pipeline.config import Config
from peakclip.pipeline.executors.run import fetched, publish
from peakclip.pipeline.output.captions import captions_for
from peakclip.pipeline.output.finish import check_output_dir, clips_to_render, finish
from peakclip.pipeline.output.names import MANIFEST
from peakclip.pipeline.output.render import Rendered, render_captioned
from peakclip.pipeline.promotion.rerender import render_promoted
from peakclip.pipeline.ranking.rank import Ranking, rank
from peakclip.pipeline.ranking.rules import Profile, load_rules
from peakclip.workers.app import app
from peakclip.workers.channelstate import job_channel_learning
from peakclip.workers.jobs import Jobs, check_shared, connect, unmark_output
from peakclip.workers.liveevents import mirror
from peakclip.workers.signing import sign
from peakclip.workers.steps import chunk_step, missing_steps, queue_of, render_step, send_step
from peakclip.workers.tierstate import RedisTierState

# Redis (the job store), the broker or the object store away for a moment
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError, OperationalError,
             StoreUnreachable)
# A recording in a bucket is read over the network, which fails for the network's reasons too (the
# store restarting under a running ffmpeg): a step whose reading of it failed is tried this many
# times more, after backoff, before the failure counts (and as long as the store does not answer).
OBJECT_READ_RETRIES = 2
# How long a promoted render waits for, and at most holds, the lock on its job's manifest in a
# bucket (held only to read, change and upload one small JSON file).
MANIFEST_LOCK_SECONDS = 60


def jobs() -> Jobs:
    return Jobs(connect(app.peakclip_config.queue.result_backend))


class JobTask(Task):
    """A task of one job: transient errors are retried with backoff; anything else fails the job
    with a one-line reason that ``peakclip status`` shows. ``step_of`` names the job step a call
    of the task performs (``workers/steps.py``)."""
    autoretry_for = TRANSIENT
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = app.peakclip_config.queue.retries
    acks_late = True

    def step_of(self, args: tuple) -> str:
        raise NotImplementedError

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = args[0] if args else kwargs.get("job_id")
        if job_id:
            try:
                reason = str(exc) if isinstance(exc, UserError) else f"{self.name} failed: {type(exc).__name__}: {exc}"
                jobs().fail(job_id, reason.splitlines()[0] if reason else type(exc).__name__)
            except TRANSIENT:
                pass  # the store is gone too; the reconciler sees the step missing and sends it again

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        # The retry is a message due after a backoff: note it, so it is not taken for lost.
        try:
            step = self.step_of(tuple(args))
            jobs().note_sent(args[0], step, task_id, queue_of(step), countdown=self.retry_backoff_max)
        except (TRANSIENT + (KeyError, ValueError, NotImplementedError)):
            pass


def job_task(name: str, step_of, **options):
    """``app.task`` for a job step: ``step_of(*args)`` names the step a call performs."""
    def decorate(function):
        return app.task(name=name, base=JobTask, bind=True, step_of=lambda self, args: step_of(*args),
                        **options)(function)
    return decorate


def live_job(store: Jobs, job_id: str, ended: tuple[str, ...] = ("failure",)) -> tuple[dict, Config] | None:
    """The job's record and config, or None when it is in one of the ``ended`` states (a late or
    redelivered task then has nothing to do). The config is the one a queued job, or a watch,
    renders with (``Config.for_path``)."""
    record = store.get(job_id)
    if record["state"] in ended:
        return None
    path = "live" if record.get("kind") == "watch" else "queue"
    return record, Config.from_dict(json.loads(record["config"])).for_path(path)


def begin_job(store: Jobs, job_id: str, worker: str) -> tuple[dict, Config] | None:
    """The first task of a job: its record and config, the job marked running, the output checked
    (a bucket that is there; a folder this ``worker`` shares with the submitter); None when the
    job already ended (a redelivered start)."""
    job = live_job(store, job_id, ended=("success", "failure"))
    if job is not None:
        store.set_state(job_id, "running")
        out = job[0]["out"]
        if is_object(out):
            check_bucket(out)
        else:
            check_shared(out, job_id, worker)
            check_output_dir(out)
    return job


def scratch(step: str):
    """A scratch folder of this worker's own (under its TMPDIR) for one step, removed after it."""
    return tempfile.TemporaryDirectory(prefix=f"peakclip-{step}-")


def advance(store: Jobs, job_id: str, only: str | None = None) -> None:
    """Send the steps the job needs next; with ``only``, just when that one step is all it needs
    (the last chunk sends ``rank``, the last render ``finalize``; two finishing at once may both
    send it, which the step, finding its work done, shrugs off)."""
    record = store.get(job_id)
    if record["state"] in ("success", "failure"):
        return
    missing = missing_steps(store, job_id, record)
    if only is None or missing == [only]:
        for step in missing:
            send_step(app, store, job_id, step)


@contextmanager
def job_step(task: Task, job_id: str):
    """Mark the task as running its step on this worker (for ``status`` and the reconciler); turn
    user errors into a failed job."""
    store = jobs()
    step = task.step_of(tuple(task.request.args or (job_id,)))
    task_id = task.request.id or step
    store.mark_active(job_id, task_id, task.request.hostname or "?", step)

    def fail(reason: str) -> None:
        if not store.fail(job_id, reason):
            logging.getLogger("peakclip.tasks").warning(
                "job %s: %s (task %s) met this after the job had succeeded, so the job stays a success: %s",
                job_id, step, task_id, reason)

    try:
        yield store
    except StoreUnreachable:
        raise   # retried with backoff (TRANSIENT); the job fails with its line once the retries run out
    except MediaError as err:
        read_failed(task, store, job_id, store.r.hget(store.key(job_id), "input") or "", str(err))
        fail(str(err))
    except UserError as err:
        fail(str(err))
    except SoftTimeLimitExceeded:
        fail(f"{step} took longer than its time limit")
    finally:
        store.clear_active(job_id, task_id)


def read_failed(task: Task, store: Jobs, job_id: str, path: str, reason: str) -> None:
    """A step that read the recording ``path`` met ``reason`` (an error, or a decode cut short):
    for an object, raise ``StoreUnreachable`` to have the step retried while the store does not
    answer or fails reads on its side (5xx), or for its first ``OBJECT_READ_RETRIES`` failed reads; else return, and the reason
    counts. The failed reads are counted per task in the job store, not by the task's retries:
    retries the store's absence used up (or Redis's) are no read that failed on a store that
    answered, and counted with them a read cut off by the store's restart took the last try."""
    if not is_object(path):
        return
    # StoreUnreachable while the store is away, or fails reads on its side (a 5xx to ffmpeg, or
    # to a GET of one byte now): a store starting again is no read that failed.
    if server_failed(reason):
        raise StoreUnreachable(reason)
    check_served(path, "input")
    counter = store.key(job_id, f"reads:{task.request.id}")
    failed_reads = store.r.incr(counter)
    store.r.expire(counter, 24 * 3600)
    if failed_reads <= OBJECT_READ_RETRIES:
        raise StoreUnreachable(reason)


def time_limits(seconds: float) -> dict:
    """A task's soft limit (it is told, and fails its job with a reason) and, a minute later, the
    hard one (its process is killed)."""
    return {"soft_time_limit": seconds, "time_limit": seconds + 60}


@job_task("peakclip.start", lambda job_id: "plan")
def start(self, job_id: str) -> None:
    with job_step(self, job_id) as store:
        job = begin_job(store, job_id, self.request.hostname or "?")
        if job is None:
            return
        record, config = job
        if store.load(job_id, "plan") is None:   # else a redelivered start: the plan stands
            with scratch("plan") as folder:
                chat, here = fetched(record.get("chat") or None, config, folder, ("chat", "events", "transcript"))
                plan = plan_analysis(record["input"], chat, here)
                # Read here, as `peakclip clip` reads it before decoding: a bad transcript fails the
                # job at once, and the rank step uses what was read.
                transcript = load_transcript(here.transcript, plan.path)
            plan.chat_path = record.get("chat") or None   # as the job names it: the rank step fetches its own copy
            if transcript is not None:
                store.put(job_id, "transcript", transcript.to_dict())
            store.put(job_id, "plan", plan.to_dict())
        advance(store, job_id)


@job_task("peakclip.analyze_chunk", lambda job_id, index: chunk_step(index),
          **time_limits(app.peakclip_config.queue.analyze_time_limit))
def analyze(self, job_id: str, index: int) -> None:
    with job_step(self, job_id) as store:
        if not store.has_item(job_id, "chunks", str(index)):   # else done before: count it once
            job = live_job(store, job_id)
            if job is None:
                return
            plan = Plan.from_dict(store.load(job_id, "plan"))
            result = analyze_chunk(plan.path, plan.chunks[index], plan.media, job[1].analysis)
            if result.warnings:   # a decoder's complaint: a damaged recording, or a read cut off
                read_failed(self, store, job_id, plan.path, result.warnings[-1])
            store.put_item(job_id, "chunks", str(index), result.to_dict())
        advance(store, job_id, only="rank")


@job_task("peakclip.analyze_live_chunk", lambda job_id, path, chunk, media: f"analyze live chunk {chunk['index']}",
          **time_limits(app.peakclip_config.queue.analyze_time_limit))
def analyze_live_chunk(self, job_id: str, path: str, chunk: dict, media: list[str]) -> None:
    """One chunk of a stream on air, for the watch that sent it (it reads the result from the job)."""
    with job_step(self, job_id) as store:
        job = live_job(store, job_id, ended=("success", "failure"))
        if job is None:
            return
        result = analyze_chunk(path, Chunk(**chunk), media, job[1].analysis)
        store.put_item(job_id, "chunks", str(chunk["index"]), result.to_dict())


@job_task("peakclip.rank", lambda job_id: "rank")
def rank_job(self, job_id: str) -> None:
    with job_step(self, job_id) as store:
        job = live_job(store, job_id)
        if job is None:
            return
        record, config = job
        plan = Plan.from_dict(store.load(job_id, "plan"))
        chunks = store.items(job_id, "chunks")
        if len(chunks) < len(plan.chunks):
            return   # sent before its time: the last chunk (or the reconciler) sends it again
        if "render_ids" not in record:
            results = [ChunkResult.from_dict(chunks[str(c.index)]) for c in plan.chunks]
            transcript = store.load(job_id, "transcript")
            with scratch("rank") as folder:
                plan.chat_path, here = fetched(plan.chat_path, config, folder, ("chat", "events", "rules"))
                ranking = rank(assemble(plan, results, read_plan_chat(plan, here), here,
                                        Transcript.from_dict(transcript) if transcript else None), here,
                               learned=job_channel_learning(store.r, config))
            to_render = clips_to_render(ranking, config)
            store.put(job_id, "ranking", ranking.to_dict())
            # Written last: its presence is what says the job is ranked (workers/steps.py).
            store.r.hset(store.key(job_id), "render_ids", json.dumps([c.id for c in to_render]))
        advance(store, job_id)


@job_task("peakclip.render_clip", lambda job_id, clip_id: render_step(clip_id),
          **time_limits(app.peakclip_config.queue.render_time_limit))
def render(self, job_id: str, clip_id: str) -> None:
    with job_step(self, job_id) as store:
        if not store.has_item(job_id, "renders", clip_id):
            job = live_job(store, job_id)
            if job is None:
                return
            record, config = job
            ranking = Ranking.from_dict(store.load(job_id, "ranking"))
            clip = next(c for c in ranking.clips if c.id == clip_id)
            # The transcript the plan step stored, or none: then captions_for recognises the
            # clip's speech here, as `peakclip clip` does before its renders.
            stored = store.load(job_id, "transcript") if config.transcript.captions != "off" else None
            segments = Transcript.from_dict(stored).segments if stored else None
            out = record["out"]
            with scratch("render") as folder:
                _, here = fetched(None, config, folder, ("rules", "watermark"))
                if not is_object(out):
                    check_shared(out, job_id, self.request.hostname or "?")
                target = os.path.join(folder, "out") if is_object(out) else out
                captions = captions_for(clip, ranking.probe, segments, here)
                profile = load_rules(here.tag.rules).start_profile(clip.pool, here.render.profiles)
                result = render_captioned(ranking.probe, clip, target, here.render, captions=captions, profile=profile)
                if result.error:
                    read_failed(self, store, job_id, ranking.probe.path, result.error)
                if is_object(out) and not result.error:
                    # Each file whole (boto3's transfer: multipart past 8 MB, an object only once
                    # complete), under its final name; a render run again replaces it whole.
                    for name in result.all():
                        upload(os.path.join(target, name), join(out, name))
            store.put_item(job_id, "renders", clip_id, asdict(result))
        advance(store, job_id, only="finalize")


@job_task("peakclip.finalize", lambda job_id: "finalize")
def finalize(self, job_id: str) -> None:
    with job_step(self, job_id) as store:
        job = live_job(store, job_id, ended=("success", "failure"))
        if job is None:
            return
        record, config = job
        ranking = Ranking.from_dict(store.load(job_id, "ranking"))
        renders = store.items(job_id, "renders")
        if any(clip_id not in renders for clip_id in json.loads(record["render_ids"])):
            return   # sent before its time: the last render (or the reconciler) sends it again
        rendered = [Rendered(**{**r, "cut": tuple(r["cut"]) if r["cut"] else None}) for r in renders.values()]
        out = record["out"]
        if is_object(out):
            manifest = finish_in_bucket(ranking, rendered, out, config)
            path = join(out, MANIFEST)
        else:
            check_shared(out, job_id, self.request.hostname or "?")
            manifest = finish(ranking, rendered, out, config)
            path = os.path.join(out, MANIFEST)
        RedisTierState(store.r).ensure(manifest, job_id)  # the clips' tier state, for feedback through the queue
        store.set_state(job_id, "success", manifest=path)
        if not is_object(out):
            unmark_output(out, job_id)
        if config.queue.callback_url:
            send_notify(job_id, config.queue.callback_url, {"job_id": job_id, "state": "success", "manifest": path,
                                  "clips": [{k: c[k] for k in ("id", "rank", "start", "end", "score", "stage", "tier", "file")}
                                            for c in manifest["clips"]], "warnings": manifest["warnings"]})


def finish_in_bucket(ranking: Ranking, rendered: list[Rendered], out: str, config: Config) -> dict:
    """``finish`` for a job whose output is the object prefix ``out``: in a scratch folder, with
    the clips' thumbnails fetched for the report (their videos stay in the bucket, where the
    render steps put them), then the report, exports and manifest uploaded, the manifest last."""
    uploaded = {name for result in rendered if not result.error for name in result.all()}
    with scratch("finalize") as folder:
        _, here = fetched(None, config, folder, ("rules",))
        target = os.path.join(folder, "out")
        os.makedirs(target)
        if here.output.report:
            for result in rendered:
                if result.thumbnail and not result.error:
                    download(join(out, result.thumbnail), os.path.join(target, result.thumbnail), "thumbnail")
        manifest = finish(ranking, rendered, target, here, elsewhere=frozenset(uploaded))
        publish(target, out, already=uploaded)
    return manifest


@app.task(name="peakclip.render_promoted", bind=True, autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=60,
          retry_jitter=True, max_retries=app.peakclip_config.queue.retries, acks_late=True,
          **time_limits(app.peakclip_config.queue.render_time_limit))
def render_promoted_clip(self, job_id: str, clip_id: str, profile: dict) -> None:
    """Render a clip of a finished job again at the profile of the pool feedback promoted it to
    (``pipeline/promotion/rerender.py``), into its output folder or bucket; the job's manifest and
    the clip's tier state then point at the new file. Not a step of the job: the job stays done,
    and a failure is logged, not the job's."""
    store = jobs()
    tiers = RedisTierState(store.r)
    try:
        out = store.get(job_id)["out"]
        # Workers share no disk: the manifest in a bucket is rewritten under the job's Redis lock
        # (a folder's own lock file serves workers that share the folder).
        lock = store.r.lock(f"peakclip:job:{job_id}:manifest", timeout=MANIFEST_LOCK_SECONDS,
                            blocking_timeout=MANIFEST_LOCK_SECONDS) if is_object(out) else None
        entry = render_promoted(out, clip_id, Profile(**profile), lock)
    except TRANSIENT:
        raise   # retried with backoff, the render still claimed
    except (UserError, SoftTimeLimitExceeded) as err:
        tiers.release_render(clip_id)   # the next feedback may queue it again
        logging.getLogger("peakclip.tasks").error("job %s: clip %s not rendered at %s: %s", job_id, clip_id,
                                                  profile["name"], err)
        return
    except BaseException:
        tiers.release_render(clip_id)
        raise
    tiers.set_render(clip_id, entry["file"], entry["profile"])
    tiers.release_render(clip_id)


def send_notify(job_id: str, url: str, summary: dict) -> None:
    """Queue the completion callback; the job has succeeded whether or not the broker takes it now."""
    try:
        notify.delay(job_id, url, summary)
    except TRANSIENT as err:
        logging.getLogger("peakclip.tasks").warning("job %s: the completion callback could not be queued (%s)",
                                                    job_id, err)


@job_task("peakclip.watch", lambda job_id: "watch", acks_late=False)
def watch(self, job_id: str) -> None:
    """Follow a stream on air to its end (``pipeline.executors.live.Watch``): provisional clips as its
    highlights are confirmed, the final manifest when it ends. Acknowledged when it starts: a
    watch lasts as long as its stream, longer than any visibility timeout, and must not be handed
    to a second worker while the first still runs it. If its worker dies, the reconciler sends it
    again and the next worker takes over from the chunks and provisional clips stored so far.
    Its chunks go to the analyze queue (with an output folder; into a bucket it analyses them itself)."""
    from peakclip.pipeline.executors.live import Provisional, Watch

    with job_step(self, job_id) as store:
        job = begin_job(store, job_id, self.request.hostname or "?")
        if job is None:
            return
        record, config = job
        stop_key = f"peakclip:job:{job_id}:stop"

        def provisional(item) -> None:
            store.put_item(job_id, "provisional", item.clip.id, item.to_dict())

        out = record["out"]

        def queued(path: str, chunk: Chunk, media: list[str]) -> bool:
            """The chunk sent to the analyze queue: whether a worker stored its result in time."""
            analyze_live_chunk.delay(job_id, path, chunk.to_dict(), media)
            deadline = time.monotonic() + config.live.analyze_wait
            while time.monotonic() < deadline:
                if store.has_item(job_id, "chunks", str(chunk.index)):
                    return True
                time.sleep(0.05)
            return False

        def analyse(path: str, chunk: Chunk, media: list[str]) -> ChunkResult:
            """On the analyze queue, like a batch job's chunks; here if no worker answers in time.
            Into a bucket the recording is joined in this worker's scratch, which no analyze
            worker reads: here at once (analysis runs hundreds of times faster than the stream)."""
            stored = store.has_item(job_id, "chunks", str(chunk.index))
            if not stored and (is_object(out) or not queued(path, chunk, media)):
                store.put_item(job_id, "chunks", str(chunk.index),
                               analyze_chunk(path, chunk, media, config.analysis).to_dict())
            # What is stored is what counts (a late queued result must not differ from ours).
            result = ChunkResult.from_dict(store.item(job_id, "chunks", str(chunk.index)))
            store.put_item(job_id, "live_chunks", str(chunk.index), chunk.to_dict())
            return result

        with scratch("watch") as folder:
            chat, refresh = record.get("chat") or None, None
            if record.get("events_key"):   # the service's events, gathered in Redis: copied here as they come
                chat = os.path.join(folder, "events.jsonl")
                refresh = mirror(store.r, record["events_key"], int(record.get("events_from") or 0), chat)
            follower = Watch(record["input"], chat, out, config, on_clip=provisional,
                             should_stop=lambda: bool(store.r.exists(stop_key)), refresh_chat=refresh,
                             analyse=analyse, learned=job_channel_learning(store.r, config))
            stored = store.items(job_id, "chunks")
            follower.resume([(Chunk(**c), ChunkResult.from_dict(stored[i]))
                             for i, c in store.items(job_id, "live_chunks").items() if i in stored],
                            [Provisional.from_dict(p) for p in store.items(job_id, "provisional").values()])
            manifest = follower.run()
        RedisTierState(store.r).ensure(manifest, job_id)
        store.set_state(job_id, "success", manifest=(join if is_object(out) else os.path.join)(out, MANIFEST))
        if not is_object(out):
            unmark_output(out, job_id)


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
