"""The video packets of an MP4/MOV recording, read from its index (the ``moov`` box) alone.

Contract: ``indexed_packets(path)`` returns the presentation time (seconds, on the container's
clock, as ffprobe prints ``pts_time``), size in bytes and key flag of every packet of the first
video track, in decode order, or None when the file is not an MP4 this reader vouches for; the
caller then asks ffprobe. Nothing in ``mdat`` is read.

``indexed_key_frames(path)`` returns, for an H.264 track (``avc1``/``avc3``) the same reader takes,
``KeyFrames``: each key frame's presentation time (as above), where its bytes lie in the file
(offset and size), and what a decoder needs to read them without the container: the size of the
NAL unit length prefix and the parameter sets (SPS, PPS) from the ``avcC`` box. Otherwise None.

Why: an MP4 writer keeps a table of every sample's size, duration and sync flag, so the packet
scan of a stream-hour is a few megabytes of index instead of gigabytes of media and an ffprobe
process per chunk. The reader takes only the layouts whose times it can state exactly as
ffmpeg's demuxer does and leaves the rest to ffprobe: not fragmented (no ``mvex``), and an edit
list that is absent, or one edit at normal rate that shows the whole media and may follow one
empty edit (what ffmpeg, OBS and most muxers write). In a file cut off inside ``mdat`` the
packets stop where the bytes do, the last one as long as what is left of it, as ffmpeg hands it on.
Tests hold it to ffprobe's packets on each layout. The key frames' places let a decoder be handed
the few key frames it needs and nothing else: no demuxer reads past the rest of the media.
"""
from __future__ import annotations

import functools
import os
import struct
from typing import NamedTuple

import numpy as np

from peakclip.detectors.probe import looks_like_mp4

CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}
TABLES = {b"mvhd", b"mdhd", b"hdlr", b"elst", b"stts", b"ctts", b"stss", b"stsz", b"stsc", b"stco", b"co64", b"mvex",
          b"stsd"}
AVC_ENTRIES = {b"avc1", b"avc3"}   # H.264 sample entries (avc3 may also carry parameter sets in the samples)
VISUAL_ENTRY = 78                  # bytes of a visual sample entry's own fields before its child boxes


MAX_SAMPLES = 50_000_000   # nine days at 60 fps: a table that claims more is damaged, not read


class Unsupported(Exception):
    """A layout this reader does not vouch for."""


class KeyFrames(NamedTuple):
    """The key frames of an H.264 track: times (seconds, as ``indexed_packets``), file offsets and
    sizes (bytes), the NAL unit length prefix (bytes) and the parameter sets (raw NAL units)."""
    times: np.ndarray
    offsets: np.ndarray
    sizes: np.ndarray
    nal_length: int
    parameter_sets: tuple[bytes, ...]


class Index(NamedTuple):
    times: np.ndarray
    sizes: np.ndarray
    keys: np.ndarray
    offsets: np.ndarray
    sample_entry: bytes     # the first sample description (stsd entry), type and payload


def _boxes(data: memoryview, start: int, end: int):
    """(type, payload start, payload end) of each box in ``data[start:end]``."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:
            size = end - at
        if size < header or at + size > end:
            raise Unsupported("a box runs past its parent")
        yield kind, at + header, at + size
        at += size


def _top_level_moov(path: str) -> bytes:
    """The ``moov`` box's payload, found by hopping over the top-level boxes (``mdat`` unread)."""
    file_size = os.path.getsize(path)
    with open(path, "rb") as handle:
        at = 0
        while at + 8 <= file_size:
            handle.seek(at)
            header = handle.read(16)
            size, kind = struct.unpack_from(">I4s", header)
            skip = 8
            if size == 1:
                size, skip = struct.unpack_from(">Q", header, 8)[0], 16
            elif size == 0:
                size = file_size - at
            if size < skip:
                raise Unsupported("a broken top-level box")
            if kind == b"moov":
                if at + size > file_size:
                    raise Unsupported("the index is cut off")
                handle.seek(at + skip)
                return handle.read(size - skip)
            if kind == b"moof":
                raise Unsupported("fragmented")
            at += size
    raise Unsupported("no index")


def _collect(data: memoryview, start: int, end: int, into: dict) -> None:
    for kind, lo, hi in _boxes(data, start, end):
        if kind in CONTAINERS:
            _collect(data, lo, hi, into)
        elif kind in TABLES:
            into.setdefault(kind, data[lo:hi])   # the first: a QuickTime minf has a data-handler hdlr too


def _expand(runs: np.ndarray) -> np.ndarray:
    """(count, value) rows as the values repeated, refusing a damaged table that claims billions."""
    if (runs[:, 0] < 0).any() or runs[:, 0].sum() > MAX_SAMPLES:
        raise Unsupported("a table longer than any recording")
    return np.repeat(runs[:, 1], runs[:, 0])


def _be32(table: memoryview, offset: int, count: int, signed: bool = False) -> np.ndarray:
    return np.frombuffer(table, dtype=">i4" if signed else ">u4", count=count, offset=offset).astype(np.int64)


def _video_track(moov: memoryview) -> tuple[dict, int]:
    tracks, movie_scale = [], 0
    for kind, lo, hi in _boxes(moov, 0, len(moov)):
        if kind == b"mvex":
            raise Unsupported("fragmented")
        if kind == b"mvhd":
            version = moov[lo]
            movie_scale = struct.unpack_from(">I", moov, lo + (20 if version == 1 else 12))[0]
        if kind == b"trak":
            boxes: dict = {}
            _collect(moov, lo, hi, boxes)
            tracks.append(boxes)
    for boxes in tracks:
        handler = boxes.get(b"hdlr")
        if handler is not None and bytes(handler[8:12]) == b"vide":
            return boxes, movie_scale
    raise Unsupported("no video track")


def _edit_shift(boxes: dict, scale: int, movie_scale: int, pts: np.ndarray) -> float:
    """Seconds added to ``(dts + composition offset) / scale``: minus the media time the edit
    starts at, plus a leading empty edit's length. Only an edit that shows the whole media is
    followed (one that starts after the first picture or ends before the last trims packets,
    and ffmpeg's rules for that are its own)."""
    table = boxes.get(b"elst")
    if table is None:
        return 0.0
    version, count = table[0], struct.unpack_from(">I", table, 4)[0]
    layout = ">QqHH" if version == 1 else ">IiHH"
    step = struct.calcsize(layout)
    edits = [struct.unpack_from(layout, table, 8 + i * step) for i in range(count)]
    empty = 0.0
    if len(edits) == 2 and edits[0][1] == -1:
        empty = edits[0][0] / movie_scale if movie_scale else 0.0
        edits = edits[1:]
    if len(edits) != 1 or edits[0][2] != 1:
        raise Unsupported("an edit list this reader does not follow")
    length, media_time = edits[0][0], edits[0][1]
    if len(pts) and not 0 <= media_time <= pts.min():
        raise Unsupported("an edit that trims the start")
    if len(pts) and length and movie_scale and length / movie_scale < (pts.max() - media_time) / scale:
        raise Unsupported("an edit that trims the end")
    return empty - media_time / scale


def _sample_offsets(boxes: dict, sizes: np.ndarray) -> np.ndarray:
    """Where in the file each sample starts (chunk offsets plus the sizes before it in its chunk)."""
    if b"stco" in boxes:
        table = boxes[b"stco"]
        chunk_offsets = _be32(table, 8, struct.unpack_from(">I", table, 4)[0])
    elif b"co64" in boxes:
        table = boxes[b"co64"]
        chunk_offsets = np.frombuffer(table, ">u8", struct.unpack_from(">I", table, 4)[0], 8).astype(np.int64)
    else:
        raise Unsupported("no chunk offsets")
    table = boxes[b"stsc"]
    runs = _be32(table, 8, 3 * struct.unpack_from(">I", table, 4)[0]).reshape(-1, 3)
    first_chunks, per_chunk = runs[:, 0] - 1, runs[:, 1]
    if (per_chunk > len(sizes)).any():
        raise Unsupported("a chunk of more samples than the track has")
    run_ends = np.append(first_chunks[1:], len(chunk_offsets))
    samples_per_chunk = _expand(np.stack([np.maximum(0, run_ends - first_chunks), per_chunk], axis=1))
    samples_per_chunk = samples_per_chunk[:len(chunk_offsets)]
    if samples_per_chunk.sum() < len(sizes):
        raise Unsupported("the chunk table holds fewer samples than the size table")
    chunk_of = np.searchsorted(np.cumsum(samples_per_chunk), np.arange(len(sizes)), side="right")
    ends = np.cumsum(sizes)
    starts = ends - sizes
    chunk_first = np.concatenate([[0], np.cumsum(samples_per_chunk)])[chunk_of]
    return chunk_offsets[chunk_of] + starts - starts[chunk_first]


def _avc_config(entry: bytes) -> tuple[int, tuple[bytes, ...]] | None:
    """The NAL length prefix size and the parameter sets of an ``avc1``/``avc3`` sample entry (its
    ``avcC`` box), or None for any other codec or a damaged box."""
    if len(entry) < 8 or entry[4:8] not in AVC_ENTRIES:
        return None
    data = memoryview(entry)
    try:
        for kind, lo, hi in _boxes(data, 8 + VISUAL_ENTRY, len(entry)):
            if kind != b"avcC":
                continue
            config = bytes(data[lo:hi])
            nal_length = (config[4] & 3) + 1
            sets, at = [], 5
            for count_mask in (0x1F, 0xFF):                  # the SPS, then the PPS
                count = config[at] & count_mask
                at += 1
                for _ in range(count):
                    size = struct.unpack_from(">H", config, at)[0]
                    sets.append(config[at + 2:at + 2 + size])
                    at += 2 + size
            if nal_length == 3 or at > len(config):
                return None
            return nal_length, tuple(sets)
    except (Unsupported, IndexError, struct.error):
        return None
    return None


@functools.lru_cache(maxsize=8)
def _indexed(path: str, file_size: int, mtime: float) -> Index | None:
    try:
        moov = memoryview(_top_level_moov(path))
        boxes, movie_scale = _video_track(moov)
        mdhd = boxes[b"mdhd"]
        scale = struct.unpack_from(">I", mdhd, 20 if mdhd[0] == 1 else 12)[0]
        table = boxes[b"stsz"]
        uniform, count = struct.unpack_from(">II", table, 4)
        if count > MAX_SAMPLES:
            raise Unsupported("a size table longer than any recording")
        sizes = np.full(count, uniform, np.int64) if uniform else _be32(table, 12, count)
        table = boxes[b"stts"]
        runs = _be32(table, 8, 2 * struct.unpack_from(">I", table, 4)[0]).reshape(-1, 2)
        deltas = _expand(runs)
        if len(deltas) < count or not scale:
            raise Unsupported("the time table is shorter than the size table")
        dts = np.concatenate([[0], np.cumsum(deltas[:count - 1])]) if count else np.zeros(0, np.int64)
        pts = dts.copy()
        if b"ctts" in boxes:
            table = boxes[b"ctts"]
            runs = _be32(table, 8, 2 * struct.unpack_from(">I", table, 4)[0], signed=True).reshape(-1, 2)
            offsets = _expand(runs)
            if len(offsets) < count:
                raise Unsupported("the composition table is shorter than the size table")
            pts += offsets[:count]
        keys = np.ones(count, bool)
        if b"stss" in boxes:
            table = boxes[b"stss"]
            keys[:] = False
            numbers = _be32(table, 8, struct.unpack_from(">I", table, 4)[0]) - 1
            keys[numbers[(numbers >= 0) & (numbers < count)]] = True
        shift = _edit_shift(boxes, scale, movie_scale, pts)
        # A recording cut off inside mdat: the packets before the first one that is not all there,
        # and that one with the bytes it has (as ffmpeg's demuxer hands it on).
        offsets = _sample_offsets(boxes, sizes)
        table = boxes.get(b"stsd")
        # One sample description: with several (parameter sets changing mid-track), samples would
        # need each their own, and the key frames are left to the demuxer.
        single = table is not None and len(table) >= 16 and struct.unpack_from(">I", table, 4)[0] == 1
        entry = bytes(table[8:8 + struct.unpack_from(">I", table, 8)[0]]) if single else b""
        whole = offsets + sizes <= file_size
        kept = count if whole.all() else int(np.argmin(whole))
        sizes = sizes[:kept + 1].copy()
        if kept < count:
            if offsets[kept] < file_size:
                sizes[kept] = file_size - offsets[kept]
                kept += 1
            sizes = sizes[:kept]
        return Index(pts[:kept] / scale + shift, sizes.astype(float), keys[:kept], offsets[:kept], entry)
    except (Unsupported, KeyError, IndexError, struct.error, ValueError, OSError):
        return None


def _index_of(path: str) -> Index | None:
    try:
        if not looks_like_mp4(path):
            return None
        stat = os.stat(path)
    except OSError:
        return None
    return _indexed(path, stat.st_size, stat.st_mtime)


def indexed_packets(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Times, sizes and key flags of the first video track's packets from the MP4 index, or None."""
    index = _index_of(path)
    return None if index is None else (index.times, index.sizes, index.keys)


def indexed_key_frames(path: str) -> KeyFrames | None:
    """The first video track's key frames, where they lie and how to decode them on their own
    (``KeyFrames``), when it is H.264 in an MP4 this reader takes; otherwise None."""
    index = _index_of(path)
    config = None if index is None else _avc_config(index.sample_entry)
    if config is None:
        return None
    keys = index.keys
    return KeyFrames(index.times[keys], index.offsets[keys], index.sizes[keys].astype(np.int64), *config)
