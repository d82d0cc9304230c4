"""The webhook service, running for real on a loopback port, with real HTTP requests."""
import hashlib
import hmac
import json
import os
import shutil
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis
import services
from conftest import write_srt

pytestmark = pytest.mark.integration
SECRET = "test-secret-9f1c"


@pytest.fixture(scope="module")
def setup(sample, tmp_path_factory):
    root = tmp_path_factory.mktemp("recordings")
    outputs = tmp_path_factory.mktemp("outputs")
    shutil.copy(sample["video"], root / "show.mp4")
    shutil.copy(sample["chat"], root / "show.json")
    (root / "shopgirl.mp4").symlink_to("show.mp4")           # a link that stays inside: fine (the Twitch template's file)
    os.symlink("/etc", root / "escape")                      # a link leading out of the root: refused
    with services.webhook_stack(tmp_path_factory, PEAKCLIP_WEBHOOK_SECRET=SECRET, PEAKCLIP_RECORDINGS_ROOT=str(root),
                                PEAKCLIP_OUTPUT_ROOT=str(outputs), PEAKCLIP_SERVICE_MAX_BODY="4096",
                                PEAKCLIP_RENDER_ENABLED="false") as (redis_server, fleet, service):
        yield {"service": service, "fleet": fleet, "root": root, "outputs": outputs, "redis": redis_server}


def post_signed(service, path, payload, timestamp=None, secret=SECRET):
    return services.post_signed(service, secret, path, payload, timestamp)


def event(event_id, recording="show.mp4", **extra):
    return {"event_id": event_id, "stream_id": "shop-42", "recording": recording, **extra}


def wait_job(service, job_id, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, body = service.request("GET", f"/jobs/{job_id}")
        data = json.loads(body)
        if data["state"] in ("success", "failure"):
            return data
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not end: {data}")


def test_signed_event_queues_a_job_and_its_clips_follow(setup):
    service = setup["service"]
    status, _, body = post_signed(service, "/hooks/stream-end", event("evt-1", chat="show.json", options={"clips": 2}))
    assert status == 202
    job_id = json.loads(body)["job_id"]
    done = wait_job(service, job_id)
    assert done["state"] == "success" and done["progress"]["analyze"] == "1/1"
    assert done["manifest"]["schema"] == "peakclip/manifest@1" and len(done["manifest"]["clips"]) == 2
    assert done["manifest_path"].startswith(str(setup["outputs"]))
    # The review report, and the files beside it, are served under the job (nothing else is).
    status, headers, body = service.request("GET", f"/jobs/{job_id}/report")
    assert status == 200 and {k.lower(): v for k, v in headers.items()}["content-type"].startswith("text/html")
    assert body.decode().count('<article class="card"') == 2
    assert json.loads(service.request("GET", f"/jobs/{job_id}/manifest.json")[2]) == done["manifest"]
    for path in ("../../../../etc/passwd", "%2e%2e/%2e%2e/%2e%2e/etc/passwd", "nothing.mp4"):
        assert service.request("GET", f"/jobs/{job_id}/{path}")[0] == 404, path
    assert service.request("GET", "/jobs/0123456789abcdef0123/report")[0] == 404
    # Performance numbers for one of its clips, signed, move it up the ladder.
    clip = done["manifest"]["clips"][0]
    metrics = {"impressions": 2500, "plays": 2000, "watch_seconds": 0.6 * 2000 * (clip["end"] - clip["start"]),
               "clicks": 150, "orders": 20}
    assert post_signed(service, f"/clips/{clip['id']}/metrics", metrics, secret="wrong")[0] == 401
    status, _, body = post_signed(service, f"/clips/{clip['id']}/metrics", metrics)
    state = json.loads(body)
    assert status == 200 and state["history"][0]["action"] == "promote" and state["history"][0]["from"] == clip["pool"]
    assert post_signed(service, "/clips/ffffffffff/metrics", metrics)[0] == 404
    # A sender retrying the same event gets the same job, and nothing new is queued.
    status, _, body = post_signed(service, "/hooks/stream-end", event("evt-1", chat="show.json", options={"clips": 2}))
    assert status == 202 and json.loads(body) == {"job_id": job_id, "queued": False}


@pytest.mark.parametrize("case, expected", [
    ("bad signature", 401), ("stale timestamp", 401), ("unsigned", 401), ("traversal", 403), ("absolute outside", 403),
    ("symlink out", 403), ("oversized", 413), ("malformed json", 400), ("missing fields", 400), ("unknown option", 400),
    ("transcript outside", 403), ("captions file outside", 403),
])
def test_refusals(setup, case, expected):
    service = setup["service"]
    if case == "bad signature":
        status, _, body = post_signed(service, "/hooks/stream-end", event("x1"), secret="wrong")
    elif case == "stale timestamp":
        status, _, body = post_signed(service, "/hooks/stream-end", event("x2"), timestamp=time.time() - 3600)
    elif case == "unsigned":
        status, _, body = service.request("POST", "/hooks/stream-end", json.dumps(event("x3")).encode())
    elif case == "traversal":
        status, _, body = post_signed(service, "/hooks/stream-end", event("x4", recording="../../etc/passwd"))
    elif case == "absolute outside":
        status, _, body = post_signed(service, "/hooks/stream-end", event("x5", recording="/etc/passwd"))
    elif case == "symlink out":
        status, _, body = post_signed(service, "/hooks/stream-end", event("x6", recording="escape/passwd"))
    elif case == "oversized":
        status, _, body = post_signed(service, "/hooks/stream-end", event("x7", padding="x" * 10000))
    elif case == "malformed json":
        status, _, body = post_signed(service, "/hooks/stream-end", b'{"event_id": "x8",')
    elif case == "missing fields":
        status, _, body = post_signed(service, "/hooks/stream-end", {"event_id": "x9"})
    elif case == "transcript outside":
        status, _, body = post_signed(service, "/hooks/stream-end", event("x11", options={"transcript": "/etc/passwd"}))
    elif case == "captions file outside":
        status, _, body = post_signed(service, "/hooks/stream-end", event("x12", options={"captions": "../../etc/passwd"}))
    else:
        status, _, body = post_signed(service, "/hooks/stream-end", event("x10", options={"explode": True}))
    assert status == expected, body
    assert json.loads(body)["error"]


def test_an_event_brings_a_transcript_from_the_recordings_root(setup):
    cues = write_srt(setup["root"] / "show.srt", 150.0, seed=4)
    status, _, body = post_signed(setup["service"], "/hooks/stream-end",
                                  event("evt-talk", chat="show.json", options={"transcript": "show.srt", "clips": 2}))
    assert status == 202
    manifest = wait_job(setup["service"], json.loads(body)["job_id"])["manifest"]
    assert manifest["transcript"]["segments"] == len(cues) and all(c["text"] for c in manifest["clips"])


def twitch_request(service, message_type, payload, age=0.0, secret=SECRET, message_id=None):
    body = json.dumps(payload).encode()
    message_id = message_id or f"msg-{time.time_ns()}"
    timestamp = (datetime.now(timezone.utc) - timedelta(seconds=age)).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    digest = hmac.new(secret.encode(), (message_id + timestamp).encode() + body, hashlib.sha256).hexdigest()
    return service.request("POST", "/hooks/twitch", body, {
        "Content-Type": "application/json", "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Retry": "0", "Twitch-Eventsub-Message-Type": message_type,
        "Twitch-Eventsub-Message-Signature": f"sha256={digest}", "Twitch-Eventsub-Message-Timestamp": timestamp,
        "Twitch-Eventsub-Subscription-Type": "stream.offline", "Twitch-Eventsub-Subscription-Version": "1"})


SUBSCRIPTION = {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": "stream.offline", "version": "1", "status": "enabled",
                "cost": 1, "condition": {"broadcaster_user_id": "1337"},
                "transport": {"method": "webhook", "callback": "https://example.com/hooks/twitch"},
                "created_at": "2026-11-23T10:11:12.123Z"}


def test_twitch_eventsub(setup):
    service = setup["service"]
    status, _, body = twitch_request(service, "webhook_callback_verification",
                                     {"challenge": "pogchamp-kappa-360noscope-vohiyo", "subscription": SUBSCRIPTION})
    assert status == 200 and body == b"pogchamp-kappa-360noscope-vohiyo"
    offline = {"subscription": SUBSCRIPTION, "event": {"broadcaster_user_id": "1337", "broadcaster_user_login": "shopgirl",
                                                       "broadcaster_user_name": "ShopGirl"}}
    assert twitch_request(service, "notification", offline, secret="wrong")[0] == 403
    assert twitch_request(service, "notification", offline, age=900)[0] == 403          # older than 10 minutes
    assert twitch_request(service, "revocation", {"subscription": {**SUBSCRIPTION, "status": "authorization_revoked"}})[0] == 204
    other = {**offline, "subscription": {**SUBSCRIPTION, "type": "channel.follow"}}
    assert twitch_request(service, "notification", other)[0] == 204
    status, _, body = twitch_request(service, "notification", offline, message_id="offline-1")
    assert status == 202
    again = twitch_request(service, "notification", offline, message_id="offline-1")
    assert json.loads(again[2])["job_id"] == json.loads(body)["job_id"]
    assert wait_job(service, json.loads(body)["job_id"])["state"] == "success"


def test_nginx_rtmp_and_srs_callbacks(setup):
    service = setup["service"]
    path = str(setup["root"] / "show.mp4")
    form = f"call=record_done&app=live&name=show&path={path}&addr=127.0.0.1&clientid=7".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert service.request("POST", "/hooks/nginx-rtmp?token=nope", form, headers)[0] == 403
    status, _, body = service.request("POST", f"/hooks/nginx-rtmp?token={SECRET}", form, headers)
    assert status == 202 and json.loads(body)["job_id"]
    outside = form.replace(path.encode(), b"/etc/hostname")
    assert service.request("POST", f"/hooks/nginx-rtmp?token={SECRET}", outside, headers)[0] == 403
    dvr = {"server_id": "vid-1", "service_id": "s1", "action": "on_dvr", "client_id": "341w361a", "ip": "127.0.0.1",
           "vhost": "__defaultVhost__", "app": "live", "tcUrl": "rtmp://127.0.0.1/live", "stream": "show", "param": "",
           "cwd": str(setup["root"]), "file": "./show.mp4", "stream_url": "/live/show", "stream_id": "vid-2"}
    status, _, body = service.request("POST", f"/hooks/srs?token={SECRET}", json.dumps(dvr).encode(),
                                      {"Content-Type": "application/json"})
    assert status == 200 and body == b"0"
    assert service.request("GET", "/jobs/0123456789abcdef0123")[0] == 404
    assert json.loads(service.request("GET", "/healthz")[2]) == {"ok": True}


def test_completion_callback_is_signed_and_carries_the_summary(setup, sample):
    """A job with a completion URL: the worker POSTs the manifest summary, signed like the hooks."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import peakclip
    from peakclip.pipeline.config import load_config
    from peakclip.workers.signing import verify

    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("X-Peakclip-Signature"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = load_config(environ=setup["fleet"].env, overrides={
            "queue": {"callback_url": f"http://127.0.0.1:{server.server_port}/done"}, "select": {"clips": 1}})
        job_id = peakclip.submit(str(setup["root"] / "show.mp4"), out=str(setup["outputs"] / "cb"), config=config)
        assert peakclip.wait(job_id, timeout=180, config=config)["state"] == "success"
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        header, body = received[0]
        assert verify(SECRET, header, body, tolerance=300) is None
        summary = json.loads(body)
        assert summary["job_id"] == job_id and summary["state"] == "success" and len(summary["clips"]) == 1
    finally:
        server.shutdown()


def add_through_redis(url, clip_id, count):
    from peakclip.pipeline.promotion.pools import Feedback
    from peakclip.pipeline.ranking.rules import load_rules
    from peakclip.workers.jobs import connect
    from peakclip.workers.tierstate import RedisTierState

    state, rules = RedisTierState(connect(url)), load_rules()
    for _ in range(count):
        state.add(clip_id, Feedback(impressions=1, plays=1, watch_seconds=1.5), rules)


def min_impressions(pool: str) -> int:
    from peakclip.pipeline.ranking.rules import load_rules

    return load_rules().pool(pool).min_impressions


def test_tier_state_in_redis_adds_up_across_processes_and_survives_a_restart(setup):
    import multiprocessing

    fleet, service = setup["fleet"], setup["service"]
    job_id = fleet.submit(str(setup["root"] / "show.mp4"), "--out", str(setup["outputs"] / "tiers"), "--clips", "2")
    done = fleet.status(job_id, wait=True)
    assert done["state"] == "success"
    with open(done["manifest"], encoding="utf-8") as handle:
        clip = json.load(handle)["clips"][1]
    url = fleet.env["PEAKCLIP_RESULT_BACKEND"]
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=add_through_redis, args=(url, clip["id"], 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    result = fleet.cli("feedback", job_id, clip["id"], "--impressions", "5")   # a job id: the queue's state
    assert result.returncode == 0, result.stderr
    assert f"165 of {min_impressions(clip['pool'])} impressions in {clip['pool']}" in result.stdout   # not judged yet
    listed = json.loads(fleet.cli("tiers", job_id, "--json").stdout)
    assert [c["id"] for c in listed] == [c["id"] for c in json.load(open(done["manifest"]))["clips"]]
    assert [c["judgement"]["action"] for c in listed if c["id"] == clip["id"]] == ["hold"]
    refused = fleet.cli("feedback", job_id, clip["id"], "--impressions", "5", "--clicks", "6")   # bad: nothing learned
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert json.loads(fleet.cli("tiers", job_id, "--json").stdout) == listed
    setup["redis"].stop()
    setup["redis"].start()
    from peakclip.workers.jobs import connect
    from peakclip.workers.tierstate import RedisTierState

    state = RedisTierState(connect(url)).clip(clip["id"])
    assert state["counts"]["impressions"] == 4 * 40 + 5 and state["counts"]["watch_seconds"] == 4 * 40 * 1.5
    assert service.request("GET", "/healthz")[0] == 200


def test_a_new_broadcast_reads_only_its_own_events(tmp_path_factory):
    """The same stream on air again: the events its earlier broadcast left are set aside at the
    publish, and the watch's chat log holds this broadcast's events only."""
    root, outputs = tmp_path_factory.mktemp("live-recordings"), tmp_path_factory.mktemp("live-outputs")
    with services.webhook_stack(tmp_path_factory, PEAKCLIP_WEBHOOK_SECRET=SECRET, PEAKCLIP_RECORDINGS_ROOT=str(root),
                                PEAKCLIP_OUTPUT_ROOT=str(outputs), PEAKCLIP_SERVICE_LIVE_PLAYLIST="hls/{name}.m3u8",
                                ) as (redis_server, fleet, service):
        yesterday = [{"t": 12.0, "user": "ann", "text": "LUL"}]
        assert post_signed(service, "/streams/show/events", {"events": yesterday})[0] == 202
        status, _, body = service.request("POST", f"/hooks/nginx-rtmp?token={SECRET}",
                                          b"call=publish&app=live&name=show&clientid=3",
                                          {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, body
        today = [{"t": 2.0, "user": "bob", "text": "hi"}]
        assert post_signed(service, "/streams/show/events", {"events": today})[0] == 202
        job = fleet.status(json.loads(body)["job_id"])
        assert job["input"] == str(root / "hls" / "show.m3u8")           # queued on the live queue (no worker here)
        record = redis.Redis.from_url(redis_server.url(1), decode_responses=True).hgetall(f"peakclip:job:{job['job_id']}")
        assert record["chat"] == str(outputs / "show" / "events.jsonl")
        assert [json.loads(line) for line in open(record["chat"], encoding="utf-8")] == today
        aside = [p for p in (outputs / "show").iterdir() if p.name.startswith("events-before-")]
        assert len(aside) == 1 and [json.loads(line) for line in aside[0].open()] == yesterday


def test_live_events_are_signed_and_appended_whole(setup):
    service, outputs = setup["service"], setup["outputs"]
    events = [{"t": 1.5, "user": "ann", "text": "哈哈哈"}, {"ts": "2026-11-23T12:00:03Z", "user": "bob", "type": "order",
                                                          "amount": 19.9}]
    assert post_signed(service, "/streams/shop-42/events", {"events": events}, secret="wrong")[0] == 401
    assert post_signed(service, "/streams/shop-42/events", {"events": "hi"})[0] == 400
    assert post_signed(service, "/streams/shop-42/events", {"events": [1, 2]})[0] == 400
    for _ in range(2):
        status, _, body = post_signed(service, "/streams/shop-42/events", {"events": events})
        assert status == 202 and json.loads(body) == {"appended": 2}
    lines = (outputs / "shop-42" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == events * 2
    # Without service.live_playlist an on_publish is let through and starts nothing.
    status, _, _ = service.request("POST", f"/hooks/nginx-rtmp?token={SECRET}", b"call=publish&app=live&name=show",
                                   {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 204
    status, _, body = service.request("POST", f"/hooks/srs?token={SECRET}",
                                      json.dumps({"action": "on_publish", "app": "live", "stream": "show"}).encode(),
                                      {"Content-Type": "application/json"})
    assert (status, body) == (200, b"0")
