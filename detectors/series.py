"""`Series`: one signal sampled on a regular time grid.

Bin ``i`` of a series covers ``[t0 + i*hop, t0 + (i+1)*hop)``. All detectors produce series on the
same grid (``t0`` a multiple of ``hop``), so series from different chunks concatenate exactly and
series from different signals line up bin for bin.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Series:
    name: str
    t0: float
    hop: float
    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.values)

    @property
    def end(self) -> float:
        return self.t0 + len(self.values) * self.hop

    def times(self) -> np.ndarray:
        """Start time of each bin, in seconds."""
        return self.t0 + np.arange(len(self.values)) * self.hop

    def fit(self, n_bins: int, fill: float = 0.0) -> "Series":
        """The same series cut or padded (with ``fill``) to exactly ``n_bins`` bins."""
        return Series(self.name, self.t0, self.hop, fit_bins(self.values, n_bins, fill))

    def to_dict(self) -> dict:
        """A JSON-able form, small enough to travel through a task queue (a 300 s chunk at 0.5 s
        bins is 600 numbers), and exact: floats survive JSON unchanged, so a series that crossed
        the queue gives the same scores as one that did not."""
        return {"name": self.name, "t0": self.t0, "hop": self.hop, "values": [float(v) for v in self.values]}

    @classmethod
    def from_dict(cls, data: dict) -> "Series":
        return cls(data["name"], float(data["t0"]), float(data["hop"]), np.asarray(data["values"]))


def concat(parts: list[Series]) -> Series:
    """Join chunk series in time order into one; each part must start where the last ended."""
    if not parts:
        raise ValueError("nothing to concatenate")
    parts = sorted(parts, key=lambda s: s.t0)
    first = parts[0]
    for before, after in zip(parts, parts[1:]):
        if abs(before.end - after.t0) > first.hop / 2:
            raise ValueError(f"series {first.name}: chunk at {after.t0}s does not follow {before.end}s")
    return Series(first.name, first.t0, first.hop, np.concatenate([p.values for p in parts]))


def bins_for(duration: float, hop: float) -> int:
    """How many bins cover ``duration`` seconds (the last one may be partial)."""
    return max(1, int(np.ceil(round(duration / hop, 6))))


def fit_bins(values: np.ndarray | None, n_bins: int, fill: float = 0.0) -> np.ndarray:
    """``values`` cut or padded (with ``fill``) to exactly ``n_bins`` bins; None is all ``fill``."""
    out = np.full(n_bins, fill, dtype=float)
    if values is not None:
        out[:min(n_bins, len(values))] = values[:n_bins]
    return out
