"""The queue path with real parts: a redis-server on a free loopback port, real Celery worker
processes, SIGKILL in the middle of a job, Redis restarted during one, a corrupt input."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import REPO, ffprobe, run_cli
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
    fleet = Fleet(redis_server, 4, str(tmp_path_factory.mktemp("kill-logs")))
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
        done = fleet.status(job_id, wait=True, timeout=300)
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


def test_no_broker_is_one_clear_line(sample, tmp_path):
    env = {**os.environ, "PEAKCLIP_BROKER_URL": "redis://127.0.0.1:1/0", "PEAKCLIP_RESULT_BACKEND": "redis://127.0.0.1:1/1"}
    result = subprocess.run([sys.executable, "-m", "workers.cli", "submit", sample["video"], "--out", str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "redis://127.0.0.1:1/0" in result.stderr
    assert "the broker (PEAKCLIP_BROKER_URL)" in result.stderr
    # status reads the job store, not the broker: the line names the store and its own URL
    result = subprocess.run([sys.executable, "-m", "workers.cli", "status", "0" * 20], capture_output=True, text=True,
                            cwd=REPO, env=env, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "cannot reach the job store (PEAKCLIP_RESULT_BACKEND) at redis://127.0.0.1:1/1" in result.stderr


def test_python_interface(sample, fleet, tmp_path):
    import workers
    from pipeline.config import load_config

    config = load_config(environ=fleet.env, overrides={"render": {"enabled": False}, "select": {"clips": 2}})
    job_id = workers.submit(sample["video"], chat=sample["chat"], out=str(tmp_path / "py"), config=config)
    done = workers.wait(job_id, timeout=240, config=config)
    assert done["state"] == "success" and workers.status(job_id, config)["manifest"] == done["manifest"]
    manifest, clips = clips_of(done["manifest"])
    assert len(clips) == 2
