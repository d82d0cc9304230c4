"""Stream end from the object store: a recording uploaded under the watched prefix of a real
SeaweedFS (``weed mini``) makes the store's own filer webhook POST to the real webhook service,
which queues the job (its chat log found beside it by name) for a real Celery worker. Then the
notifications it leaves alone or refuses, as real HTTP requests, and the naming rules as pure
functions."""
import http.client
import json
import subprocess
import sys
import time

import pytest
import services
from conftest import ffprobe

from peakclip.detectors.chat import read_chat
from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import load_config
from peakclip.workers.storeevents import Created, Ignored, created_objects, sns_subscription, store_job, watched

SECRET = "store-secret-51ac"
WATCH = "s3://recordings/shows/"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Redis, one worker, the service watching ``WATCH``, and a SeaweedFS whose filer notifies it."""
    port = services.free_port()
    store = services.ObjectStore(tmp_path_factory.mktemp("seaweedfs"), notify={
        "endpoint": f"http://127.0.0.1:{port}/hooks/store", "bearer_token": SECRET, "backoff_seconds": 1,
        "max_retries": 10})
    try:
        store.client().create_bucket(Bucket="recordings")
        store.client().create_bucket(Bucket="clips")      # the jobs' outputs: no folder is shared
        env = {**store.env(), "PEAKCLIP_WEBHOOK_SECRET": SECRET, "PEAKCLIP_SERVICE_STORE_WATCH": WATCH,
               "PEAKCLIP_SERVICE_STORE_OUTPUT": "s3://clips/", "PEAKCLIP_SELECT_CLIPS": "1",
               "PEAKCLIP_RENDER_PRESET": "superfast", "PEAKCLIP_RENDER_CRF": "30"}
        redis_server = services.RedisServer(tmp_path_factory.mktemp("redis"))
        fleet = services.Fleet(redis_server, 0, str(tmp_path_factory.mktemp("logs")), **env)
        try:
            fleet.start("w1")
            service = services.Service(fleet.env, str(tmp_path_factory.mktemp("svc") / "service.log"), port=port)
            try:
                yield {"store": store, "fleet": fleet, "service": service}
            finally:
                service.stop()
        finally:
            fleet.stop_all()
            redis_server.stop()
    finally:
        store.stop()


def jobs(fleet):
    from peakclip.workers.jobs import Jobs, connect

    return Jobs(connect(fleet.env["PEAKCLIP_RESULT_BACKEND"]))


def etag(store, key):
    return store.client().head_object(Bucket="recordings", Key=key)["ETag"].strip('"')


def post(service, payload, token=SECRET, query=""):
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    status, _, answer = service.request("POST", "/hooks/store" + query, body, headers)
    return status, json.loads(answer)


def s3_event(key, tag="0123abcd", name="s3:ObjectCreated:Put", bucket="recordings"):
    """An S3 event notification as MinIO sends it (the key URL-encoded, "/" too)."""
    return {"EventName": name, "Key": f"{bucket}/{key}", "Records": [{
        "eventVersion": "2.0", "eventSource": "minio:s3", "eventTime": "2026-12-04T22:00:00.000Z", "eventName": name,
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "peakclip", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key, "size": 1000, "eTag": tag, "contentType": "video/mp4", "sequencer": "17DF1E5C0B9A3C8E"}}}]}


TOPIC = "arn:aws:sns:eu-west-1:111122223333:recordings"


def sns_envelope(message: dict, kind="Notification", **fields):
    """What SNS POSTs to an HTTPS subscription (without raw message delivery): the notification
    as a JSON string in ``Message``."""
    return {"Type": kind, "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": TOPIC,
            "Message": json.dumps(message), "Timestamp": "2026-12-05T16:00:00.000Z", "SignatureVersion": "1",
            "Signature": "EXAMPLE", "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService.pem",
            **fields}


def eventbridge(key, detail_type="Object Created", bucket="recordings"):
    """An S3 event as EventBridge sends it to an API destination (the key as it is)."""
    return {"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103", "detail-type": detail_type,
            "source": "aws.s3", "account": "111122223333", "time": "2026-12-05T16:00:00Z", "region": "eu-west-1",
            "resources": [f"arn:aws:s3:::{bucket}"], "detail": {
                "version": "0", "bucket": {"name": bucket},
                "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "617f08299329d189"},
                "request-id": "N4N7GDK58NMKJ12R", "requester": "111122223333", "reason": "PutObject"}}


@pytest.mark.integration
def test_an_upload_under_the_prefix_queues_its_job_through_the_stores_own_notification(stack, sample, tmp_path):
    store, fleet, service = stack["store"], stack["fleet"], stack["service"]
    client = store.client()
    client.upload_file(sample["chat"], "recordings", "shows/show.chat.json")   # the logs first, the recording last
    client.upload_file(sample["video"], "recordings", "shows/show.mp4")
    recording = "s3://recordings/shows/show.mp4"
    # The filer's webhook POSTs the upload to the service, which queues the job once, under the object's ETag.
    event = f"peakclip:event:store:{recording}@{etag(store, 'shows/show.mp4')}"
    record = jobs(fleet)
    deadline = time.monotonic() + 300
    while not record.r.get(event) and time.monotonic() < deadline:
        time.sleep(0.3)
    job_id = record.r.get(event)
    assert job_id, f"the store's notification queued nothing (see {store.folder}/weed.log)"
    queued = record.get(job_id)
    out = "s3://clips/show"
    assert (queued["input"], queued["chat"], queued["out"]) == (recording, "s3://recordings/shows/show.chat.json", out)
    done = fleet.status(job_id, wait=True, timeout=900)
    assert done["state"] == "success", done
    # The clips appear in the bucket, the manifest naming them.
    manifest = json.loads(client.get_object(Bucket="clips", Key="show/manifest.json")["Body"].read())
    # The worker read the chat log from the bucket: every message of the uploaded file is counted.
    config = load_config(environ={})
    uploaded = read_chat(sample["chat"], config.chat, config.analysis.hop, manifest["source"]["duration"]).summary()
    assert manifest["source"]["path"] == recording and manifest["chat"]["messages"] == uploaded["messages"] > 0
    assert len(manifest["clips"]) == 1
    clip = manifest["clips"][0]
    client.download_file("clips", f"show/{clip['file']}", str(tmp_path / "clip.mp4"))
    duration = float(ffprobe(str(tmp_path / "clip.mp4"))["format"]["duration"])
    assert duration == pytest.approx(clip["end"] - clip["start"], abs=0.1)
    # A delivery of the same object again (stores retry; here in MinIO's shape, with the ETag the
    # store gave it) gets the same job, and queues nothing.
    status, answer = post(service, s3_event("shows%2Fshow.mp4", tag=etag(store, "shows/show.mp4")))
    assert status == 202 and answer["jobs"] == [{"job_id": job_id, "queued": False, "recording": recording, "out": out}]
    assert fleet.status(job_id)["state"] == "success"
    status, _, body = service.request("GET", f"/jobs/{job_id}")
    assert status == 200 and json.loads(body)["manifest"] == manifest
    # The service shows the job's output from the bucket: the report read there and served, each
    # file it links to a redirect to a presigned URL of the object (followed here, as a browser does).
    status, headers, body = service.request("GET", f"/jobs/{job_id}/report")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert body == client.get_object(Bucket="clips", Key="show/report.html")["Body"].read()
    assert clip["file"] in body.decode()
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    connection.request("GET", f"/jobs/{job_id}/{clip['file']}")
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 307 and "Signature=" in answer.getheader("Location")
    status, _, video = service.request("GET", f"/jobs/{job_id}/{clip['file']}")
    assert status == 200 and video == (tmp_path / "clip.mp4").read_bytes()
    for name in ("clips/nothing.mp4", "../recordings/shows/show.mp4", "clips/../report.html", ".hidden"):
        assert service.request("GET", f"/jobs/{job_id}/{name}")[0] == 404, name
    # Feedback on a clip whose manifest is in the bucket: the service and `peakclip tiers` read it there.
    status, _, body = services.post_signed(service, SECRET, f"/clips/{clip['id']}/metrics",
                                           {"impressions": 40, "plays": 20, "watch_seconds": 100, "clicks": 1, "orders": 0})
    assert status == 200 and json.loads(body)["id"] == clip["id"], body
    tiers = subprocess.run([sys.executable, "-m", "peakclip", "tiers", job_id], env=fleet.env, capture_output=True,
                           text=True, timeout=120)
    assert tiers.returncode == 0 and clip["id"] in tiers.stdout, tiers.stderr


@pytest.mark.integration
def test_what_the_service_leaves_alone_and_what_it_refuses(stack):
    service = stack["service"]
    assert post(service, s3_event("shows%2Fa.mp4"), token="wrong")[0] == 403
    assert post(service, s3_event("shows%2Fa.mp4"), token=None)[0] == 403
    assert post(service, b'{"Records": [', token=SECRET)[0] == 400
    assert post(service, {"hello": "world"})[0] == 400
    left_alone = {
        "other/show.mp4": s3_event("other%2Fshow.mp4"),
        "s3://clips/shows/show.mp4": s3_event("shows%2Fshow.mp4", bucket="clips"),
        "shows/notes.txt": s3_event("shows%2Fnotes.txt"),
        "a removal": s3_event("shows%2Fgone.mp4", name="s3:ObjectRemoved:Delete"),
        "a test event": {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "recordings"},
        "a folder": {"event_type": "create", "key": "/buckets/recordings/shows/2026", "message": {
            "new_entry": {"name": "2026", "is_directory": True}, "new_parent_path": "/buckets/recordings/shows"}},
        "a deletion": {"event_type": "delete", "key": "/buckets/recordings/shows/old.mp4",
                       "message": {"old_entry": {"name": "old.mp4"}}},
    }
    for case, payload in left_alone.items():
        status, answer = post(service, payload)
        assert status == 200 and answer["jobs"] == [] and answer["ignored"][0]["reason"], case
    # The token may come in the query instead (stores that cannot send a header).
    status, answer = post(service, s3_event("shows%2Fnotes.txt"), token=None, query=f"?token={SECRET}")
    assert status == 200 and "not a recording" in answer["ignored"][0]["reason"]
    # An AWS key is URL-encoded ("+" a space): a recording not (yet) in the bucket is refused with
    # its decoded name, so the store delivers it again later.
    aws = s3_event("shows/late+night%28show%29.mp4", name="ObjectCreated:CompleteMultipartUpload")
    status, answer = post(service, aws)
    assert status == 422 and answer["error"] == "input not found: s3://recordings/shows/late night(show).mp4"



@pytest.mark.integration
def test_aws_through_sns_and_eventbridge(stack, tmp_path):
    """AWS delivers S3 events over HTTP through SNS (an envelope, after a subscription
    confirmation) or EventBridge (its own shape): each read as the object it names, as real HTTP
    requests to the running service. A confirmation naming any address but SNS's is refused and
    nothing is fetched (a real HTTP server stands where it points, and counts what it is asked)."""
    import http.server
    import threading

    service = stack["service"]
    aws = s3_event("shows/late+night%28show%29.mp4", name="ObjectCreated:Put")
    for payload in (sns_envelope(aws), eventbridge("shows/late night(show).mp4")):
        status, answer = post(service, payload)
        assert status == 422 and answer["error"] == "input not found: s3://recordings/shows/late night(show).mp4"
    for payload, reason in ((sns_envelope(s3_event("other%2Fa.mp4")), "not under the watched prefix"),
                            (eventbridge("shows/a.mp4", "Object Deleted"), "Object Deleted: not an object created"),
                            (sns_envelope({}, kind="UnsubscribeConfirmation"), "SNS UnsubscribeConfirmation")):
        status, answer = post(service, payload)
        assert status == 200 and answer["jobs"] == [] and reason in answer["ignored"][0]["reason"], answer
    assert post(service, sns_envelope({}) | {"Message": "not json"})[0] == 400

    asked = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        elsewhere = f"http://127.0.0.1:{listener.server_address[1]}/?Action=ConfirmSubscription&Token=abc"
        for url in (elsewhere, elsewhere.replace("http://", "https://"),
                    "https://sns.eu-west-1.amazonaws.com.example.org/?Action=ConfirmSubscription"):
            status, answer = post(service, sns_envelope({}, kind="SubscriptionConfirmation", SubscribeURL=url))
            assert status == 400 and "not on sns.<region>.amazonaws.com" in answer["error"], answer
            assert "Token" not in answer["error"] and "example.org" not in answer["error"]
        assert asked == []
    finally:
        listener.shutdown()


@pytest.mark.parametrize("payload, expected", [
    ({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "rec"}, "object": {
        "key": "shows/a+b%2B.mp4", "eTag": '"9b2cf535f27731c974343645a3985328"'}}}]},
     [Created("rec", "shows/a b+.mp4", "9b2cf535f27731c974343645a3985328")]),
    ({"event_type": "update", "key": "/buckets/rec/shows/x y.mp4", "message": {
        "new_parent_path": "/buckets/rec/shows", "new_entry": {"name": "x y.mp4", "attributes": {"md5": "OYUz1IER6fZksfZMsQxLYw=="}}}},
     [Created("rec", "shows/x y.mp4", "398533d48111e9f664b1f64cb10c4b63")]),
    ({"event_type": "create", "key": "/buckets/rec/s/m.mp4", "message": {"new_parent_path": "/buckets/rec/s", "new_entry": {
        "name": "m.mp4", "extended": {"Seaweed-X-Amz-ETag": "OGE2Mjc3NDA4NzRhN2NmY2I3NDFmYzdlMDU3NTQ5MzUtMw=="}}}},
     [Created("rec", "s/m.mp4", "8a627740874a7cfcb741fc7e05754935-3")]),
    ({"event_type": "create", "key": "/topics/x", "message": {"new_parent_path": "/topics", "new_entry": {"name": "x"}}},
     [Ignored("/topics/x", "not in a bucket (outside /buckets/)")]),
])
def test_notifications_read_as_the_objects_they_name(payload, expected):
    assert created_objects(payload) == expected


def test_aws_shapes_read_as_the_objects_they_name():
    wrapped = s3_event("shows/a+b%2B.mp4", tag='"9b2c"', name="ObjectCreated:CompleteMultipartUpload")
    assert created_objects(sns_envelope(wrapped)) == [Created("recordings", "shows/a b+.mp4", "9b2c")]
    assert created_objects(eventbridge("shows/a+b c.mp4")) == [
        Created("recordings", "shows/a+b c.mp4", "b1946ac92492d2347c6235b4d2611184")]
    confirm = sns_envelope({}, kind="SubscriptionConfirmation",
                           SubscribeURL="https://sns.cn-north-1.amazonaws.com.cn/?Action=ConfirmSubscription&Token=t")
    assert sns_subscription(confirm) == confirm["SubscribeURL"]
    assert sns_subscription(sns_envelope(wrapped)) is None and sns_subscription(wrapped) is None
    for url in ("http://sns.eu-west-1.amazonaws.com/?Token=t", "https://sns.eu-west-1.amazonaws.com.evil.net/",
                "https://evil.net/sns.eu-west-1.amazonaws.com", "https://user@sns-eu.amazonaws.com/", ""):
        with pytest.raises(ValueError, match="not on sns.<region>.amazonaws.com over https"):
            sns_subscription(confirm | {"SubscribeURL": url})


def test_the_naming_rules_and_the_output_under_the_prefix():
    recording = Created("recordings", "shows/2026/Late Show.MP4", "t")
    assert watched(recording, WATCH, [".mp4"]) is None
    assert "not under" in watched(Created("recordings", "show.mp4", "t"), WATCH, [".mp4"])
    job = store_job(recording, WATCH, "s3://clips/", "{stem}.chat.json", "{name}.events")
    assert job.recording == "s3://recordings/shows/2026/Late Show.MP4"
    assert job.beside == {"chat": "s3://recordings/shows/2026/Late Show.chat.json",
                          "events": "s3://recordings/shows/2026/Late Show.MP4.events"}
    assert job.out == "s3://clips/2026/Late_Show"
    # A key may say "..": a folder output stays under its root whatever the key.
    sly = store_job(Created("recordings", "shows/../../etc/x.mp4", "t"), WATCH, "/srv/clips", None, None)
    assert sly.out == "/srv/clips/etc/x" and sly.beside == {}


@pytest.mark.parametrize("settings, message", [
    ({"store_watch": "/srv/recordings"}, "service.store_watch is a bucket and prefix"),
    ({"store_chat": "{stream}.json"}, "service.store_chat may name {stem} and {name} only"),
    ({"store_events": "logs/{stem}.jsonl"}, "service.store_events names a file beside the recording"),
    ({"store_watch": "s3://media/shows/", "store_output": "s3://media/shows/clips/"}, "overlap"),
    ({"store_watch": "s3://media/shows/", "store_output": "s3://media/"}, "overlap"),
])
def test_bad_store_settings_are_one_line(settings, message):
    with pytest.raises(UserError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_config(environ={}, overrides={"service": settings})
