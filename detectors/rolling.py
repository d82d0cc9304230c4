"""Rolling-window filters over 1-D numpy arrays: the few of ``scipy.ndimage``'s peakclip uses.

They give what ``median_filter``, ``maximum_filter1d`` and ``uniform_filter1d`` give (tests check
them against scipy) for the edge modes used here. Why not scipy itself: importing
``scipy.ndimage`` takes ~0.4 s, a third of the whole analysis of a 10-minute stream, in every
process (CLI runs and worker tasks alike).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Scipy's names for how an array is extended past its ends, as numpy.pad calls them.
PAD_MODES = {"reflect": "symmetric", "nearest": "edge", "mirror": "reflect"}
BLOCK = 8192          # rows of windows taken at once: memory stays small on a day-long series


def _padded(values: np.ndarray, size: int, mode: str) -> np.ndarray:
    """``values`` extended by ``mode`` so that each has a window of ``size`` centred on it
    (scipy's origin 0: for an even size the window reaches one further back than forward)."""
    before = size // 2
    return np.pad(np.asarray(values, dtype=float), (before, size - 1 - before), mode=PAD_MODES[mode])


def _windows(values: np.ndarray, size: int, mode: str) -> np.ndarray:
    """Every window of ``size`` centred on each value."""
    return sliding_window_view(_padded(values, size, mode), size)


def rolling_median(values: np.ndarray, size: int, mode: str = "reflect") -> np.ndarray:
    """``scipy.ndimage.median_filter(values, size, mode=mode)`` for a 1-D array (for an even
    ``size``, as scipy, the upper of the two middle values)."""
    if len(values) == 0:
        return np.zeros(0)
    windows, middle = _windows(values, size, mode), size // 2
    return np.concatenate([np.partition(windows[i:i + BLOCK], middle, axis=1)[:, middle]
                           for i in range(0, len(windows), BLOCK)])


def rolling_max(values: np.ndarray, size: int, mode: str = "nearest") -> np.ndarray:
    """``scipy.ndimage.maximum_filter1d(values, size, mode=mode)``."""
    if len(values) == 0:
        return np.zeros(0)
    windows = _windows(values, size, mode)
    return np.concatenate([windows[i:i + BLOCK].max(axis=1) for i in range(0, len(windows), BLOCK)])


def rolling_mean(values: np.ndarray, size: int, mode: str = "nearest") -> np.ndarray:
    """``scipy.ndimage.uniform_filter1d(values, size, mode=mode)`` (equal to rounding error)."""
    if len(values) == 0:
        return np.zeros(0)
    sums = np.concatenate([[0.0], np.cumsum(_padded(values, size, mode))])
    return (sums[size:] - sums[:-size]) / size
