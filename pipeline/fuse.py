"""Fusion: judge each signal against its own local baseline, line them up, combine.

A stream gets busier over hours (the audience grows, the host warms up), so a global threshold
would find only the last hour. Each signal is instead turned into a robust z-score against a
rolling median and median absolute deviation over ``baseline_window`` seconds around it. Chat is
shifted back in time because people type after they see the moment. The fused score is the
weighted mean of the (capped, positive) z-scores, smoothed over a few seconds so that a lone
spike in one bin (a scene cut) weighs less than a moment that lasts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter, uniform_filter1d

from detectors.series import Series
from detectors.chat import ChatConfig
from pipeline.config import FuseConfig


@dataclass
class Fused:
    hop: float
    score: np.ndarray                 # the fused, smoothed score per bin
    signals: dict[str, np.ndarray]    # each signal's capped z-score per bin, lag-corrected


def robust_z(values: np.ndarray, window_bins: int, min_spread: float) -> np.ndarray:
    """How many robust deviations each value stands above its local median."""
    window_bins = max(3, window_bins | 1)
    median = median_filter(values, size=window_bins, mode="nearest")
    spread = 1.4826 * median_filter(np.abs(values - median), size=window_bins, mode="nearest")
    return (values - median) / np.maximum(spread, min_spread)


def soft_cap(z: np.ndarray, cap: float) -> np.ndarray:
    """Limit how much one signal can add, smoothly, so two strong moments still rank apart."""
    return cap * np.tanh(z / cap)


def shift_back(values: np.ndarray, bins: int) -> np.ndarray:
    """Move a series ``bins`` earlier in time (the end is padded with zeros)."""
    if bins <= 0:
        return values
    return np.concatenate([values[bins:], np.zeros(min(bins, len(values)))])


def chat_shift_seconds(chat: ChatConfig) -> float:
    # The chat series counts a trailing window, so its rise also trails by about half a window.
    return chat.lag + chat.window / 2


def fuse(signals: dict[str, Series], config: FuseConfig, chat: ChatConfig) -> Fused:
    hop = next(iter(signals.values())).hop
    window_bins = int(round(config.baseline_window / hop))
    z_scores: dict[str, np.ndarray] = {}
    for name, series in signals.items():
        z = soft_cap(np.maximum(robust_z(series.values, window_bins, config.min_spread(name)), 0.0), config.z_cap)
        if name == "chat":
            z = shift_back(z, int(round(chat_shift_seconds(chat) / hop)))
        z_scores[name] = z
    weights = {name: config.weight(name) for name in z_scores}
    total = sum(weights.values()) or 1.0
    combined = sum(weights[name] * z for name, z in z_scores.items()) / total
    smooth_bins = max(1, int(round(config.smooth / hop)))
    return Fused(hop, uniform_filter1d(combined, smooth_bins, mode="nearest"), z_scores)
