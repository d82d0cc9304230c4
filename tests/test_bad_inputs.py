"""Bad and unusual inputs: each ends in clips from what is usable, or one clear line and exit 2.

Built from the generated sample stream, files ffmpeg makes with one quirk each (``made_media``) and
the real recordings in ``tests/media``."""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import REPO, ffprobe, real_media, run_cli

from peakclip.detectors.probe import probe
from peakclip.pipeline.analysis.analyze import analyze
from peakclip.pipeline.config import Config, RenderConfig
from peakclip.pipeline.output.render import render_clip
from peakclip.pipeline.ranking.clip import Clip

pytestmark = pytest.mark.integration


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def manifest_of(out):
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def leftovers(out):
    """Partial files anywhere under ``out``: there must never be any once a command has ended."""
    return [n for _, _, names in os.walk(out) for n in names if n.endswith(".partial")]


def assert_listed_files_exist(out, manifest):
    for clip in manifest["clips"]:
        for path in [clip["file"], clip["thumbnail"], clip["preview"], *(clip["files"] or {}).values()]:
            assert path is None or os.path.isfile(os.path.join(out, path)), path


def video_stream(path):
    return next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")


# ---- recordings cut off mid-stream ------------------------------------------------------------

@pytest.mark.parametrize("container", ["flv", "mkv", "ts"])
def test_cut_off_recording_is_clipped_up_to_where_it_decodes(sample, fast_config, tmp_path, container):
    whole = str(tmp_path / f"whole.{container}")
    ffmpeg("-i", sample["video"], "-c", "copy", whole)
    cut = str(tmp_path / f"cut.{container}")
    with open(whole, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(int(os.path.getsize(whole) * 0.62) + 1111))   # an arbitrary byte, mid-packet
    out = str(tmp_path / "out")
    result = run_cli("clip", cut, "--chat", sample["chat"], "--out", out, "--config", fast_config, "--clips", "2",
                     "--format", "horizontal")
    assert result.returncode == 0, result.stderr
    manifest = manifest_of(out)
    assert 80 < manifest["source"]["duration"] < 100            # 62% of 150 s, not the header's 150 s
    assert any("cut off" in w for w in manifest["warnings"]), manifest["warnings"]
    assert manifest["clips"] and leftovers(out) == []
    for clip in manifest["clips"]:
        assert clip["end"] <= manifest["source"]["duration"]
        rendered = ffprobe(os.path.join(out, clip["file"]))
        assert float(rendered["format"]["duration"]) == pytest.approx(clip["end"] - clip["start"], abs=0.3)


def test_mp4_whose_index_was_never_written(sample, tmp_path):
    unfinished = str(tmp_path / "crashed.mp4")
    ffmpeg("-i", sample["video"], "-c", "copy", str(tmp_path / "moov-at-end.mp4"))   # no faststart: moov last
    with open(tmp_path / "moov-at-end.mp4", "rb") as src, open(unfinished, "wb") as dst:
        dst.write(src.read(os.path.getsize(tmp_path / "moov-at-end.mp4") // 2))
    result = run_cli("clip", unfinished, "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "moov" in result.stderr and "never written" in result.stderr and "remux" in result.stderr


# ---- names and places --------------------------------------------------------------------------

def test_paths_with_spaces_and_non_ascii_names(sample, fast_config, tmp_path):
    folder = tmp_path / "直播 recordings"
    folder.mkdir()
    video, chat = folder / "my stream #1 (ライブ).mp4", folder / "聊天 log.json"
    shutil.copy(sample["video"], video)
    shutil.copy(sample["chat"], chat)
    out = str(tmp_path / "clips für heute")
    result = run_cli("clip", str(video), "--chat", str(chat), "--out", out, "--config", fast_config, "--clips", "1",
                     "--export", "edl,otio,fcpxml")
    assert result.returncode == 0, result.stderr
    manifest = manifest_of(out)
    assert manifest["source"]["path"] == str(video) and len(manifest["clips"]) == 1
    assert_listed_files_exist(out, manifest)
    assert os.path.isfile(os.path.join(out, "report.html")) and os.path.isfile(os.path.join(out, "timeline.otio"))


@pytest.fixture()
def http_server(sample):
    handler = partial(SimpleHTTPRequestHandler, directory=sample["dir"])
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_url_input(sample, fast_config, tmp_path, http_server):
    out = str(tmp_path / "out")
    result = run_cli("clip", f"{http_server}/stream.mp4", "--chat", sample["chat"], "--out", out,
                     "--config", fast_config, "--clips", "1")
    assert result.returncode == 0, result.stderr
    manifest = manifest_of(out)
    assert manifest["source"]["duration"] == pytest.approx(150.0, abs=0.2) and len(manifest["clips"]) == 1
    assert video_stream(os.path.join(out, manifest["clips"][0]["file"]))["codec_name"] == "h264"
    missing = run_cli("clip", f"{http_server}/nothing.mp4", "--out", out)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1 and "404" in missing.stderr


# ---- unusual streams ---------------------------------------------------------------------------

def test_several_audio_tracks(sample, fast_config, tmp_path):
    """Track 0 is silent, track 1 is the show: --audio-track 1 hears it, the default does not."""
    two = str(tmp_path / "two-tracks.mkv")
    ffmpeg("-i", sample["video"], "-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono", "-map", "0:v", "-map", "1:a",
           "-map", "0:a", "-c:v", "copy", "-c:a", "aac", "-shortest", two)
    first = analyze(two, None, Config())
    config = Config()
    config.analysis.audio_track = 1
    second = analyze(two, None, config)
    assert first.signals["audio"].values.max() <= -90 < second.signals["audio"].values.max()
    out = str(tmp_path / "out")
    result = run_cli("clip", two, "--audio-track", "1", "--out", out, "--config", fast_config, "--clips", "1",
                     "--format", "horizontal")
    assert result.returncode == 0, result.stderr
    clip = os.path.join(out, manifest_of(out)["clips"][0]["file"])
    level = subprocess.run(["ffmpeg", "-i", clip, "-af", "volumedetect", "-f", "null", "-"], capture_output=True,
                           text=True).stderr
    mean_db = float(level.split("mean_volume:")[1].split("dB")[0])
    assert mean_db > -40                                               # the show's sound, not the silent track
    wrong = run_cli("clip", two, "--audio-track", "2", "--out", out, "--no-render")
    assert wrong.returncode == 2 and "2 audio track(s)" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1


def made(tmp_path, name, *encode, rates=(30, 30)):
    """A 4-second test picture with a cut at 2 s and a tone, encoded as asked (``rates``: the
    frame rate of each half)."""
    path = str(tmp_path / name)
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=s=320x240:r={rates[0]}:d=2",
           "-f", "lavfi", "-i", f"smptebars=s=320x240:r={rates[1]}:d=2",
           "-f", "lavfi", "-i", "sine=f=440:d=4", "-filter_complex", "[0][1]concat=n=2:v=1:a=0[v]",
           "-map", "[v]", "-map", "2", *encode, path)
    return path


INPUTS = {
    "yuv422p": "yuv422p.mp4",
    "HEVC": "hevc.mp4",
    "cover picture": "cover.mp4",
    "subtitles": "subtitles.mkv",
    "real camera recording": lambda tmp: real_media("man-on-green-screen.mp4"),
    "10-bit H.264": lambda tmp: made(tmp, "ten.mkv", "-c:v", "libx264", "-pix_fmt", "yuv420p10le", "-c:a", "aac"),
    "VP9": lambda tmp: made(tmp, "vp9.webm", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                            "-b:v", "300k", "-c:a", "libopus"),
    "AV1": lambda tmp: made(tmp, "av1.mkv", "-c:v", "libsvtav1", "-preset", "12", "-g", "30", "-c:a", "aac"),
    "variable frame rate": lambda tmp: made(tmp, "vfr.mkv", "-fps_mode", "vfr", "-c:v", "libx264", "-c:a", "aac",
                                           rates=(30, 12)),
}


@pytest.mark.parametrize("kind", list(INPUTS))
def test_unusual_streams_analyse_and_render_to_h264_yuv420p(kind, tmp_path, made_media):
    made = INPUTS[kind]
    path = made_media(made) if isinstance(made, str) else made(tmp_path)
    source = probe(path)
    analysis = analyze(path, None, Config())
    n_bins = round(source.duration / 0.5 + 0.49)
    assert {"audio", "visual"} <= set(analysis.signals)
    assert all(abs(len(s.values) - n_bins) <= 1 for s in analysis.signals.values())
    clip = Clip(id="unusual", rank=1, start=0.2, end=1.8, score=5.0, peak=1.0, signals={}, stage=1, tier="A")
    result = render_clip(source, clip, str(tmp_path / "out"), RenderConfig(preset="superfast", crf=30,
                                                                           formats=["source", "vertical"]), threads=2)
    assert result.error is None, result.error
    for fmt, name in result.files.items():
        info = ffprobe(str(tmp_path / "out" / name))
        video = [s for s in info["streams"] if s["codec_type"] == "video"]
        assert len(video) == 1 and video[0]["codec_name"] == "h264" and video[0]["pix_fmt"] == "yuv420p", fmt
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}          # no subtitle, no cover
        assert float(info["format"]["duration"]) == pytest.approx(1.6, abs=0.15)
        if fmt == "source":
            assert (video[0]["width"], video[0]["height"]) == (source.display_width, source.display_height)


def test_recording_shorter_than_the_shortest_clip(tmp_path):
    out = str(tmp_path / "out")
    result = run_cli("clip", real_media("example.mp4"), "--min-len", "50", "--max-len", "60",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    manifest = manifest_of(out)
    assert manifest["clips"] == [] and any("shorter than --min-len" in w for w in manifest["warnings"])


def test_a_calm_real_recording_says_why_there_is_no_clip_and_how_to_get_the_best_there_is(tmp_path):
    """A 42 s talking head with no chat: nothing stands out, so no clip by default, and the
    warning names the liveliest moment and the --min-score that clips it; with that flag the
    user gets the best moments there are, tiered C (never lifted: they barely stood out)."""
    import re

    out = str(tmp_path / "calm")
    result = run_cli("clip", real_media("example.mp4"), "--out", out, "--no-render")
    assert result.returncode == 0, result.stderr
    manifest = manifest_of(out)
    assert manifest["clips"] == []
    warning, = [w for w in manifest["warnings"] if w.startswith("no highlight stood out")]
    assert "the liveliest moment (0:00:" in warning and "under --min-score 2" in warning
    suggested = re.search(r"--min-score ([0-9.]+) clips the best moments there are \(tier C\)", warning).group(1)
    again = run_cli("clip", real_media("example.mp4"), "--out", str(tmp_path / "best"), "--no-render",
                    "--min-score", suggested)
    assert again.returncode == 0, again.stderr
    clips = manifest_of(str(tmp_path / "best"))["clips"]
    assert clips and all(c["tier"] == "C" and c["pool"] == "test" for c in clips)


def test_audio_only_mp3(tmp_path, made_media):
    out = str(tmp_path / "out")
    result = run_cli("clip", made_media("mono.mp3"), "--min-len", "2", "--max-len", "4", "--out", out)
    assert result.returncode == 0, result.stderr
    manifest = manifest_of(out)
    assert manifest["signals"] == ["audio"] and all(c["file"] is None for c in manifest["clips"])
    assert any("no video stream" in w for w in manifest["warnings"])


# ---- chat logs that do not line up --------------------------------------------------------------

def test_chat_log_outside_the_recording_and_empty_logs_still_give_clips(sample, tmp_path):
    with open(sample["chat"], encoding="utf-8") as handle:
        log = json.load(handle)
    for comment in log["comments"]:
        comment["content_offset_seconds"] += 7200          # a log from another day's show
    shifted = tmp_path / "shifted.json"
    shifted.write_text(json.dumps(log))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for chat, words in ((shifted, "none of the log's"), (empty, "the log is empty")):
        out = str(tmp_path / chat.stem)
        result = run_cli("clip", sample["video"], "--chat", str(chat), "--out", out, "--no-render")
        assert result.returncode == 0, result.stderr
        manifest = manifest_of(out)
        assert manifest["clips"] and any(words in w for w in manifest["warnings"]), manifest["warnings"]
    # the same log, with its clock put right, lines up again
    out = str(tmp_path / "fixed")
    result = run_cli("clip", sample["video"], "--chat", str(shifted), "--chat-offset", "-7200", "--out", out,
                     "--no-render")
    assert result.returncode == 0 and manifest_of(out)["chat"]["messages"] > 200


# ---- output trouble ------------------------------------------------------------------------------

def test_disk_filling_up_during_the_render_leaves_no_partial_clip(sample, fast_config, tmp_path):
    """A file-size limit stands in for a full disk: every write past 300 KB fails (EFBIG)."""
    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)       # a failing write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    out = str(tmp_path / "out")
    result = subprocess.run([sys.executable, "-m", "peakclip", "clip", sample["video"], "--chat", sample["chat"],
                             "--out", out, "--config", fast_config, "--clips", "2"], capture_output=True, text=True,
                            cwd=REPO, preexec_fn=small_disk, timeout=600)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "disk is full" in result.stderr
    manifest = manifest_of(out)
    assert all(c["file"] is None for c in manifest["clips"]) and leftovers(out) == []
    assert_listed_files_exist(out, manifest)
    assert not [n for n in os.listdir(os.path.join(out, "clips")) if n.endswith(".mp4")]


def ctrl_c_as_at_a_terminal() -> None:
    """Ctrl-C reaches the CLI as it would at a terminal: a test run started in the background
    (``cmd &`` in a script) ignores SIGINT, and every process it starts inherits that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_the_render_then_a_rerun_resumes(sample, fast_config, tmp_path):
    out = str(tmp_path / "out")
    command = [sys.executable, "-m", "peakclip", "clip", sample["video"], "--chat", sample["chat"], "--out", out,
               "--config", fast_config, "--clips", "3", "--jobs", "1", "--format", "vertical,square"]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=ctrl_c_as_at_a_terminal)
    clips = os.path.join(out, "clips")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (os.path.isdir(clips) and
                                               [n for n in os.listdir(clips) if n.endswith(".done.json")]):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)                      # what a terminal's Ctrl-C does: the whole group
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert leftovers(out) == [] and not os.path.exists(os.path.join(out, "manifest.json"))
    finished = {n: os.stat(os.path.join(clips, n)).st_mtime_ns for n in os.listdir(clips) if n.endswith(".mp4")}
    assert 2 <= len(finished) < 6                           # the first clip in both formats, not all three clips
    done = len([n for n in os.listdir(clips) if n.endswith(".done.json")])
    rerun = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"kept {done} of 3 clip(s) an earlier run finished" in rerun.stderr   # and says so
    manifest = manifest_of(out)
    assert len(manifest["clips"]) == 3 and leftovers(out) == []
    assert_listed_files_exist(out, manifest)
    for name, mtime in finished.items():                    # resumed: what was finished was not made again
        assert os.stat(os.path.join(clips, name)).st_mtime_ns == mtime, name
    # A rerun with other settings replaces the clips, and no stale file of the first run is left.
    third = run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", out, "--config", fast_config,
                    "--clips", "2", "--format", "horizontal")
    assert third.returncode == 0, third.stderr
    manifest = manifest_of(out)
    listed = {os.path.basename(p) for c in manifest["clips"] for p in [c["file"], c["thumbnail"], c["preview"]]}
    assert {n for n in os.listdir(clips) if not n.startswith(".")} == listed
