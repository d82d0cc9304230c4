"""Scene cuts where clip edges may land, found on demand: coarse to fine.

The chunk pass reads only what is cheap over the whole stream (packet sizes and flags, audio at a
low rate, chat). Scene cuts need decoded pictures, and they only ever move a clip's edge, by at
most ``select.snap`` seconds. So instead of decoding every key frame of the stream, selection
runs with a lookup (``CutsOnDemand``) that answers from the cuts found so far and notes every time
window it was asked about and could not answer; those windows are then decoded all at once
(``detectors.visual.scene_cuts``: only the key frames around each window) and selection runs
again, until a run asks for nothing new. Selection is deterministic and looks at cuts only
through the lookup, so the last run, every question of which was answered from decoded key
frames, chooses exactly what a pass over every key frame would have. It usually takes two runs:
the second asks about the same edges as the first.
"""
from __future__ import annotations

import math
from typing import Callable, TypeVar

import numpy as np

from peakclip.detectors.visual import scene_cuts
from peakclip.pipeline.config import AnalysisConfig
from peakclip.pipeline.ranking.select import Edges

T = TypeVar("T")


class CutsOnDemand:
    """An edge lookup (``pipeline.ranking.select.EdgeLookup``): pauses, which are always known, and the
    scene cuts of the windows decoded so far."""

    def __init__(self, path: str, keys: list[float], spots: list[float], pauses: list[float],
                 config: AnalysisConfig, warnings: list[str] | None = None, judged: dict[float, float] | None = None):
        self.path, self.keys, self.spots, self.config = path, keys, spots, config
        # Key-frame pairs measured so far (scene_cuts' ``judged``): a caller that ranks the same
        # recording again (a live watch, after every chunk) passes the same dict each time.
        self.judged = {} if judged is None else judged
        self.pauses = np.sort(np.asarray(pauses, float))
        self.cuts = np.zeros(0)
        self.decoded: list[tuple[float, float]] = []     # windows whose cuts are all known
        self.missing: list[tuple[float, float]] = []     # windows asked about, not yet decoded
        self.warnings = warnings

    def known(self, lo: float, hi: float) -> bool:
        return any(a <= lo and hi <= b for a, b in self.decoded)

    def __call__(self, lo: float, hi: float) -> np.ndarray:
        if not self.known(lo, hi):
            self.missing.append((lo, hi))
        edges = np.concatenate([self.cuts, self.pauses])
        return np.sort(edges[(edges >= lo) & (edges < hi)])

    def decode_missing(self) -> bool:
        """Find the cuts of every window asked about since the last call; False when there was none."""
        windows = [w for w in self.missing if not self.known(*w)]
        self.missing = []
        if not windows:
            return False
        self.cuts = np.union1d(self.cuts, self.find(windows))
        self.decoded += windows
        return True

    def find(self, windows: list[tuple[float, float]]) -> list[float]:
        c = self.config
        return scene_cuts(self.path, self.keys, self.spots, windows, c.visual_width, c.visual_height,
                          c.cut_threshold, self.warnings, judged=self.judged)


def settle(choose: Callable[[Edges], T], edges: Edges, rounds: int = 6) -> T:
    """``choose(edges)``, run again until it asks about no window whose cuts are unknown (once,
    when ``edges`` is a plain list of times). Each round can only add windows, and in practice
    the second asks for nothing new; should ``rounds`` not be enough, every cut is decoded and
    the last run cannot ask for anything new."""
    if not isinstance(edges, CutsOnDemand):
        return choose(edges)
    for _ in range(rounds):
        chosen = choose(edges)
        if not edges.decode_missing():
            return chosen
    edges.missing = [(0.0, math.inf)]
    edges.decode_missing()
    return choose(edges)
