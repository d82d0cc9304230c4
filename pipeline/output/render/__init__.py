"""Render: cut each clip's span out of the recording and compose it for a short-video feed.

One ffmpeg-python graph per clip decodes the span once and encodes every requested format from
it: seek, make the picture square-pixelled, compose it for each format, draw the title and
watermark, fade picture and sound in and out, normalise loudness, encode H.264 High + AAC-LC
in an MP4 with the index at the front (``+faststart``) and the clip's tags in its metadata.

Cost matters more here than anywhere (every clip is a full encode), so the composition must add
almost nothing to it: the blurred fill is made at 1/``blur_scale`` size and scaled up; the crop
window is cut at source size before scaling; the loudness measurement decodes only the span's
audio; the thumbnail and preview are cut from the finished picture in the same run; the encoder
is told to spend fewer bits on the blurred fill than on the picture (regions of interest).

Files appear only when complete (temporary name, then rename); a failed render leaves nothing.

Each clip is rendered at a profile (``pipeline/rules.toml``: the one of the pool it is in): a
smaller picture and a faster preset for a clip still being tried on a small audience, the full
render once it has earned a bigger one.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping

import ffmpeg
import numpy as np

from peakclip.detectors.decode import PipeDecoder
from peakclip.detectors.probe import Probe
from peakclip.detectors.rolling import rolling_mean, rolling_median
from peakclip.detectors.storage import partial_name, write_atomic
from peakclip.detectors.visual import packet_scan
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.captions import ClipCaptions, Cue, ass_text, caption_layout, srt_text
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.rules import FULL, Profile

SIZES = {"vertical": (1080, 1920), "portrait": (1080, 1350), "square": (1080, 1080), "horizontal": (1920, 1080)}
QUIET = ("-nostdin", "-hide_banner", "-loglevel", "error")
CROP_TRACK_FPS = 4.0
CROP_TRACK_WIDTH = 160


class RenderError(Exception):
    """ffmpeg failed on one clip; the message names the clip and carries ffmpeg's last words."""


@dataclass
class Rendered:
    clip_id: str
    files: dict[str, str] = field(default_factory=dict)   # format -> path relative to the output folder
    thumbnail: str | None = None
    preview: str | None = None
    cut: tuple[float, float] | None = None                # what --copy actually cut, on key frames
    error: str | None = None
    resumed: bool = False                                 # taken as an earlier run into the folder left it
    profile: str | None = None                            # the render profile (rules.toml) it was encoded at
    srt: str | None = None                                # the captions beside the clip, on its clock
    heard: str | None = None                              # what the recogniser heard in it (ClipCaptions.heard)


def output_size(source: Probe, fmt: str, short_side: int | None = None) -> tuple[int, int]:
    """The picture size of ``fmt``; with ``short_side`` (a profile's), scaled so its shorter side
    is that long: the feed formats up or down, the source's own size only down."""
    width, height = (source.display_width, source.display_height) if fmt == "source" else SIZES[fmt]
    if short_side is None or (fmt == "source" and min(width, height) <= short_side):
        return width, height
    scale = short_side / min(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def with_profile(config: RenderConfig, profile: Profile) -> RenderConfig:
    """The render settings of ``profile``: its preset and quality where it sets them."""
    return dataclasses.replace(config, preset=profile.preset or config.preset,
                               crf=config.crf if profile.crf is None else profile.crf)


class _Running:
    """The ffmpeg processes rendering now, so an interrupted run can stop them (their threads
    then remove the partial files) instead of waiting for every clip to finish."""

    def __init__(self):
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()
        self.stopped = False

    def run(self, args: list[str]) -> tuple[int, str]:
        with self.lock:
            if self.stopped:
                raise RenderError("stopped")
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            self.procs.add(proc)
        try:
            _, err = proc.communicate()
        finally:
            with self.lock:
                self.procs.discard(proc)
        return proc.returncode, err.decode("utf-8", "replace")

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            for proc in self.procs:
                proc.terminate()


_running = _Running()
DISK_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


def _run(args: list[str], label: str) -> str:
    code, stderr = _running.run(args)
    if code != 0:
        if code == -signal.SIGXFSZ:   # killed for passing the file-size limit (ulimit -f)
            stderr += "\nFile too large"
        if any(reason in stderr for reason in DISK_FULL):
            raise RenderError(f"{label}: the output disk is full (ffmpeg: {next(r for r in DISK_FULL if r in stderr)})")
        tail = " | ".join(stderr.strip().splitlines()[-3:])
        raise RenderError(f"{label}: ffmpeg failed ({tail or 'exit ' + str(code)})")
    return stderr


# ---- measurements before the encode -------------------------------------------------------

def measure_loudness(source: Probe, start: float, length: float, config: RenderConfig, label: str) -> dict:
    """First pass over the span's audio (ffmpeg's loudnorm measurement, EBU R128): integrated
    loudness, true peak and range, for the second pass to apply."""
    args = (ffmpeg.input(source.path, ss=start, t=length)[f"a:{source.audio_track}"]
            .filter("loudnorm", I=config.loudness, TP=config.true_peak, LRA=config.loudness_range, print_format="json")
            .output("-", format="null").global_args("-nostdin", "-hide_banner").compile())
    stderr = _run(args, f"{label} loudness")
    found = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)
    if not found:
        raise RenderError(f"{label}: loudnorm printed no measurement")
    return json.loads(found[-1])


def crop_track(source: Probe, start: float, length: float, smooth: float) -> list[tuple[float, float]]:
    """Where the motion is across the span: (time in the clip, centre x as a share of the width),
    smoothed so the crop window glides instead of jittering."""
    height = max(2, round(CROP_TRACK_WIDTH * source.display_height / max(1, source.display_width) / 2) * 2)
    node = (ffmpeg.input(source.path, ss=start, t=length)["V:0"]
            .filter("fps", fps=CROP_TRACK_FPS).filter("scale", CROP_TRACK_WIDTH, height)
            .output("pipe:", format="rawvideo", pix_fmt="gray"))
    frames = [np.frombuffer(b, np.uint8).reshape(-1, height, CROP_TRACK_WIDTH).astype(np.float32)
              for b in PipeDecoder(node, f"video of {source.path}").blocks(CROP_TRACK_WIDTH * height * 64)]
    if not frames:
        return [(0.0, 0.5)]
    stack = np.concatenate(frames)
    columns = np.arange(CROP_TRACK_WIDTH) + 0.5
    centres = []
    last = 0.5
    for i in range(len(stack)):
        motion = np.abs(stack[i] - stack[i - 1]).sum(axis=0) if i else np.zeros(CROP_TRACK_WIDTH)
        if motion.sum() > 2.0 * height:  # enough change to tell where the action is; else hold still
            last = float((motion * columns).sum() / motion.sum() / CROP_TRACK_WIDTH)
        centres.append(last)
    path = rolling_median(np.asarray(centres), 5, "nearest")
    path = rolling_mean(path, max(1, int(smooth * CROP_TRACK_FPS)), "nearest")
    return [(round(i / CROP_TRACK_FPS, 3), float(x)) for i, x in enumerate(path)]


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


# ---- the graph -----------------------------------------------------------------------------

def fit_size(source: Probe, width: int, height: int) -> tuple[int, int]:
    """The largest even size with the source's display shape that fits in ``width`` x ``height``."""
    scale = min(width / source.display_width, height / source.display_height)
    return (max(2, int(source.display_width * scale) // 2 * 2), max(2, int(source.display_height * scale) // 2 * 2))


def crop_window(source: Probe, aspect: float) -> tuple[int, int]:
    """Size in coded pixels of the largest window with display shape ``aspect`` (width/height)."""
    sar = source.display_width / max(1, source.width)
    if source.display_width / source.display_height > aspect:
        return min(source.width, int(source.display_height * aspect / sar) // 2 * 2), source.height
    return source.width, min(source.height, int(source.display_width / aspect) // 2 * 2)


def compose(video, source: Probe, fmt: str, config: RenderConfig, sendcmd_file: str | None,
            size: tuple[int, int] | None = None):
    """The picture of one clip composed for ``fmt`` at ``size`` (default: the format's full size),
    a stream of the ffmpeg-python graph, and the rectangles (x, y, w, h) of blurred fill in it,
    which the encoder may spend fewer bits on.

    Sizes are worked out here from the probe, so each branch is one scale straight from the
    source to its final size (display pixels: non-square sources come out with the right shape)."""
    width, height = size or output_size(source, fmt)
    if fmt == "source":
        return video.filter("scale", width, height).filter("setsar", 1), []
    if config.fill == "crop" and sendcmd_file and fmt != "horizontal":
        # Cut the window at source size (cheap), moved along the motion track, then scale it up.
        win_w, win_h = crop_window(source, width / height)
        return (video.filter("sendcmd", f=sendcmd_file)
                .filter("crop@follow", win_w, win_h, (source.width - win_w) // 2, (source.height - win_h) // 2)
                .filter("scale", width, height).filter("setsar", 1)), []
    fit_w, fit_h = fit_size(source, width, height)
    if (fit_w, fit_h) == (width, height):
        return video.filter("scale", width, height).filter("setsar", 1), []
    # The fill is made from the fitted picture (already small), shrunk to 1/blur_scale, blurred
    # there, and only the two bands the picture leaves free are stretched back up (with the
    # cheapest scaler: a blur has no detail to keep), at ``fill_fps`` frames a second and then
    # repeated: no pixel is made twice, nothing is overlaid, and the encoder sees still bands.
    fps = round(source.fps, 3) or 30
    split = video.filter("scale", fit_w, fit_h).filter("setsar", 1).split()
    foreground, fill = split[0], split[1]
    small_w, small_h = width // config.blur_scale // 2 * 2, height // config.blur_scale // 2 * 2
    cover = max(small_w / fit_w, small_h / fit_h)
    cover_w, cover_h = max(small_w, int(round(fit_w * cover / 2)) * 2), max(small_h, int(round(fit_h * cover / 2)) * 2)
    blurred = (fill.filter("fps", fps=min(config.fill_fps, fps))
               .filter("scale", cover_w, cover_h, flags="fast_bilinear")
               .filter("crop", small_w, small_h)
               .filter("boxblur", luma_radius=min(10, small_w // 4), luma_power=2)
               .split())
    vertical = fit_w == width  # bands above and below; otherwise left and right
    free = (height - fit_h) if vertical else (width - fit_w)
    first_band = free // 2 // 2 * 2
    bands = []
    for index, (offset, size) in enumerate(((0, first_band), (first_band + (fit_h if vertical else fit_w), free - first_band))):
        ratio = small_h / height if vertical else small_w / width
        cut = max(2, int(round(size * ratio)))
        start = min(int(round(offset * ratio)), (small_h if vertical else small_w) - cut)
        piece = (blurred[index].filter("crop", small_w, cut, 0, start) if vertical
                 else blurred[index].filter("crop", cut, small_h, start, 0))
        bands.append(piece.filter("scale", *((width, size) if vertical else (size, height)), flags="fast_bilinear")
                     .filter("setsar", 1).filter("fps", fps=fps))
    stacked = ffmpeg.filter([bands[0], foreground, bands[1]], "vstack" if vertical else "hstack", inputs=3)
    second = first_band + (fit_h if vertical else fit_w)
    regions = ([(0, 0, width, first_band), (0, second, width, height - second)] if vertical
               else [(0, 0, first_band, height), (second, 0, width - second, height)])
    return stacked, regions


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
               short_side: int | None = None):
    """One ffmpeg run: decode the span once, encode every format in ``outputs`` (format -> path),
    and cut the thumbnail and preview (``extras``: their paths) from the first format.
    ``captions``: an ASS script per format (format -> path) burned into its picture.
    ``short_side``: the profile's (``output_size``); title, watermark and captions scale with it."""
    length = clip.end - clip.start
    fade = min(config.fade, length / 4)
    fps = round(source.fps, 3) or 30
    # Decoder and filter threads follow the encoder's share of the cores (0: ffmpeg decides).
    source_input = ffmpeg.input(source.path, ss=clip.start, t=length, **({"threads": threads} if threads else {}))
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
        video, fill_regions = compose(video, source, fmt, config, sendcmd_file, size)
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
    source_input = ffmpeg.input(source.path, ss=start, t=end - start)
    streams = [source_input["V:0"]] + ([source_input[f"a:{source.audio_track}"]] if source.has_audio else [])
    cut = ffmpeg.output(*streams, path, format="mp4", c="copy", movflags="+faststart", avoid_negative_ts="make_zero")
    picture, _ = compose(ffmpeg.input(source.path, ss=start, t=end - start)["V:0"], source, "source", config, None)
    extra = still_and_preview(picture, peak - start, end - start, *extras, config, round(source.fps, 3) or 30)
    return ffmpeg.merge_outputs(cut, *extra).global_args(*QUIET).overwrite_output()


# ---- one clip ------------------------------------------------------------------------------

def _write_sendcmd(track: list[tuple[float, float]], path: str) -> None:
    """ffmpeg sendcmd script moving the crop window's x along the motion track."""
    with open(path, "w", encoding="utf-8") as out:
        for t, x in track:
            out.write(f"{t:.3f} crop@follow x 'max(0,min(iw-ow,{x:.4f}*iw-ow/2))';\n")


def render_key(source: Probe, clip: Clip, config: RenderConfig, captions: list[Cue] | None = None,
               profile: Profile = Profile()) -> str:
    """What a rendered clip depends on: the source file (and its size and time, so a re-recorded
    file counts as new), the span, the render settings (not how many run at once), captions and
    the profile (``config`` is the one the profile was applied to)."""
    try:
        stat = os.stat(source.path)
        identity = [os.path.abspath(source.path), stat.st_size, stat.st_mtime_ns]
    except OSError:
        identity = [source.path]   # a URL: taken as unchanged
    # Caption settings change nothing without captions: clips rendered before they existed resume.
    settings = {k: v for k, v in dataclasses.asdict(config).items()
                if k != "jobs" and (captions is not None or not k.startswith("caption_"))}
    data = [identity, source.audio_track, clip.id, clip.rank, clip.start, clip.end, clip.peak, settings]
    if captions is not None:
        data.append([dataclasses.astuple(cue) for cue in captions])
    if profile != Profile():   # clips rendered before profiles existed (all full) resume
        data.append(profile.to_dict())
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()


def done_record(out_dir: str, name: str) -> str:
    """A hidden note beside a finished clip: its render key and files, for resuming a run."""
    return os.path.join(out_dir, "clips", f".{name}.done.json")


def finished_before(out_dir: str, name: str, key: str, clip_id: str) -> Rendered | None:
    """The clip as an earlier run into the same folder left it, if its key matches and every
    file is still there: a rerun after Ctrl-C or a crash resumes instead of rendering it again."""
    try:
        with open(done_record(out_dir, name), encoding="utf-8") as handle:
            note = json.load(handle)
    except (OSError, ValueError):
        return None
    files = [*note.get("files", {}).values(), note.get("thumbnail"), note.get("preview"),
             *([note["srt"]] if note.get("srt") else [])]
    if note.get("key") != key or not all(f and os.path.isfile(os.path.join(out_dir, f)) for f in files):
        return None
    cut = tuple(note["cut"]) if note.get("cut") else None
    return Rendered(clip_id, note["files"], note["thumbnail"], note["preview"], cut, resumed=True, srt=note.get("srt"))


def file_stem(clip: Clip, profile: Profile) -> str:
    """``NN-<id>``, and ``.<profile>`` after it for a profile other than full: a clip rendered
    again at another profile gets new file names, so a file's name never changes its content."""
    return f"{clip.rank:02d}-{clip.id}" + ("" if profile.name == FULL else f".{profile.name}")


def render_clip(source: Probe, clip: Clip, out_dir: str, config: RenderConfig,
                threads: Callable[[], int] | int = 0, captions: list[Cue] | None = None,
                profile: Profile = Profile()) -> Rendered:
    """Render one clip in every format, its thumbnail and its preview into ``out_dir/clips``
    (or take it from an earlier run into the same folder that finished it with the same settings).
    ``threads``: encoder threads (0: ffmpeg decides), or a function asked just before encoding.
    ``captions`` (clip clock): burned into every format and written beside the clip as ``.srt``
    (with ``copy``, only the ``.srt``, on the clock of the cut). ``profile``: the size, preset
    and quality to encode at (``copy`` encodes nothing: the cut is the source's own)."""
    if config.copy:
        profile = Profile()
    config = with_profile(config, profile)
    name = f"{clip.rank:02d}-{clip.id}"   # the done record: one per clip, whatever its profile
    key = render_key(source, clip, config, captions, profile)
    earlier = finished_before(out_dir, name, key, clip.id)
    if earlier is not None:
        earlier.profile = profile.name
        if callable(threads):
            threads()   # keep the share count of the clips still to render right
        return earlier
    encode_threads = threads() if callable(threads) else threads
    clips_dir = os.path.join(out_dir, "clips")
    os.makedirs(clips_dir, exist_ok=True)
    label = f"clip {clip.rank} ({clip.id})"
    single = len(config.formats) == 1
    stem = file_stem(clip, profile)
    relative = {fmt: f"clips/{stem}.mp4" if single else f"clips/{stem}.{fmt}.mp4" for fmt in config.formats}
    thumb_rel, preview_rel = f"clips/{stem}.jpg", f"clips/{stem}.webp"
    srt_rel = f"clips/{stem}.srt" if captions is not None else None
    sizes = {fmt: output_size(source, fmt, profile.short_side) for fmt in config.formats}
    finals = {rel: os.path.join(out_dir, rel) for rel in [*relative.values(), thumb_rel, preview_rel, srt_rel] if rel}
    # Unique per process: two workers rendering the same clip at once (a message redelivered
    # while a re-sent one runs) each write their own file, and the last rename wins whole.
    partials = {rel: partial_name(path) for rel, path in finals.items()}
    result = Rendered(clip.id, profile=profile.name)
    try:
        with tempfile.TemporaryDirectory(prefix="peakclip-") as scratch:
            outputs = {fmt: partials[rel] for fmt, rel in relative.items()}
            extras = (partials[thumb_rel], partials[preview_rel])
            if config.copy:
                frames = key_frames(source.path, clip.start, clip.end)
                cut_start = max([t for t in frames if t <= clip.start + 1e-3], default=0.0)
                cut_end = min([t for t in frames if t >= clip.end - 1e-3], default=source.duration)
                _run(copy_graph(source, cut_start, cut_end, outputs["source"], clip.peak, extras, config).compile(), label)
                result.cut = (round(cut_start, 3), round(cut_end, 3))
            else:
                length = clip.end - clip.start
                loudness = measure_loudness(source, clip.start, length, config, label) if source.has_audio else None
                sendcmd_file = None
                if config.fill == "crop" and any(f in ("vertical", "portrait", "square") for f in config.formats):
                    sendcmd_file = os.path.join(scratch, "crop.cmd")
                    _write_sendcmd(crop_track(source, clip.start, length, config.crop_smooth), sendcmd_file)
                title_file = font = caption_files = None
                title = clip.title or config.title   # a product's clip carries its own (--per-product)
                if title or captions:
                    font = config.font or find_font()
                    if font is None:
                        raise RenderError(f"{label}: no font for the title or captions (install fontconfig and a font, "
                                          "or set render.font)")
                if title:
                    title_file = os.path.join(scratch, "title.txt")
                    with open(title_file, "w", encoding="utf-8") as out:
                        out.write(title)
                if captions:
                    caption_files = {fmt: os.path.join(scratch, f"captions.{fmt}.ass") for fmt in config.formats}
                    for fmt, path in caption_files.items():
                        with open(path, "w", encoding="utf-8") as out:
                            out.write(ass_text(captions, *sizes[fmt], font_family(font) or "sans-serif",
                                               config))
                graph = clip_graph(source, clip, outputs, config, encode_threads, loudness, sendcmd_file, title_file,
                                   font, extras, caption_files, profile.short_side)
                _run(graph.compile(), label)
            if srt_rel:
                # --copy starts on the key frame before the clip: the sidecar follows the file's clock.
                shift = clip.start - result.cut[0] if result.cut else 0.0
                with open(partials[srt_rel], "w", encoding="utf-8") as out:
                    out.write(srt_text([Cue(c.start + shift, c.end + shift, c.text) for c in captions]))
        for rel in finals:
            os.replace(partials[rel], finals[rel])
        result.files, result.thumbnail, result.preview, result.srt = relative, thumb_rel, preview_rel, srt_rel
        write_atomic(done_record(out_dir, name), json.dumps({"key": key, "files": relative, "thumbnail": thumb_rel,
                                                            "preview": preview_rel, "cut": result.cut,
                                                            **({"srt": srt_rel} if srt_rel else {})}))
    except (RenderError, ffmpeg.Error, OSError) as err:
        for partial in partials.values():
            if os.path.exists(partial):
                os.remove(partial)
        if isinstance(err, OSError):
            message = f"{label}: cannot write the clip: {err.strerror}"
        else:
            message = str(err) if isinstance(err, RenderError) else f"{label}: ffprobe failed"
        return Rendered(clip.id, error=message)
    return result


def render_captioned(source: Probe, clip: Clip, out_dir: str, config: RenderConfig,
                     threads: Callable[[], int] | int = 0, captions: ClipCaptions | None = None,
                     profile: Profile = Profile()) -> Rendered:
    """``render_clip`` with the clip's captions as ``captions_for`` gave them (every render path
    goes through here), carrying what the recogniser heard on to the manifest's text."""
    result = render_clip(source, clip, out_dir, config, threads, captions.cues if captions else None, profile)
    result.heard = captions.heard if captions else None
    return result


def resumed_note(rendered: list[Rendered], out_dir: str) -> str | None:
    """What a person rerunning into the same folder should hear: that finished clips were kept."""
    kept = sum(r.resumed for r in rendered)
    if not kept:
        return None
    return (f"kept {kept} of {len(rendered)} clip(s) an earlier run finished in {out_dir} with the same "
            "settings (not rendered again)")


def render_clips(source: Probe, clips: list[Clip], out_dir: str, config: RenderConfig,
                 progress: Callable[[Rendered], None] | None = None,
                 captions: Mapping[str, ClipCaptions | None] | None = None,
                 profile_of: Callable[[Clip], Profile] | None = None) -> list[Rendered]:
    """Render clips in parallel, each with its captions (clip id -> ``captions_for``; none
    missing) at its profile (``profile_of``, e.g. ``Rules.profile_of`` its pool; default full). Each encode gets the cores divided by the encodes running with it, asked when it
    starts, so the last clip alone gets the whole machine: the cores are used, not oversubscribed."""
    captions = captions or {}
    cores = os.cpu_count() or 1
    jobs = max(1, min(config.jobs or cores, len(clips)))
    waiting = [len(clips)]
    lock = threading.Lock()

    def share() -> int:
        with lock:
            running_with = max(1, min(jobs, waiting[0]))
            waiting[0] -= 1
        return max(1, cores // running_with)

    results: list[Rendered] = []
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        for future in [pool.submit(render_captioned, source, c, out_dir, config, share, captions.get(c.id),
                                   profile_of(c) if profile_of else Profile())
                       for c in clips]:
            results.append(future.result())
            if progress:
                progress(results[-1])
    except BaseException:
        # Ctrl-C (or any failure here): start no more clips, stop the running encodes, and wait
        # for their threads to remove the partial files. Finished clips stay, to be resumed.
        pool.shutdown(wait=False, cancel_futures=True)
        _running.stop()
        pool.shutdown(wait=True)
        _running.stopped = False
        raise
    pool.shutdown(wait=True)
    return results
