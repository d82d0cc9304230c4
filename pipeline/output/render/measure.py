"""Measurements taken before a clip is encoded: its loudness, its people and scene cuts (for the
framing), where the motion is (for the crop window), the key frames a cut without re-encoding
lands on, and the font for titles and captions. Each reads only the clip's span, but the webcam
box of a streamer's layout, read once a stream and process."""
from __future__ import annotations

import functools
import json
import re
import subprocess

import ffmpeg
import numpy as np

from peakclip.detectors.decode import PipeDecoder
from peakclip.detectors.faces import SpanFaces, find_facecam, motion_columns, span_faces
from peakclip.detectors.objects import readable
from peakclip.detectors.probe import Probe
from peakclip.detectors.rolling import rolling_mean, rolling_median
from peakclip.detectors.visual import packet_scan
from peakclip.pipeline.config import RenderConfig, facecam_box
from peakclip.pipeline.output.render.running import RenderError, run_ffmpeg

CROP_TRACK_FPS = 4.0


CROP_TRACK_WIDTH = 160


def measure_loudness(source: Probe, start: float, length: float, config: RenderConfig, label: str) -> dict:
    """First pass over the span's audio (ffmpeg's loudnorm measurement, EBU R128): integrated
    loudness, true peak and range, for the second pass to apply."""
    args = (ffmpeg.input(readable(source.path), ss=start, t=length)[f"a:{source.audio_track}"]
            .filter("loudnorm", I=config.loudness, TP=config.true_peak, LRA=config.loudness_range, print_format="json")
            .output("-", format="null").global_args("-nostdin", "-hide_banner").compile())
    stderr = run_ffmpeg(args, f"{label} loudness")
    found = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)
    if not found:
        raise RenderError(f"{label}: loudnorm printed no measurement")
    return json.loads(found[-1])


def crop_track(source: Probe, start: float, length: float, smooth: float) -> list[tuple[float, float]]:
    """Where the motion is across the span: (time in the clip, centre x as a share of the width),
    smoothed so the crop window glides instead of jittering."""
    height = max(2, round(CROP_TRACK_WIDTH * source.display_height / max(1, source.display_width) / 2) * 2)
    node = (ffmpeg.input(readable(source.path), ss=start, t=length)["V:0"]
            .filter("fps", fps=CROP_TRACK_FPS).filter("scale", CROP_TRACK_WIDTH, height)
            .output("pipe:", format="rawvideo", pix_fmt="gray"))
    frames = [np.frombuffer(b, np.uint8).reshape(-1, height, CROP_TRACK_WIDTH).astype(np.float32)
              for b in PipeDecoder(node, f"video of {source.path}").blocks(CROP_TRACK_WIDTH * height * 64)]
    if not frames:
        return [(0.0, 0.5)]
    centres = []
    last = 0.5
    for x in motion_columns(list(np.concatenate(frames))):
        if not np.isnan(x):      # enough change to tell where the action is; else hold still
            last = float(x)
        centres.append(last)
    path = rolling_median(np.asarray(centres), 5, "nearest")
    path = rolling_mean(path, max(1, int(smooth * CROP_TRACK_FPS)), "nearest")
    return [(round(i / CROP_TRACK_FPS, 3), float(x)) for i, x in enumerate(path)]


def faces_in_span(source: Probe, start: float, length: float) -> SpanFaces:
    """What ``span_faces`` sees in ``[start, start + length)`` seconds of the recording."""
    return span_faces(source.path, start, length, source.display_width, source.display_height, source.fps)


def facecam_of(source: Probe, config: RenderConfig) -> tuple[float, float, float, float] | None:
    """The webcam box (shares of the picture) ``render.facecam`` names, or the one found in the
    recording (``auto``), or None (``off``, or none found)."""
    if config.facecam == "off":
        return None
    box = facecam_box(config.facecam)
    if box is not None:
        x, y, w, h = box
        width, height = source.display_width, source.display_height
        return (x / width, y / height, min(w, width - x) / width, min(h, height - y) / height)
    return stream_facecam(source.path, source.duration, source.display_width, source.display_height)


@functools.lru_cache(maxsize=16)
def stream_facecam(path: str, duration: float, width: int, height: int) -> tuple[float, float, float, float] | None:
    """``find_facecam``, once a recording (and length: a growing one is looked at again) a process."""
    return find_facecam(path, duration, width, height)


@functools.lru_cache(maxsize=1)
def find_font() -> str | None:
    """A system font that covers Chinese as well as Latin text (fontconfig); asked once."""
    try:
        out = subprocess.run(["fc-match", "--format=%{file}", "sans-serif:lang=zh-cn"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


@functools.lru_cache(maxsize=8)
def font_family(path: str) -> str | None:
    """The family name ``path`` declares (what an ASS style names its font by), from fontconfig."""
    try:
        out = subprocess.run(["fc-query", "--format=%{family[0]}\n", path], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    # A collection (.ttc) prints a line per face; a comma would end the name in an ASS style line.
    return out.stdout.partition("\n")[0].replace(",", " ").strip() or None


def key_frames(path: str, start: float, end: float) -> list[float]:
    """Times of the video key frames around ``[start, end]`` (packet flags; nothing decoded)."""
    times, _, keys = packet_scan(path, max(0.0, start - 30), end + 30)
    return sorted(times[keys].tolist())
