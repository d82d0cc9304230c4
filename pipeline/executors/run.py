"""Job steps shared by both executors, and the in-process executor behind ``peakclip clip``.

A job is: plan (probe, chunks) -> analyse each chunk -> assemble -> rank (fuse, select, tag) ->
render each clip -> finish (manifest). ``run_clip`` runs them one after another in this process;
``workers/tasks.py`` runs the same functions as Celery tasks. Everything that crosses from one
step to the next is plain data (``to_dict``/``from_dict``), so both give the same clips.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from peakclip.detectors.chat import ChatLog
from peakclip.detectors.errors import UserError
from peakclip.detectors.probe import Probe, is_url
from peakclip.pipeline.analysis.analyze import Analysis, analyze
from peakclip.pipeline.output.captions import check_captions, clip_captions
from peakclip.pipeline.config import Config
from peakclip.pipeline.ranking.fuse import Fused, fuse
from peakclip.pipeline.output.export import write_exports
from peakclip.pipeline.ranking.per_product import ProductPick, label_products, pick_products, unclipped_note
from peakclip.pipeline.output.manifest import build_manifest, write_atomic, write_json_atomic
from peakclip.pipeline.output.render import Rendered, render_clips, resumed_note
from peakclip.pipeline.output.report import build_report, clock, timeline_of
from peakclip.pipeline.ranking.cuts import CutsOnDemand, settle
from peakclip.pipeline.ranking.select import Edges, Span, select_spans
from peakclip.pipeline.ranking.rules import load_rules
from peakclip.pipeline.ranking.broadcast import Stage, auto_stages, equal_stages, explicit_stages
from peakclip.pipeline.ranking.tag import Clip, spoken_between, tag_spans


@dataclass
class Ranking:
    """The outcome of analysis: everything the manifest needs except what rendering adds."""
    probe: Probe
    chat: dict | None
    signals: list[str]
    stages: list[Stage]
    clips: list[Clip]
    warnings: list[str] = field(default_factory=list)
    rules_version: str = ""
    cuts: list[float] = field(default_factory=list)   # scene cuts the visual detector found
    timeline: dict | None = None   # what the report plots (report.timeline_of)
    transcript: dict | None = None  # the transcript's summary (format, segments, skipped, language)
    products: list[dict] | None = None  # --per-product: the manifest's products (products.products_summary)

    def to_dict(self) -> dict:
        return {"probe": self.probe.to_dict(), "chat": self.chat, "signals": self.signals,
                "stages": [vars(s) for s in self.stages], "clips": [c.to_dict() for c in self.clips],
                "warnings": self.warnings, "rules_version": self.rules_version, "cuts": self.cuts,
                "timeline": self.timeline, "transcript": self.transcript, "products": self.products}

    @classmethod
    def from_dict(cls, data: dict) -> "Ranking":
        return cls(Probe.from_dict(data["probe"]), data["chat"], data["signals"], [Stage(**s) for s in data["stages"]],
                   [Clip(**c) for c in data["clips"]], data["warnings"], data["rules_version"], data["cuts"],
                   data.get("timeline"), data.get("transcript"), data.get("products"))


def add_commerce(spans: list[Span], chat: ChatLog, lag: float) -> None:
    """Orders and paid money during each span (and the lag after it, when buyers act) join its
    signal breakdown: for a live seller they are the point of the clip."""
    commerce = chat.audience.commerce(chat.n_bins)
    hop = chat.audience.hop
    for span in spans:
        first, last = int(span.start / hop), int((span.end + lag) / hop)
        span.signals["orders"] = int(commerce["orders"][first:last].sum())
        span.signals["paid"] = round(float(commerce["paid"][first:last].sum()), 2)


def make_stages(analysis: Analysis, config: Config, warnings: list[str]) -> list[Stage]:
    tag, duration = config.tag, analysis.probe.duration
    if tag.stage_at:
        return explicit_stages(duration, tag.stage_at)
    if tag.stages == "auto":
        if analysis.chat is None:
            warnings.append("--stages auto needs a chat log to see the audience: using 3 equal stages")
            return equal_stages(duration, 3)
        return auto_stages(analysis.chat.series().values, config.analysis.hop, duration, tag.auto_min_stage,
                           tag.auto_max_stages, tag.auto_min_ratio)
    return equal_stages(duration, int(tag.stages))


def nothing_to_clip(fused: Fused, duration: float, config: Config) -> str:
    """Why no clip was chosen, and the flag that changes it."""
    if duration < config.select.min_len:
        return f"recording ({duration:.1f}s) is shorter than --min-len"
    best = int(np.argmax(fused.score)) if len(fused.score) else 0
    score = float(fused.score[best]) if len(fused.score) else 0.0
    if score >= config.select.min_score:
        return "no highlight stood out enough to clip (no room for a clip of --min-len around them)"
    lower = math.floor(score * 10) / 10
    return (f"no highlight stood out enough to clip: the liveliest moment ({clock(fused.hop * (best + 0.5))}) "
            f"scores {score:.2f}, under --min-score {config.select.min_score:g}"
            + (f"; --min-score {lower:g} clips the best moments there are (tier C)" if lower > 0 else ""))


def edges_of(analysis: Analysis, config: Config, warnings: list[str],
             judged: dict[float, float] | None = None) -> list[float] | CutsOnDemand:
    """Where clip edges may land: every cut and pause, when the chunk pass decoded every key frame
    (``analysis.cuts = "all"``); else the pauses and a lookup that decodes cuts near edges only
    (``judged``: key-frame pairs measured by an earlier ranking of the same recording)."""
    pauses = analysis.events.get("pauses", [])
    if "cuts" in analysis.events or "keys" not in analysis.events:
        return sorted(analysis.events.get("cuts", []) + pauses)
    return CutsOnDemand(analysis.probe.path, analysis.events["keys"], analysis.events["spots"], pauses,
                        config.analysis, warnings, judged)


def found_cuts(analysis: Analysis, edges: list[float] | CutsOnDemand) -> list[float]:
    """The scene cuts the manifest lists: all of them, or those decoded around the clips' edges."""
    if isinstance(edges, CutsOnDemand):
        return [round(float(t), 3) for t in edges.cuts]
    return list(analysis.events.get("cuts", []))


def rank(analysis: Analysis, config: Config, judged: dict[float, float] | None = None) -> Ranking:
    """Fused score -> spans -> tagged clips, with the stages and warnings. ``judged``: see
    ``edges_of`` (a live watch keeps one for the whole stream)."""
    warnings = list(analysis.warnings)
    fused = fuse(analysis.signals, config.fuse, config.chat, analysis.extras)
    edges = edges_of(analysis, config, warnings, judged)
    rules = load_rules(config.tag.rules)
    stages = make_stages(analysis, config, warnings)
    quotas = [(s.start, s.end, rules.quota) for s in stages] if len(stages) > 1 else []
    segments = analysis.transcript.segments if analysis.transcript else None
    picks: list[ProductPick] = []
    if config.select.per_product:
        chat = analysis.chat
        windows, sales = (chat.products, chat.item_commerce(len(fused.score))) if chat is not None else ([], {})

        def choose(near: Edges) -> list[ProductPick]:
            return pick_products(fused, windows, sales, analysis.probe.duration, config.select, near, segments)
        picks = settle(choose, edges)
        spans = [pick.span for pick in picks]
        note = unclipped_note(windows, picks, config.select) if windows else \
            "--per-product: the logs hold no product events (type \"product\"): no product to clip"
        warnings += [note] if note else []
    else:
        def choose(near: Edges) -> list[Span]:
            return select_spans(fused, analysis.probe.duration, config.select, near, quotas, segments)
        spans = settle(choose, edges)
        if not spans:
            warnings.append(nothing_to_clip(fused, analysis.probe.duration, config))
    if analysis.chat is not None:
        add_commerce(spans, analysis.chat, config.chat.lag)
    clips = tag_spans(spans, stages, os.path.basename(analysis.probe.path), rules)
    products = label_products(clips, picks, windows, sales, fused.hop, config.select, config.render.title,
                              rules.start["C"]) if config.select.per_product else None
    if analysis.transcript is not None:
        for clip in clips:
            clip.text = spoken_between(analysis.transcript.segments, clip.start, clip.end)
    return Ranking(analysis.probe, analysis.chat.summary() if analysis.chat else None, list(analysis.signals),
                   stages, clips, warnings, rules.version, found_cuts(analysis, edges), timeline_of(fused),
                   analysis.transcript.summary() if analysis.transcript else None, products)


def clips_to_render(ranking: Ranking, config: Config) -> list[Clip]:
    """The clips the render step should make (none when rendering is off or there is no picture)."""
    if not config.render.enabled or not ranking.clips:
        return []
    if not ranking.probe.has_video:
        ranking.warnings.append("no video stream: clips are listed but not rendered (a clip needs a picture)")
        return []
    return ranking.clips


def finish(ranking: Ranking, rendered: list[Rendered], out_dir: str, config: Config, extra: dict | None = None) -> dict:
    """Record the renders on the clips, write the report and the exports asked for, then
    ``out_dir/manifest.json`` last (its presence says the job is done); returns the manifest."""
    by_id = {r.clip_id: r for r in rendered}
    warnings = list(ranking.warnings)
    for clip in ranking.clips:
        result = by_id.get(clip.id)
        if result is None:
            continue
        if result.heard is not None:
            clip.text = result.heard
        if result.error:
            warnings.append(result.error)
            continue
        clip.file, clip.files = result.files[config.render.formats[0]], result.files
        clip.thumbnail, clip.preview, clip.captions = result.thumbnail, result.preview, result.srt
        clip.profile = result.profile
        if result.cut:
            clip.span = {"start": clip.start, "end": clip.end}
            clip.start, clip.end = result.cut
    manifest = build_manifest(ranking.probe, ranking.chat, ranking.signals, ranking.stages, ranking.clips, warnings,
                              ranking.rules_version, ranking.cuts, ranking.transcript, ranking.products)
    if config.render.enabled:
        # What rendering a clip again takes (a promotion to a pool with another profile): the
        # recording wherever the job ran from, and the render settings before any profile was
        # applied (how many at once is no setting).
        path = ranking.probe.path
        manifest["render"] = {"source": path if is_url(path) else os.path.abspath(path),
                              "settings": {k: v for k, v in dataclasses.asdict(config.render).items() if k != "jobs"}}
    manifest.update(extra or {})
    manifest["exports"] = write_exports(manifest, ranking.probe.fps, out_dir, config.output.exports)
    if config.output.report:
        report = build_report(manifest, ranking.timeline, out_dir, load_rules(config.tag.rules))
        write_atomic(os.path.join(out_dir, "report.html"), report)
        manifest["report"] = "report.html"
    write_json_atomic(os.path.join(out_dir, "manifest.json"), manifest)
    if config.render.enabled:
        remove_stale_clips(out_dir, manifest)
    return manifest


# What peakclip writes into DIR/clips: NN-<id>[.format].mp4/.jpg/.webp/.srt, and hidden done records
# and partial files (.NAME.<pid>-<random>.partial, manifest.partial_name). Nothing else in the folder is touched.
OWN_FILE = re.compile(r"^\.{0,2}\d{2,}-[0-9a-f]{10}(\.[a-z][a-z0-9-]*){0,2}\.(mp4|jpg|webp|srt|done\.json|"
                      r"(mp4|jpg|webp|srt|done\.json)\.\d+-[0-9a-f]{8}\.partial)$")


def remove_stale_clips(out_dir: str, manifest: dict) -> None:
    """After a rerun into the same folder, remove the clips of the earlier run that this one did
    not keep (other spans, other formats) and partial files a killed render left, so the folder
    holds what the manifest lists."""
    folder = os.path.join(out_dir, "clips")
    keep = set()
    for clip in manifest["clips"]:
        keep.update(os.path.basename(f) for f in [*(clip.get("files") or {}).values(), clip.get("thumbnail"),
                                                  clip.get("preview"), clip.get("captions")] if f)
        keep.add(f".{clip['rank']:02d}-{clip['id']}.done.json")
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if OWN_FILE.match(name) and name not in keep:
            try:
                os.remove(os.path.join(folder, name))
            except OSError:
                pass


def check_output_dir(out_dir: str) -> None:
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {out_dir}: {err.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise UserError(f"output folder is not writable: {out_dir}")


def run_clip(path: str, chat_path: str | None, out_dir: str, config: Config,
             on_progress: Callable[[str, int, int], None] | None = None,
             on_note: Callable[[str], None] | None = None, source: Probe | None = None) -> dict:
    """Run the whole job in this process and write ``out_dir/manifest.json``; returns the manifest.
    ``on_note`` hears what a person at the terminal should know that is not a warning; ``source``
    is the recording's probe when the caller has it already."""
    check_captions(config.transcript)
    check_output_dir(out_dir)
    progress = on_progress or (lambda step, done, total: None)
    analysis = analyze(path, chat_path, config, lambda done, total: progress("analyse", done, total), source)
    ranking = rank(analysis, config)
    clips = clips_to_render(ranking, config)
    rendered: list[Rendered] = []
    if clips:
        done = []
        captions = clip_captions(clips, ranking.probe, analysis.transcript, config,
                                 lambda n, total: progress("captions", n, total))
        rules = load_rules(config.tag.rules)
        rendered = render_clips(ranking.probe, clips, out_dir, config.render,
                                lambda r: (done.append(r), progress("render", len(done), len(clips))), captions,
                                lambda clip: rules.profile_of(clip.pool))
        note = resumed_note(rendered, out_dir)
        if note and on_note:
            on_note(note)
    return finish(ranking, rendered, out_dir, config)
