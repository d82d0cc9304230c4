"""A job's steps by name, what a job still needs, and how a step is asked for.

A batch job is: ``plan`` -> ``analyze chunk I`` for each chunk -> ``rank`` -> ``render CLIP`` for
each clip -> ``finalize``; a live job is one ``watch``. What a job still needs is read from its
record alone (``missing_steps``), so the tasks (which send the next step when theirs completes
the previous one) and the reconciler (which re-sends what the broker lost) agree on it.
"""
from __future__ import annotations

import json
import logging
import uuid

from celery import Celery
from kombu.exceptions import OperationalError

from peakclip.workers.jobs import Jobs

log = logging.getLogger("peakclip.steps")

# step name prefix -> (task name, queue)
TASKS = {
    "plan": ("peakclip.start", "analyze"),
    "analyze chunk": ("peakclip.analyze_chunk", "analyze"),
    "rank": ("peakclip.rank", "analyze"),
    "render": ("peakclip.render_clip", "render"),
    "finalize": ("peakclip.finalize", "render"),
    "watch": ("peakclip.watch", "live"),
}


def chunk_step(index: int) -> str:
    return f"analyze chunk {index}"


def render_step(clip_id: str) -> str:
    return f"render {clip_id}"


def task_of(job_id: str, step: str) -> tuple[str, tuple, str]:
    """(task name, arguments, queue) of the message that asks for ``step``."""
    if step.startswith("analyze chunk "):
        name, queue = TASKS["analyze chunk"]
        return name, (job_id, int(step.rsplit(" ", 1)[1])), queue
    if step.startswith("render "):
        name, queue = TASKS["render"]
        return name, (job_id, step.split(" ", 1)[1]), queue
    name, queue = TASKS[step]
    return name, (job_id,), queue


def queue_of(step: str) -> str:
    return task_of("", step)[2]


def missing_steps(store: Jobs, job_id: str, record: dict) -> list[str]:
    """The steps the job needs next, from its record: the ones that can run now."""
    if record.get("kind") == "watch":
        return ["watch"]
    plan = store.load(job_id, "plan")
    if plan is None:
        return ["plan"]
    done = set(store.r.hkeys(store.key(job_id, "chunks")))
    chunks = [chunk_step(c["index"]) for c in plan["chunks"] if str(c["index"]) not in done]
    if chunks:
        return chunks
    if "render_ids" not in record:
        return ["rank"]
    rendered = set(store.r.hkeys(store.key(job_id, "renders")))
    renders = [render_step(c) for c in json.loads(record["render_ids"]) if c not in rendered]
    return renders or ["finalize"]


def send_step(app: Celery, store: Jobs, job_id: str, step: str, countdown: float = 0.0) -> str:
    """Ask for ``step``: note the message in the job record, then send it. Returns its task id.
    A broker that cannot be reached is no error here: the note stands, and the reconciler sends
    the step once a free worker has gone without it for ``queue.stall_timeout``."""
    name, args, queue = task_of(job_id, step)
    task_id = uuid.uuid4().hex
    store.note_sent(job_id, step, task_id, queue, countdown)
    try:
        app.send_task(name, args=args, queue=queue, task_id=task_id, countdown=countdown or None)
    except (OperationalError, ConnectionError, OSError) as err:
        log.warning("job %s: could not send %s now (%s); the reconciler will", job_id, step, err)
    return task_id
