"""Visual detector: how much the picture changes per bin.

Contract: ``visual_change(path, start, end, hop, fps, width)`` returns a Series named ``visual``
with one value per ``hop`` seconds of ``[start, end)``: the largest mean absolute difference
(0-255 grey levels) between consecutive sampled frames inside that bin. Scene cuts and fast
motion score high; a static or slowly moving picture scores near 0.

Why small and grey: change between frames shows at a few dozen pixels across, and ffmpeg's
scaler does the shrinking while it decodes, so Python only ever sees tiny frames. A light blur
before the difference keeps encoder noise and blocking from counting as motion.
"""
from __future__ import annotations

import cv2
import ffmpeg
import numpy as np

from detectors.decode import PipeDecoder
from detectors.series import Series, bins_for

BLOCK_FRAMES = 256


def frame_changes(frames: np.ndarray, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean absolute difference of each grey frame from the one before it, and the last frame
    (blurred) to carry into the next block."""
    changes = np.zeros(len(frames))
    for i, frame in enumerate(frames):
        smooth = cv2.GaussianBlur(frame, (3, 3), 0)
        if previous is not None:
            changes[i] = cv2.mean(cv2.absdiff(smooth, previous))[0]
        previous = smooth
    return changes, previous


def visual_change(path: str, start: float, end: float, hop: float, fps: float = 4.0,
                  width: int = 64, height: int = 36, warnings: list[str] | None = None) -> Series:
    n_bins = bins_for(end - start, hop)
    # Start one sample early so the first frame of the chunk has a predecessor to compare with.
    lead = min(start, 1.0 / fps)
    seek = start - lead
    source = ffmpeg.input(path, ss=seek, t=end - seek)
    node = (source["v:0"]
            .filter("fps", fps=fps)
            .filter("scale", width, height, flags="area")
            .output("pipe:", format="rawvideo", pix_fmt="gray"))
    decoder = PipeDecoder(node, f"video of {path}")
    values = np.zeros(n_bins)
    previous = None
    index = 0
    frame_bytes = width * height
    for block in decoder.blocks(frame_bytes * BLOCK_FRAMES):
        count = len(block) // frame_bytes
        frames = np.frombuffer(block[:count * frame_bytes], np.uint8).reshape(count, height, width)
        had_previous = previous is not None
        changes, previous = frame_changes(frames, previous)
        times = seek + (index + np.arange(count)) / fps
        bins = np.floor((times - start) / hop + 1e-9).astype(int)
        valid = (bins >= 0) & (bins < n_bins)
        if not had_previous:
            valid[0] = False  # the very first frame has nothing to differ from
        np.maximum.at(values, bins[valid], changes[valid])
        index += count
    if warnings is not None:
        warnings.extend(decoder.warnings)
    return Series("visual", start, hop, values)
