"""Objects in and out (``s3://``) against a real SeaweedFS server (``weed mini``): a recording read
where it lies, the clips published to a bucket with the manifest last, and every store failure one
line naming the object, never the secret."""
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, ffprobe
from services import Fleet, ObjectStore, RedisServer

from peakclip.detectors.objects import scrub

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    server = ObjectStore(tmp_path_factory.mktemp("seaweedfs"))
    for bucket in ("recordings", "clips"):
        server.client().create_bucket(Bucket=bucket)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def uploaded(store, sample):
    client = store.client()
    client.upload_file(sample["video"], "recordings", "shows/stream.mp4")
    client.upload_file(sample["chat"], "recordings", "shows/chat.json")
    return "s3://recordings/shows/stream.mp4", "s3://recordings/shows/chat.json"


def peakclip(store, *args, cwd=REPO, **env):
    return subprocess.run([sys.executable, "-m", "peakclip", *args], capture_output=True, text=True, cwd=cwd,
                          env=store.env(**env), timeout=600)


def spans(manifest: dict) -> list:
    return [(c["id"], c["start"], c["end"], c["tier"]) for c in manifest["clips"]]


def test_a_recording_in_a_bucket_clips_into_a_bucket(store, uploaded, sample, fast_config, tmp_path):
    video, chat = uploaded
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = peakclip(store, "clip", video, "--chat", chat, "--out", "s3://clips/job1", "--clips", "2",
                    "--config", fast_config, "--quiet", cwd=str(cwd))
    assert done.returncode == 0, done.stderr
    assert os.listdir(cwd) == []                      # never a local folder named "s3:"
    keys = store.keys("clips", "job1/")
    manifest = json.loads(store.client().get_object(Bucket="clips", Key="job1/manifest.json")["Body"].read())
    named = {f"job1/{c[k]}" for c in manifest["clips"] for k in ("file", "thumbnail", "preview")}
    assert set(keys) == named | {"job1/manifest.json", "job1/report.html"}
    assert manifest["source"]["path"] == video and manifest["render"]["source"] == video
    text = json.dumps(manifest) + store.client().get_object(Bucket="clips", Key="job1/report.html")["Body"].read().decode()
    assert store.access not in text and store.secret not in text and "Signature" not in text
    # The same clips as the same recording clipped from local files.
    local = tmp_path / "local"
    here = peakclip(store, "clip", sample["video"], "--chat", sample["chat"], "--out", str(local), "--clips", "2",
                    "--no-render", "--quiet")
    assert here.returncode == 0, here.stderr
    assert [s[1:] for s in spans(manifest)] == [s[1:] for s in spans(json.load(open(local / "manifest.json")))]
    for clip in manifest["clips"]:
        file = tmp_path / os.path.basename(clip["file"])
        store.client().download_file("clips", f"job1/{clip['file']}", str(file))
        assert float(ffprobe(str(file))["format"]["duration"]) == pytest.approx(clip["end"] - clip["start"], abs=0.1)


@pytest.mark.parametrize("args, message", [
    (["s3://recordings/shows/missing.mp4", "--out", "s3://clips/x"], "input not found: s3://recordings/shows/missing.mp4"),
    (["s3://nowhere/shows/stream.mp4", "--out", "s3://clips/x"], "no such bucket: s3://nowhere/shows/stream.mp4"),
    (["s3://recordings/shows/stream.mp4", "--out", "s3://nowhere/x"], "no such bucket: s3://nowhere/x"),
    (["s3://recordings/shows/stream.mp4", "--chat", "s3://recordings/shows/gone.json", "--out", "s3://clips/y"],
     "chat log not found: s3://recordings/shows/gone.json"),
])
def test_a_missing_object_or_bucket_is_one_line_and_exit_2(store, uploaded, args, message):
    done = peakclip(store, "clip", *args)
    assert done.returncode == 2 and done.stderr.strip() == f"peakclip: error: {message}", done.stderr
    assert store.keys("clips", "x") == [] and store.keys("clips", "y") == []


def test_wrong_keys_are_one_line_without_the_secret(store, uploaded, tmp_path):
    done = peakclip(store, "clip", uploaded[0], "--out", "s3://clips/z", cwd=str(tmp_path),
                    AWS_SECRET_ACCESS_KEY="not-the-secret-at-all")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "refused the keys for s3://recordings/shows/stream.mp4" in done.stderr
    assert "not-the-secret-at-all" not in done.stderr + done.stdout and "Traceback" not in done.stderr
    assert os.listdir(tmp_path) == []


def test_an_unreachable_store_is_one_line(store, uploaded):
    done = peakclip(store, "clip", uploaded[0], "--out", "s3://clips/w", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    assert done.returncode == 2 and "cannot reach the object store for s3://recordings/shows/stream.mp4" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_queue_and_watch_say_what_they_do_not_take_yet(store, uploaded, tmp_path):
    for command in (["submit", uploaded[0], "--out", "s3://clips/q"], ["watch", uploaded[0], "--out", str(tmp_path / "w")]):
        done = peakclip(store, *command)
        assert done.returncode == 2 and "(s3://) yet" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    missing = peakclip(store, "submit", "s3://recordings/shows/gone.mp4", "--out", str(tmp_path / "q"))
    assert missing.returncode == 2 and missing.stderr.strip() == "peakclip: error: input not found: s3://recordings/shows/gone.mp4"
    # The chat and events logs may be objects (workers fetch them); a missing one is named at once.
    for logs, what in ((["--chat"], "chat log"), (["--chat", uploaded[1], "--events"], "events log")):
        gone = peakclip(store, "submit", uploaded[0], *logs, "s3://recordings/shows/gone.json", "--out", str(tmp_path / "q"))
        assert gone.returncode == 2 and gone.stderr.strip() == f"peakclip: error: {what} not found: s3://recordings/shows/gone.json"


def test_queued_workers_read_the_recording_from_the_bucket(store, uploaded, sample, tmp_path_factory, tmp_path):
    """Two workers, each with its own HOME and TMPDIR and the store's keys, clip a recording that
    is only in the bucket: the same clips as the CLI on the local file."""
    redis = RedisServer(tmp_path_factory.mktemp("redis-objects"))
    fleet = Fleet(redis, 0, str(tmp_path_factory.mktemp("logs-objects")), **store.env())
    try:
        for name in ("w1", "w2"):
            home = tmp_path_factory.mktemp(f"home-{name}")
            fleet.start(name, HOME=str(home), TMPDIR=str(home))
        out = str(tmp_path / "queued")
        job_id = fleet.submit(uploaded[0], "--chat", sample["chat"], "--out", out, "--no-render", "--clips", "2")
        done = fleet.status(job_id, wait=True)
        assert done["state"] == "success", done
        queued = json.load(open(done["manifest"]))
        assert queued["source"]["path"] == uploaded[0]
        here = peakclip(store, "clip", sample["video"], "--chat", sample["chat"], "--out", str(tmp_path / "cli"),
                        "--no-render", "--clips", "2", "--quiet")
        assert here.returncode == 0, here.stderr
        assert [s[1:] for s in spans(queued)] == [s[1:] for s in spans(json.load(open(tmp_path / "cli" / "manifest.json")))]
    finally:
        fleet.stop_all()
        redis.stop()


def test_a_presigned_url_is_never_quoted_whole():
    line = ("https://b.s3.amazonaws.com/k.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F2026"
            "&X-Amz-Signature=abc123: Server returned 403 Forbidden")
    assert scrub(line) == "https://b.s3.amazonaws.com/k.mp4?<signed> Server returned 403 Forbidden"
    assert scrub("http://127.0.0.1:1/r/a.mp4?AWSAccessKeyId=k&Signature=s%3D&Expires=1 x") == "http://127.0.0.1:1/r/a.mp4?<signed> x"
