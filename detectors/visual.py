"""Visual detector: how busy the picture is per bin, and where the scene cuts are, from the
compressed stream, decoding only key frames.

Contract: ``visual_features(path, start, end, hop, width, height, cut_threshold)`` returns
``VisualFeatures`` for ``[start, end)``:
- ``motion``: Series ``visual``, log2 of the mean size in bytes of the bin's predicted (non-key)
  video packets. An encoder spends bytes on what changes between frames: motion, action, cuts;
  a still or slowly moving picture costs few. Reading packet sizes is demuxing only: nothing is
  decoded. (Doubling the bytes adds 1.)
- ``until``: the end of the last video packet in ``[start, end)``: ``end``, or earlier in a
  recording that is cut off;
- ``cuts``: times of scene cuts. Only key frames are decoded (``skip_frame=nokey``), shrunk to
  ``width`` x ``height`` grey: where two consecutive key frames differ by more than
  ``cut_threshold`` grey levels the picture changed between them, and the cut is placed at the
  largest predicted packet of that group of pictures (a cut costs the encoder a burst of intra
  blocks), or at the key frame itself when no packet stands out.

The picture is the first video stream that is not an attached cover picture (ffmpeg's ``V``).

Why: decoding is the cost of analysis. A live stream with a 2 s GOP has one key frame in 60, so
this reads the whole picture signal for a few percent of a full decode.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import ffmpeg
import numpy as np

from detectors.decode import PipeDecoder
from detectors.errors import MediaError
from detectors.probe import clock_origin
from detectors.series import Series, bins_for

KEYFRAME_LEAD = 10.0   # seconds before a chunk to look for the key frame preceding it
CUT_PACKET_CONTRAST = 1.4  # a cut's packet against the median packet of its group of pictures


@dataclass
class VisualFeatures:
    motion: Series
    cuts: list[float] = field(default_factory=list)
    until: float = 0.0    # where the video packets end (before ``end`` when the recording is cut off)


def packet_scan(path: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Presentation time (from the recording's start), size and key flag of every video packet
    from ``start`` to ``end``."""
    origin = clock_origin(path)
    try:
        info = ffmpeg.probe(path, select_streams="V:0", show_packets=None, show_entries="packet=pts_time,size,flags",
                            read_intervals=f"{origin + max(0.0, start)}%{origin + end}")
    except ffmpeg.Error as err:
        last = (err.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise MediaError(f"could not read the video packets of {path}: {last[-1] if last else 'ffprobe failed'}") from None
    rows = [(float(p["pts_time"]), int(p["size"]), "K" in p.get("flags", ""))
            for p in info.get("packets", []) if p.get("pts_time") not in (None, "N/A")]
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0, bool)
    times, sizes, keys = (np.asarray(column) for column in zip(*rows))
    times = times - origin
    inside = (times >= start) & (times < end)
    return times[inside], sizes[inside].astype(float), keys[inside].astype(bool)


def key_frames(path: str, start: float, end: float, width: int, height: int) -> np.ndarray:
    """Grey, shrunk key frames from ``start`` to ``end``, in order (only key frames are decoded)."""
    node = (ffmpeg.input(path, ss=start, t=end - start, skip_frame="nokey")["V:0"]
            .output("pipe:", vf=f"scale={width}:{height}:flags=area", format="rawvideo", pix_fmt="gray",
                    fps_mode="passthrough"))
    blocks = [np.frombuffer(b, np.uint8) for b in PipeDecoder(node, f"video of {path}").blocks(width * height * 256)]
    data = np.concatenate(blocks) if blocks else np.zeros(0, np.uint8)
    count = len(data) // (width * height)
    return data[:count * width * height].reshape(count, height, width)


def frame_changes(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference of each frame from the one before (the first: NaN), lightly
    blurred so that encoder noise and blocking do not count as change."""
    smooth = [cv2.GaussianBlur(f, (3, 3), 0) for f in frames]
    changes = np.full(len(frames), np.nan)
    for i in range(1, len(frames)):
        changes[i] = cv2.mean(cv2.absdiff(smooth[i], smooth[i - 1]))[0]
    return changes


def visual_features(path: str, start: float, end: float, hop: float, width: int = 64, height: int = 36,
                    cut_threshold: float = 20.0, warnings: list[str] | None = None) -> VisualFeatures:
    n_bins = bins_for(end - start, hop)
    # Look a little before and after the chunk: each cut lies between two key frames, and the
    # chunk that holds the cut's time reports it, whichever chunk those key frames fall in.
    lead_start, tail_end = max(0.0, start - KEYFRAME_LEAD), end + KEYFRAME_LEAD
    times, sizes, keys = packet_scan(path, lead_start, tail_end)
    # Motion: mean bytes of the predicted packets in each bin of [start, end).
    bins = np.floor((times - start) / hop + 1e-9).astype(int)
    inside = (bins >= 0) & (bins < n_bins) & ~keys
    totals, counts = np.zeros(n_bins), np.zeros(n_bins)
    np.add.at(totals, bins[inside], sizes[inside])
    np.add.at(counts, bins[inside], 1)
    mean_bytes = np.divide(totals, counts, out=np.zeros(n_bins), where=counts > 0)
    motion = np.log2(mean_bytes + 1.0)
    # Cuts: key frames that differ from the one before, located by the packet burst between them.
    key_times = times[keys]
    frames = key_frames(path, lead_start, tail_end, width, height)
    if len(frames) != len(key_times):
        # Should not happen (both list the key frames of the same range); keep the latest that pair up.
        count = min(len(frames), len(key_times))
        frames, key_times = frames[len(frames) - count:], key_times[len(key_times) - count:]
    changes = frame_changes(frames)
    cuts = []
    for k in range(1, len(key_times)):
        if not changes[k] > cut_threshold:
            continue
        between = (times > key_times[k - 1]) & (times < key_times[k]) & ~keys
        at = key_times[k]
        if between.any():
            group = sizes[between]
            largest = int(np.argmax(group))
            if group[largest] > CUT_PACKET_CONTRAST * np.median(group):
                at = times[between][largest]
        if start <= at < end:
            cuts.append(round(float(at), 3))
    in_chunk = times[(times >= start) & (times < end)]
    frame = float(np.median(np.diff(np.sort(times)))) if len(times) > 1 else 0.0
    until = min(end, float(in_chunk.max()) + frame) if len(in_chunk) else start
    return VisualFeatures(Series("visual", start, hop, motion), sorted(cuts), until)
