"""Span selection: the top N non-overlapping moments of the fused score, as clip-length spans.

Greedy, strongest peak first. A peak that only continues a chosen moment (its decaying tail, left
over once that moment's span is taken) is no moment of its own and is skipped. A moment lasts
while the score stays above ``edge`` x its peak; the
span starts ``lead`` seconds before the moment rises (viewers need the set-up, not just the
reaction) and ends ``tail`` seconds after it falls, then is stretched or cut to fit
``[min_len, max_len]`` inside the free room between spans already chosen.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.config import SelectConfig
from pipeline.fuse import Fused


@dataclass
class Span:
    start: float
    end: float
    score: float          # fused score at the peak
    peak: float           # time of the peak, seconds
    signals: dict[str, float] = field(default_factory=dict)  # each signal's mean z over the moment

    @property
    def length(self) -> float:
        return self.end - self.start


def _moment_edges(score: np.ndarray, peak: int, threshold: float, blocked: np.ndarray) -> tuple[int, int]:
    left = peak
    while left > 0 and score[left - 1] > threshold and not blocked[left - 1]:
        left -= 1
    right = peak
    while right < len(score) - 1 and score[right + 1] > threshold and not blocked[right + 1]:
        right += 1
    return left, right


def is_shoulder(score: np.ndarray, peak: int, share: float) -> bool:
    """True when ``peak`` (the highest bin not yet in a chosen span) only continues a higher
    moment: walking towards a higher bin on either side, the score never dips below ``share`` of
    the peak, so there is no valley between them and they are one moment."""
    floor = share * score[peak]
    for step in (-1, 1):
        i = peak + step
        while 0 <= i < len(score) and score[i] >= floor:
            if score[i] > score[peak]:
                return True
            i += step
    return False


def _fit(start: float, end: float, peak_t: float, room: tuple[float, float], config: SelectConfig) -> tuple[float, float] | None:
    """Stretch, cut and slide ``[start, end)`` into ``room`` within the length limits; None if no fit."""
    lo, hi = room
    if hi - lo < config.min_len - 1e-6:
        return None
    if end - start > config.max_len:
        # Keep the lead-in, unless that would cut the peak off: then centre on the peak.
        end = start + config.max_len
        if peak_t > end - config.tail:
            start = peak_t - config.max_len / 2
            end = start + config.max_len
    if end - start < config.min_len:
        missing = config.min_len - (end - start)
        start -= missing * 0.3
        end += missing * 0.7
    if start < lo:
        end, start = min(hi, end + (lo - start)), lo
    if end > hi:
        start, end = max(lo, start - (end - hi)), hi
    if end - start < config.min_len - 1e-6:
        return None
    return start, end


def snap_edges(start: float, end: float, edges: np.ndarray, room: tuple[float, float],
               config: SelectConfig) -> tuple[float, float]:
    """Move each end of the span to the nearest cut or pause within ``snap`` seconds, so a clip
    does not open or close mid-word or mid-shot, as long as it stays in its room and length."""
    def nearest(t: float) -> float | None:
        if len(edges) == 0:
            return None
        lo, hi = np.searchsorted(edges, [t - config.snap, t + config.snap + 1e-9])
        if lo >= hi:
            return None
        near = edges[lo:hi]
        return float(near[np.argmin(np.abs(near - t))])

    for which in ("start", "end"):
        target = nearest(start if which == "start" else end)
        if target is None:
            continue
        new_start, new_end = (target, end) if which == "start" else (start, target)
        if (room[0] <= new_start and new_end <= room[1]
                and config.min_len - 1e-6 <= new_end - new_start <= config.max_len + 1e-6):
            start, end = new_start, new_end
    return start, end


def select_spans(fused: Fused, duration: float, config: SelectConfig, edges: list[float] | None = None,
                 quotas: list[tuple[float, float, int]] | None = None) -> list[Span]:
    """Pick spans; ``edges`` are sorted times of scene cuts and speech pauses to snap to;
    ``quotas`` are (start, end, n): each such window first gets its n best spans (if they score
    at least ``min_score``), then the strongest peaks anywhere fill the rest."""
    edge_times = np.asarray(edges or [], dtype=float)
    score, hop = fused.score, fused.hop
    n = len(score)
    blocked = np.zeros(n, bool)      # bins inside chosen spans
    rejected = np.zeros(n, bool)     # peaks that found no room
    spans: list[Span] = []

    def pick(limit: int, allowed: np.ndarray) -> None:
        taken = 0
        for _ in range(max(1, limit) * 50):
            if taken >= limit or len(spans) >= config.clips:
                return
            candidates = np.where(blocked | rejected | ~allowed, -np.inf, score)
            peak = int(np.argmax(candidates))
            if candidates[peak] < config.min_score:
                return
            left, right = _moment_edges(score, peak, score[peak] * config.edge, blocked)
            if is_shoulder(score, peak, config.shoulder):
                # Never the higher moment itself: it may lie outside this pick's window (another
                # stage) and still be chosen there.
                rejected[left:right + 1] |= score[left:right + 1] <= score[peak]
                continue
            peak_t = (peak + 0.5) * hop
            before = [s.end for s in spans if s.end <= peak_t]
            after = [s.start for s in spans if s.start >= peak_t]
            room = (max(before, default=0.0), min(after, default=duration))
            fitted = _fit(left * hop - config.lead, (right + 1) * hop + config.tail, peak_t, room, config)
            if fitted is None:
                rejected[left:right + 1] = True
                continue
            start, end = snap_edges(*fitted, edge_times, room, config)
            spans.append(Span(round(start, 3), round(end, 3), round(float(score[peak]), 3), round(peak_t, 3),
                              {name: round(float(z[left:right + 1].mean()), 3) for name, z in fused.signals.items()}))
            blocked[int(start / hop):int(np.ceil(end / hop))] = True
            taken += 1

    times = (np.arange(n) + 0.5) * hop
    for window_start, window_end, count in quotas or []:
        pick(count, (times >= window_start) & (times < window_end))
    pick(config.clips, np.ones(n, bool))
    return spans
