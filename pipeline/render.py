"""Render: cut each clip's span out of the recording and compose it for a short-video feed.

One ffmpeg-python graph per clip: seek, make the picture square-pixelled, compose it for the
target format, fade picture and sound in and out, encode H.264 High + AAC-LC in an MP4 with the
index at the front (``+faststart``). Vertical and square outputs fit the source over a blurred
copy of itself; the blur is made at 1/``blur_scale`` size and scaled up, which costs almost
nothing next to the encode. Files appear only when complete (temporary name, then rename).
"""
from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import ffmpeg

from detectors.probe import Probe
from pipeline.config import RenderConfig
from pipeline.tag import Clip

SIZES = {"vertical": (1080, 1920), "horizontal": (1920, 1080), "square": (1080, 1080)}


class RenderError(Exception):
    """ffmpeg failed on one clip; the message names the clip and carries ffmpeg's last words."""


@dataclass
class Rendered:
    clip_id: str
    file: str | None
    thumbnail: str | None
    error: str | None = None


def output_size(source: Probe, fmt: str) -> tuple[int, int]:
    if fmt == "source":
        return source.display_width, source.display_height
    return SIZES[fmt]


def compose(source_video, source: Probe, fmt: str, config: RenderConfig):
    """The picture of one clip, composed for ``fmt`` (a stream of the ffmpeg-python graph)."""
    width, height = output_size(source, fmt)
    # Non-square pixels: stretch to the display shape first, so every later size is in display pixels.
    video = source_video.filter("scale", "trunc(iw*sar/2)*2", "ih").filter("setsar", 1)
    if fmt == "source":
        return video.filter("scale", width, height)
    split = video.split()
    fill, fit = split[0], split[1]
    small_w, small_h = width // config.blur_scale // 2 * 2, height // config.blur_scale // 2 * 2
    background = (fill.filter("scale", small_w, small_h, force_original_aspect_ratio="increase")
                  .filter("crop", small_w, small_h)
                  .filter("boxblur", luma_radius=min(10, small_w // 4), luma_power=2)
                  .filter("scale", width, height))
    foreground = (fit.filter("scale", width, height, force_original_aspect_ratio="decrease")
                  .filter("scale", "trunc(iw/2)*2", "trunc(ih/2)*2"))
    return ffmpeg.overlay(background, foreground, x="(W-w)/2", y="(H-h)/2")


def clip_graph(source: Probe, clip: Clip, fmt: str, path: str, config: RenderConfig, threads: int):
    length = clip.end - clip.start
    fade = min(config.fade, length / 4)
    source_input = ffmpeg.input(source.path, ss=clip.start, t=length)
    video = (compose(source_input["v:0"], source, fmt, config)
             .filter("fps", fps=round(source.fps, 3) or 30)
             .filter("format", "yuv420p")
             .filter("fade", type="in", start_time=0, duration=fade)
             .filter("fade", type="out", start_time=length - fade, duration=fade))
    streams = [video]
    if source.has_audio:
        streams.append(source_input["a:0"]
                       .filter("afade", type="in", start_time=0, duration=fade)
                       .filter("afade", type="out", start_time=length - fade, duration=fade))
    comment = f"peakclip rank={clip.rank} stage={clip.stage} tier={clip.tier} score={clip.score}"
    return ffmpeg.output(
        *streams, path, format="mp4", t=length,
        vcodec="libx264", preset=config.preset, crf=config.crf, pix_fmt="yuv420p",
        **{"profile:v": "high", "metadata:g:0": f"title=peakclip {clip.id}",
           "metadata:g:1": f"comment={comment}", "threads": threads},
        acodec="aac", audio_bitrate=config.audio_bitrate, movflags="+faststart",
    ).global_args("-nostdin", "-hide_banner", "-loglevel", "error").overwrite_output()


def _run(graph, label: str) -> None:
    proc = subprocess.run(graph.compile(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise RenderError(f"{label}: ffmpeg failed ({tail or 'exit ' + str(proc.returncode)})")


def _temporary(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.partial")


def render_clip(source: Probe, clip: Clip, out_dir: str, config: RenderConfig, threads: int) -> Rendered:
    """Render one clip and its thumbnail into ``out_dir/clips``; paths returned relative to out_dir."""
    clips_dir = os.path.join(out_dir, "clips")
    os.makedirs(clips_dir, exist_ok=True)
    name = f"{clip.rank:02d}-{clip.id}"
    video_rel, thumb_rel = f"clips/{name}.mp4", f"clips/{name}.jpg"
    video_path, thumb_path = os.path.join(out_dir, video_rel), os.path.join(out_dir, thumb_rel)
    partial = _temporary(video_path)
    try:
        _run(clip_graph(source, clip, config.format, partial, config, threads), f"clip {clip.rank} ({clip.id})")
        # The thumbnail is the composed frame at the peak, read back from the finished clip.
        thumb_partial = _temporary(thumb_path)
        offset = min(max(0.0, clip.peak - clip.start), clip.end - clip.start - 0.1)
        _run(ffmpeg.input(partial, ss=offset, format="mp4")
             .output(thumb_partial, format="image2", vcodec="mjpeg", vframes=1, q=3,
                     vf=f"scale={config.thumbnail_width}:-2")
             .global_args("-nostdin", "-hide_banner", "-loglevel", "error").overwrite_output(),
             f"thumbnail of clip {clip.rank}")
        os.replace(partial, video_path)
        os.replace(thumb_partial, thumb_path)
    except RenderError as err:
        for leftover in (partial, _temporary(thumb_path)):
            if os.path.exists(leftover):
                os.remove(leftover)
        return Rendered(clip.id, None, None, str(err))
    return Rendered(clip.id, video_rel, thumb_rel)


def render_clips(source: Probe, clips: list[Clip], out_dir: str, config: RenderConfig,
                 progress: Callable[[Rendered], None] | None = None) -> list[Rendered]:
    """Render clips in parallel; x264 threads are split so the cores are used, not oversubscribed."""
    cores = os.cpu_count() or 1
    jobs = config.jobs or max(1, cores // 2)
    jobs = max(1, min(jobs, len(clips)))
    threads = max(1, cores // jobs)
    results: list[Rendered] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for rendered in pool.map(lambda c: render_clip(source, c, out_dir, config, threads), clips):
            results.append(rendered)
            if progress:
                progress(rendered)
    return results
