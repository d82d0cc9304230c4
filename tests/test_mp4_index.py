"""The MP4 index reader gives exactly the video packets ffprobe reads, on every layout it takes,
and declines (so ffprobe reads them) the layouts whose times it cannot state exactly."""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
from conftest import real_media

from peakclip.detectors.keyframes import direct_key_frames, key_frame_runs
from peakclip.detectors.mp4_index import indexed_key_frames, indexed_packets
from peakclip.detectors.probe import probe
from peakclip.detectors.visual import cut_spots, ffprobe_packets, packet_scan

SOURCE = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=30:d=12", "-f", "lavfi", "-i", "sine=f=440:d=12"]
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-g", "45", "-c:a", "aac"]
LAYOUTS = {
    "b-frames.mp4": [*SOURCE, *X264],                                  # composition offsets, an edit list
    "no-b-frames.mp4": [*SOURCE, *X264, "-bf", "0"],
    "faststart.mp4": [*SOURCE, *X264, "-movflags", "+faststart"],      # the index before the media
    "quicktime.mov": [*SOURCE, *X264],                                 # a second hdlr in minf
    "clock-offset.mp4": [*SOURCE, *X264, "-output_ts_offset", "3"],
    "video-late.mp4": ["-itsoffset", "1.5", *SOURCE, *X264],           # an empty edit before the picture
    "mpeg4-part2.mp4": [*SOURCE, "-c:v", "mpeg4", "-c:a", "aac"],
    "hevc.mp4": [*SOURCE, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                 "-tag:v", "hvc1", "-c:a", "aac"],
    "large-chunks.mp4": [*SOURCE, *X264, "-movflags", "+faststart", "-chunk_duration", "5000000"],
}


def make(folder, name: str, args: list[str]) -> str:
    path = os.path.join(folder, name)
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, path], check=True)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mp4-layouts"))


def assert_same_packets(path: str) -> None:
    end = probe(path).duration + 60
    ours = packet_scan(path, 0.0, end)
    theirs = ffprobe_packets(path, 0.0, end)
    assert len(ours[0]) == len(theirs[0]) > 0
    assert np.array_equal(ours[0], theirs[0])        # times, to the microsecond ffprobe prints
    assert np.array_equal(ours[1], theirs[1])        # sizes
    assert np.array_equal(ours[2], theirs[2])        # key flags


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_the_index_gives_ffprobes_packets(folder, name):
    path = make(folder, name, LAYOUTS[name])
    assert indexed_packets(path) is not None, "this layout is read from the index"
    assert_same_packets(path)


H264 = sorted(name for name in LAYOUTS if name not in ("mpeg4-part2.mp4", "hevc.mp4"))


@pytest.mark.parametrize("name", H264)
def test_key_frames_read_from_the_index_are_the_demuxers(folder, name):
    """Each H.264 layout's key frames, their bytes handed straight to the decoder, are the
    pictures ffmpeg's demuxer gives at those key frames (clock offsets, late tracks, B-frames)."""
    path = make(folder, name, LAYOUTS[name])
    times, sizes, keys = packet_scan(path, 0.0, probe(path).duration + 60)
    key_times, _ = cut_spots(times, sizes, keys)
    found = indexed_key_frames(path)
    assert found is not None and len(found.times) == len(key_times) > 2
    (frames, shown), = key_frame_runs(path, [(key_times[0], len(key_times))], 64, 36)
    assert np.allclose(shown, key_times, atol=1e-3)
    every = direct_key_frames(path, key_times, 64, 36)
    assert every is not None and np.array_equal(every, frames)
    some = [len(key_times) - 1, 0]                    # any of them, in any order
    assert np.array_equal(direct_key_frames(path, key_times[some], 64, 36), frames[some])
    assert direct_key_frames(path, key_times[:1] + 0.5, 64, 36) is None     # not a key frame: not read so


@pytest.mark.parametrize("name", ["mpeg4-part2.mp4", "hevc.mp4"])
def test_key_frames_of_other_codecs_are_left_to_the_demuxer(folder, name):
    path = make(folder, name, LAYOUTS[name])
    assert indexed_packets(path) is not None and indexed_key_frames(path) is None
    assert direct_key_frames(path, np.array([0.0]), 64, 36) is None


@pytest.mark.parametrize("name", ["example.mp4", "man-on-green-screen.mp4"])
def test_real_recordings(name):
    path = real_media(name)
    assert indexed_packets(path) is not None
    assert_same_packets(path)


def test_a_window_inside_the_stream_holds_the_packets_shown_there(folder):
    """ffprobe stops at the first packet past the window's end in decode order; the index has
    every packet whose time is inside, so it holds ffprobe's and the B-frames ffprobe did not reach."""
    path = make(folder, "window.mp4", LAYOUTS["b-frames.mp4"])
    ours = packet_scan(path, 3.0, 7.0)
    theirs = ffprobe_packets(path, 3.0, 7.0)
    assert ((ours[0] >= 3.0) & (ours[0] < 7.0)).all()
    assert set(theirs[0]) <= set(ours[0])
    assert len(ours[0]) == 4 * 30                     # every frame of the 4 s


def test_a_recording_cut_off_inside_the_media(folder):
    whole = make(folder, "whole.mp4", LAYOUTS["faststart.mp4"])
    cut = os.path.join(folder, "cut.mp4")
    with open(whole, "rb") as src, open(cut, "wb") as dst:
        dst.write(src.read(os.path.getsize(whole) * 3 // 5))
    assert indexed_packets(cut) is not None
    assert_same_packets(cut)                          # as far as the bytes go, the last one partial
    assert len(packet_scan(cut, 0, 60)[0]) < len(packet_scan(whole, 0, 60)[0])
    key_times, _ = cut_spots(*packet_scan(cut, 0, 60))
    (frames, _), = key_frame_runs(cut, [(key_times[0], len(key_times))], 64, 36)
    direct = direct_key_frames(cut, key_times, 64, 36)    # the last key frame may be partial, as the demuxer's
    assert direct is None or np.array_equal(direct, frames)


@pytest.mark.parametrize("name,args", [
    ("fragmented.mp4", [*SOURCE, *X264, "-movflags", "+frag_keyframe+empty_moov"]),
    ("stream.flv", [*SOURCE, *X264]),
    ("stream.ts", [*SOURCE, *X264]),
])
def test_other_layouts_are_left_to_ffprobe(folder, name, args):
    path = make(folder, name, args)
    assert indexed_packets(path) is None
    assert_same_packets(path)


def test_an_edit_that_trims_is_left_to_ffprobe(folder):
    """A stream copy from 5 s keeps the GOP before and an edit list that hides its start: which
    packets ffmpeg then drops is its own rule, so the reader declines."""
    source = make(folder, "long-gop.mp4", [*SOURCE, "-c:v", "libx264", "-g", "300", "-c:a", "aac"])
    trimmed = os.path.join(folder, "trimmed.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "5", "-i", source, "-c", "copy", trimmed], check=True)
    assert indexed_packets(trimmed) is None
    assert_same_packets(trimmed)


def test_no_index_or_no_picture_is_declined(folder, tmp_path):
    unfinished = tmp_path / "unfinished.mp4"     # the moov is written last: cut off before it
    whole = make(folder, "for-unfinished.mp4", LAYOUTS["b-frames.mp4"])
    with open(whole, "rb") as src:
        unfinished.write_bytes(src.read(os.path.getsize(whole) // 2))
    assert indexed_packets(str(unfinished)) is None
    sound = make(folder, "sound.m4a", ["-f", "lavfi", "-i", "sine=f=440:d=3", "-c:a", "aac"])
    assert indexed_packets(sound) is None
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(4000))
    assert indexed_packets(str(junk)) is None
    assert indexed_packets(str(tmp_path / "missing.mp4")) is None


def test_a_damaged_index_is_declined_without_reading_what_it_claims(folder, tmp_path):
    """Tables that claim billions of samples (a damaged or hostile file) are refused before
    anything that size is made; ffprobe then has its say."""
    import struct

    whole = make(folder, "for-damage.mp4", LAYOUTS["no-b-frames.mp4"])
    data = bytearray(open(whole, "rb").read())
    for table in (b"stts", b"stsz", b"stsc"):
        damaged = bytearray(data)
        at = damaged.index(table) + 4 + 4            # the box's payload: version/flags, then the first count
        if table == b"stsz":
            struct.pack_into(">II", damaged, at, 1000, 0xFFFFFFF0)          # uniform size, ~4 billion samples
        elif table == b"stts":
            struct.pack_into(">III", damaged, at, 1, 0xFFFFFFF0, 1)        # one run of ~4 billion samples
        else:
            struct.pack_into(">IIII", damaged, at, 1, 1, 0xFFFFFFF0, 1)    # ~4 billion samples a chunk
        path = tmp_path / f"damaged-{table.decode()}.mp4"
        path.write_bytes(bytes(damaged))
        assert indexed_packets(str(path)) is None, table
