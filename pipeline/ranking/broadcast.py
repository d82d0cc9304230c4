"""Broadcast stages: the parts a long stream is judged in.

- ``equal_stages(duration, n)``: n equal parts;
- ``explicit_stages(duration, times)``: boundaries the user gives (``--stage-at 01:20:00,02:40:00``);
- ``auto_stages(audience, hop, ...)``: boundaries where the audience level shifts. The audience
  series (people chatting and reacting, per bin) is summarised by its median over 1-minute blocks (so
  a burst of reactions does not count as a new audience) and split by binary
  segmentation on its logarithm: a boundary is kept where it best separates two levels that
  differ by at least ``min_ratio`` times, each side at least ``min_stage`` seconds long, up to
  ``max_stages`` stages. A stream whose audience never shifts stays one stage.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peakclip.detectors.errors import UserError

BLOCK_SECONDS = 60.0


@dataclass
class Stage:
    """A part of the broadcast judged on its own: index (from 1), start and end in seconds."""
    index: int
    start: float
    end: float


def _from_bounds(duration: float, bounds: list[float]) -> list[Stage]:
    edges = [0.0] + sorted(bounds) + [duration]
    return [Stage(i + 1, round(a, 3), round(b, 3)) for i, (a, b) in enumerate(zip(edges, edges[1:]))]


def equal_stages(duration: float, count: int) -> list[Stage]:
    """``count`` stages of equal length over ``duration`` seconds."""
    return _from_bounds(duration, [duration * i / count for i in range(1, count)])


def parse_clock(text: str) -> float:
    """``HH:MM:SS``, ``MM:SS`` or seconds."""
    try:
        seconds = 0.0
        for part in text.strip().split(":"):
            seconds = seconds * 60 + float(part)
        return seconds
    except ValueError:
        raise UserError(f"--stage-at takes times like 01:20:00 (got {text!r})") from None


def explicit_stages(duration: float, times: list[str]) -> list[Stage]:
    """Stages split at the given clock times (``01:20:00``); times outside the recording are a
    UserError."""
    bounds = sorted(parse_clock(t) for t in times)
    if any(not 0 < b < duration for b in bounds) or len(set(bounds)) != len(bounds):
        raise UserError(f"--stage-at times must be distinct and inside the recording (0 to {duration:.0f}s)")
    return _from_bounds(duration, bounds)


def _best_split(levels: np.ndarray, min_blocks: int) -> tuple[int, float] | None:
    """The split index that most reduces the squared error, and the reduction."""
    n = len(levels)
    if n < 2 * min_blocks:
        return None
    total = ((levels - levels.mean()) ** 2).sum()
    best = None
    for k in range(min_blocks, n - min_blocks + 1):
        left, right = levels[:k], levels[k:]
        gain = total - ((left - left.mean()) ** 2).sum() - ((right - right.mean()) ** 2).sum()
        if best is None or gain > best[1]:
            best = (k, gain)
    return best


def auto_stages(audience: np.ndarray, hop: float, duration: float, min_stage: float = 300.0,
                max_stages: int = 5, min_ratio: float = 2.0) -> list[Stage]:
    """Stages where the audience level (chat per bin of ``hop`` seconds) shifts: split while a part
    is at least ``min_ratio`` times busier or quieter than its neighbour, each at least
    ``min_stage`` seconds, at most ``max_stages``."""
    per_block = max(1, int(round(BLOCK_SECONDS / hop)))
    n_blocks = max(1, len(audience) // per_block)
    # The median of each block: a burst of reactions is a moment, not a new audience.
    levels = np.log(np.median(audience[:n_blocks * per_block].reshape(n_blocks, per_block), axis=1) + 1.0)
    min_blocks = max(1, int(round(min_stage / BLOCK_SECONDS)))
    segments = [(0, n_blocks)]
    while len(segments) < max_stages:
        candidates = []
        for a, b in segments:
            split = _best_split(levels[a:b], min_blocks)
            if split is None:
                continue
            k = a + split[0]
            if abs(levels[a:k].mean() - levels[k:b].mean()) >= np.log(min_ratio):
                candidates.append((split[1], a, k, b))
        if not candidates:
            break
        _, a, k, b = max(candidates)
        segments.remove((a, b))
        segments += [(a, k), (k, b)]
    bounds = sorted(a * per_block * hop for a, _ in segments if a > 0)
    return _from_bounds(duration, bounds)
