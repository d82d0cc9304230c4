"""Key frames decoded shrunk to grey pictures (``key_frames``), for the visual detector
(``visual.py``): which key frames it needs is the detector's; getting them to a decoder at the
least cost is this module's.

Key frames are decoded by one ffmpeg per batch. In an H.264 MP4 the index says where each key
frame's bytes lie (``mp4_index.indexed_key_frames``): those bytes alone, with the parameter sets,
go to the decoder as an H.264 stream, so nothing else of the file is read or demuxed, and any
set of key frames costs its own decoding only. Elsewhere (other containers and codecs, URLs,
an index the reader does not take) ffmpeg seeks to each run of them and the demuxer hands on key
frames only (``discard=nokey``); the two give the same pictures.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import ffmpeg
import numpy as np

from peakclip.detectors.errors import MediaError
from peakclip.detectors.mp4_index import indexed_key_frames
from peakclip.detectors.objects import readable
from peakclip.detectors.probe import clock_origin, is_url

RUN_GAP = 4            # key frames apart that one seek's run still joins (decoding 3 unwanted costs less than a seek)
DIRECT_SHARE = 20      # key frames one direct decoder takes before a second process shares them
FEW_FRAMES = 8         # key frames a decoder takes without a thread pool


def as_frames(data: np.ndarray, width: int, height: int) -> np.ndarray:
    count = len(data) // (width * height)
    return data[:count * width * height].reshape(count, height, width)


def seek_to(time: float) -> float:
    """``-ss`` for a key frame at ``time``: to the microsecond, as ffmpeg reads it."""
    return max(0.0, round(float(time), 6))


# showinfo's line for each frame a run's filter passes on: which run, and the frame's time.
SHOWN = re.compile(r"\[showinfo@run(\d+) @ [^\]]*\] \[info\] n:\s*\d+ pts:\s*-?\d+ pts_time:(-?[0-9.]+)")


def key_frame_runs(path: str, runs: list[tuple[float, int]], width: int, height: int,
                   warnings: list[str] | None = None, threads: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """The key frames of each run (the time of its first key frame, how many), each with its time
    (seconds from the recording's start), decoded by one ffmpeg that seeks to each run in turn (a
    process per run would cost more to start than its few frames to decode). The times come from
    ffmpeg itself (``showinfo``): a seek in a file without an index can miss a frame, and a frame
    is only ever compared with the one it really follows. ``threads``: decoding threads of a run
    of more than a few key frames."""
    if not runs:
        return []
    with tempfile.TemporaryDirectory(prefix="peakclip-keys-") as scratch:
        outputs = []
        for index, (first, count) in enumerate(runs):
            # A run of a handful of frames is not worth a thread pool. Seek to the run's first key
            # frame exactly (to the microsecond: ffmpeg rounds that to the nearest tick of the
            # stream's clock, so it lands on the frame; any earlier and it would decode the key
            # frame before too, only to drop it), and stop after the run's own key frames: with a
            # duration instead, ffmpeg decodes the next one to see that it is past the end. discard=nokey: the demuxer hands on key frames only (the decoder
            # would parse and drop the rest); skip_loop_filter=all: deblocking smooths block edges
            # a 64x36 average cannot see (the series move by under 0.005), ~5% of the decoding.
            video = ffmpeg.input(readable(path), ss=seek_to(first), skip_frame="nokey", skip_loop_filter="all",
                                 discard="nokey", threads=threads if count > FEW_FRAMES else 1)["V:0"]
            outputs.append(video.filter("scale", width, height, flags="area").filter(f"showinfo@run{index}")
                           .output(os.path.join(scratch, f"{index}.gray"), format="rawvideo", pix_fmt="gray",
                                   fps_mode="passthrough", vframes=count))
        command = ffmpeg.merge_outputs(*outputs).global_args("-nostdin", "-hide_banner", "-nostats",
                                                             "-loglevel", "level+info")
        done = subprocess.run(command.compile(), capture_output=True, stdin=subprocess.DEVNULL)
        log = done.stderr.decode("utf-8", "replace").splitlines()
        times: list[list[float]] = [[] for _ in runs]
        for line in log:
            shown = SHOWN.search(line)
            if shown:
                run = int(shown.group(1))
                times[run].append(seek_to(runs[run][0]) + float(shown.group(2)))
        decoded = []
        for index in range(len(runs)):
            name = os.path.join(scratch, f"{index}.gray")
            frames = as_frames(np.fromfile(name, np.uint8) if os.path.exists(name) else np.zeros(0, np.uint8),
                               width, height)
            count = min(len(frames), len(times[index]))   # showinfo also sees a frame the output then refused
            decoded.append((frames[:count], np.asarray(times[index][:count])))
    problems = [line for line in log if "[error]" in line or "[fatal]" in line]
    if done.returncode != 0 and not any(len(f) for f, _ in decoded):
        last = problems[-1] if problems else (log[-1] if log else "ffmpeg failed")
        raise MediaError(f"could not decode the key frames of {path}: {last}")
    if problems and warnings is not None:
        warnings.append(f"key frames of {path}: {problems[-1]}")
    return decoded


def runs_of(indices: list[int], gap: int = RUN_GAP) -> list[tuple[int, int]]:
    """The first and last of each run of key-frame ``indices`` (sorted) in which each is at most
    ``gap`` after the one before: one seek decodes a run, the few key frames between included."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and i - runs[-1][1] <= gap:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def annex_b(sample: bytes, nal_length: int) -> bytes:
    """An MP4 sample's NAL units (each after its size, ``nal_length`` bytes big-endian) as an H.264
    elementary stream (each after a start code); a size that runs past the sample ends it."""
    units, at = [], 0
    while at + nal_length <= len(sample):
        size = int.from_bytes(sample[at:at + nal_length], "big")
        at += nal_length
        if size == 0 or at + size > len(sample):
            break
        units.append(b"\0\0\0\1" + sample[at:at + size])
        at += size
    return b"".join(units)


def direct_key_frames(path: str, times: np.ndarray, width: int, height: int, threads: int = 1) -> np.ndarray | None:
    """The key frames at ``times`` (seconds from the recording's start, as ``packet_scan`` gives
    them), decoded shrunk to ``width`` x ``height`` grey, one per time, straight from an MP4's
    index: their bytes alone, each after the parameter sets, are handed to one decoder as an H.264
    stream, so nothing between them is read, demuxed or decoded, whichever key frames they are.
    None when the recording is not H.264 in an MP4 the index reader takes, a time is not one of
    its key frames, or the decoder does not give one picture per key frame (a damaged or
    cut-off frame): the caller then decodes through ffmpeg's demuxer. ``threads``: decoding
    threads (frame threads: key frames do not depend on each other)."""
    frames = None if is_url(path) else indexed_key_frames(path)
    if frames is None or not len(frames.times):
        return None
    known = np.round(frames.times, 6) - clock_origin(path)      # as packet_scan gives them
    at = np.clip(np.searchsorted(known, np.asarray(times, float) - 1e-6), 0, len(known) - 1)
    if not np.all(np.abs(known[at] - times) < 1e-6):
        return None
    header = b"".join(b"\0\0\0\1" + unit for unit in frames.parameter_sets)
    with tempfile.TemporaryDirectory(prefix="peakclip-keys-") as scratch:
        stream, raw = os.path.join(scratch, "keys.h264"), os.path.join(scratch, "keys.gray")
        with open(path, "rb") as media, open(stream, "wb") as sink:
            for i in at:
                media.seek(int(frames.offsets[i]))
                sink.write(header + annex_b(media.read(int(frames.sizes[i])), frames.nal_length))
        # skip_loop_filter as in key_frame_runs; no thread pool for a handful of pictures.
        command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
                   "-threads", str(threads if len(times) > FEW_FRAMES else 1),
                   "-skip_loop_filter", "all", "-f", "h264", "-i", stream, "-vf", f"scale={width}:{height}:flags=area",
                   "-pix_fmt", "gray", "-fps_mode", "passthrough", "-f", "rawvideo", raw]
        done = subprocess.run(command, check=False, capture_output=True, stdin=subprocess.DEVNULL)
        decoded = as_frames(np.fromfile(raw, np.uint8), width, height) if os.path.exists(raw) else None
    if done.returncode != 0 or decoded is None or len(decoded) != len(times):
        return None
    return decoded


def key_frames(path: str, key_times: np.ndarray, wanted: list[int], width: int, height: int,
               warnings: list[str] | None = None, processes: int = 0) -> dict[int, np.ndarray]:
    """The key frames ``wanted`` (indices into ``key_times``, seconds from the recording's start)
    decoded shrunk to ``width`` x ``height`` grey, by index; one that could not be decoded is
    missing. Straight from an MP4's index where it can (``direct_key_frames``), else by seeking
    ffmpeg to each run of them (``key_frame_runs``), each decoded frame named by the key frame at
    its time. ``processes``: ffmpeg processes side by side (0: one per core); each decodes with as
    many frame threads as there are cores for it: key frames do not depend on each other, so the
    threads cost no CPU time, and a core the other work leaves idle (a short recording's single
    chunk, the last chunk still decoding) shortens the wait."""
    wanted = sorted(set(wanted))
    if not wanted:
        return {}
    cores = processes or os.cpu_count() or 1
    found: dict[int, np.ndarray] = {}
    for share, frames in in_shares(wanted, max(1, min(cores, len(wanted) // DIRECT_SHARE)), lambda share, threads:
                                   direct_key_frames(path, key_times[share], width, height, threads)):
        if frames is not None:
            found.update(zip(share, frames))
    rest = [i for i in wanted if i not in found]    # not in an index this reader takes, or a share the decoder refused
    runs = runs_of(rest)
    decoded = [run for _, share in in_shares(runs, max(1, min(len(runs), cores)), lambda share, threads: key_frame_runs(
        path, [(key_times[a], b - a + 1) for a, b in share], width, height, warnings, threads)) for run in share]
    # Name each decoded frame by the key frame at its time: a seek that missed a frame shifts nothing.
    tolerance = min(0.25, float(np.min(np.diff(key_times))) / 2) if len(key_times) > 1 else 0.25
    named: dict[int, np.ndarray] = {}
    for frames, times in decoded:
        if not len(frames):
            continue
        after = np.clip(np.searchsorted(key_times, times), 0, len(key_times) - 1)
        before = np.maximum(after - 1, 0)
        nearest = np.where(np.abs(key_times[before] - times) < np.abs(key_times[after] - times), before, after)
        for frame, at, index in zip(frames, times, nearest):
            if abs(key_times[index] - at) <= tolerance:
                named[int(index)] = frame
    found.update((i, named[i]) for i in rest if i in named)
    return {i: found[i] for i in wanted if i in found}


def in_shares(items: list, groups: int, work) -> list[tuple[list, object]]:
    """``work(share, threads)`` for ``items`` dealt in turn into ``groups`` shares, the shares side
    by side (a thread each, waiting on its own ffmpeg), each given its part of the cores as
    decoding threads: [(share, what work returned)]. No items: no work."""
    shares = [items[g::groups] for g in range(groups) if items[g::groups]]
    threads = max(1, (os.cpu_count() or 1) // groups)
    with ThreadPoolExecutor(max_workers=groups) as pool:
        return list(zip(shares, pool.map(lambda share: work(share, threads), shares)))
