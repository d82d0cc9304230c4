"""Streams the benchmarks share: real camera footage as OBS sends it, clean or with heavy sensor noise.

``footage_stream(folder, minutes, noise)``: the real recording in tests/media looped to
``minutes``, 1080p30, H.264 at a constant 6 Mbit/s (x264's CBR with filler, as OBS streams it)
with a 2 s GOP, AAC sound, and a generated chat log beside it with up to three planted moments.
``noise`` (0-100) adds temporal sensor noise of that strength (ffmpeg's ``noise`` filter): a dark
room on a cheap camera, where every frame costs the encoder its whole budget and key frames are
expensive to decode.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402

from peakclip.samples.generate import SampleError, real_footage  # noqa: E402
from peakclip.samples.generate.moments import plan  # noqa: E402
from peakclip.samples.generate.room import chat, twitchdownloader_json  # noqa: E402


def footage_stream(folder: str, minutes: float, noise: int = 0) -> tuple[str, str]:
    """The stream and its chat log (paths)."""
    os.makedirs(folder, exist_ok=True)
    video = os.path.join(folder, "stream.mp4")
    seconds = minutes * 60
    rng = np.random.default_rng(5)
    moments = max(1, min(3, int(seconds // 90)))   # as many as fit, margins included
    truth = plan(rng, seconds, ["crowd", "chat", "action"][:moments], ["spam", "bots"][:moments - 1])
    log = os.path.join(folder, "chat.json")
    with open(log, "w", encoding="utf-8") as out:
        json.dump(twitchdownloader_json(chat(rng, truth), seconds), out)
    picture = "scale=1920:1080,fps=30" + (f",noise=alls={noise}:allf=t+u" if noise else "")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", real_footage()[0],
                    "-t", str(seconds), "-vf", picture, "-c:v", "libx264", "-preset", "veryfast",
                    "-b:v", "6M", "-minrate", "6M", "-maxrate", "6M", "-bufsize", "6M", "-x264-params", "nal-hrd=cbr",
                    "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", "-c:a", "aac", "-b:a", "128k",
                    "-movflags", "+faststart", video], check=True)
    return video, log


def exit_refusing_short(main, script: str) -> None:
    """``sys.exit(main())`` for a bench that makes its stream: one too short for what it plants is
    the user's numbers, refused in one line naming ``script``."""
    try:
        sys.exit(main())
    except SampleError as err:
        sys.exit(f"bench/{script}: error: the stream cannot be that short; give more --minutes ({err})")
