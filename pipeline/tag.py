"""Tagging: which broadcast stage a clip comes from and which traffic tier it starts in."""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from pipeline.config import TagConfig
from pipeline.select import Span

TIERS = ("S", "A", "B", "C")


@dataclass
class Stage:
    index: int
    start: float
    end: float


@dataclass
class Clip:
    id: str
    rank: int
    start: float
    end: float
    score: float
    peak: float
    signals: dict[str, float]
    stage: int
    tier: str
    file: str | None = None                    # the clip in the first format asked for
    thumbnail: str | None = None
    preview: str | None = None                 # animated WebP around the peak
    files: dict[str, str] | None = None        # every format rendered: format -> file
    span: dict[str, float] | None = None       # with --copy: the span chosen, before key-frame alignment

    def to_dict(self) -> dict:
        return asdict(self)


def equal_stages(duration: float, count: int) -> list[Stage]:
    step = duration / count
    return [Stage(i + 1, round(i * step, 3), round(duration if i == count - 1 else (i + 1) * step, 3))
            for i in range(count)]


def stage_of(t: float, stages: list[Stage]) -> int:
    for stage in stages:
        if t < stage.end:
            return stage.index
    return stages[-1].index


def tier_of(score: float, config: TagConfig) -> str:
    """The fused score is already relative to the stream (robust deviations above its baseline)."""
    for tier, floor in zip(TIERS, (config.tier_s, config.tier_a, config.tier_b)):
        if score >= floor:
            return tier
    return TIERS[-1]


def clip_id(source_name: str, span: Span) -> str:
    """Stable across runs for the same source and span, so feedback can refer to it."""
    key = f"{source_name}:{span.start:.3f}:{span.end:.3f}".encode()
    return hashlib.sha1(key).hexdigest()[:10]


def tag_spans(spans: list[Span], stages: list[Stage], source_name: str, config: TagConfig) -> list[Clip]:
    ranked = sorted(spans, key=lambda s: -s.score)
    return [Clip(id=clip_id(source_name, span), rank=rank, start=span.start, end=span.end,
                 score=span.score, peak=span.peak, signals=span.signals,
                 stage=stage_of(span.peak, stages), tier=tier_of(span.score, config))
            for rank, span in enumerate(ranked, start=1)]
