"""Live mode: a stream pushed in (faster than) real time as HLS, with its chat growing beside it.

Clips must appear while the stream is on air, and at the end the final manifest must equal a batch
run over the same recording. The test ends the stream itself (``#EXT-X-ENDLIST``, as a recording
server does), once the clips are in: how fast this machine renders decides when, never whether."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest
from conftest import REPO, ffprobe, run_cli, write_srt
from services import WebServer

pytestmark = pytest.mark.integration
READ_RATE = 2   # two seconds of stream a second: 75 s, not 2.5 min, with room for a loaded machine to keep up


def push(sample, hls_dir, chat_path, end_list=True):
    """ffmpeg writes HLS segments at READ_RATE x real time while a thread appends the chat lines
    whose time has come, as a chat logger would. Returns the ffmpeg process and the thread.
    ``end_list=False``: the playlist stays open when the push is done (``end_stream`` closes it)."""
    with open(sample["chat"], encoding="utf-8") as handle:
        comments = json.load(handle)["comments"]
    lines = sorted((c["content_offset_seconds"], json.dumps({"t": c["content_offset_seconds"], "user": c["commenter"]["name"],
                                                                "text": c["message"]["body"]})) for c in comments)
    open(chat_path, "w").close()
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-readrate", str(READ_RATE), "-i", sample["video"], "-c", "copy",
                             "-f", "hls", "-hls_time", "2", "-hls_list_size", "0",
                             *([] if end_list else ["-hls_flags", "omit_endlist"]), os.path.join(hls_dir, "stream.m3u8")])
    started = time.monotonic()

    def chat():
        with open(chat_path, "a", encoding="utf-8") as out:
            for t, line in lines:
                time.sleep(max(0.0, t / READ_RATE - (time.monotonic() - started)))
                out.write(line + "\n")
                out.flush()

    writer = threading.Thread(target=chat, daemon=True)
    writer.start()
    return proc, writer


def end_stream(hls_dir):
    """Close the playlist, as the recording server does when the streamer stops."""
    with open(os.path.join(hls_dir, "stream.m3u8"), "a", encoding="utf-8") as playlist:
        playlist.write("#EXT-X-ENDLIST\n")


@pytest.fixture
def served(request, tmp_path):
    """Where the watch reads the playlist: the recording server's folder, or (``http``) nginx
    serving that folder, as a recording server on another machine serves its HLS."""
    if request.param == "file":
        yield lambda name: str(tmp_path / name)
        return
    conf = tmp_path / "nginx"
    conf.mkdir()
    server = WebServer(str(tmp_path), str(conf))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.mark.parametrize("served", ["file", "http"], indirect=True)
def test_watch_clips_while_on_air_and_ends_equal_to_batch(sample, fast_config, tmp_path, served):
    hls = tmp_path / "hls"
    hls.mkdir()
    chat = str(tmp_path / "chat.jsonl")
    out = str(tmp_path / "live")
    config = tmp_path / "live.toml"
    # The stream ends when the test closes its playlist, not by going quiet.
    config.write_text(open(fast_config).read() + "\n[live]\npoll = 0.5\nidle_end = 600\n")
    pusher, writer = push(sample, str(hls), chat, end_list=False)
    watcher = subprocess.Popen([sys.executable, "-m", "peakclip", "watch", served("hls/stream.m3u8"), "--chat", chat,
                                "--out", out, "--config", str(config), "--format", "horizontal", "--clips", "3"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_on_air = []
    manifest_path = os.path.join(out, "manifest.json")
    # On air while the push runs, and after it until two clips are out (a loaded machine renders
    # late; the stream waits for it, as a long broadcast would), at most 5 minutes.
    deadline = float("inf")
    while pusher.poll() is None or (len(seen_on_air) < 2 and time.monotonic() < deadline):
        if pusher.poll() is not None and deadline == float("inf"):
            deadline = time.monotonic() + 300
        if os.path.exists(manifest_path):
            with open(manifest_path, encoding="utf-8") as handle:
                live = json.load(handle)
            for item in live.get("provisional", []):
                if item["file"] and os.path.exists(os.path.join(out, item["file"])) and item["id"] not in seen_on_air:
                    assert live["live"]["state"] == "on air" and item["provisional"] is True
                    seen_on_air.append(item["id"])
        time.sleep(0.2)
    writer.join()
    end_stream(str(hls))
    stdout, stderr = watcher.communicate(timeout=300)
    assert watcher.returncode == 0, stderr
    assert len(seen_on_air) >= 2, stdout                     # highlights clipped while the stream was running
    with open(manifest_path, encoding="utf-8") as handle:
        final = json.load(handle)
    assert final["live"]["state"] == "ended" and final["source"]["path"].endswith("recording.ts")
    # The recording is the playlist's segments joined in order, byte for byte, however they were read.
    with open(hls / "stream.m3u8", encoding="utf-8") as handle:
        segments = [line.strip() for line in handle if line.strip().endswith(".ts")]
    with open(final["source"]["path"], "rb") as handle:
        assert handle.read() == b"".join((hls / name).read_bytes() for name in segments)
    assert {p["outcome"] for p in final["provisional"]} <= {"kept", "re-tiered", "withdrawn"}
    assert all(p["outcome"] != "pending" for p in final["provisional"])
    kept = [p for p in final["provisional"] if p["outcome"] != "withdrawn"]
    assert kept and all(p["final_id"] in {c["id"] for c in final["clips"]} for p in kept)
    # The final clips are what a batch run over the same recording picks.
    batch = str(tmp_path / "batch")
    result = run_cli("clip", final["source"]["path"], "--chat", chat, "--out", batch, "--config", str(config),
                     "--clips", "3", "--no-render")
    assert result.returncode == 0, result.stderr
    with open(os.path.join(batch, "manifest.json"), encoding="utf-8") as handle:
        expected = json.load(handle)
    fields = ("id", "rank", "start", "end", "score", "stage", "tier", "pool")
    assert [{k: c[k] for k in fields} for c in final["clips"]] == [{k: c[k] for k in fields} for c in expected["clips"]]
    assert len(final["clips"]) == 3 and all(os.path.exists(os.path.join(out, c["file"])) for c in final["clips"])
    # Live mode renders its final clips at their start pools' profiles (the bundled rules' trial
    # pools: preview, 1280x720 horizontal), unlike `peakclip clip`.
    for clip in final["clips"]:
        video = next(s for s in ffprobe(os.path.join(out, clip["file"]))["streams"] if s["codec_type"] == "video")
        assert clip["profile"] == "preview" and (video["width"], video["height"]) == (1280, 720), clip


@pytest.mark.parametrize("transcript", [False, True])
def test_watch_a_growing_ts_file_ends_when_it_stops_growing(sample, fast_config, tmp_path, transcript):
    """An encoder writing MPEG-TS straight to disk: no playlist, no end tag. The watch ends once
    the file has not grown for live.idle_end, and ends where a batch run over the file ends (with
    a transcript too, which the watch reads at the end)."""
    extra = []
    if transcript:
        write_srt(tmp_path / "talk.srt", 150.0, seed=4)
        extra = ["--transcript", str(tmp_path / "talk.srt")]
    recording = str(tmp_path / "show.ts")
    config = tmp_path / "growing.toml"
    config.write_text(open(fast_config).read() + "\n[live]\npoll = 0.5\nidle_end = 4.0\n")
    writer = subprocess.Popen(["ffmpeg", "-v", "error", "-readrate", "5", "-i", sample["video"], "-c", "copy",
                               "-f", "mpegts", recording])
    time.sleep(2)
    out = str(tmp_path / "live")
    watched = run_cli("watch", recording, "--chat", sample["chat"], "--out", out, "--config", str(config),
                      "--no-render", "--clips", "3", *extra)
    assert writer.wait() == 0
    assert watched.returncode == 0, watched.stderr
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        final = json.load(handle)
    assert final["live"]["state"] == "ended" and final["source"]["duration"] == pytest.approx(150.0, abs=0.5)
    result = run_cli("clip", recording, "--chat", sample["chat"], "--out", str(tmp_path / "batch"),
                     "--config", str(config), "--no-render", "--clips", "3", *extra)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(tmp_path, "batch", "manifest.json"), encoding="utf-8") as handle:
        expected = json.load(handle)
    fields = ("id", "start", "end", "score", "tier", "text")
    assert [{k: c[k] for k in fields} for c in final["clips"]] == [{k: c[k] for k in fields} for c in expected["clips"]]
    assert final["transcript"] == expected["transcript"] and (final["transcript"] is not None) == transcript


def test_watch_of_a_path_where_nothing_appears_ends_in_one_line(tmp_path):
    config = tmp_path / "quick.toml"
    config.write_text("[live]\npoll = 0.2\nidle_end = 1.0\n")
    result = run_cli("watch", str(tmp_path / "typo.m3u8"), "--out", str(tmp_path / "out"), "--config", str(config))
    told, error = result.stderr.strip().splitlines()     # once what it waits for, then one line of error
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert told.startswith("peakclip: waiting for an HLS playlist with segments at") and "live.idle_end" in told
    assert error.startswith("peakclip: error: nothing readable appeared")


def hls_segments(sample, folder, seconds=6):
    """The first ``seconds`` of the sample as 2-second MPEG-TS segments (and ffmpeg's own playlist)."""
    subprocess.run(["ffmpeg", "-v", "error", "-i", sample["video"], "-t", str(seconds), "-c", "copy", "-f", "hls",
                    "-hls_time", "2", "-hls_list_size", "0", os.path.join(folder, "full.m3u8")], check=True)
    with open(os.path.join(folder, "full.m3u8"), encoding="utf-8") as handle:
        lines = [line.strip() for line in handle]
    return [(float(lines[i - 1][len("#EXTINF:"):].rstrip(",")), line) for i, line in enumerate(lines) if line.endswith(".ts")]


def write_playlist(path, segments, ended):
    body = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:3", "#EXT-X-MEDIA-SEQUENCE:0"]
    for length, name in segments:
        body += [f"#EXTINF:{length:.6f},", name]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(body + (["#EXT-X-ENDLIST"] if ended else [])) + "\n")


def test_a_playlist_served_over_http_is_followed_as_it_appears(sample, tmp_path):
    """The recording server on another machine: nothing there yet (404), then a playlist whose last
    listed segment cannot be had yet holds the end back; segments are joined whole, in order; a
    master playlist is followed to its best variant; a playlist never closed ends once it stops
    growing for live.idle_end."""
    from peakclip.pipeline.executors.live import GrowingSource

    served = tmp_path / "www"
    served.mkdir()
    segments = hls_segments(sample, str(served))
    assert len(segments) >= 3
    conf = tmp_path / "nginx"
    conf.mkdir()
    server = WebServer(str(served), str(conf))
    try:
        out = tmp_path / "out"
        out.mkdir()
        source = GrowingSource(server.url("show.m3u8?token=abc"), str(out), idle_end=600)
        assert source.is_playlist
        assert source.poll() == (0.0, False, None)                    # 404: not on air yet
        hidden = served / segments[-1][1]
        hidden.rename(served / "later")                               # listed, but not yet on the server
        write_playlist(served / "show.m3u8", segments, ended=True)
        available, ended, path = source.poll()
        assert not ended and path == str(out / "recording.ts")
        assert available == pytest.approx(sum(length for length, _ in segments[:-1]))
        (served / "later").rename(hidden)
        available, ended, path = source.poll()
        assert ended and available == pytest.approx(sum(length for length, _ in segments), abs=0.25)  # as ffprobe reads it
        assert (out / "recording.ts").read_bytes() == b"".join((served / name).read_bytes() for _, name in segments)

        # A master playlist, as players are given: its best variant is followed.
        (served / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:AVERAGE-BANDWIDTH=9000000,BANDWIDTH=400000\n"
                                            "low/show.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=320x180\n"
                                            "show.m3u8\n")
        (out / "recording.ts").unlink()
        variant = GrowingSource(server.url("master.m3u8"), str(out), idle_end=600)
        available, ended, path = variant.poll()
        assert ended and variant.path == server.url("show.m3u8")
        assert (out / "recording.ts").read_bytes() == b"".join((served / name).read_bytes() for _, name in segments)

        write_playlist(served / "open.m3u8", segments[:2], ended=False)
        (out / "recording.ts").unlink()
        quiet = GrowingSource(server.url("open.m3u8"), str(out), idle_end=1.0)
        assert quiet.poll()[1] is False                               # just listed: on air
        time.sleep(1.2)
        assert quiet.poll()[1] is True                                # nothing new for idle_end: ended
    finally:
        server.stop()


def test_watch_of_an_object_is_one_line(tmp_path):
    # A live watch writes into a bucket but reads its recording and chat from a file or URL.
    result = run_cli("watch", "s3://recordings/show.m3u8", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("peakclip: error: watch does not read objects (s3://) yet, only writes to them: "
                                     "s3://recordings/show.m3u8")
