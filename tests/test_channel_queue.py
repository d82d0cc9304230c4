"""A channel's learning through the queue and the service, with real parts: a redis-server, a
Celery worker (stopped and another started in its place), the webhook service over HTTP, and
``peakclip feedback JOBID`` from the command line."""
import json
import shutil
import time

import pytest
import services

pytestmark = pytest.mark.integration
SECRET = "channel-secret-5e2a"


@pytest.fixture(scope="module")
def stack(channel_streams, tmp_path_factory):
    root = tmp_path_factory.mktemp("recordings")
    for i, (video, chat) in enumerate(channel_streams):
        shutil.copy(video, root / f"show{i}.mp4")
        shutil.copy(chat, root / f"show{i}.json")
    outputs = tmp_path_factory.mktemp("outputs")
    with services.webhook_stack(tmp_path_factory, PEAKCLIP_WEBHOOK_SECRET=SECRET, PEAKCLIP_RECORDINGS_ROOT=str(root),
                                PEAKCLIP_OUTPUT_ROOT=str(outputs), PEAKCLIP_RENDER_ENABLED="false",
                                PEAKCLIP_CHANNEL_PRIOR_CLIPS="2") as (redis_server, fleet, service):
        yield {"service": service, "fleet": fleet, "streams": len(channel_streams)}


def post(service, path, payload):
    return services.post_signed(service, SECRET, path, payload)


def stream_end(service, event_id, i, **extra):
    status, _, body = post(service, "/hooks/stream-end", {"event_id": event_id, "stream_id": "shop", "recording":
                                                          f"show{i}.mp4", "chat": f"show{i}.json", **extra})
    assert status == 202, body
    job_id = json.loads(body)["job_id"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        data = json.loads(service.request("GET", f"/jobs/{job_id}")[2])
        if data["state"] in ("success", "failure"):
            assert data["state"] == "success", data
            return job_id, data["manifest"]
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not end")


def learned_now(fleet) -> dict:
    result = fleet.cli("channel", "shop", "--queue", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def picture_feedback(clip: dict) -> dict:
    """An audience that answers the moments the picture carries (as in test_channel)."""
    import math

    from peakclip.pipeline.ranking.channel import clip_features

    share = clip_features(clip)["shares"]["visual"]
    return {"impressions": 400, "plays": 200, "clicks": round(400 * 0.008 * math.exp(2 * share)), "orders": 0,
            "watch_seconds": round(0.12 * math.exp(1.6 * share) * 200 * (clip["end"] - clip["start"]), 1)}


def test_the_queue_learns_from_feedback_and_keeps_it_across_a_worker_restart(stack):
    service, fleet = stack["service"], stack["fleet"]
    _, plain = stream_end(service, "plain-0", 0)
    assert "channel" not in plain and all("channel" not in c for c in plain["clips"])
    jobs = [stream_end(service, f"shop-{i}", i, channel="shop") for i in range(stack["streams"])]
    # No feedback yet: what the defaults make, with the channel recorded beside it.
    assert {k: v for k, v in jobs[0][1].items() if k != "channel"} == plain
    assert jobs[0][1]["channel"]["clips"] == 0
    # Feedback on half the clips through the service, on the rest through the command line.
    taught = 0
    for n, (job_id, manifest) in enumerate(jobs):
        for clip in manifest["clips"]:
            numbers = picture_feedback(clip)
            if (n + clip["rank"]) % 2:
                status, _, body = post(service, f"/clips/{clip['id']}/metrics", numbers)
                assert status == 200, body
                assert json.loads(body)["channel"]["clips"] == taught + 1
            else:
                flags = [a for k, v in numbers.items() for a in (f"--{k.replace('_', '-')}", str(v))]
                result = fleet.cli("feedback", job_id, clip["id"], *flags)
                assert result.returncode == 0, result.stderr
                assert f"channel shop: learned from {taught + 1} clips" in result.stdout
            taught += 1
    learned = learned_now(fleet)
    assert learned["clips"] == taught >= 7
    assert learned["factors"]["visual"] > 1.0 > learned["factors"]["chat"]
    # Bad feedback: refused with one line, and what the channel learned is as it was.
    some = jobs[0][1]["clips"][0]["id"]
    for bad in ({"impressions": -3}, {"impressions": 10, "plays": 20}, {"impressions": "lots"}):
        status, _, body = post(service, f"/clips/{some}/metrics", bad)
        assert status == 400 and "\n" not in json.loads(body)["error"], body
    result = fleet.cli("feedback", jobs[0][0], some, "--impressions", "-1")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert learned_now(fleet) == learned
    # The worker goes, another comes: the learning is in Redis, and the next streams are ranked with it.
    fleet.stop_all()
    fleet.start("w2")
    moved = []
    for i in range(stack["streams"]):
        _, again = stream_end(service, f"shop-again-{i}", i, channel="shop")
        assert again["channel"]["factors"] == learned["factors"] and again["channel"]["clips"] == taught
        assert all("default_score" in c["channel"] for c in again["clips"])
        moved += [c for c in again["clips"] if c["channel"]["default_rank"] != c["rank"]]
    assert moved
