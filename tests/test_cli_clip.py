"""`peakclip clip` end to end: real ffmpeg, real files, the real console entry point."""
import json
import os
import subprocess

import pytest
from conftest import VERTICAL, ffprobe, overlaps, run_cli

pytestmark = pytest.mark.integration


def load_manifest(out):
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_analysis_ranks_the_planted_highlights_first(sample, tmp_path):
    out = str(tmp_path / "out")
    # --cuts all: every scene cut is decoded and reported (default: only those near the clips' edges)
    result = run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", out, "--no-render", "--quiet",
                     "--cuts", "all")
    assert result.returncode == 0, result.stderr
    manifest = load_manifest(out)
    assert manifest["schema"] == "peakclip/manifest@1"
    assert manifest["source"]["has_audio"] and manifest["source"]["has_video"]
    assert manifest["signals"] == ["chat", "audio", "visual"]
    assert manifest["chat"]["format"] == "twitchdownloader" and manifest["chat"]["skipped"] == 0
    assert [s["index"] for s in manifest["stages"]] == [1, 2, 3]
    planted = sample["truth"]["highlights"]
    top = manifest["clips"][:len(planted)]
    for h in planted:
        assert any(overlaps(c["start"], c["end"], h["start"], h["end"]) for c in top), (h, top)
    for c in manifest["clips"]:
        assert 15 - 1e-6 <= c["end"] - c["start"] <= 60 + 1e-6   # spans are kept to 3 decimals
        assert c["file"] is None and c["tier"] in "SABC" and 1 <= c["stage"] <= 3
        assert set(c["signals"]) == {"chat", "audio", "visual", "orders", "paid"}
    # scene cuts are reported: the camera switch is one, found within half a second
    switch = [d for d in sample["truth"]["distractors"] if d["kind"] == "camera"][0]
    assert any(abs(t - switch["start"]) < 0.5 for t in manifest["events"]["cuts"])
    # the spammer's burst of messages from one account is not a highlight: no clip peaks there
    spam = [d for d in sample["truth"]["distractors"] if d["kind"] == "spam"][0]
    assert not any(spam["start"] <= c["peak"] <= spam["end"] + 10 for c in manifest["clips"])


def test_clips_start_before_the_moment_not_when_chat_reacts(sample, tmp_path):
    out = str(tmp_path / "out")
    assert run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", out, "--no-render", "--quiet").returncode == 0
    clips = load_manifest(out)["clips"]
    for h in sample["truth"]["highlights"]:
        clip = next(c for c in clips if overlaps(c["start"], c["end"], h["start"], h["end"]))
        assert clip["start"] <= h["start"] + 1.0


def test_render_vertical_clips_with_thumbnails(sample, fast_config, tmp_path):
    out = str(tmp_path / "out")
    result = run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", out, "--clips", "2",
                     "--config", fast_config, "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = load_manifest(out)
    assert len(manifest["clips"]) == 2
    for clip in manifest["clips"]:
        info = ffprobe(os.path.join(out, clip["file"]))
        video = [s for s in info["streams"] if s["codec_type"] == "video"][0]
        audio = [s for s in info["streams"] if s["codec_type"] == "audio"][0]
        assert clip["profile"] == "full" and (video["width"], video["height"]) == VERTICAL["full"]   # the default
        assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p" and video["profile"] == "High"
        assert audio["codec_name"] == "aac"
        assert float(info["format"]["duration"]) == pytest.approx(clip["end"] - clip["start"], abs=0.1)
        assert f"rank={clip['rank']}" in info["format"]["tags"]["comment"]
        thumb = ffprobe(os.path.join(out, clip["thumbnail"]))
        assert thumb["streams"][0]["codec_name"] == "mjpeg"
        # The sample's drawn shapes have no face: --fill auto (the default) falls back to the
        # whole picture over a blurred fill, as docs/framing.md says.
        assert {shot["mode"] for shot in clip["framing"]["vertical"]["shots"]} == {"fit"}
    # +faststart: the index (moov) comes before the media data (mdat)
    with open(os.path.join(out, manifest["clips"][0]["file"]), "rb") as handle:
        head = handle.read(1 << 16)
    assert 0 <= head.find(b"moov") < head.find(b"mdat") or (head.find(b"moov") >= 0 and head.find(b"mdat") < 0)
    leftovers = [n for n in os.listdir(os.path.join(out, "clips")) if "partial" in n]
    assert leftovers == []
    assert not [n for n in os.listdir(out) if "partial" in n]


def test_profiles_pools_renders_each_clip_at_its_start_pools_profile(sample, fast_config, tmp_path):
    """--profiles pools: the queue's and live mode's way, here asked for. The clips, their tiers
    and pools are the default run's; only the encode differs."""
    from peakclip.pipeline.ranking.rules import load_rules

    rules, out = load_rules(), str(tmp_path / "pools")
    result = run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", out, "--clips", "2",
                     "--profiles", "pools", "--config", fast_config, "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = load_manifest(out)
    assert manifest["render"]["settings"]["profiles"] == "pools"
    for clip in manifest["clips"]:
        assert clip["profile"] == rules.profile_of(clip["pool"]).name == "preview"   # test and small: preview
        assert clip["file"].endswith(".preview.mp4")
        video = [s for s in ffprobe(os.path.join(out, clip["file"]))["streams"] if s["codec_type"] == "video"][0]
        assert (video["width"], video["height"]) == VERTICAL["preview"] == (720, 1280)
    plain = str(tmp_path / "plain")
    assert run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", plain, "--clips", "2",
                   "--no-render", "--quiet").returncode == 0
    tags = ("id", "start", "end", "stage", "tier", "pool")
    assert [{k: c[k] for k in tags} for c in manifest["clips"]] == \
        [{k: c[k] for k in tags} for c in load_manifest(plain)["clips"]]


def test_a_bad_profiles_value_is_one_line(sample, tmp_path, monkeypatch):
    result = run_cli("clip", sample["video"], "--out", str(tmp_path / "out"), "--profiles", "preview")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "--profiles" in lines[0]
    monkeypatch.setenv("PEAKCLIP_RENDER_PROFILES", "preview")
    environ = run_cli("clip", sample["video"], "--out", str(tmp_path / "out"), "--no-render")
    lines = environ.stderr.strip().splitlines()
    assert environ.returncode == 2 and len(lines) == 1 and "render.profiles" in lines[0]


def strip_stream(src, dst, flag):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", src, flag, "-c", "copy", dst], check=True)


def test_recording_without_audio_runs_on_the_other_signals(sample, tmp_path):
    silent = str(tmp_path / "silent.mp4")
    strip_stream(sample["video"], silent, "-an")
    out = str(tmp_path / "out")
    result = run_cli("clip", silent, "--chat", sample["chat"], "--out", out, "--no-render", "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = load_manifest(out)
    assert manifest["source"]["has_audio"] is False
    assert manifest["signals"] == ["chat", "visual"]
    assert any("no audio" in w for w in manifest["warnings"])
    assert manifest["clips"]


def test_audio_only_recording_lists_clips_without_rendering(sample, tmp_path):
    sound = str(tmp_path / "sound.m4a")
    strip_stream(sample["video"], sound, "-vn")
    out = str(tmp_path / "out")
    result = run_cli("clip", sound, "--out", out, "--clips", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = load_manifest(out)
    assert manifest["source"]["has_video"] is False and manifest["signals"] == ["audio"]
    assert manifest["clips"] and all(c["file"] is None for c in manifest["clips"])
    assert any("not rendered" in w for w in manifest["warnings"])


@pytest.mark.parametrize("args, message", [
    (["clip", "/no/such/file.mp4"], "input not found"),
    (["clip", "{junk}"], "not a media file"),
    (["clip", "{dir}"], "directory"),
    (["clip", "{video}", "--clips", "0"], "--clips"),
    (["clip", "{video}", "--clips", "three"], "--clips"),
    (["clip", "{video}", "--min-len", "40", "--max-len", "20"], "--min-len"),
    (["clip", "{video}", "--min-len", "-3"], "--min-len"),
    (["clip", "{video}", "--format", "round"], "--format"),
    (["clip", "{video}", "--signals", "chat,smell"], "--signals"),
    (["clip", "{video}", "--stages", "0"], "--stages"),
    (["clip", "{video}", "--config", "/no/such.toml"], "config file not found"),
    (["clip", "{video}", "--chat", "{junk}"], "not a chat log"),
    (["clip", "{video}", "--chat", "/no/such/chat.json"], "chat log not found"),
    (["clip", "{video}", "--signals", "chat"], "no --chat"),
    (["clip", "{video}", "--chat", "{irc}"], "--stream-start"),
    (["clip", "{video}", "--chat", "{irc}", "--stream-start", "yesterday"], "--stream-start"),
    (["clip", "{video}", "--chat", "{junk}", "--chat-format", "morse"], "unknown chat format"),
    (["clip", "{video}", "--out", "{junk}/sub"], "output folder"),
    (["frobnicate"], "invalid choice"),
])
def test_user_errors_are_one_line_and_exit_2(sample, tmp_path, args, message):
    junk = tmp_path / "junk.txt"
    junk.write_text("not media, not chat\n")
    irc = tmp_path / "irc.log"
    irc.write_text("@tmi-sent-ts=1763900005000;user-id=1 :ann!ann@ann.tmi.twitch.tv PRIVMSG #shop :hi\n")
    values = {"junk": str(junk), "dir": str(tmp_path), "video": sample["video"], "irc": str(irc)}
    args = [a.format(**values) for a in args]
    if "--out" not in args and args[0] == "clip":
        args += ["--out", str(tmp_path / "out")]
    result = run_cli(*args, "--no-render") if args[0] == "clip" else run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and "Traceback" not in result.stderr


def test_commerce_events_log_drives_clips_and_shows_orders(sample, tmp_path):
    """The same stream with its chat exported as a generic CSV event log, orders included."""
    with open(sample["chat"], encoding="utf-8") as handle:
        comments = json.load(handle)["comments"]
    target = sample["truth"]["highlights"][1]
    rows = ["t,user,text,type,amount"]
    rows += [f"{c['content_offset_seconds']},{c['commenter']['name']},{c['message']['body'].replace(',', ' ')},message,"
             for c in comments]
    rows += [f"{target['start'] + 6 + i * 0.5},buyer{i},,order,19.90" for i in range(7)]
    log = tmp_path / "events.csv"
    log.write_text("\n".join(rows) + "\n")
    out = str(tmp_path / "out")
    result = run_cli("clip", sample["video"], "--chat", str(log), "--out", out, "--no-render", "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = load_manifest(out)
    assert manifest["chat"]["format"] == "csv" and manifest["chat"]["kinds"]["order"] == 7
    clip = next(c for c in manifest["clips"] if overlaps(c["start"], c["end"], target["start"], target["end"]))
    assert clip["signals"]["orders"] == 7 and clip["signals"]["paid"] == pytest.approx(7 * 19.9)
    others = [c for c in manifest["clips"] if c is not clip]
    assert all(c["signals"]["orders"] == 0 for c in others)
