"""Burned-in captions: cues cut and timed from a transcript, the SRT and ASS files, and a real
render of a real recording read back with OCR (tesseract)."""
import re
import shutil
import subprocess

import numpy as np
import pytest
from conftest import real_media
from PIL import Image
from test_render import fast, frame_at, make_clip

from peakclip.detectors.probe import probe
from peakclip.detectors.transcript.records import Segment, Word
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.captions import Cue, ass_text, caption_cues, caption_layout, srt_text, text_width
from peakclip.pipeline.output.render import render_clip
from peakclip.pipeline.output.render.graph import clip_graph

LATIN = ("so the price drops today for everyone who is watching right now and the link is in the bio as "
         "always thanks for coming")


def lines_of(cues):
    return [line for cue in cues for line in cue.text.split("\n")]


# ---- cues ----------------------------------------------------------------------------------

def test_latin_text_wraps_at_word_boundaries_into_cues_of_two_lines():
    cues = caption_cues([Segment(0.0, 12.0, LATIN)], 0.0, 12.0, max_chars=20)
    assert len(cues) > 1 and all(1 <= len(cue.text.split("\n")) <= 2 for cue in cues)
    assert all(len(line) <= 20 for line in lines_of(cues))
    assert " ".join(lines_of(cues)).split() == LATIN.split()   # no word cut, lost or added
    assert lines_of(cues)[0] == "so the price drops"             # filled up to the limit


def test_cjk_text_wraps_per_character_counting_two():
    text = "今天的价格真的很低，大家快来看看吧我们明天再见"
    cues = caption_cues([Segment(0.0, 6.0, text)], 0.0, 6.0, max_chars=10)
    lines = lines_of(cues)
    assert "".join(lines) == text
    assert all(text_width(line) <= 10 for line in lines) and lines[0] == "今天的价格"   # 5 characters: 10 units
    assert not any(line.startswith("，") for line in lines)   # closing punctuation stays on its character
    assert all(len(cue.text.split("\n")) <= 2 for cue in cues)
    mixed = caption_cues([Segment(0.0, 2.0, "我用 iPhone 拍的")], 0.0, 2.0, max_chars=20)
    assert [cue.text for cue in mixed] == ["我用 iPhone 拍的"]


def test_a_word_longer_than_a_line_is_cut():
    cues = caption_cues([Segment(0.0, 2.0, "see https://example.com/a-very-long-path")], 0.0, 2.0, max_chars=12)
    assert all(len(line) <= 12 for line in lines_of(cues))


def test_word_timings_time_each_cue_from_its_first_to_its_last_word():
    words = tuple(Word(100.0 + i, 100.6 + i, w) for i, w in enumerate("price drop today link in the bio".split()))
    cues = caption_cues([Segment(100.0, 107.0, "price drop today link in the bio", words)], 99.0, 110.0, max_chars=10)
    assert [(c.start, c.end, c.text) for c in cues] == [(1.0, 4.6, "price drop\ntoday link"), (5.0, 7.6, "in the bio")]
    # Chinese words come without spaces and are written without them.
    chinese = (Word(0.0, 0.5, "今天"), Word(0.5, 1.0, "降价"), Word(0.9, 1.0, "！"))
    assert caption_cues([Segment(0.0, 1.0, "今天 降价！", chinese)], 0.0, 1.0, 20)[0].text == "今天降价！"
    latin = (Word(0.0, 0.4, "hello"), Word(0.4, 0.4, ","), Word(0.5, 0.9, " there"))
    assert caption_cues([Segment(0.0, 1.0, "hello, there", latin)], 0.0, 1.0, 20)[0].text == "hello, there"


def test_without_word_timings_a_segment_is_split_in_proportion_to_characters():
    cues = caption_cues([Segment(10.0, 18.0, "aaaa bbbb cccc dddd")], 10.0, 20.0, max_chars=4)
    assert [c.text for c in cues] == ["aaaa\nbbbb", "cccc\ndddd"]
    assert cues[0].start == 0.0 and cues[1].end == 8.0
    # "cccc" starts at character 10 of 19
    assert cues[0].end == cues[1].start == pytest.approx(8.0 * 10 / 19, abs=1e-3)


def test_cues_are_clamped_to_the_clip_and_never_overlap():
    late = tuple(Word(14.0 + i * 0.5, 14.4 + i * 0.5, w) for i, w in enumerate("one two three four".split()))
    segments = [Segment(2.0, 12.0, "heard before the clip and then inside it too"),
                Segment(12.0, 15.0, "overlapping words", (Word(12.0, 13.0, "overlapping"), Word(13.0, 14.6, "words"))),
                Segment(14.0, 16.0, "one two three four", late),
                Segment(40.0, 41.0, "after the clip")]
    cues = caption_cues(segments, 10.0, 15.5, max_chars=12)
    assert cues and all(0.0 <= c.start < c.end <= 5.5 for c in cues)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))
    assert "heard" not in cues[0].text and "after" not in " ".join(c.text for c in cues)   # words outside the clip
    assert "four" not in cues[-1].text   # spoken at 15.5-15.9: after the clip's end
    assert caption_cues([Segment(1.0, 2.0, "   "), Segment(3.0, 3.0, "x")], 0.0, 5.0, 10) == []


# ---- files ---------------------------------------------------------------------------------

def test_srt_text():
    cues = [Cue(0.0, 1.5, "PRICE DROP\nTODAY"), Cue(3723.4567, 3725.0, "今天")]
    assert srt_text(cues) == ("1\n00:00:00,000 --> 00:00:01,500\nPRICE DROP\nTODAY\n\n"
                              "2\n01:02:03,457 --> 01:02:05,000\n今天\n\n")


def test_ass_script_for_a_phone():
    script = ass_text([Cue(1.0, 2.5, "a {b} c\\N\nline two")], 1080, 1920, "WenQuanYi Zen Hei", RenderConfig())
    assert "PlayResX: 1080\nPlayResY: 1920\n" in script and "WrapStyle: 2\n" in script
    style = next(line for line in script.splitlines() if line.startswith("Style: "))[7:].split(",")
    name, font, size, primary, outline_colour, border, outline, shadow, align, left, right, bottom = (
        style[0], style[1], int(style[2]), style[3], style[5], style[15], float(style[16]), float(style[17]),
        style[18], int(style[19]), int(style[20]), int(style[21]))
    assert font == "WenQuanYi Zen Hei" and size == pytest.approx(1080 / 14, abs=2)
    # White, a black outline (and a drop shadow), centred at the bottom.
    assert (primary, outline_colour, border, align) == ("&H00FFFFFF", "&H00000000", "1", "2")
    assert outline == pytest.approx(size / 10, abs=0.5) and shadow > 0
    assert 0.70 <= 1 - bottom / 1920 <= 0.75 and left == right == round(1080 * 0.08)
    dialogue = next(line for line in script.splitlines() if line.startswith("Dialogue: "))
    assert dialogue.startswith("Dialogue: 0,0:00:01.00,0:00:02.50,Caption,")
    # Braces escaped; the backslash kept from making "\N" a line break; our own break is \N.
    assert dialogue.endswith("a \\{b\\} c\\\u2060N\\Nline two")
    wide = ass_text([], 1920, 1080, "X", RenderConfig())
    assert ",2,154,154,86,1" in wide   # horizontal: 8% margins


def test_caption_band_sits_above_the_feed_ui():
    top, bottom = caption_layout(1080, 1920, RenderConfig()).rows()
    assert 0.6 * 1920 < top < bottom <= 0.8 * 1920


# ---- a real render -------------------------------------------------------------------------

SPOKEN = [Cue(0.4, 2.6, "PRICE DROP TODAY"), Cue(2.8, 5.0, "LINK IN THE BIO"),
          Cue(5.2, 7.0, "中中中中"), Cue(7.2, 8.6, "文文文文")]
SIZE = (1080, 1920)


@pytest.fixture(scope="module")
def renders(tmp_path_factory):
    """A 9 s vertical clip of a real talking-head recording, with and without the captions."""
    source = probe(real_media("example.mp4"))
    done = {}
    for name, captions in (("captioned", SPOKEN), ("plain", None)):
        out = tmp_path_factory.mktemp(name)
        result = render_clip(source, make_clip(5.0, 14.0), str(out), fast(formats=["vertical"]), threads=2,
                             captions=captions)
        assert result.error is None
        done[name] = (out, result)
    return done


def frame(renders, name, t):
    out, result = renders[name]
    return frame_at(str(out / result.files["vertical"]), t, *SIZE)


def ocr_words(pixels: np.ndarray, path) -> list[str]:
    """The words tesseract reads in an RGB crop, upper case, letters and digits only."""
    # White text in a black outline: the white pixels become black ink on white paper.
    ink = np.where(pixels.min(axis=2) > 200, 0, 255).astype(np.uint8)
    Image.fromarray(ink).save(path)
    text = subprocess.run(["tesseract", str(path), "stdout", "--psm", "6"], capture_output=True, text=True,
                          check=True).stdout
    return re.findall(r"[A-Z0-9]+", text.upper())


@pytest.mark.integration
def test_captions_are_read_back_from_the_picture_in_the_safe_area(renders, tmp_path):
    assert shutil.which("tesseract"), "tesseract-ocr is installed by `make test`"
    top, bottom = caption_layout(*SIZE, RenderConfig()).rows()
    assert bottom <= 0.8 * SIZE[1]   # the band read is above the lowest 20% the feed's UI covers
    for cue in SPOKEN[:2]:
        picture = frame(renders, "captioned", (cue.start + cue.end) / 2)
        read = ocr_words(picture[top:bottom], tmp_path / "band.png")
        expected = cue.text.split()
        assert sum(word in read for word in expected) >= 0.8 * len(expected), (cue.text, read)
        lowest = picture[int(0.8 * SIZE[1]):]
        assert not set(expected) & set(ocr_words(lowest, tmp_path / "lowest.png"))
        plain = frame(renders, "plain", (cue.start + cue.end) / 2)[int(0.8 * SIZE[1]):]
        assert np.abs(lowest.astype(int) - plain).mean() < 2   # nothing drawn there


@pytest.mark.integration
def test_chinese_captions_are_drawn_with_real_glyphs(renders):
    top, bottom = caption_layout(*SIZE, RenderConfig()).rows()
    crops = []
    for cue in SPOKEN[2:]:
        t = (cue.start + cue.end) / 2
        crops.append(frame(renders, "captioned", t)[top:bottom].astype(int))
        assert np.abs(crops[-1] - frame(renders, "plain", t)[top:bottom]).mean() > 4
    # A font without these glyphs would draw the same empty box for both characters.
    assert np.abs(crops[0] - crops[1]).mean() > 2


@pytest.mark.integration
def test_srt_beside_the_clip(renders):
    out, result = renders["captioned"]
    assert result.srt == "clips/01-test1.srt" and renders["plain"][1].srt is None
    text = (out / result.srt).read_text(encoding="utf-8")
    blocks = re.findall(r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+?)\n\n", text, re.S)
    assert [int(b[0]) for b in blocks] == list(range(1, len(SPOKEN) + 1))
    for block, cue in zip(blocks, SPOKEN):
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, block[1:9])
        assert (h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000) == (cue.start, cue.end)
        assert block[9] == cue.text
    assert not [n for n in (out / "clips").iterdir() if "partial" in n.name]


def test_without_captions_the_ffmpeg_arguments_are_unchanged():
    source = probe(real_media("example.mp4"))
    args = (source, make_clip(5.0, 14.0), {"vertical": "v.mp4"}, fast(title="title"), 2, {"input_i": "-20"}, None,
            "t.txt", "/fonts/cjk.ttc", ("t.jpg", "p.webp"))
    plain = clip_graph(*args).compile()
    assert clip_graph(*args, captions=None).compile() == plain and "subtitles" not in " ".join(plain)
    captioned = clip_graph(*args, captions={"vertical": "v.ass"}).compile()
    graph = captioned[captioned.index("-filter_complex") + 1]
    # Drawn on the composed picture (in its output pixels), under the title.
    assert graph.index("vstack") < graph.index("subtitles=v.ass:fontsdir=/fonts") < graph.index("drawtext")
    # The encoder spends fewer bits on the blurred band below the picture, but not where the captions are.
    top, bottom = caption_layout(*SIZE, RenderConfig()).rows()
    roi = r"addroi=h=(\d+):qoffset=[\d.]+:w=\d+:x=\d+:y=(\d+)"
    [(band, end)] = [(int(y), int(y) + int(h)) for h, y in re.findall(roi, plain[plain.index("-filter_complex") + 1])]
    assert band < bottom and end == 1920
    assert [(int(y), int(y) + int(h)) for h, y in re.findall(roi, graph)] == [(bottom, 1920)]
