"""What a ranking keeps for people to look at: the fused series thinned for plotting, and times
written as a clock (H:MM:SS)."""
from __future__ import annotations

import math

import numpy as np

from peakclip.pipeline.ranking.fuse import Fused

MAX_POINTS = 1200          # points per plotted series, whatever the stream's length (peaks kept)


def timeline_of(fused: Fused, max_points: int = MAX_POINTS) -> dict:
    """The series the report plots, reduced to at most ``max_points`` each by taking the largest
    value of each run of bins (a peak must not vanish between two points)."""
    n = len(fused.score)
    group = max(1, math.ceil(n / max_points))

    def reduce(values: np.ndarray) -> list[float]:
        padded = np.concatenate([values, np.full(-len(values) % group, -np.inf)])
        return [round(float(v), 2) for v in padded.reshape(-1, group).max(axis=1)]

    series = {name: reduce(values) for name, values in fused.signals.items()}
    series["score"] = reduce(fused.score)
    return {"step": fused.hop * group, "series": series}


def clock(seconds: float) -> str:
    """``seconds`` as H:MM:SS."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
