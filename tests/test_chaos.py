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


def assert_every_job_ended_as_calm(result, jobs):
    print(result.summary(), *result.events, sep="\n")
    assert len(result.jobs) == jobs, result.summary()
    stuck = {j: s for j, s in result.jobs.items() if s["state"] != "success"}
    assert not stuck, f"{result.summary()}\n" + "\n".join(result.events) + f"\n{json.dumps(stuck, indent=1)}"
    assert result.mismatched == [] and result.strays == [], result.summary()


def test_chaos_on_redis_every_job_succeeds_with_the_calm_clips(streams, chaos_config, tmp_path):
    result = run_chaos(str(tmp_path), streams, OPTION_SETS, chaos_config, broker="redis", kills=3, kill_every=5.0,
                       restarts=1, restart_at=7.0, timeout=600)
    assert_every_job_ended_as_calm(result, 6)
    assert sum("SIGKILL" in e for e in result.events) == 3 and sum("restarted" in e for e in result.events) == 1


def test_chaos_on_rabbitmq_with_the_broker_killed(streams, chaos_config, tmp_path):
    result = run_chaos(str(tmp_path), streams[:1], OPTION_SETS, chaos_config, broker="rabbitmq", kills=2,
                       kill_every=5.0, restarts=1, restart_mode="kill", restart_at=7.0, timeout=600)
    assert_every_job_ended_as_calm(result, 3)
    assert any("rabbitmq SIGKILLed" in e for e in result.events)


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
        time.sleep(4)        # the heartbeat expires: the step is no longer "running"
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
