"""The ffmpeg-python graph of one clip: the span decoded once, composed for each format
(``compose``: framed on the people, fitted over a blurred fill, or a crop window following the
motion), titled, watermarked, faded, loudness-normalised and encoded, with the thumbnail and the
preview cut from the same picture."""
from __future__ import annotations

import os

import ffmpeg

from peakclip.detectors.objects import readable
from peakclip.detectors.probe import Probe
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.captions import caption_layout
from peakclip.pipeline.output.framing import Framing
from peakclip.pipeline.output.render.compose import compose, output_size
from peakclip.pipeline.output.render.running import QUIET
from peakclip.pipeline.ranking.clip import Clip


def decorate(video, fmt_size: tuple[int, int], title_file: str | None, font: str | None, mark=None):
    """Title near the top and the watermark picture ``mark`` (a stream) in the top-right corner,
    sized to the output."""
    width, height = fmt_size
    if title_file and font:
        video = video.filter("drawtext", textfile=title_file, fontfile=font, fontsize=max(16, width // 18),
                             fontcolor="white", box=1, boxcolor="black@0.45", boxborderw=max(8, width // 60),
                             x="(w-text_w)/2", y=f"{int(height * 0.07)}")
    if mark is not None:
        margin = max(8, width // 40)
        mark = mark.filter("scale", max(16, int(width * 0.15) // 2 * 2), -1)
        video = ffmpeg.overlay(video, mark, x=f"W-w-{margin}", y=f"{margin}")
    return video


def still_and_preview(video, peak: float, length: float, thumb_path: str, preview_path: str, config: RenderConfig,
                      fps: float) -> list:
    """Outputs for a JPEG of the frame at ``peak`` and an animated WebP around it (seconds into the
    clip), cut from a stream of the clip's finished picture: no second decode of the clip."""
    split = video.split()
    at = min(max(0.0, peak), max(0.0, length - 2.0 / fps))
    still = (split[0].trim(start=at, duration=1.5 / fps).setpts("PTS-STARTPTS")
             .filter("scale", config.thumbnail_width, -2)
             .output(thumb_path, format="image2", vcodec="mjpeg", vframes=1, q=3))
    begin = max(0.0, min(peak - config.preview_seconds / 2, length - config.preview_seconds))
    moving = (split[1].trim(start=begin, duration=config.preview_seconds).setpts("PTS-STARTPTS")
              .filter("fps", fps=config.preview_fps).filter("scale", config.preview_width, -2)
              .output(preview_path, format="webp", vcodec="libwebp_anim", loop=0, quality=60))
    return [still, moving]


def rows_outside(region: tuple[int, int, int, int], top: int, bottom: int) -> list[tuple[int, int, int, int]]:
    """The parts of ``region`` (x, y, w, h) above row ``top`` and from row ``bottom`` down."""
    x, y, w, h = region
    above = [(x, y, w, min(h, top - y))] if top > y else []
    start = max(y, bottom)
    return above + ([(x, start, w, y + h - start)] if y + h > start else [])


def clip_graph(source: Probe, clip: Clip, outputs: dict[str, str], config: RenderConfig, threads: int,
               loudness: dict | None, sendcmd_file: str | None, title_file: str | None, font: str | None,
               extras: tuple[str, str] | None = None, captions: dict[str, str] | None = None,
               short_side: int | None = None, framings: dict[str, tuple[Framing, str]] | None = None):
    """One ffmpeg run: decode the span once, encode every format in ``outputs`` (format -> path),
    and cut the thumbnail and preview (``extras``: their paths) from the first format.
    ``captions``: an ASS script per format (format -> path) burned into its picture.
    ``framings``: per format framed on its people (``--fill auto``), the framing and the path of
    the ``sendcmd`` script that moves its windows.
    ``short_side``: the profile's (``output_size``); title, watermark and captions scale with it."""
    length = clip.end - clip.start
    fade = min(config.fade, length / 4)
    fps = round(source.fps, 3) or 30
    # Decoder and filter threads follow the encoder's share of the cores (0: ffmpeg decides).
    source_input = ffmpeg.input(readable(source.path), ss=clip.start, t=length, **({"threads": threads} if threads else {}))
    picture = source_input["V:0"]
    pictures = picture.split() if len(outputs) > 1 else None
    # One watermark input, split like the picture: ffmpeg-python would make two formats of the
    # same width (vertical and square) share one scaled mark, one output pad feeding two overlays.
    mark = ffmpeg.input(config.watermark) if config.watermark else None
    marks = mark.split() if mark is not None and len(outputs) > 1 else None
    sound = None
    if source.has_audio:
        sound = source_input[f"a:{source.audio_track}"]
        if loudness:
            # Second pass: one gain that puts the measured integrated loudness on target (what
            # loudnorm's linear mode does, but also for the wide loudness range of a live room,
            # where loudnorm would fall back to dynamic compression and miss the target), then a
            # limiter holding the peaks under the ceiling (sample peaks 0.5 dB lower, for true peak).
            gain = config.loudness - float(loudness["input_i"])
            sound = (sound.filter("volume", f"{gain:.2f}dB")
                     .filter("alimiter", limit=10 ** ((config.true_peak - 0.5) / 20), level="disabled",
                             attack=5, release=50))
        sound = (sound.filter("aresample", 48000)
                 .filter("afade", type="in", start_time=0, duration=fade)
                 .filter("afade", type="out", start_time=length - fade, duration=fade))
        sounds = sound.asplit() if len(outputs) > 1 else None
    comment = f"peakclip rank={clip.rank} stage={clip.stage} tier={clip.tier} score={clip.score}"
    nodes = []
    for index, (fmt, path) in enumerate(outputs.items()):
        video = pictures[index] if pictures is not None else picture
        size = output_size(source, fmt, short_side)
        framing, commands = (framings or {}).get(fmt, (None, sendcmd_file))
        video, fill_regions = compose(video, source, fmt, config, size, commands, framing)
        if captions:
            # At output size (the script's pixels are the picture's), under title and watermark;
            # the font's folder first, so Chinese is drawn with the titles' font.
            video = video.filter("subtitles", captions[fmt], fontsdir=os.path.dirname(os.path.abspath(font)))
        video = (decorate(video, size, title_file, font, marks[index] if marks is not None else mark)
                 .filter("fps", fps=fps)
                 .filter("format", "yuv420p")
                 .filter("fade", type="in", start_time=0, duration=fade)
                 .filter("fade", type="out", start_time=length - fade, duration=fade))
        if index == 0 and extras:
            split = video.split()
            video = split[0]
            nodes += still_and_preview(split[1], clip.peak - clip.start, length, *extras, config, fps)
        if config.fill_qoffset:
            # The blurred fill is decoration: let the encoder spend its bits on the picture.
            # Not under a title or watermark, which sit in the top band and must stay sharp.
            decorated = bool(clip.title or config.title or config.watermark)
            # Nor in the rows the captions cover (the rest of a band still saves its bits).
            top, bottom = caption_layout(*size, config).rows() if captions else (0, 0)
            for region in fill_regions[1 if decorated else 0:]:
                for x, y, w, h in rows_outside(region, top, bottom):
                    video = video.filter("addroi", x=x, y=y, w=w, h=h, qoffset=config.fill_qoffset)
        streams = [video]
        if sound is not None:
            streams.append(sounds[index] if sounds is not None else sound)
        nodes.append(ffmpeg.output(
            *streams, path, format="mp4", t=length,
            vcodec="libx264", preset=config.preset, crf=config.crf, pix_fmt="yuv420p",
            **{"profile:v": "high", "metadata:g:0": f"title={clip.title or config.title or 'peakclip ' + clip.id}",
               "metadata:g:1": f"comment={comment}", "threads": threads},
            acodec="aac", audio_bitrate=config.audio_bitrate, movflags="+faststart"))
    graph = ffmpeg.merge_outputs(*nodes).global_args(*QUIET)
    if threads:
        graph = graph.global_args("-filter_complex_threads", str(threads))
    return graph.overwrite_output()


def copy_graph(source: Probe, start: float, end: float, path: str, peak: float,
               extras: tuple[str, str], config: RenderConfig):
    """Cut ``[start, end)`` (key frames) without re-encoding; thumbnail and preview from the source."""
    source_input = ffmpeg.input(readable(source.path), ss=start, t=end - start)
    streams = [source_input["V:0"]] + ([source_input[f"a:{source.audio_track}"]] if source.has_audio else [])
    cut = ffmpeg.output(*streams, path, format="mp4", c="copy", movflags="+faststart", avoid_negative_ts="make_zero")
    picture, _ = compose(ffmpeg.input(readable(source.path), ss=start, t=end - start)["V:0"], source, "source", config)
    extra = still_and_preview(picture, peak - start, end - start, *extras, config, round(source.fps, 3) or 30)
    return ffmpeg.merge_outputs(cut, *extra).global_args(*QUIET).overwrite_output()


def write_sendcmd(track: list[tuple[float, float]], path: str) -> None:
    """ffmpeg sendcmd script moving the crop window's x along the motion track."""
    with open(path, "w", encoding="utf-8") as out:
        for t, x in track:
            out.write(f"{t:.3f} crop@follow x 'max(0,min(iw-ow,{x:.4f}*iw-ow/2))';\n")
