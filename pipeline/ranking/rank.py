"""Ranking: an analysis -> fused score -> chosen spans -> tagged clips, with the broadcast stages
and the warnings; what the render step and the manifest start from.

``rank`` is one job step: the CLI (``pipeline.executors.run``), the live watch and the Celery
task ``rank_job`` all call it on the assembled analysis.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from peakclip.detectors.chat import ChatLog
from peakclip.detectors.probe import Probe
from peakclip.pipeline.analysis.assemble import Analysis
from peakclip.pipeline.config import Config
from peakclip.pipeline.ranking.broadcast import Stage, auto_stages, equal_stages, explicit_stages
from peakclip.pipeline.ranking.channel import Learned, channel_fuse, channel_select, summary
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.cuts import CutsOnDemand, settle
from peakclip.pipeline.ranking.fuse import Fused, fuse
from peakclip.pipeline.ranking.per_product import ProductPick, label_products, pick_products, unclipped_note
from peakclip.pipeline.ranking.rules import load_rules
from peakclip.pipeline.ranking.select import Edges, Span, select_spans
from peakclip.pipeline.ranking.tag import spoken_between, tag_spans
from peakclip.pipeline.ranking.timeline import clock, timeline_of


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
    channel: dict | None = None     # --channel: its name, the factors it ranked with, the evidence (channel.summary)

    def to_dict(self) -> dict:
        return {"channel": self.channel, "probe": self.probe.to_dict(), "chat": self.chat, "signals": self.signals,
                "stages": [vars(s) for s in self.stages], "clips": [c.to_dict() for c in self.clips],
                "warnings": self.warnings, "rules_version": self.rules_version, "cuts": self.cuts,
                "timeline": self.timeline, "transcript": self.transcript, "products": self.products}

    @classmethod
    def from_dict(cls, data: dict) -> "Ranking":
        return cls(Probe.from_dict(data["probe"]), data["chat"], data["signals"], [Stage(**s) for s in data["stages"]],
                   [Clip(**c) for c in data["clips"]], data["warnings"], data["rules_version"], data["cuts"],
                   data.get("timeline"), data.get("transcript"), data.get("products"), data.get("channel"))


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
    """The broadcast stages (seconds) the config asks for: explicit times, N equal ones, or where
    the audience level shifts (auto)."""
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


def note_channel(clips: list[Clip], defaults: Fused, default_spans: list[Span]) -> None:
    """Record on each clip its score with the default weights (``defaults``: their fused score) and
    its rank among the moments they pick (``default_spans``, unsnapped: that of the one around its
    peak; None when they pick none there)."""
    by_score = sorted(default_spans, key=lambda s: -s.score)
    for clip in clips:
        default_rank = next((i for i, span in enumerate(by_score, start=1) if span.start <= clip.peak <= span.end), None)
        peak_bin = min(int(clip.peak / defaults.hop), len(defaults.score) - 1)
        clip.channel = {"default_score": round(float(defaults.score[peak_bin]), 3), "default_rank": default_rank}


def rank(analysis: Analysis, config: Config, judged: dict[float, float] | None = None,
         learned: Learned | None = None) -> Ranking:
    """Fused score -> spans -> tagged clips, with the stages and warnings: the analysis of the
    whole stream (raw series on one grid of ``config.analysis.hop`` seconds) becomes clips whose
    start, end and peak are seconds of the recording, scored in fused z units, ranked, tiered and
    pooled; with ``select.per_product``, one clip (or ``clips_per_product``) per product on air.
    Scene cuts are decoded only near the chosen edges (``edges_of``). ``judged``: key-frame
    pairs measured by an earlier ranking (times in seconds -> change), which a live watch keeps
    for the whole stream. ``learned``: a channel's learning (``pipeline.ranking.channel``), whose
    factors scale the signals' weights and the clips' lengths; each clip it moved says so, and the
    ranking records it."""
    warnings = list(analysis.warnings)
    fused = fuse(analysis.signals, channel_fuse(config.fuse, learned), config.chat, analysis.extras)
    select = channel_select(config.select, learned)
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
            return pick_products(fused, windows, sales, analysis.probe.duration, select, near, segments)
        picks = settle(choose, edges)
        spans = [pick.span for pick in picks]
        note = unclipped_note(windows, picks, config.select) if windows else \
            "--per-product: the logs hold no product events (type \"product\"): no product to clip"
        warnings += [note] if note else []
    else:
        def choose(near: Edges) -> list[Span]:
            return select_spans(fused, analysis.probe.duration, select, near, quotas, segments)
        spans = settle(choose, edges)
        if not spans:
            warnings.append(nothing_to_clip(fused, analysis.probe.duration, config))
    if analysis.chat is not None:
        add_commerce(spans, analysis.chat, config.chat.lag)
    clips = tag_spans(spans, stages, os.path.basename(analysis.probe.path), rules)
    if learned is not None and learned.changes_ranking:
        # What the defaults would have picked, unsnapped (no scene cut is decoded for it).
        defaults = fuse(analysis.signals, config.fuse, config.chat, analysis.extras)
        if config.select.per_product:
            default_spans = [p.span for p in pick_products(defaults, windows, sales, analysis.probe.duration,
                                                           config.select, None, segments)]
        else:
            default_spans = select_spans(defaults, analysis.probe.duration, config.select, None, quotas, segments)
        note_channel(clips, defaults, default_spans)
    products = label_products(clips, picks, windows, sales, fused.hop, config.select, config.render.title,
                              rules.start["C"]) if config.select.per_product else None
    if analysis.transcript is not None:
        for clip in clips:
            clip.text = spoken_between(analysis.transcript.segments, clip.start, clip.end)
    return Ranking(analysis.probe, analysis.chat.summary() if analysis.chat else None, list(analysis.signals),
                   stages, clips, warnings, rules.version, found_cuts(analysis, edges), timeline_of(fused),
                   analysis.transcript.summary() if analysis.transcript else None, products,
                   summary(learned) if learned is not None else None)
