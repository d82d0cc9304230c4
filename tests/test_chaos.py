"""No job is lost or stuck: workers SIGKILLed as when machines die, the broker restarted under
them, on Redis and on RabbitMQ; and a live watch taken over when its worker dies mid-stream.
(``bench/chaos.py`` runs the same at full size.)"""
import json
import os
import time

import pytest
import redis
from chaos import run_chaos
from conftest import run_cli
from services import Fleet, RedisServer
from test_live import push

from peakclip.samples.generate import generate

pytestmark = pytest.mark.integration

OPTION_SETS = [["--clips", "3", "--format", "source"],
               ["--clips", "2", "--format", "source", "--stages", "1"],
               ["--clips", "4", "--min-len", "10", "--max-len", "20", "--format", "source"]]


@pytest.fixture(scope="module")
def streams(sample, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    generate(str(other), seed=23, duration=120.0, highlights=["chat", "crowd"], distractors=["music", "bots"],
             size=(320, 180))
    return [(sample["video"], sample["chat"]), (str(other / "stream.mp4"), str(other / "chat.json"))]


@pytest.fixture(scope="module")
def chaos_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("chaos-config") / "chaos.toml"
    path.write_text('[render]\npreset = "ultrafast"\ncrf = 32\n[analysis]\nchunk_seconds = 30\n')
    return str(path)


# Each fault planned at a moment of the jobs' progress (tests/chaos.py MOMENTS), not at a time: the
# harness holds jobs back until the plan is carried out, so every run makes every fault.
REDIS_PLAN = [("kill a worker", "chunks half done"), ("restart the broker", "a render running"),
              ("kill a worker", "a render running"), ("kill a worker", "chunks half done")]
RABBITMQ_PLAN = [("kill a worker", "chunks half done"), ("SIGKILL the broker", "a render running"),
                 ("kill a worker", "a render running")]
# The step names (workers/steps.py) each moment hits.
STEP_AT = {"chunks half done": "analyze chunk ", "a render running": "render "}


def report(result):
    # Workers that exited by themselves (a Celery worker can, when its Redis broker goes away
    # under it) are listed, and replaced as a fleet's supervisor would: the jobs must still end
    # as the calm run, which the assertions below hold.
    print(result.summary(), *result.events, sep="\n")


def assert_every_job_ended_as_calm(result, jobs):
    assert len(result.jobs) == jobs, result.summary()
    stuck = {j: s for j, s in result.jobs.items() if s["state"] != "success"}
    assert not stuck, f"{result.summary()}\n" + "\n".join(result.events) + f"\n{json.dumps(stuck, indent=1)}"
    assert result.mismatched == [] and result.strays == [], result.summary()


def assert_every_fault_made_at_its_moment(result, plan):
    made = [(fault.what, fault.at) for fault in result.faults]
    assert made == plan and result.unmade == [], f"planned {plan}, made {made}\n" + "\n".join(result.events)
    wrong = [f for f in result.faults if not f.step.startswith(STEP_AT[f.at])]
    assert not wrong, f"faults that hit another step than planned: {wrong}"


def test_chaos_on_redis_every_job_succeeds_with_the_calm_clips(streams, chaos_config, tmp_path):
    result = run_chaos(str(tmp_path), streams, OPTION_SETS, chaos_config, REDIS_PLAN, broker="redis", wave=2)
    report(result)
    assert_every_fault_made_at_its_moment(result, REDIS_PLAN)
    assert_every_job_ended_as_calm(result, 6)
    assert sum("SIGKILL w" in e for e in result.events) == 3
    assert sum("redis shut down" in e for e in result.events) == 1 and sum("restarted" in e for e in result.events) == 1


def test_chaos_on_rabbitmq_with_the_broker_killed(streams, chaos_config, tmp_path):
    result = run_chaos(str(tmp_path), streams[:1], OPTION_SETS, chaos_config, RABBITMQ_PLAN, broker="rabbitmq",
                       wave=2)
    report(result)
    assert_every_fault_made_at_its_moment(result, RABBITMQ_PLAN)
    assert_every_job_ended_as_calm(result, 3)
    assert sum("SIGKILL w" in e for e in result.events) == 2
    assert sum("rabbitmq SIGKILLed" in e for e in result.events) == 1


# Issue #31: s3:// in -> s3:// out, workers with nothing on disk in common, the object store
# SIGKILLed and started again twice (while chunks are read from it, while a clip is rendered and
# uploaded) besides two worker kills.
OBJECTS_PLAN = [("kill a worker", "chunks half done"), ("SIGKILL the object store", "chunks half done"),
                ("kill a worker", "a render running"), ("SIGKILL the object store", "a render running")]


def test_chaos_with_objects_every_job_ends_and_no_half_object(streams, chaos_config, tmp_path):
    result = run_chaos(str(tmp_path), streams, OPTION_SETS, chaos_config, OBJECTS_PLAN, broker="redis", wave=2,
                       objects=True)
    report(result)
    assert_every_fault_made_at_its_moment(result, OBJECTS_PLAN)
    assert len(result.jobs) == 6, result.summary()
    ended = {j: s for j, s in result.jobs.items() if s["state"] not in ("success", "failure") or
             (s["state"] == "failure" and not s.get("error"))}
    assert not ended, f"{result.summary()}\n" + "\n".join(result.events) + f"\n{json.dumps(ended, indent=1)}"
    # Success with the calm run's clips, each whole under its key; nothing else in the bucket.
    assert result.mismatched == [] and result.strays == [], result.summary()
    assert sum("object store SIGKILLed" in e for e in result.events) == 2
    assert sum("object store restarted" in e for e in result.events) == 2


def test_a_watch_whose_worker_is_killed_mid_stream_is_taken_over(sample, tmp_path):
    from peakclip.pipeline.config import load_config
    from peakclip.workers.queue import submit_watch

    server = RedisServer(tmp_path / "redis")
    fleet = Fleet(server, 0, str(tmp_path), PEAKCLIP_LIVE_POLL="0.5", PEAKCLIP_RENDER_PRESET="ultrafast")
    try:
        # No sweeps until live2 comes: status is checked in between, with nobody reconciling.
        fleet.start("live1", queues="live", PEAKCLIP_QUEUE_RECONCILE_INTERVAL="600")
        fleet.start("analyze", queues="analyze,render", PEAKCLIP_QUEUE_RECONCILE_INTERVAL="600")
        hls, chat, out = tmp_path / "hls", str(tmp_path / "chat.jsonl"), str(tmp_path / "watch")
        hls.mkdir()
        pusher, writer = push(sample, str(hls), chat)
        config = load_config(environ=fleet.env, overrides={"select": {"clips": 3}, "render": {"formats": ["horizontal"]}})
        job_id = submit_watch(str(hls / "stream.m3u8"), chat, out, config)
        # Let it analyse the first 30 s of the stream, then kill its worker as a dying machine would.
        store = redis.Redis.from_url(fleet.env["PEAKCLIP_RESULT_BACKEND"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and store.hlen(f"peakclip:job:{job_id}:live_chunks") < 3:
            time.sleep(0.2)
        assert pusher.poll() is None, "the stream ended before the watch could be killed mid-stream"
        fleet.kill("live1")
        # Until its heartbeat expires (queue.worker_gone after its last beat): then the step is
        # no longer "running". The deadline is a safety net only.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and store.exists("peakclip:worker:live1@test"):
            time.sleep(0.1)
        status = fleet.status(job_id)
        assert status["state"] == "running" and status["active"] == []
        assert [(t["task"], t["worker"]) for t in status["retrying"]] == [("watch", "live1@test")]
        shown = fleet.cli("status", job_id)
        assert "waiting to be retried: watch (its worker live1@test is gone)" in shown.stdout
        assert "running:" not in shown.stdout
        fleet.start("live2", queues="live")     # its reconciler sends the watch again; it takes it
        assert pusher.wait(timeout=120) == 0
        writer.join()
        done = fleet.status(job_id, wait=True, timeout=240)
        assert done["state"] == "success", done
    finally:
        fleet.stop_all()
        server.stop()
    with open(done["manifest"], encoding="utf-8") as handle:
        final = json.load(handle)
    assert final["live"]["state"] == "ended"
    assert len({p["id"] for p in final["provisional"]}) == len(final["provisional"])   # none rendered twice
    batch = str(tmp_path / "batch")
    result = run_cli("clip", final["source"]["path"], "--chat", chat, "--out", batch, "--clips", "3", "--no-render")
    assert result.returncode == 0, result.stderr
    with open(os.path.join(batch, "manifest.json"), encoding="utf-8") as handle:
        expected = json.load(handle)
    fields = ("id", "rank", "start", "end", "score", "stage", "tier", "pool")
    assert [{k: c[k] for k in fields} for c in final["clips"]] == [{k: c[k] for k in fields} for c in expected["clips"]]
    with open(os.path.join(str(tmp_path), "live2.log"), encoding="utf-8") as handle:
        assert "peakclip.watch" in handle.read()          # the second worker ran it to the end
