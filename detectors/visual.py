"""Visual detector: how busy the picture is per bin, read from the compressed stream without
decoding, and where the scene cuts are, decoding only key frames, and only where asked.

Contract: ``visual_features(path, start, end, hop, width, height, cut_threshold, warnings, cuts)``
returns ``VisualFeatures`` for ``[start, end)``:
- ``motion``: Series ``visual``, how much the picture changes in each bin, read one of two ways:
  - where packet sizes vary (a quality-targeting encode, VBR), log2 of the mean size in bytes of
    the bin's predicted (non-key) video packets. An encoder spends bytes on what changes between
    frames: motion, action, cuts; a still or slowly moving picture costs few. Reading packet
    sizes is demuxing only: nothing is decoded, and in an MP4 not even read (its index lists
    every packet: ``mp4_index``). (Doubling the bytes adds 1.)
  - where they are flat (a constant bit rate, CBR, as OBS and most live encoders send: the
    encoder holds the bytes per second and raises the quantiser instead, so bytes say nothing),
    log2(1 + the mean absolute grey difference, 0-255) between the two key frames around the
    bin, decoded shrunk to ``width`` x ``height`` grey as for the cuts: every key frame the
    chunk needs, and nothing else (one frame in 60 with a 2 s GOP). The value is the change
    across the bin's group of pictures, so it steps once per key-frame interval. (Doubling the
    change adds about 1.) ``packets_flat`` tells the two apart (see there); an MP4's index
    gives the whole recording's packets, so there every chunk of a stream reads it the same
    way; other containers are judged on the chunk's own packets.
- ``keys``: the times of the key frames in ``[start, end)``, and ``spots``, for each of them,
  where a cut between it and the key frame before would be placed: at the largest predicted
  packet of that group of pictures (a cut costs the encoder a burst of intra blocks), or at the
  key frame itself when no packet stands out. Both come from the packet scan, so they are free;
- ``cuts``: with ``cuts=True``, the scene cuts in ``[start, end)`` (``scene_cuts`` over the
  whole range); otherwise None, and ``scene_cuts`` finds them later only where they matter.
  Where motion is read from the key frames, they are all decoded anyway, and the cuts come
  with them whatever ``cuts`` says;
- ``until``: the end of the last video packet in ``[start, end)``: ``end``, or earlier in a
  recording that is cut off.

``scene_cuts(path, keys, spots, windows, ...)`` returns the cuts inside the given time windows.
A cut is judged from the two key frames around it: decoded shrunk to ``width`` x ``height`` grey
(``skip_frame=nokey``), they differ by more than ``cut_threshold`` grey levels, and it lies at
the later one's spot. So the cuts of a window need only the pairs of key frames whose spot is
inside it, and a window gives exactly the cuts a pass over every key frame gives there.

Key frames are decoded by ``keyframes.key_frames``: straight from an MP4's index where it can.

The picture is the first video stream that is not an attached cover picture (ffmpeg's ``V``).

Why: decoding is the cost of analysis (a 1080p key frame takes ~5 ms to decode whichever way
it reaches the decoder; reading it straight from the index spares the rest: on 300 s of 1080p
CBR, 0.88 CPU-s against 1.05 through the demuxer). A live stream with a 2 s GOP has one key frame in 60, so
decoding key frames is a few percent of a full decode; and clip edges only need the cuts within
a few seconds of them, a few dozen key frames of a stream's thousands. Motion needs no decoding
where packet sizes carry it, and only the key frames where they do not.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

import numpy as np

from peakclip.detectors.errors import MediaError
from peakclip.detectors.keyframes import key_frames
from peakclip.detectors.mp4_index import indexed_packets
from peakclip.detectors.objects import readable
from peakclip.detectors.probe import clock_origin, is_url
from peakclip.detectors.series import Series, bins_for

KEYFRAME_LEAD = 10.0   # seconds before a chunk to look for the key frame preceding it (and after it, the next)
CUT_PACKET_CONTRAST = 1.4  # a cut's packet against the median packet of its group of pictures
# Packet sizes are flat (a constant bit rate: they cannot carry motion) when the predicted packets'
# mean size, second by second, varies by less than this share of its mean (coefficient of
# variation) ...
FLAT_RATE_SPREAD = 0.25
# ... and a key frame costs fewer bytes than this many predicted frames (medians): a still picture
# at a constant quality also makes predicted packets small and even, but then key frames dwarf them.
FLAT_KEY_RATIO = 20.0
FLAT_MIN_SECONDS = 10     # seconds of predicted packets (and two key frames) needed to call them flat


@dataclass
class VisualFeatures:
    motion: Series
    keys: list[float] = field(default_factory=list)
    spots: list[float] = field(default_factory=list)
    cuts: list[float] | None = None
    until: float = 0.0    # where the video packets end (before ``end`` when the recording is cut off)


def packet_scan(path: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Presentation time (from the recording's start), size and key flag of every video packet
    from ``start`` to ``end``: from an MP4's index when it has one this reader follows (nothing
    else is read), otherwise from ffprobe (CSV, not JSON: a stream-hour has 100,000 packets)."""
    indexed = None if is_url(path) else indexed_packets(path)
    if indexed is None:
        return ffprobe_packets(path, start, end)
    times, sizes, keys = indexed
    times = np.round(times, 6) - clock_origin(path)     # to the microsecond, as ffprobe prints them
    inside = (times >= start) & (times < end)
    return times[inside], sizes[inside], keys[inside]


def ffprobe_packets(path: str, start: float, end: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``packet_scan`` by ffprobe, for any container: it reads the packets from the key frame
    before ``start``, and stops at the first one past ``end`` in decode order (so a B-frame just
    before ``end`` that comes after it is not seen: callers read a little past what they need)."""
    origin = clock_origin(path)
    command = ["ffprobe", "-v", "error", "-select_streams", "V:0", "-show_entries", "packet=pts_time,size,flags",
               "-of", "csv=p=0", "-read_intervals", f"{origin + max(0.0, start)}%{origin + end}", readable(path)]
    done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MediaError(f"could not read the video packets of {path}: {last[-1] if last else 'ffprobe failed'}")
    rows = []
    for line in done.stdout.decode("ascii", "replace").splitlines():
        pts, size, flags = (line.split(",") + ["", ""])[:3]
        if pts not in ("", "N/A") and size.isdigit():
            rows.append((float(pts), int(size), "K" in flags))
    if not rows:
        return np.zeros(0), np.zeros(0), np.zeros(0, bool)
    times, sizes, keys = (np.asarray(column) for column in zip(*rows))
    times = times - origin
    inside = (times >= start) & (times < end)
    return times[inside], sizes[inside].astype(float), keys[inside].astype(bool)


def cut_spots(times: np.ndarray, sizes: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The key frames' times, and where a cut between each and the key frame before it lies."""
    key_times = times[keys]
    spots = key_times.copy()
    for k in range(1, len(key_times)):
        between = (times > key_times[k - 1]) & (times < key_times[k]) & ~keys
        if between.any():
            group = sizes[between]
            largest = int(np.argmax(group))
            if group[largest] > CUT_PACKET_CONTRAST * np.median(group):
                spots[k] = times[between][largest]
    return key_times, spots


def packets_flat(times: np.ndarray, sizes: np.ndarray, keys: np.ndarray) -> bool:
    """Whether packet sizes cannot carry motion (``times`` in seconds, ``sizes`` in bytes, ``keys``
    the key flags): the mean size of the predicted packets, second by second, varies by less than
    ``FLAT_RATE_SPREAD`` of its mean, and the median key frame is smaller than ``FLAT_KEY_RATIO``
    median predicted packets. That is a constant bit rate: the encoder spends the same bytes on a
    still picture and on a fight, and shows the difference in its quantiser instead. A
    quality-targeting encode (VBR) fails one test or the other: motion varies the bytes, and a
    still stretch, whose predicted packets are small and even, has key frames tens of times
    larger. Too little to judge (fewer than ``FLAT_MIN_SECONDS`` seconds with predicted packets,
    or fewer than two key frames): False, the packet path."""
    predicted = ~keys
    if int(keys.sum()) < 2 or not predicted.any():
        return False
    seconds = np.floor(times[predicted] - times[predicted].min()).astype(int)
    counts = np.bincount(seconds)
    filled = counts > 0
    if int(filled.sum()) < FLAT_MIN_SECONDS:
        return False
    per_second = np.bincount(seconds, sizes[predicted])[filled] / counts[filled]
    spread = float(per_second.std() / max(per_second.mean(), 1.0))
    ratio = float(np.median(sizes[keys]) / max(float(np.median(sizes[predicted])), 1.0))
    return spread < FLAT_RATE_SPREAD and ratio < FLAT_KEY_RATIO


def rate_sample(path: str, times: np.ndarray, sizes: np.ndarray,
                keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The packets ``packets_flat`` judges a recording by: the whole recording's from an MP4's index
    (already read for the scan, and the same for every chunk, so a stream is read one way
    throughout), else the chunk's own scan (``times``, ``sizes``, ``keys``)."""
    indexed = None if is_url(path) else indexed_packets(path)
    return indexed if indexed is not None else (times, sizes, keys)


def key_motion(key_times: np.ndarray, judged: dict[float, float], start: float, hop: float,
               n_bins: int) -> np.ndarray:
    """Motion from key frames, per bin of ``hop`` seconds from ``start``: log2(1 + the grey change,
    0-255) across the group of pictures that holds the bin's middle, the change between the key
    frames before and after it (``judged``: by the later key frame's time, rounded to the
    microsecond, as ``judge_pairs`` fills it), counted only as far as a neighbouring group changes
    as much: a cut is one jump between two pictures (a camera switch, the start of a still break),
    action keeps changing them. A bin before the first key frame takes the first group, one after
    the last the last group; a group that could not be measured takes the change of the last one
    before it that was (or of the first measured); none measured: zeros."""
    changes = np.array([judged.get(round(float(t), 6), np.nan) for t in key_times[1:]], float)
    valid = ~np.isnan(changes)
    if not valid.any():
        return np.zeros(n_bins)
    last = np.maximum.accumulate(np.where(valid, np.arange(len(changes)), -1))
    changes = changes[np.where(last < 0, int(np.argmax(valid)), last)]
    if len(changes) > 1:
        before = np.concatenate([changes[1:2], changes[:-1]])    # the first group has only the next
        after = np.concatenate([changes[1:], changes[-2:-1]])    # the last only the one before
        changes = np.minimum(changes, np.maximum(before, after))
    middles = start + (np.arange(n_bins) + 0.5) * hop
    group = np.clip(np.searchsorted(key_times, middles, side="right") - 1, 0, len(changes) - 1)
    return np.log2(1.0 + changes[group])


def motion_groups(key_times: np.ndarray, start: float, end: float) -> list[int]:
    """The key-frame pairs (each k: k-1 and k) ``key_motion`` needs for the bins of ``[start, end)``:
    every group of pictures that meets the range, and one more on each side."""
    meets = [k for k in range(1, len(key_times)) if key_times[k] >= start and key_times[k - 1] < end]
    if not meets:
        return []
    return list(range(max(1, meets[0] - 1), min(len(key_times) - 1, meets[-1] + 1) + 1))


def blur3(frame: np.ndarray) -> np.ndarray:
    """3x3 Gaussian blur of a uint8 picture, bit for bit OpenCV's ``GaussianBlur(frame, (3, 3), 0)``:
    the kernel [1 2 1]/4 each way, edges mirrored without repeating the edge pixel, rounded half
    up. In numpy: OpenCV's import costs more than judging every cut of a stream."""
    padded = np.pad(frame.astype(np.uint32), 1, mode="reflect")
    rows = padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]
    return ((rows[:-2] + 2 * rows[1:-1] + rows[2:] + 8) >> 4).astype(np.uint8)


def mean_change(before: np.ndarray, after: np.ndarray) -> float:
    """Mean absolute difference (grey levels, 0-255) of two ``blur3`` pictures as int16."""
    difference = np.abs(after - before)
    # The sum times 1/count, as OpenCV's mean takes it (sum/count can differ in the last bit,
    # and a change of exactly the threshold must fall on the same side as before).
    return float(difference.sum()) * (1.0 / difference.size)


def frame_changes(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference of each frame from the one before (the first: NaN), lightly
    blurred so that encoder noise and blocking do not count as change."""
    smooth = [blur3(f).astype(np.int16) for f in frames]
    changes = np.full(len(frames), np.nan)
    for i in range(1, len(frames)):
        changes[i] = mean_change(smooth[i - 1], smooth[i])
    return changes


def pairs_for(spots: np.ndarray, windows: list[tuple[float, float]]) -> list[int]:
    """The key frames ``k`` whose pair (k-1, k) can put a cut inside one of the ``windows``
    (``[lo, hi)``): a cut between key frames k-1 and k lies at ``spots[k]``."""
    inside = np.zeros(len(spots), bool)
    for lo, hi in windows:
        inside |= (spots >= lo) & (spots < hi)
    inside[:1] = False                    # the first key frame has none before it to differ from
    return [int(k) for k in np.flatnonzero(inside)]


def judge_pairs(path: str, key_times: np.ndarray, pairs: list[int], width: int = 64, height: int = 36,
                warnings: list[str] | None = None, processes: int = 0,
                judged: dict[float, float] | None = None) -> dict[float, float]:
    """The change between each key frame ``k`` of ``pairs`` and the one before it: the mean
    absolute difference (grey levels, 0-255) of the two decoded shrunk to ``width`` x ``height``
    grey and lightly blurred, by the later key frame's time (seconds, rounded to the microsecond).
    Pairs already in ``judged`` are not decoded again; the pairs decoded now are added to it (a
    pair whose key frames could not both be decoded is left out). ``processes``: ffmpeg processes
    side by side (0: one per core)."""
    judged = {} if judged is None else judged

    def pair(k: int) -> float:          # a pair's name in ``judged``: its later key frame's time
        return round(float(key_times[k]), 6)

    todo = [k for k in pairs if pair(k) not in judged]
    frames = key_frames(path, key_times, [i for k in todo for i in (k - 1, k)], width, height, warnings, processes)
    smooth = {i: blur3(frame).astype(np.int16) for i, frame in frames.items()}
    for k in todo:
        if k - 1 in smooth and k in smooth:
            judged[pair(k)] = mean_change(smooth[k - 1], smooth[k])
    return judged


def scene_cuts(path: str, keys: list[float], spots: list[float], windows: list[tuple[float, float]],
               width: int = 64, height: int = 36, cut_threshold: float = 20.0,
               warnings: list[str] | None = None, processes: int = 0,
               judged: dict[float, float] | None = None) -> list[float]:
    """The scene cuts inside the ``windows`` (``[lo, hi)`` seconds), from the key frames around
    them only; ``keys`` and ``spots`` are ``visual_features``' (the whole stream's, or enough of
    it around the windows). ``processes``: ffmpeg processes side by side (0: one per core).
    ``judged``: the change measured between each key frame (by its time) and the one before, for
    pairs decoded before; they are not decoded again, and the pairs decoded now are added (a
    live watch ranks the growing stream again after every chunk, asking about the same edges)."""
    key_times, spot_times = np.asarray(keys, float), np.asarray(spots, float)
    needed = pairs_for(spot_times, windows)
    judged = judge_pairs(path, key_times, needed, width, height, warnings, processes, judged)
    cuts = {round(float(spot_times[k]), 3) for k in needed
            if judged.get(round(float(key_times[k]), 6), -np.inf) > cut_threshold}
    return sorted(cuts)


def visual_features(path: str, start: float, end: float, hop: float, width: int = 64, height: int = 36,
                    cut_threshold: float = 20.0, warnings: list[str] | None = None,
                    cuts: bool = True) -> VisualFeatures:
    n_bins = bins_for(end - start, hop)
    # Look a little before and after the chunk: each cut lies between two key frames, and the
    # chunk that holds the cut's time reports it, whichever chunk those key frames fall in.
    times, sizes, keys = packet_scan(path, max(0.0, start - KEYFRAME_LEAD), end + KEYFRAME_LEAD)
    key_times, spots = cut_spots(times, sizes, keys)
    if packets_flat(*rate_sample(path, times, sizes, keys)):
        # Constant bit rate: motion from every key frame whose group of pictures meets the chunk
        # (one decoder), and the cuts from the same pairs.
        judged = judge_pairs(path, key_times, motion_groups(key_times, start, end), width, height, warnings,
                             processes=1)
        motion = key_motion(key_times, judged, start, hop, n_bins)
        found = scene_cuts(path, list(key_times), list(spots), [(start, end)], width, height, cut_threshold, warnings,
                           processes=1, judged=judged)
    else:
        # Motion: mean bytes of the predicted packets in each bin of [start, end).
        bins = np.floor((times - start) / hop + 1e-9).astype(int)
        inside = (bins >= 0) & (bins < n_bins) & ~keys
        totals, counts = np.zeros(n_bins), np.zeros(n_bins)
        np.add.at(totals, bins[inside], sizes[inside])
        np.add.at(counts, bins[inside], 1)
        mean_bytes = np.divide(totals, counts, out=np.zeros(n_bins), where=counts > 0)
        motion = np.log2(mean_bytes + 1.0)
        found = scene_cuts(path, list(key_times), list(spots), [(start, end)], width, height, cut_threshold, warnings,
                           processes=1) if cuts else None
    own = (key_times >= start) & (key_times < end)
    in_chunk = times[(times >= start) & (times < end)]
    frame = float(np.median(np.diff(np.sort(times)))) if len(times) > 1 else 0.0
    until = min(end, float(in_chunk.max()) + frame) if len(in_chunk) else start
    return VisualFeatures(Series("visual", start, hop, motion), [round(float(t), 6) for t in key_times[own]],
                          [round(float(t), 6) for t in spots[own]], found, until)
