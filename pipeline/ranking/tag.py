"""Tagging: which broadcast stage a clip comes from, its tier, and the traffic pool it starts in."""
from __future__ import annotations

import hashlib
from typing import Sequence

from peakclip.detectors.transcript import Segment
from peakclip.pipeline.ranking.broadcast import Stage
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.rules import TIERS, Rules
from peakclip.pipeline.ranking.select import Span


def spoken_between(segments: Sequence[Segment], start: float, end: float) -> str:
    """The transcript's words between ``start`` and ``end``: each segment inside whole, and of a
    segment an edge cuts, the words whose middle is inside (its timed words, or its text spread
    evenly over it when it has no word timings)."""
    parts = []
    for segment in segments:
        if segment.end <= start or segment.start >= end:
            continue
        if start <= segment.start and segment.end <= end:
            parts.append(segment.text)
            continue
        words = segment.text.split()
        step = (segment.end - segment.start) / max(1, len(words))
        timed = [((w.start + w.end) / 2, w.text) for w in segment.words] or \
                [(segment.start + (i + 0.5) * step, word) for i, word in enumerate(words)]
        parts += [word for middle, word in timed if start <= middle < end]
    return " ".join(parts)


def stage_of(t: float, stages: list[Stage]) -> int:
    """The index of the broadcast stage that time ``t`` (seconds) falls in."""
    for stage in stages:
        if t < stage.end:
            return stage.index
    return stages[-1].index


def tier_of(score: float, rules: Rules) -> str:
    """Against the whole stream: the fused score is in robust deviations above its baseline."""
    for tier in TIERS[:3]:
        if score >= rules.tiers[tier]:
            return tier
    return TIERS[-1]


MEDIA_SIGNALS = ("audio", "visual")


def unwitnessed(span: Span, rules: Rules) -> bool:
    """Whether nobody in the chat reacted to the span (its chat z under ``rules.witness``) while
    at most one of sound and picture carries it (z at ``rules.carries`` or more); False without a
    chat signal or with the rule off, and False where sound and picture were both measured and
    neither carries it: it rose with the chat alone, and its score is the audience's own."""
    if not rules.witness or "chat" not in span.signals or span.signals["chat"] >= rules.witness:
        return False
    carried = sum(span.signals.get(name, 0.0) >= rules.carries for name in MEDIA_SIGNALS)
    chat_alone = carried == 0 and all(name in span.signals for name in MEDIA_SIGNALS)
    return carried <= 1 and not chat_alone


def clip_id(source_name: str, span: Span) -> str:
    """Stable across runs for the same source and span, so feedback can refer to it."""
    key = f"{source_name}:{span.start:.3f}:{span.end:.3f}".encode()
    return hashlib.sha1(key).hexdigest()[:10]


def tag_spans(spans: list[Span], stages: list[Stage], source_name: str, rules: Rules) -> list[Clip]:
    """Spans (seconds, fused-score units) as ranked clips: rank 1 the highest score, the broadcast
    stage its peak falls in, its tier from the score (``rules.tiers``; the best clip of a stage
    lifted one tier, never to S, when ``rules.lift``), C for a span nobody in the chat reacted to
    that one signal carries (``unwitnessed``), and the traffic pool that tier starts in.
    A clip's id is stable: a hash of the recording's name and the span."""
    ranked = sorted(spans, key=lambda s: -s.score)
    alone = [unwitnessed(span, rules) for span in ranked]
    clips = [Clip(id=clip_id(source_name, span), rank=rank, start=span.start, end=span.end, score=span.score,
                  peak=span.peak, signals=span.signals, stage=stage_of(span.peak, stages),
                  tier=TIERS[-1] if alone[rank - 1] else tier_of(span.score, rules))
             for rank, span in enumerate(ranked, start=1)]
    if rules.lift:
        # Against its own stage: the stage's best clip goes up one tier, but never to S.
        best_of_stage: dict[int, Clip] = {}
        for clip in clips:
            best_of_stage.setdefault(clip.stage, clip)
        for clip in best_of_stage.values():
            if clip.tier in ("B", "C") and clip.score >= rules.lift_min and not alone[clip.rank - 1]:
                clip.tier = TIERS[TIERS.index(clip.tier) - 1]
    for clip in clips:
        clip.pool = rules.start[clip.tier]
    return clips
