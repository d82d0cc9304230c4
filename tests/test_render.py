"""The render stage on real media: every format, loudness, tags, previews, crop, copy, title."""
import os
import subprocess

import numpy as np
import pytest
from conftest import ffprobe, run_cli
from PIL import Image

from peakclip.detectors.probe import probe
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.render import render_clip
from peakclip.pipeline.output.render.measure import find_font, key_frames
from peakclip.pipeline.ranking.clip import Clip

pytestmark = pytest.mark.integration


def make_clip(start, end, peak=None, rank=1):
    return Clip(id=f"test{rank}", rank=rank, start=start, end=end, score=5.0, peak=peak or (start + end) / 2,
                signals={}, stage=1, tier="A")


def fast(**overrides):
    return RenderConfig(preset="superfast", crf=30, **overrides)


def frame_at(path, t, width, height):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", str(t), "-i", path, "-frames:v", "1", "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def loudness(path):
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", path, "-af", "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    summary = err.split("Summary:")[-1]
    integrated = float(summary.split("I:")[1].split("LUFS")[0])
    peak = float(summary.split("Peak:")[1].split("dBFS")[0])
    return integrated, peak


def test_every_format_from_one_decode(sample, tmp_path):
    source = probe(sample["video"])
    loud = [h for h in sample["truth"]["highlights"] if h["kind"] == "crowd"][0]
    clip = make_clip(loud["start"] - 4, loud["start"] + 8)
    config = fast(formats=["vertical", "portrait", "square", "horizontal", "source"])
    result = render_clip(source, clip, str(tmp_path), config, threads=2)
    assert result.error is None
    expected = {"vertical": (1080, 1920), "portrait": (1080, 1350), "square": (1080, 1080),
                "horizontal": (1920, 1080), "source": (320, 180)}
    assert set(result.files) == set(expected)
    for fmt, rel in result.files.items():
        path = os.path.join(tmp_path, rel)
        info = ffprobe(path)
        video = [s for s in info["streams"] if s["codec_type"] == "video"][0]
        audio = [s for s in info["streams"] if s["codec_type"] == "audio"][0]
        assert (video["width"], video["height"]) == expected[fmt], fmt
        assert (video["codec_name"], video["profile"], video["pix_fmt"]) == ("h264", "High", "yuv420p")
        assert video["avg_frame_rate"] == "30/1" and video["r_frame_rate"] == "30/1"
        assert (audio["codec_name"], audio["profile"]) == ("aac", "LC")
        assert float(info["format"]["duration"]) == pytest.approx(12.0, abs=0.1)
        tags = info["format"]["tags"]
        assert tags["title"] and "rank=1" in tags["comment"] and "tier=A" in tags["comment"]
        with open(path, "rb") as handle:
            head = handle.read(64 * 1024)
        moov, mdat = head.find(b"moov"), head.find(b"mdat")
        assert moov >= 0 and (mdat < 0 or moov < mdat)  # +faststart: the index before the media data
        integrated, peak = loudness(path)
        assert integrated == pytest.approx(-14.0, abs=1.0) and peak <= -1.0 + 0.2
    thumb = ffprobe(os.path.join(tmp_path, result.thumbnail))["streams"][0]
    assert thumb["codec_name"] == "mjpeg" and thumb["width"] == 540
    # ffmpeg 5 writes animated WebP but cannot read it back: decode every frame with Pillow.
    with Image.open(os.path.join(tmp_path, result.preview)) as preview:
        assert preview.format == "WEBP" and preview.is_animated and preview.n_frames >= 20
        assert preview.size[0] == 320
        for index in range(preview.n_frames):
            preview.seek(index)
            preview.convert("RGB").load()
    assert not [n for n in os.listdir(os.path.join(tmp_path, "clips")) if "partial" in n]


def test_non_square_pixels_keep_their_display_shape(tmp_path, made_media):
    source = probe(made_media("sar-2by3.mp4"))
    result = render_clip(source, make_clip(0.0, 1.5), str(tmp_path), fast(formats=["source"]), threads=2)
    assert result.error is None
    video = [s for s in ffprobe(os.path.join(tmp_path, result.files["source"]))["streams"] if s["codec_type"] == "video"][0]
    assert (video["width"], video["height"]) == (source.display_width, source.display_height) == (426, 360)
    assert video.get("sample_aspect_ratio", "1:1") == "1:1"


def moving_box(path):
    """10 s of a white box crossing a black picture left to right, with a tone."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=640x360:d=10:r=30",
                    "-f", "lavfi", "-i", "color=c=white:s=60x60:d=10:r=30", "-f", "lavfi", "-i", "sine=f=440:d=10",
                    "-filter_complex", "[0][1]overlay=x='20+t*55':y=150:eval=frame[v]", "-map", "[v]", "-map", "2",
                    "-c:v", "libx264", "-g", "60", "-c:a", "aac", "-shortest", path], check=True)


def test_crop_fill_follows_the_motion(tmp_path):
    path = str(tmp_path / "box.mp4")
    moving_box(path)
    source = probe(path)
    result = render_clip(source, make_clip(0.0, 10.0), str(tmp_path), fast(formats=["vertical"], fill="crop"), threads=2)
    assert result.error is None
    out = os.path.join(tmp_path, result.files["vertical"])
    for t in (1.0, 5.0, 8.5):   # the box is at x = 75, 295, 487 of 640: a centred window would miss two
        assert frame_at(out, t, 1080, 1920).max(axis=2).mean() > 8, t   # the whole box: ~5% of the picture


def test_copy_cuts_on_key_frames_without_reencoding(sample, tmp_path):
    source = probe(sample["video"])
    clip = make_clip(31.3, 47.1)
    result = render_clip(source, clip, str(tmp_path), fast(formats=["source"], copy=True), threads=2)
    assert result.error is None
    frames = key_frames(sample["video"], 31.3, 47.1)
    start, end = result.cut
    assert start in [round(t, 3) for t in frames] and end in [round(t, 3) for t in frames]
    assert start <= 31.3 and end >= 47.1 and end - start <= 15.8 + 4.0   # 2 s GOP: at most a GOP each side
    info = ffprobe(os.path.join(tmp_path, result.files["source"]))
    assert float(info["format"]["duration"]) == pytest.approx(end - start, abs=0.3)
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]


def test_title_renders_chinese_text(sample, tmp_path):
    assert find_font(), "no system font: fontconfig and a CJK font are installed by .ci/install-system-deps"
    source = probe(sample["video"])
    crops = []
    for index, title in enumerate(["中中中中", "文文文文"]):
        out = tmp_path / str(index)
        result = render_clip(source, make_clip(2.0, 5.0), str(out), fast(formats=["square"], title=title), threads=2)
        assert result.error is None
        frame = frame_at(os.path.join(out, result.files["square"]), 1.5, 1080, 1080)
        crops.append(frame[40:200].astype(int))
    # Missing glyphs would draw the same empty box for both characters.
    assert np.abs(crops[0] - crops[1]).mean() > 2


def test_watermark_in_the_corner_and_a_failed_render_leaves_nothing(sample, tmp_path):
    source = probe(sample["video"])
    mark = tmp_path / "mark.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=200x100", "-frames:v", "1", str(mark)],
                   check=True)
    result = render_clip(source, make_clip(2.0, 5.0), str(tmp_path / "ok"), fast(formats=["square"], watermark=str(mark)), threads=2)
    frame = frame_at(os.path.join(tmp_path, "ok", result.files["square"]), 1.5, 1080, 1080).astype(int)
    corner = frame[40:100, 900:1030]
    assert corner[..., 0].mean() > 180 and corner[..., 1].mean() < 80   # red, top-right
    # Formats of the same width (vertical and square are both 1080 wide) each get their own mark.
    both = render_clip(source, make_clip(2.0, 5.0), str(tmp_path / "both"),
                       fast(formats=["vertical", "square"], watermark=str(mark)), threads=2)
    assert both.error is None
    for fmt, (width, height) in (("vertical", (1080, 1920)), ("square", (1080, 1080))):
        frame = frame_at(os.path.join(tmp_path, "both", both.files[fmt]), 1.5, width, height).astype(int)
        corner = frame[40:100, 900:1030]
        assert corner[..., 0].mean() > 180 and corner[..., 1].mean() < 80, fmt
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    failed = render_clip(source, make_clip(2.0, 5.0), str(tmp_path / "bad"), fast(formats=["square"], watermark=str(broken)), threads=2)
    assert failed.error and "clip 1 (test1)" in failed.error and "ffmpeg failed" in failed.error
    assert os.listdir(tmp_path / "bad" / "clips") == []


@pytest.mark.parametrize("args, message", [
    (["--format", "source,vertical", "--copy"], "--copy"),
    (["--format", "vertical,vertical"], "--format"),
    (["--format", "round"], "--format"),
    (["--fill", "stretch"], "--fill"),
    (["--watermark", "/no/such.png"], "watermark"),
    (["--jobs", "0"], "--jobs"),
])
def test_render_flag_errors(sample, tmp_path, args, message):
    result = run_cli("clip", sample["video"], "--out", str(tmp_path), *args)
    assert result.returncode == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
