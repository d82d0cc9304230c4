"""The reconciler's judgement, case by case (pure), and the step names the tasks and it share; and a
real worker's heartbeat through a Redis outage."""
import time

import pytest

from peakclip.pipeline.config import QueueConfig
from peakclip.workers.reconcile import Run, StepState, judge
from peakclip.workers.steps import chunk_step, render_step, task_of

CONFIG = QueueConfig(stall_timeout=30.0, worker_gone=10.0)
NOW = 1_000.0


def worker(queues=("analyze", "render"), free_since=None, tasks=()):
    return {"queues": list(queues), "free_since": free_since, "tasks": list(tasks)}


def test_a_step_running_on_a_live_worker_is_in_hand():
    state = StepState("render abc", "render", [Run("w1@host", "t1", NOW - 300)], due=None)
    assert judge(state, {"w1@host": worker(tasks=["t1"])}, NOW, NOW - 500, CONFIG) is None


def test_a_step_whose_workers_all_stopped_beating_goes_again_at_once():
    state = StepState("render abc", "render", [Run("w1@host", "t1", NOW - 60), Run("w2@host", "t2", NOW - 30)], due=None)
    reason = judge(state, {"w3@host": worker()}, NOW, NOW, CONFIG)
    assert reason == "its worker w2@host is gone"
    # one of them still beating and running it: in hand
    assert judge(state, {"w2@host": worker(tasks=["t2"])}, NOW, NOW, CONFIG) is None


def test_an_entry_its_live_worker_no_longer_runs_is_stale():
    # The task ended while Redis was away and could not clear its entry: the worker beats on,
    # but does not list the task, so the step is not in hand.
    state = StepState("plan", "analyze", [Run("w1@host", "t1", NOW - 60)], due=None)
    assert judge(state, {"w1@host": worker(tasks=["t9"])}, NOW, NOW - 60, CONFIG) == "its worker w1@host no longer runs it"
    # just started: the heartbeat may not list it yet
    fresh = StepState("plan", "analyze", [Run("w1@host", "t1", NOW - 2)], due=None)
    assert judge(fresh, {"w1@host": worker()}, NOW, NOW, CONFIG) is None


@pytest.mark.parametrize("free_since, queues, lost", [
    (NOW - 100, ("analyze", "render"), True),     # free since long before it was due, and did not take it
    (NOW - 100, ("analyze",), False),             # free, but does not serve the render queue
    (None, ("analyze", "render"), False),         # busy: the message just waits its turn
    (NOW - 20, ("analyze", "render"), False),     # free for less than stall_timeout
])
def test_a_noted_message_is_lost_only_when_a_free_worker_of_its_queue_did_not_take_it(free_since, queues, lost):
    state = StepState("render abc", "render", [], due=NOW - 60)
    reason = judge(state, {"w1@host": worker(queues, free_since)}, NOW, NOW, CONFIG)
    assert (reason is not None) == lost
    if lost:
        assert "was not taken in 30 s though w1@host was free" in reason


def test_a_message_due_later_is_not_judged_before_it_is_due():
    # A retry with a backoff: due in the future, so the free worker's wait counts from then.
    state = StepState("rank", "analyze", [], due=NOW + 50)
    assert judge(state, {"w1@host": worker(free_since=NOW - 500)}, NOW, NOW, CONFIG) is None


def test_a_step_never_sent_goes_once_the_job_has_stood_still():
    state = StepState("rank", "analyze", [], due=None)
    assert judge(state, {}, NOW, NOW - 5, CONFIG) is None                  # a worker may be sending it right now
    assert judge(state, {}, NOW, NOW - 11, CONFIG) == "it was never sent"


def test_steps_name_their_task_and_queue():
    assert task_of("j", "plan") == ("peakclip.start", ("j",), "analyze")
    assert task_of("j", chunk_step(7)) == ("peakclip.analyze_chunk", ("j", 7), "analyze")
    assert task_of("j", render_step("d6b39fb9d3")) == ("peakclip.render_clip", ("j", "d6b39fb9d3"), "render")
    assert task_of("j", "finalize") == ("peakclip.finalize", ("j",), "render")
    assert task_of("j", "watch") == ("peakclip.watch", ("j",), "live")


@pytest.mark.integration
def test_a_worker_says_once_that_it_cannot_beat_and_once_that_it_beats_again(tmp_path):
    """Redis (broker and job records) away for several heartbeats, then back on the same port: the
    worker's log says so in one line when it goes and one when the heartbeat is written again,
    not a line every beat."""
    from services import Fleet, RedisServer

    redis = RedisServer(tmp_path / "redis")
    fleet = Fleet(redis, 0, str(tmp_path))
    try:
        fleet.start("w1")
        time.sleep(2)
        redis.stop()
        time.sleep(4)                       # 8 heartbeats of 0.5 s
        redis.start()
        log = tmp_path / "w1.log"
        deadline = time.monotonic() + 30
        while "beating again" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.3)
        lines = [line for line in log.read_text().splitlines() if "heartbeat:" in line]
        assert len([line for line in lines if "cannot beat" in line]) == 1, lines
        assert len([line for line in lines if "beating again" in line]) == 1, lines
        assert lines.index(next(line for line in lines if "cannot beat" in line)) < \
            lines.index(next(line for line in lines if "beating again" in line))
    finally:
        fleet.stop_all()
        redis.stop()
