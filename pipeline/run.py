"""The in-process executor behind ``peakclip clip``: analyse, fuse, select, tag, render, manifest.

The queue path runs the same steps as separate tasks; keep each step a plain call here so both
executors share them.
"""
from __future__ import annotations

import os
from typing import Callable

from detectors.chat import ChatLog
from detectors.errors import UserError
from pipeline.analyze import Analysis, analyze
from pipeline.config import Config
from pipeline.fuse import fuse
from pipeline.manifest import build_manifest, write_json_atomic
from pipeline.render import Rendered, render_clips
from pipeline.select import Span, select_spans
from pipeline.tag import Clip, equal_stages, tag_spans


def rank_clips(analysis: Analysis, config: Config) -> tuple[list, list[Clip], list[str]]:
    """Fused score -> spans -> tagged clips, plus the stages and any warnings."""
    warnings = []
    fused = fuse(analysis.signals, config.fuse, config.chat, analysis.extras)
    edges = sorted(t for name in ("cuts", "pauses") for t in analysis.events.get(name, []))
    spans = select_spans(fused, analysis.probe.duration, config.select, edges)
    if not spans:
        warnings.append("no highlight stood out enough to clip"
                        if analysis.probe.duration >= config.select.min_len
                        else f"recording ({analysis.probe.duration:.1f}s) is shorter than --min-len")
    if analysis.chat is not None:
        add_commerce(spans, analysis.chat, config.chat.lag)
    stages = equal_stages(analysis.probe.duration, config.tag.stages)
    name = os.path.basename(analysis.probe.path)
    return stages, tag_spans(spans, stages, name, config.tag), warnings


def add_commerce(spans: list[Span], chat: ChatLog, lag: float) -> None:
    """Orders and paid money during each span (and the lag after it, when buyers act) join its
    signal breakdown: for a live seller they are the point of the clip."""
    commerce = chat.audience.commerce(chat.n_bins)
    hop = chat.audience.hop
    for span in spans:
        first, last = int(span.start / hop), int((span.end + lag) / hop)
        span.signals["orders"] = int(commerce["orders"][first:last].sum())
        span.signals["paid"] = round(float(commerce["paid"][first:last].sum()), 2)


def apply_renders(clips: list[Clip], rendered: list[Rendered], formats: list[str]) -> list[str]:
    """Record what each render produced on its clip; return the render errors."""
    by_id = {r.clip_id: r for r in rendered}
    errors = []
    for clip in clips:
        result = by_id.get(clip.id)
        if result is None:
            continue
        if result.error:
            errors.append(result.error)
            continue
        clip.file, clip.files = result.files[formats[0]], result.files
        clip.thumbnail, clip.preview = result.thumbnail, result.preview
        if result.cut:
            clip.span = {"start": clip.start, "end": clip.end}
            clip.start, clip.end = result.cut
    return errors


def check_output_dir(out_dir: str) -> None:
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {out_dir}: {err.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise UserError(f"output folder is not writable: {out_dir}")


def run_clip(path: str, chat_path: str | None, out_dir: str, config: Config,
             on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Run the whole job in this process and write ``out_dir/manifest.json``; returns the manifest."""
    check_output_dir(out_dir)
    progress = on_progress or (lambda step, done, total: None)
    analysis = analyze(path, chat_path, config, lambda done, total: progress("analyse", done, total))
    stages, clips, warnings = rank_clips(analysis, config)
    warnings = analysis.warnings + warnings
    if config.render.enabled and clips:
        if not analysis.probe.has_video:
            warnings.append("no video stream: clips are listed but not rendered (a clip needs a picture)")
        else:
            done = []
            rendered = render_clips(analysis.probe, clips, out_dir, config.render,
                                    lambda r: (done.append(r), progress("render", len(done), len(clips))))
            warnings += apply_renders(clips, rendered, config.render.formats)
    manifest = build_manifest(analysis.probe, analysis.chat, list(analysis.signals), stages, clips, warnings)
    write_json_atomic(os.path.join(out_dir, "manifest.json"), manifest)
    return manifest
