"""Render: cut each clip's span out of the recording and compose it for a short-video feed.

One ffmpeg-python graph per clip decodes the span once and encodes every requested format from
it: seek, make the picture square-pixelled, compose it for each format, draw the title and
watermark, fade picture and sound in and out, normalise loudness, encode H.264 High + AAC-LC
in an MP4 with the index at the front (``+faststart``) and the clip's tags in its metadata.

The room: ``graph`` builds the ffmpeg graph, ``measure`` reads what it needs first (loudness,
motion, key frames, fonts), ``running`` runs ffmpeg and stops it on Ctrl-C, ``resume`` keeps
finished clips across reruns; this module renders a clip, and the clips of a job in parallel.
File names: ``pipeline.output.names``.

Cost matters more here than anywhere (every clip is a full encode), so the composition must add
almost nothing to it: the blurred fill is made at 1/``blur_scale`` size and scaled up; the crop
window is cut at source size before scaling; the loudness measurement decodes only the span's
audio; the thumbnail and preview are cut from the finished picture in the same run; the encoder
is told to spend fewer bits on the blurred fill than on the picture (regions of interest).

Files appear only when complete (temporary name, then rename); a failed render leaves nothing.

Each clip is rendered at a profile (``pipeline/ranking/rules.toml``): full, or with
``render.profiles`` "pools" the one of the pool it is in: a smaller picture and a faster preset for
a clip still being tried on a small audience, the full render once it has earned a bigger one.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Mapping

import ffmpeg
import numpy as np

from peakclip.detectors.errors import MediaError
from peakclip.detectors.faces import SpanFaces
from peakclip.detectors.probe import Probe
from peakclip.detectors.storage import partial_name
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.captions import ClipCaptions, Cue, ass_text, srt_text
from peakclip.pipeline.output.framing import Framing, plan_framing
from peakclip.pipeline.output.names import CLIPS_FOLDER, clip_files
from peakclip.pipeline.output.render.compose import FRAMED_FORMATS, SIZES, framing_commands, output_size
from peakclip.pipeline.output.render.graph import clip_graph, copy_graph, write_sendcmd
from peakclip.pipeline.output.render.measure import (crop_track, faces_in_span, facecam_of, find_font, font_family,
                                                     key_frames, measure_loudness)
from peakclip.pipeline.output.render.resume import finished_before, render_key, resumed_note, write_done_record
from peakclip.pipeline.output.render.running import RUNNING, RenderError, run_ffmpeg
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.rules import Profile

__all__ = ["Rendered", "render_captioned", "render_clip", "render_clips", "resumed_note", "with_profile"]


@dataclass
class Rendered:
    """What rendering one clip gave: its files (relative to the output folder), or the one-line
    error."""
    clip_id: str
    files: dict[str, str] = field(default_factory=dict)   # format -> path relative to the output folder
    thumbnail: str | None = None
    preview: str | None = None
    cut: tuple[float, float] | None = None                # what --copy actually cut, on key frames
    error: str | None = None
    resumed: bool = False                                 # taken as an earlier run into the folder left it
    profile: str | None = None                            # the render profile (rules.toml) it was encoded at
    srt: str | None = None                                # the captions beside the clip, on its clock
    framing: dict[str, dict] | None = None                # --fill auto: format -> Framing.to_dict()
    heard: str | None = None                              # what the recogniser heard in it (ClipCaptions.heard)

    def all(self) -> list[str]:
        """Every file the render made, relative to the output folder (as ``ClipFiles.all``)."""
        return [f for f in [*self.files.values(), self.thumbnail, self.preview, self.srt] if f]


def with_profile(config: RenderConfig, profile: Profile) -> RenderConfig:
    """The render settings of ``profile``: its preset and quality where it sets them."""
    return dataclasses.replace(config, preset=profile.preset or config.preset,
                               crf=config.crf if profile.crf is None else profile.crf)








def render_clip(source: Probe, clip: Clip, out_dir: str, config: RenderConfig,
                threads: Callable[[], int] | int = 0, captions: list[Cue] | None = None,
                profile: Profile = Profile()) -> Rendered:
    """Render one clip in every format, its thumbnail and its preview into ``out_dir/clips``
    (or take it from an earlier run into the same folder that finished it with the same settings).
    ``threads``: encoder threads (0: ffmpeg decides), or a function asked just before encoding.
    ``captions`` (cues on the clip's clock, seconds): burned into every format and written beside
    the clip as ``.srt`` (with ``copy``, only the ``.srt``, on the clock of the cut). ``profile``:
    the size, preset and quality to encode at (``copy`` encodes nothing: the cut is the source's own).

    The steps: resume if an earlier run finished it; name its files; encode (or cut) into
    partial files; write the captions; rename every file into place; record it as done. A
    failure removes the partial files and comes back as ``Rendered.error``, one line."""
    if config.copy:
        profile = Profile()
    config = with_profile(config, profile)
    key = render_key(source, clip, config, captions, profile)
    earlier = finished_before(out_dir, clip, key)
    if earlier is not None:
        if callable(threads):
            threads()   # keep the share count of the clips still to render right
        cut = tuple(earlier["cut"]) if earlier.get("cut") else None
        return Rendered(clip.id, earlier["files"], earlier["thumbnail"], earlier["preview"], cut, resumed=True,
                        profile=profile.name, srt=earlier.get("srt"), framing=earlier.get("framing"))
    encode_threads = threads() if callable(threads) else threads
    os.makedirs(os.path.join(out_dir, CLIPS_FOLDER), exist_ok=True)
    label = f"clip {clip.rank} ({clip.id})"
    files = clip_files(clip.rank, clip.id, profile.name, config.formats, captions is not None)
    finals = {rel: os.path.join(out_dir, rel) for rel in files.all()}
    # Unique per process: two workers rendering the same clip at once (a message redelivered
    # while a re-sent one runs) each write their own file, and the last rename wins whole.
    partials = {rel: partial_name(path) for rel, path in finals.items()}
    cut = framing = None
    try:
        outputs = {fmt: partials[rel] for fmt, rel in files.videos.items()}
        extras = (partials[files.thumbnail], partials[files.preview])
        if config.copy:
            cut = cut_on_key_frames(source, clip, outputs["source"], extras, config, label)
        else:
            framing = encode(source, clip, outputs, extras, config, encode_threads, captions, profile, label)
        if files.srt:
            # --copy starts on the key frame before the clip: the sidecar follows the file's clock.
            write_srt(partials[files.srt], captions, clip.start - cut[0] if cut else 0.0)
        for rel in finals:
            os.replace(partials[rel], finals[rel])
        write_done_record(out_dir, clip, key, files, cut, framing)
    except (RenderError, ffmpeg.Error, OSError) as err:
        for partial in partials.values():
            if os.path.exists(partial):
                os.remove(partial)
        return Rendered(clip.id, error=failure_line(err, label))
    return Rendered(clip.id, files.videos, files.thumbnail, files.preview, cut, profile=profile.name, srt=files.srt,
                    framing=framing)


def cut_on_key_frames(source: Probe, clip: Clip, output: str, extras: tuple[str, str], config: RenderConfig,
                      label: str) -> tuple[float, float]:
    """``--copy``: the span widened to the key frames around it, cut without re-encoding into
    ``output`` (and the thumbnail and preview into ``extras``); returns what was cut (seconds)."""
    frames = key_frames(source.path, clip.start, clip.end)
    cut_start = max([t for t in frames if t <= clip.start + 1e-3], default=0.0)
    cut_end = min([t for t in frames if t >= clip.end - 1e-3], default=source.duration)
    run_ffmpeg(copy_graph(source, cut_start, cut_end, output, clip.peak, extras, config).compile(), label)
    return round(cut_start, 3), round(cut_end, 3)


def encode(source: Probe, clip: Clip, outputs: dict[str, str], extras: tuple[str, str], config: RenderConfig,
           threads: int, captions: list[Cue] | None, profile: Profile, label: str) -> dict[str, dict] | None:
    """Measure what the graph needs (loudness, the framing or the crop window's path, the font),
    write the title, caption and window scripts into a scratch folder, and run the clip's one
    ffmpeg graph. Returns the framing of each framed format (``Framing.to_dict``), or None."""
    length = clip.end - clip.start
    framed = [f for f in config.formats if f in FRAMED_FORMATS]
    with tempfile.TemporaryDirectory(prefix="peakclip-") as scratch:
        loudness = measure_loudness(source, clip.start, length, config, label) if source.has_audio else None
        sendcmd_file = None
        framings = None
        if config.fill == "crop" and framed:
            sendcmd_file = os.path.join(scratch, "crop.cmd")
            write_sendcmd(crop_track(source, clip.start, length, config.crop_smooth), sendcmd_file)
        elif config.fill == "auto" and framed:
            framings = {fmt: (framing, write_text(os.path.join(scratch, f"frame.{fmt}.cmd"), framing_commands(framing, fmt)))
                        for fmt, framing in plan_framings(source, clip, framed, config).items()}
        title = clip.title or config.title   # a product's clip carries its own (--per-product)
        font = title_font(config, label) if title or captions else None
        title_file = write_text(os.path.join(scratch, "title.txt"), title) if title else None
        caption_files = None
        if captions:
            family = font_family(font) or "sans-serif"
            caption_files = {fmt: write_text(os.path.join(scratch, f"captions.{fmt}.ass"),
                                             ass_text(captions, *output_size(source, fmt, profile.short_side), family,
                                                      config))
                             for fmt in config.formats}
        graph = clip_graph(source, clip, outputs, config, threads, loudness, sendcmd_file, title_file, font, extras,
                           caption_files, profile.short_side, framings)
        run_ffmpeg(graph.compile(), label)
    return {fmt: framing.to_dict() for fmt, (framing, _) in framings.items()} if framings else None


def plan_framings(source: Probe, clip: Clip, formats: list[str], config: RenderConfig) -> dict[str, Framing]:
    """Each format's framing of the clip, from one look at its span (faces, cuts, motion) and the
    stream's webcam box. A span that does not decode for the look is framed whole (``fit``): the
    encode says whether it decodes at all."""
    length = clip.end - clip.start
    try:
        seen = faces_in_span(source, clip.start, length)
    except MediaError:
        seen = SpanFaces(np.zeros(0), [])
    facecam = facecam_of(source, config)
    source_aspect = source.display_width / max(1, source.display_height)
    return {fmt: plan_framing(seen, length, source_aspect, SIZES[fmt][0] / SIZES[fmt][1], facecam) for fmt in formats}


def title_font(config: RenderConfig, label: str) -> str:
    """The font for titles and captions: render.font, or a system font that covers CJK."""
    font = config.font or find_font()
    if font is None:
        raise RenderError(f"{label}: no font for the title or captions (install fontconfig and a font, or set render.font)")
    return font


def write_text(path: str, text: str) -> str:
    """Write ``text`` to ``path``; returns the path."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def write_srt(path: str, captions: list[Cue], shift: float) -> None:
    """The captions as SubRip, moved ``shift`` seconds later (onto the file's clock)."""
    write_text(path, srt_text([Cue(c.start + shift, c.end + shift, c.text) for c in captions]))


def failure_line(err: Exception, label: str) -> str:
    """A failed render as one line naming the clip."""
    if isinstance(err, OSError):
        return f"{label}: cannot write the clip: {err.strerror}"
    return str(err) if isinstance(err, RenderError) else f"{label}: ffprobe failed"


def render_captioned(source: Probe, clip: Clip, out_dir: str, config: RenderConfig,
                     threads: Callable[[], int] | int = 0, captions: ClipCaptions | None = None,
                     profile: Profile = Profile()) -> Rendered:
    """``render_clip`` with the clip's captions as ``captions_for`` gave them (every render path
    goes through here), carrying what the recogniser heard on to the manifest's text."""
    result = render_clip(source, clip, out_dir, config, threads, captions.cues if captions else None, profile)
    result.heard = captions.heard if captions else None
    return result


def render_clips(source: Probe, clips: list[Clip], out_dir: str, config: RenderConfig,
                 progress: Callable[[Rendered], None] | None = None,
                 captions: Mapping[str, ClipCaptions | None] | None = None,
                 profile_of: Callable[[Clip], Profile] | None = None) -> list[Rendered]:
    """Render clips (spans in seconds of ``source``) into ``out_dir/clips`` in parallel, each with
    its captions (clip id -> ``captions_for``; cues in seconds of the clip's clock) at its profile
    (``profile_of``, e.g. ``Rules.start_profile`` of its pool; default full); returns one ``Rendered``
    per clip, in the clips' order, ``progress`` hearing each as it ends. Each encode gets the cores
    divided by the encodes running with it, asked when it starts, so the last clip alone gets the
    whole machine: the cores are used, not oversubscribed."""
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
        RUNNING.stop()
        pool.shutdown(wait=True)
        RUNNING.stopped = False
        raise
    pool.shutdown(wait=True)
    return results
