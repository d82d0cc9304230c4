"""Visual detector: how much the picture moves per bin, and where the scene cuts are.

Contract: ``visual_features(path, start, end, hop, fps, width, height, cut_threshold)`` returns
``VisualFeatures`` for ``[start, end)``:
- ``motion``: Series ``visual``, the mean over the bin's sampled frames of the mean absolute
  difference (0-255 grey levels) from the frame before, each difference capped at
  ``cut_threshold`` so that a lone cut counts as one busy frame, not as a burst of action;
- ``cuts``: times of scene cuts: a difference above ``cut_threshold`` that also stands at least
  3 times above the differences just before it (a cut is a jump, not fast motion continuing).

Why small and grey: change between frames shows at a few dozen pixels across, and ffmpeg's
scaler does the shrinking while it decodes, so Python only ever sees tiny frames. A light blur
before the difference keeps encoder noise and blocking from counting as motion.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import ffmpeg
import numpy as np

from detectors.decode import PipeDecoder
from detectors.series import Series, bins_for

BLOCK_FRAMES = 256
CUT_CONTRAST = 3.0     # a cut's difference against the median of the few differences before it
CUT_HISTORY = 4


@dataclass
class VisualFeatures:
    motion: Series
    cuts: list[float] = field(default_factory=list)


def frame_changes(frames: np.ndarray, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean absolute difference of each grey frame from the one before it, and the last frame
    (blurred) to carry into the next block. A frame with no predecessor gets NaN."""
    changes = np.full(len(frames), np.nan)
    for i, frame in enumerate(frames):
        smooth = cv2.GaussianBlur(frame, (3, 3), 0)
        if previous is not None:
            changes[i] = cv2.mean(cv2.absdiff(smooth, previous))[0]
        previous = smooth
    return changes, previous


def visual_features(path: str, start: float, end: float, hop: float, fps: float = 4.0, width: int = 64,
                    height: int = 36, cut_threshold: float = 20.0, warnings: list[str] | None = None) -> VisualFeatures:
    n_bins = bins_for(end - start, hop)
    # Start a few samples early so the first frames of the chunk have predecessors (and a history
    # for the cut test) exactly as they would in one pass over the whole recording.
    lead = min(start, (CUT_HISTORY + 1) / fps)
    seek = start - lead
    source = ffmpeg.input(path, ss=seek, t=end - seek)
    node = (source["v:0"]
            .filter("fps", fps=fps)
            .filter("scale", width, height, flags="area")
            .output("pipe:", format="rawvideo", pix_fmt="gray"))
    decoder = PipeDecoder(node, f"video of {path}")
    totals, counts = np.zeros(n_bins), np.zeros(n_bins)
    cuts: list[float] = []
    history: list[float] = []
    previous = None
    index = 0
    frame_bytes = width * height
    for block in decoder.blocks(frame_bytes * BLOCK_FRAMES):
        count = len(block) // frame_bytes
        frames = np.frombuffer(block[:count * frame_bytes], np.uint8).reshape(count, height, width)
        changes, previous = frame_changes(frames, previous)
        times = seek + (index + np.arange(count)) / fps
        for t, change in zip(times, changes):
            if np.isnan(change):
                continue
            before = np.median(history[-CUT_HISTORY:]) if history else 0.0
            if change > cut_threshold and change > CUT_CONTRAST * before and start <= t < end:
                cuts.append(round(float(t), 3))
            history.append(change)
        bins = np.floor((times - start) / hop + 1e-9).astype(int)
        valid = (bins >= 0) & (bins < n_bins) & ~np.isnan(changes)
        np.add.at(totals, bins[valid], np.minimum(changes[valid], cut_threshold))
        np.add.at(counts, bins[valid], 1)
        index += count
    if warnings is not None:
        warnings.extend(decoder.warnings)
    motion = np.divide(totals, counts, out=np.zeros(n_bins), where=counts > 0)
    return VisualFeatures(Series("visual", start, hop, motion), cuts)
