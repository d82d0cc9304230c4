"""The queue path with real parts: a redis-server on a free loopback port, real Celery worker
processes, SIGKILL in the middle of a job, Redis restarted during one, a corrupt input."""
import json
import os
import subprocess
import sys
import time

import pytest
from conftest import REPO, ffprobe, run_cli, write_srt
from services import Fleet, RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fleet(redis_server, tmp_path_factory):
    fleet = Fleet(redis_server, 0, str(tmp_path_factory.mktemp("logs")))
    fleet.start("w1")
    fleet.start("w2")
    yield fleet
    fleet.stop_all()


@pytest.fixture(scope="module")
def queue_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("qconfig") / "queue.toml"
    path.write_text('[render]\npreset = "superfast"\ncrf = 30\n[analysis]\nchunk_seconds = 30\n')
    return str(path)


def clips_of(manifest_path):
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    return manifest, [(c["id"], c["start"], c["end"], c["score"], c["stage"], c["tier"], c["signals"]) for c in manifest["clips"]]


def cli_clips(sample, tmp_path, *extra):
    out = str(tmp_path / "cli")
    result = run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", out, "--no-render", "--quiet", *extra)
    assert result.returncode == 0, result.stderr
    return clips_of(os.path.join(out, "manifest.json"))[1]


def test_queued_job_equals_the_cli_and_is_submitted_once(sample, fleet, queue_config, tmp_path):
    out = str(tmp_path / "queued")
    args = [sample["video"], "--chat", sample["chat"], "--out", out, "--no-render", "--config", queue_config]
    job_id = fleet.submit(*args)
    done = fleet.status(job_id, wait=True)
    assert done["state"] == "success", done
    assert done["progress"]["analyze"] == "5/5"           # 150 s in 30 s chunks, analysed in parallel
    manifest, queued = clips_of(done["manifest"])
    assert queued and queued == cli_clips(sample, tmp_path, "--config", queue_config)
    # The same input and options again: the same job, nothing queued anew.
    assert fleet.submit(*args) == job_id
    assert fleet.status(job_id)["state"] == "success"


def test_a_queued_job_with_a_transcript_equals_the_cli(sample, fleet, queue_config, tmp_path):
    talk = tmp_path / "talk.srt"
    write_srt(talk, 150.0, seed=4)
    args = [sample["video"], "--chat", sample["chat"], "--no-render", "--config", queue_config]
    # submitted from the transcript's folder: the workers, started elsewhere, must still find it
    submitted = subprocess.run([sys.executable, "-m", "peakclip", "submit", *args, "--transcript", "talk.srt",
                                "--out", str(tmp_path / "queued")],
                               capture_output=True, text=True, cwd=tmp_path, env={**fleet.env, "PYTHONPATH": REPO},
                               timeout=120)
    assert submitted.returncode == 0, submitted.stderr
    done = fleet.status(submitted.stdout.strip(), wait=True)
    assert done["state"] == "success", done
    queued = clips_of(done["manifest"])[0]
    result = run_cli("clip", *args, "--transcript", str(talk), "--out", str(tmp_path / "cli"), "--quiet")
    assert result.returncode == 0, result.stderr
    cli = clips_of(tmp_path / "cli" / "manifest.json")[0]
    assert queued["transcript"] == cli["transcript"] and queued["transcript"]["segments"] > 20
    assert queued["clips"] and queued["clips"] == cli["clips"] and all(c["text"] for c in queued["clips"])
    # A transcript that is not there is refused when the job is submitted, in one line.
    missing = fleet.cli("submit", sample["video"], "--transcript", "gone.srt", "--out", str(tmp_path / "gone"))
    assert missing.returncode == 2 and "transcript not found: gone.srt" in missing.stderr


def test_a_queued_job_with_captions_from_a_file_equals_the_cli(sample, fleet, queue_config, tmp_path):
    talk = tmp_path / "talk.srt"
    write_srt(talk, 150.0, seed=4)
    args = [sample["video"], "--chat", sample["chat"], "--clips", "1", "--format", "source", "--captions", str(talk),
            "--config", queue_config]
    done = fleet.status(fleet.submit(*args, "--out", str(tmp_path / "queued")), wait=True)
    assert done["state"] == "success", done
    # The queue renders at the pools' profiles by default, `peakclip clip` at full: asked for the
    # queue's, the CLI's clips are the queued job's, file names and profile too.
    result = run_cli("clip", *args, "--profiles", "pools", "--out", str(tmp_path / "cli"), "--quiet")
    assert result.returncode == 0, result.stderr
    queued, cli = clips_of(done["manifest"])[0], clips_of(tmp_path / "cli" / "manifest.json")[0]
    # The render task captioned its clip from the transcript the plan step stored, as the CLI did.
    assert queued["clips"] == cli["clips"] and queued["clips"][0]["text"]
    assert queued["clips"][0]["profile"] == "preview"
    srt = queued["clips"][0]["captions"]
    assert srt.endswith(".srt")
    queued_srt, cli_srt = ((tmp_path / side / srt).read_text(encoding="utf-8") for side in ("queued", "cli"))
    assert queued_srt == cli_srt and "words of cue" in queued_srt


def test_corrupt_input_fails_clearly_and_other_jobs_go_on(sample, fleet, queue_config, tmp_path):
    junk = tmp_path / "broken.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    bad = fleet.submit(str(junk), "--out", str(tmp_path / "bad"), "--no-render")
    good = fleet.submit(sample["video"], "--out", str(tmp_path / "good"), "--no-render", "--config", queue_config)
    failed = fleet.status(bad, wait=True)
    assert failed["state"] == "failure" and "index (moov atom) was never written" in failed["error"]
    assert fleet.status(good, wait=True)["state"] == "success"
    shown = fleet.cli("status", bad)
    assert shown.returncode == 1 and "moov atom" in shown.stdout


def test_redis_restarted_during_a_job(sample, fleet, redis_server, queue_config, tmp_path):
    job_id = fleet.submit(sample["video"], "--chat", sample["chat"], "--out", str(tmp_path / "out"), "--clips", "2",
                          "--config", queue_config)
    deadline = time.monotonic() + 60
    while fleet.status(job_id)["state"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.2)
    redis_server.stop()
    time.sleep(3)
    redis_server.start()
    done = fleet.status(job_id, wait=True)
    assert done["state"] == "success", done
    manifest, clips = clips_of(done["manifest"])
    assert len(clips) == 2 and all(os.path.exists(os.path.join(str(tmp_path / "out"), c["file"])) for c in manifest["clips"])


def test_a_worker_killed_mid_job_loses_nothing(sample, redis_server, queue_config, tmp_path_factory, tmp_path):
    # A fleet of its own (other Redis databases): the victim is the only worker until it is busy.
    # Redis would hand the victim's task back only after an hour (the visibility timeout): the
    # reconciler sends it again as soon as the victim's heartbeat has expired.
    fleet = Fleet(redis_server, 4, str(tmp_path_factory.mktemp("kill-logs")), PEAKCLIP_QUEUE_VISIBILITY_TIMEOUT="3600")
    try:
        fleet.start("victim")
        out = str(tmp_path / "out")
        job_id = fleet.submit(sample["video"], "--chat", sample["chat"], "--out", out, "--clips", "2", "--config", queue_config)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            current = fleet.status(job_id)
            if any(t["task"].startswith("render") for t in current["active"]):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the victim never started rendering: {current}")
        fleet.start("rescuer")
        fleet.kill("victim")
        done = fleet.status(job_id, wait=True, timeout=90)
        assert done["state"] == "success", done
        manifest, queued = clips_of(done["manifest"])
        assert queued == cli_clips(sample, tmp_path, "--config", queue_config, "--clips", "2")
        for clip in manifest["clips"]:
            info = ffprobe(os.path.join(out, clip["file"]))
            assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
            assert float(info["format"]["duration"]) == pytest.approx(clip["end"] - clip["start"], abs=0.1)
        assert not [n for n in os.listdir(os.path.join(out, "clips")) if "partial" in n]
    finally:
        fleet.stop_all()


def test_a_message_the_broker_lost_is_sent_again(sample, redis_server, queue_config, tmp_path_factory, tmp_path):
    import redis

    fleet = Fleet(redis_server, 6, str(tmp_path_factory.mktemp("lost-logs")))
    try:
        job_id = fleet.submit(sample["video"], "--out", str(tmp_path / "out"), "--no-render", "--config", queue_config)
        # No worker yet: the job's first message waits in the broker's list; lose it, as the Redis
        # transport does when a connection drops between popping a message and recording it.
        broker = redis.Redis.from_url(redis_server.url(6))
        assert broker.delete("analyze") == 1
        queued = fleet.status(job_id)
        assert queued["state"] == "queued" and queued["queued"] == ["plan"]
        fleet.start("w1")
        done = fleet.status(job_id, wait=True, timeout=90)
        assert done["state"] == "success", done
        with open(os.path.join(fleet.logs, "w1.log"), encoding="utf-8") as handle:
            assert "sent plan again (its message was not taken in 8 s though w1@test was free" in handle.read()
    finally:
        fleet.stop_all()


class LosingBroker:
    """A broker that accepts every message and delivers none."""
    sent = 0

    def send_task(self, *args, **kwargs):
        self.sent += 1


def test_a_step_lost_again_and_again_fails_its_job_with_the_reason(redis_server):
    from peakclip.pipeline.config import QueueConfig
    from peakclip.workers.jobs import Jobs, connect
    from peakclip.workers.reconcile import sweep
    from peakclip.workers.steps import send_step

    store = Jobs(connect(redis_server.url(9)))
    config = QueueConfig(stall_timeout=10.0, worker_gone=5.0, max_attempts=2)
    broker = LosingBroker()
    store.create("f" * 20, {"input": "x.mp4", "chat": "", "out": "/tmp/x", "config": "{}"})
    send_step(broker, store, "f" * 20, "plan")
    store.beat("w1@test", {"queues": ["analyze"], "free_since": time.time(), "tasks": []}, ttl=60)
    now = time.time()
    assert sweep(broker, store, config, now=now) == []                       # not yet: the worker may take it
    for attempt in (1, 2):
        now += 11
        acted = sweep(broker, store, config, now=now)
        assert acted == [("f" * 20, "plan", "its message was not taken in 10 s though w1@test was free")]
        # the re-sent message is noted as due at the sweep's (simulated) time
        store.r.hset(store.key("f" * 20, "pending"), "plan", json.dumps({"task": "t", "queue": "analyze", "due": now}))
    now += 11
    assert sweep(broker, store, config, now=now) == [("f" * 20, "plan", "failed the job")]
    failed = store.status("f" * 20)
    assert failed["state"] == "failure" and "plan was lost 2 times" in failed["error"]
    assert "queue.max_attempts = 2" in failed["error"] and broker.sent == 3
    assert "f" * 20 not in store.open_jobs()


def test_a_succeeded_job_is_not_failed_by_a_step_delivered_twice(redis_server, tmp_path):
    # The broker restarted before a finalize was acked: its second delivery runs beside the first,
    # which succeeds and removes the folder's mark; the second then fails to see the mark.
    from peakclip.workers.jobs import Jobs, check_shared, connect, mark_output, unmark_output
    from peakclip.detectors.errors import UserError

    store = Jobs(connect(redis_server.url(9)))
    job_id = "d" * 20
    store.create(job_id, {"input": "x.mp4", "chat": "", "out": str(tmp_path), "config": "{}"})
    mark_output(str(tmp_path), job_id)
    check_shared(str(tmp_path), job_id, "w1@test")                      # both deliveries saw the mark
    store.set_state(job_id, "success", manifest=str(tmp_path / "manifest.json"))
    unmark_output(str(tmp_path), job_id)
    with pytest.raises(UserError, match="not shared with worker w2@test") as late:
        check_shared(str(tmp_path), job_id, "w2@test")
    assert store.fail(job_id, str(late.value)) is False
    done = store.status(job_id)
    assert done["state"] == "success" and not done.get("error"), done

    other = "e" * 20                                                    # a job not yet done fails as before
    store.create(other, {"input": "x.mp4", "chat": "", "out": str(tmp_path), "config": "{}"})
    assert store.fail(other, "the recording is gone") is True
    failed = store.status(other)
    assert failed["state"] == "failure" and failed["error"] == "the recording is gone"
    assert other not in store.open_jobs()


def test_no_broker_is_one_clear_line(sample, tmp_path):
    env = {**os.environ, "PEAKCLIP_BROKER_URL": "redis://127.0.0.1:1/0", "PEAKCLIP_RESULT_BACKEND": "redis://127.0.0.1:1/1"}
    result = subprocess.run([sys.executable, "-m", "peakclip", "submit", sample["video"], "--out", str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "redis://127.0.0.1:1/0" in result.stderr
    assert "the broker (PEAKCLIP_BROKER_URL)" in result.stderr
    # status reads the job store, not the broker: the line names the store and its own URL
    result = subprocess.run([sys.executable, "-m", "peakclip", "status", "0" * 20], capture_output=True, text=True,
                            cwd=REPO, env=env, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "cannot reach the job store (PEAKCLIP_RESULT_BACKEND) at redis://127.0.0.1:1/1" in result.stderr


def test_python_interface(sample, fleet, tmp_path):
    import peakclip
    from peakclip.pipeline.config import load_config

    config = load_config(environ=fleet.env, overrides={"render": {"enabled": False}, "select": {"clips": 2}})
    job_id = peakclip.submit(sample["video"], chat=sample["chat"], out=str(tmp_path / "py"), config=config)
    done = peakclip.wait(job_id, timeout=240, config=config)
    assert done["state"] == "success" and peakclip.status(job_id, config)["manifest"] == done["manifest"]
    manifest, clips = clips_of(done["manifest"])
    assert len(clips) == 2
