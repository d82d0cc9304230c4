"""End to end with a real recording server: ffmpeg pushes a stream over RTMP to nginx (with the
RTMP module), nginx records it and calls on_record_done when the push ends, the webhook service
queues the job, a worker analyses and renders it, and the clips appear."""
import json
import os
import subprocess
import time
from contextlib import contextmanager

import pytest
from conftest import ffprobe, run_cli
from services import Fleet, RedisServer, Service, free_port, nginx_main

pytestmark = pytest.mark.integration
SECRET = "e2e-secret-77"
RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so"


def nginx_config(folder, rtmp_port, application, http=None, http_root=None):
    """nginx with the RTMP module, one application ``live`` configured by ``application``; with
    ``http`` (port, access log), also serving ``http_root`` over HTTP (its HLS, as to players)."""
    http_block = f"""
http {{
    access_log {http[1]};
    server {{
        listen 127.0.0.1:{http[0]};
        root {http_root};
    }}
}}
""" if http else ""
    return f"load_module {RTMP_MODULE};\n" + nginx_main(folder) + f"""
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        application live {{
            live on;
{application}
        }}
    }}
}}
""" + http_block


@contextmanager
def recording_server(tmp_path_factory, workers, application, http=None, **env):
    """Redis, Celery workers (name -> queues), the webhook service, and nginx with the RTMP
    module whose application is ``application(service_port, recordings_root)`` (with ``http``,
    (port, access log), also serving the recordings root over HTTP); all stopped afterwards.
    Yields (fleet, service, recordings root, output root, RTMP port)."""
    assert os.path.exists(RTMP_MODULE), "nginx's RTMP module is installed by .ci/install-system-deps"
    root, outputs = tmp_path_factory.mktemp("recordings"), tmp_path_factory.mktemp("clips")
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"))
    fleet = Fleet(redis_server, 0, str(tmp_path_factory.mktemp("logs")))
    fleet.env.update(PEAKCLIP_WEBHOOK_SECRET=SECRET, PEAKCLIP_RECORDINGS_ROOT=str(root), PEAKCLIP_OUTPUT_ROOT=str(outputs),
                     PEAKCLIP_RENDER_PRESET="superfast", PEAKCLIP_RENDER_CRF="30", **env)
    service = nginx = None
    try:
        for name, queues in workers.items():
            fleet.start(name, queues=queues)
        service = Service(fleet.env, str(tmp_path_factory.mktemp("svc") / "service.log"))
        folder = tmp_path_factory.mktemp("nginx")
        rtmp_port = free_port()
        (folder / "nginx.conf").write_text(nginx_config(folder, rtmp_port, application(service.port, root), http, root))
        nginx = subprocess.Popen(["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        assert nginx.poll() is None, (folder / "error.log").read_text()
        yield fleet, service, root, outputs, rtmp_port
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=20)
        if service is not None:
            service.stop()
        fleet.stop_all()
        redis_server.stop()


def recording_config(service_port, record_path):
    return f"""            record all;
            record_path {record_path};
            record_unique on;
            on_record_done http://127.0.0.1:{service_port}/hooks/nginx-rtmp?token={SECRET};"""


def test_pushed_stream_is_recorded_and_clipped(sample, tmp_path_factory):
    with recording_server(tmp_path_factory, {"w1": "analyze,render"}, recording_config,
                          PEAKCLIP_SELECT_CLIPS="2") as (fleet, service, root, outputs, rtmp_port):
        push = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", sample["video"], "-c", "copy", "-f", "flv",
                               f"rtmp://127.0.0.1:{rtmp_port}/live/show"], capture_output=True, text=True, timeout=120)
        assert push.returncode == 0, push.stderr
        recordings = []
        deadline = time.monotonic() + 30
        while not recordings and time.monotonic() < deadline:
            recordings = [n for n in os.listdir(root) if n.endswith(".flv")]
            time.sleep(0.2)
        assert recordings, "nginx recorded nothing"
        manifest_path = None
        deadline = time.monotonic() + 300
        while manifest_path is None and time.monotonic() < deadline:
            found = [os.path.join(d, "manifest.json") for d, _, files in os.walk(outputs) if "manifest.json" in files]
            manifest_path = found[0] if found else None
            time.sleep(1)
        assert manifest_path, f"no clips appeared; service log: {open(service.log.name).read()[-2000:]}"
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        assert manifest["source"]["path"].startswith(str(root)) and manifest["source"]["path"].endswith(".flv")
        assert len(manifest["clips"]) == 2
        for clip in manifest["clips"]:
            info = ffprobe(os.path.join(os.path.dirname(manifest_path), clip["file"]))
            assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
        planted = sample["truth"]["highlights"]
        assert any(c["start"] < h["end"] and h["start"] < c["end"] for c in manifest["clips"] for h in planted)


def hls_config(service_port, root):
    (root / "hls").mkdir()
    return f"""            hls on;
            hls_path {root / "hls"};
            hls_fragment 2s;
            hls_playlist_length 2h;
            hls_cleanup off;
            on_publish http://127.0.0.1:{service_port}/hooks/nginx-rtmp?token={SECRET};
            on_publish_done http://127.0.0.1:{service_port}/hooks/nginx-rtmp?token={SECRET};"""


def test_live_stream_is_clipped_while_on_air(sample, tmp_path_factory):
    """ffmpeg pushes the sample over RTMP in real time (-re, 2.5 minutes) to nginx writing HLS;
    on_publish makes the service start a watch on the live queue; chat arrives through
    POST /streams/show/events as it happens. The planted highlights' clips must appear while the
    push runs; when it ends (on_publish_done) the final manifest must equal a batch run over the
    same recording. The live worker reads the HLS as nginx serves it over HTTP (as a worker on
    another machine would), not from nginx's folder."""
    from test_service import post_signed

    with open(sample["chat"], encoding="utf-8") as handle:
        comments = sorted(json.load(handle)["comments"], key=lambda c: c["content_offset_seconds"])
    events = [{"t": c["content_offset_seconds"], "user": c["commenter"]["name"], "text": c["message"]["body"]}
              for c in comments]
    http_port, access_log = free_port(), tmp_path_factory.mktemp("http") / "access.log"
    with recording_server(tmp_path_factory, {"live1": "live", "w1": "analyze"}, hls_config, http=(http_port, access_log),
                          PEAKCLIP_SERVICE_LIVE_PLAYLIST=f"http://127.0.0.1:{http_port}/hls/{{name}}.m3u8",
                          PEAKCLIP_LIVE_POLL="0.5",
                          PEAKCLIP_RENDER_FORMATS="horizontal",
                          PEAKCLIP_SELECT_CLIPS="3") as (fleet, service, root, outputs, rtmp_port):
        push = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", sample["video"],
                                 "-c", "copy", "-f", "flv", f"rtmp://127.0.0.1:{rtmp_port}/live/show"])
        started, sent, on_air = time.monotonic(), 0, {}
        while push.poll() is None:
            due = [e for e in events[sent:] if e["t"] <= time.monotonic() - started]
            if due:
                assert post_signed(service, "/streams/show/events", {"events": due}, secret=SECRET)[0] == 202
                sent += len(due)
            for path in [os.path.join(d, "manifest.json") for d, _, f in os.walk(outputs) if "manifest.json" in f]:
                with open(path, encoding="utf-8") as handle:
                    live = json.load(handle)
                if live["live"]["state"] == "on air":
                    on_air.update({p["id"]: p for p in live["provisional"]
                                   if p["file"] and os.path.exists(os.path.join(os.path.dirname(path), p["file"]))})
            time.sleep(0.3)
        assert push.returncode == 0
        if sent < len(events):
            post_signed(service, "/streams/show/events", {"events": events[sent:]}, secret=SECRET)
        assert len(on_air) >= 2, f"no clip while on air; worker log: {open(fleet.logs + '/live1.log').read()[-3000:]}"
        planted = sample["truth"]["highlights"]
        caught = [h for h in planted if any(p["start"] < h["end"] and h["start"] < p["end"] for p in on_air.values())]
        assert len(caught) >= 2, (planted, list(on_air.values()))   # the last may be too near the end to confirm on air
        final, deadline = None, time.monotonic() + 180
        while final is None and time.monotonic() < deadline:
            for path in [os.path.join(d, "manifest.json") for d, _, f in os.walk(outputs) if "manifest.json" in f]:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
                if data["live"]["state"] == "ended":
                    final, manifest_dir = data, os.path.dirname(path)
            time.sleep(0.5)
        assert final, f"the watch did not finish; worker log: {open(fleet.logs + '/live1.log').read()[-3000:]}"
        assert {p["outcome"] for p in final["provisional"]} <= {"kept", "re-tiered", "withdrawn"}
        assert len(final["clips"]) == 3
        for clip in final["clips"]:
            info = ffprobe(os.path.join(manifest_dir, clip["file"]))
            assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
        batch = str(tmp_path_factory.mktemp("batch"))
        result = run_cli("clip", final["source"]["path"], "--chat", str(outputs / "show" / "events.jsonl"),
                         "--out", batch, "--clips", "3", "--no-render")
        assert result.returncode == 0, result.stderr
        with open(os.path.join(batch, "manifest.json"), encoding="utf-8") as handle:
            expected = json.load(handle)
        fields = ("id", "start", "end", "score", "stage", "tier")
        assert [{k: c[k] for k in fields} for c in final["clips"]] == [{k: c[k] for k in fields} for c in expected["clips"]]
        # The playlist and its segments were read over HTTP.
        served = access_log.read_text()
        assert "GET /hls/show.m3u8" in served and "GET /hls/show-" in served
        # The watch's chunks were analysed by the analyze queue's worker, not by the watch itself.
        with open(os.path.join(fleet.logs, "w1.log"), encoding="utf-8") as handle:
            assert handle.read().count("peakclip.analyze_live_chunk") >= 10
