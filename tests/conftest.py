"""Shared fixtures: generated sample streams (real H.264/AAC files made by samples.generate), the
real recordings in ``tests/media`` and unusual files ffmpeg makes at test time."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from peakclip.samples.generate import generate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEDIA = os.path.join(REPO, "tests", "media")     # real files, each with its licence note (README there)


def real_media(name: str) -> str:
    path = os.path.join(MEDIA, name)
    assert os.path.isfile(path), f"{path} is part of the repository"
    return path


# Files with the quirks real recordings have, made by ffmpeg: each a 2 s 640x360 30 fps test
# picture (a cut to colour bars at 1 s) with a tone, then encoded as its name says.
_PICTURE = ["-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=1", "-f", "lavfi", "-i", "smptebars=s=640x360:r=30:d=1",
            "-f", "lavfi", "-i", "sine=f=440:d=2:sample_rate=48000"]
_JOINED = ["-filter_complex", "[0][1]concat=n=2:v=1:a=0[v]", "-map", "[v]", "-map", "2"]
MADE_MEDIA = {
    # players need yuv420p: the render must convert
    "yuv422p.mp4": [*_PICTURE, *_JOINED, "-c:v", "libx264", "-pix_fmt", "yuv422p", "-c:a", "aac", "-ac", "2"],
    "hevc.mp4": [*_PICTURE, *_JOINED, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                 "-tag:v", "hvc1", "-c:a", "aac"],
    # a cover picture ({cover}: a JPEG made beside it) stored as a "video" stream in front of the real one
    "cover.mp4": [*_PICTURE, "-i", "{cover}", "-filter_complex",
                  "[0][1]concat=n=2:v=1:a=0[v]", "-map", "3", "-map", "[v]", "-map", "2", "-c:v:0", "mjpeg",
                  "-disposition:v:0", "attached_pic", "-c:v:1", "libx264", "-c:a", "aac"],
    # a WebVTT subtitle stream beside the picture and sound ({vtt}: a two-cue file made beside it)
    "subtitles.mkv": [*_PICTURE, "-i", "{vtt}", *_JOINED, "-map", "3", "-c:v", "libx264", "-c:a", "aac",
                      "-c:s", "webvtt"],
    "sar-2by3.mp4": [*_PICTURE, "-filter_complex", "[0][1]concat=n=2:v=1:a=0,setsar=2/3[v]", "-map", "[v]",
                     "-map", "2", "-c:v", "libx264", "-c:a", "aac"],
    "mono.mp3": ["-f", "lavfi", "-i", "sine=f=330:d=7:sample_rate=44100", "-ac", "1", "-c:a", "libmp3lame"],
}


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """A 2.5-minute stream with one highlight of each kind and three distractors."""
    folder = tmp_path_factory.mktemp("sample")
    truth = generate(str(folder), seed=11, duration=150.0, highlights=["crowd", "chat", "action"],
                     distractors=["spam", "camera", "cuts"], size=(320, 180))
    return {"dir": str(folder), "video": str(folder / "stream.mp4"), "chat": str(folder / "chat.json"),
            "truth": truth}


@pytest.fixture(scope="session")
def cbr_sample(tmp_path_factory):
    """``sample``'s stream (same seed and plan) encoded at a constant bit rate, as a live encoder
    sends it: packet sizes stay flat and the quantiser moves instead."""
    from peakclip.samples.generate.suite import CBR

    folder = tmp_path_factory.mktemp("cbr-sample")
    truth = generate(str(folder), seed=11, duration=150.0, highlights=["crowd", "chat", "action"],
                     distractors=["spam", "camera", "cuts"], size=(320, 180), bitrate=CBR)
    return {"dir": str(folder), "video": str(folder / "stream.mp4"), "chat": str(folder / "chat.json"),
            "truth": truth}


@pytest.fixture(scope="session")
def channel_streams(tmp_path_factory):
    """Three 2.5-minute streams of one channel, each with a crowd, a chat and an action moment:
    [(recording, chat log)]."""
    folder = tmp_path_factory.mktemp("channel-streams")
    found = []
    for seed in (11, 12, 13):
        generate(str(folder / str(seed)), seed=seed, duration=150.0, highlights=["crowd", "chat", "action"],
                 distractors=["spam"], size=(320, 180))
        found.append((str(folder / str(seed) / "stream.mp4"), str(folder / str(seed) / "chat.json")))
    return found


@pytest.fixture(scope="session")
def made_media(tmp_path_factory):
    """``made_media(name)``: the path of one of ``MADE_MEDIA``, made once per test session."""
    folder = tmp_path_factory.mktemp("made-media")

    def make(name: str) -> str:
        path = str(folder / name)
        if not os.path.exists(path):
            vtt, cover = folder / "captions.vtt", folder / "cover.jpg"
            vtt.write_text("WEBVTT\n\n00:00.000 --> 00:00.900\nhello there\n\n00:01.000 --> 00:01.900\nand bars\n")
            if not cover.exists():
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=240x170",
                                "-frames:v", "1", str(cover)], check=True)
            args = [{"{vtt}": str(vtt), "{cover}": str(cover)}.get(a, a) for a in MADE_MEDIA[name]]
            subprocess.run(["ffmpeg", "-v", "error", "-y", *args, path], check=True)
        return path

    return make


@pytest.fixture(scope="session")
def fast_config(tmp_path_factory):
    """Render settings that keep tests quick; everything else stays at its default."""
    path = tmp_path_factory.mktemp("config") / "fast.toml"
    path.write_text('[render]\npreset = "superfast"\ncrf = 30\n')
    return str(path)


# A vertical clip's picture at each render profile of the bundled rules (pipeline/ranking/rules.toml): a
# clip starting in the test pool is rendered at preview, one starting higher at full.
VERTICAL = {"full": (1080, 1920), "preview": (720, 1280)}


def run_cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a child process, as a user would."""
    return subprocess.run([sys.executable, "-m", "peakclip", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=600)


def ffprobe(path: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def overlaps(a_start: float, a_end: float, b_start: float, b_end: float) -> bool:
    return a_start < b_end and b_start < a_end


def srt_clock(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_srt(path, duration: float, seed: int = 0) -> list[tuple[float, float, str]]:
    """An SRT whose cues tile ``duration``: 3-7 s of speech each, 0.3 s apart; about one in four
    runs on into the next (no full stop), so some sentences span two cues. Returns the cues as
    (start, end, text), times in whole milliseconds as written."""
    import random

    rng, cues, t = random.Random(seed), [], 0.2
    while t < duration:
        end = round(t + rng.uniform(3, 7), 3)
        cues.append((t, end, f"words of cue {len(cues) + 1}" + ("" if rng.random() < 0.25 else ".")))
        t = round(end + 0.3, 3)
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(f"{i}\n{srt_clock(a)} --> {srt_clock(b)}\n{text}\n" for i, (a, b, text) in enumerate(cues, 1)))
    return cues
