"""``--captions`` through the real CLI: recognised from a real recording's speech and read back
from the picture with OCR (tesseract), taken from a transcript file in any format, a generated
stream with a real spoken host, resuming, and the errors that stop a run before it starts."""
import json
import os
import re

import numpy as np
import pytest
from conftest import VERTICAL, real_media, run_cli
from scipy.ndimage import binary_dilation
from test_captions import ocr_words
from test_render import frame_at

from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.captions import caption_layout
from peakclip.samples.generate import generate

pytestmark = pytest.mark.integration

# What the speaker in tests/media/example.mp4 says, with the times (s) of each sentence.
SENTENCES = [(0.1, 0.7, "Hello."),
             (1.3, 5.3, "This is an example video for your convenience and pleasure."),
             (5.3, 10.9, "You are allowed to use this voice for any purpose including commercial uses."),
             (10.9, 13.0, "On the bottom right you can see the time."),
             (13.9, 17.3, "When the time reaches forty seconds I will say banana.")]
SPOKEN = set(re.findall(r"[a-z]+", " ".join(text for _, _, text in SENTENCES).lower()))
# The calm recording holds no highlight: the README's way to get its best moment anyway.
CALM = ["--min-score", "0.1", "--min-len", "12", "--max-len", "20", "--clips", "1"]


def only_clip(out) -> tuple[dict, dict]:
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert len(manifest["clips"]) == 1, manifest["clips"]
    return manifest, manifest["clips"][0]


def srt_cues(path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of a SubRip file, the text's lines joined by a newline."""
    def seconds(h, m, s, ms):
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
    with open(path, encoding="utf-8") as handle:
        blocks = handle.read().strip().split("\n\n")
    cues = []
    for block in filter(None, blocks):
        lines = block.split("\n")
        times = re.fullmatch(r"(\d+):(\d+):(\d+),(\d+) --> (\d+):(\d+):(\d+),(\d+)", lines[1]).groups()
        cues.append((seconds(*times[:4]), seconds(*times[4:]), "\n".join(lines[2:])))
    return cues


def outlined(pixels: np.ndarray) -> np.ndarray:
    """Only the white drawn in a black outline (the captions) of an RGB crop, the rest black:
    example.mp4 shows a white running clock of its own, just above the caption band."""
    near_outline = binary_dilation(pixels.max(axis=2) < 80, np.ones((9, 9), bool))
    kept = pixels.copy()
    kept[~near_outline] = 0
    return kept


def test_auto_captions_of_a_real_recording_are_burned_in_and_read_back(fast_config, tmp_path):
    out = tmp_path / "out"
    result = run_cli("clip", real_media("example.mp4"), "--captions", "auto", *CALM, "--config", fast_config,
                     "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    manifest, clip = only_clip(out)
    assert manifest["transcript"] is None and manifest["warnings"] == []
    assert clip["captions"] == clip["file"].removesuffix(".mp4") + ".srt" and (out / clip["captions"]).is_file()
    # The clip's text is what the recogniser heard, and the captions say the same words.
    heard = clip["text"].split()
    assert len(set(heard) & SPOKEN) >= 0.6 * len(set(heard)) and len(heard) >= 15, clip["text"]
    cues = srt_cues(out / clip["captions"])
    assert " ".join(text for _, _, text in cues).split() == heard
    assert all(0 <= start < end <= clip["end"] - clip["start"] + 1e-3 for start, end, _ in cues)
    # Burned in: tesseract reads the caption band of frames in the middle of the fullest cues.
    size = VERTICAL[clip["profile"]]   # `peakclip clip` renders at full
    top, bottom = caption_layout(*size, RenderConfig()).rows()
    for start, end, text in sorted(cues, key=lambda cue: -len(cue[2].split()))[:3]:
        picture = frame_at(str(out / clip["file"]), (start + end) / 2, *size)
        read = [word.lower() for word in ocr_words(outlined(picture[top:bottom]), tmp_path / "band.png")]
        assert len(read) >= 2, (text, read)
        assert sum(word in text.split() for word in read) >= 0.6 * len(read), (text, read)


def write_transcripts(folder) -> dict[str, str]:
    """SENTENCES as SubRip, WebVTT and Whisper JSON (with word timings, as Whisper writes them)."""
    def clock(t, separator):
        return f"00:00:{int(t):02d}{separator}{round(t % 1 * 1000):03d}"
    paths = {name: str(folder / f"spoken.{name}") for name in ("srt", "vtt", "json")}
    with open(paths["srt"], "w", encoding="utf-8") as out:
        out.write("".join(f"{i}\n{clock(a, ',')} --> {clock(b, ',')}\n{text}\n\n"
                          for i, (a, b, text) in enumerate(SENTENCES, 1)))
    with open(paths["vtt"], "w", encoding="utf-8") as out:
        out.write("WEBVTT\n\n" + "".join(f"{clock(a, '.')} --> {clock(b, '.')}\n{text}\n\n" for a, b, text in SENTENCES))
    segments = []
    for start, end, text in SENTENCES:
        words = text.split()
        step = (end - start) / len(words)
        segments.append({"start": start, "end": end, "text": " " + text,
                         "words": [{"word": " " + w, "start": round(start + i * step, 3),
                                    "end": round(start + (i + 1) * step, 3)} for i, w in enumerate(words)]})
    with open(paths["json"], "w", encoding="utf-8") as out:
        json.dump({"text": " ".join(t for _, _, t in SENTENCES), "segments": segments, "language": "en"}, out)
    return paths


def test_a_transcript_in_any_format_gives_the_same_captions_and_resumes_right(tmp_path, monkeypatch):
    monkeypatch.setenv("PEAKCLIP_RENDER_PRESET", "ultrafast")
    cheap = ["--format", "source", *CALM]
    found = {}
    for name, path in write_transcripts(tmp_path).items():
        out = tmp_path / f"out-{name}"
        result = run_cli("clip", real_media("example.mp4"), "--captions", path, *cheap, "--out", str(out), "--quiet")
        assert result.returncode == 0, result.stderr
        manifest, clip = only_clip(out)
        assert manifest["transcript"]["segments"] == len(SENTENCES)
        found[name] = (clip["start"], clip["end"], clip["text"], [text for _, _, text in srt_cues(out / clip["captions"])])
    assert found["srt"] == found["vtt"] == found["json"]
    start, end, text, cue_texts = found["srt"]
    assert len(cue_texts) >= 4 and " ".join(cue_texts).split() == text.split()

    # The same folder without captions, then with: the clip is rendered again each time (the
    # captions are part of what a finished clip is), and the .srt goes when the captions do.
    srt = tmp_path / "spoken.srt"
    out = tmp_path / "out-srt"
    for captions, srt_kept in (([], False), (["--captions", str(srt)], True)):
        result = run_cli("clip", real_media("example.mp4"), "--transcript", str(srt), *captions, *cheap,
                         "--out", str(out))
        assert result.returncode == 0 and "kept" not in result.stderr, result.stderr
        _, clip = only_clip(out)
        assert (clip["captions"] is not None) == srt_kept
        assert any(n.endswith(".srt") for n in os.listdir(out / "clips")) == srt_kept
    again = run_cli("clip", real_media("example.mp4"), "--captions", str(srt), *cheap, "--out", str(out))
    assert again.returncode == 0 and "kept 1 of 1 clip(s)" in again.stderr, again.stderr


def test_a_generated_stream_with_a_spoken_host_gets_english_captions(tmp_path, monkeypatch):
    # seed 18: the planted moment falls where the looped recording speaks, not in its long pause
    options = dict(seed=18, duration=75.0, highlights=["chat"], distractors=[], size=(320, 180))
    truth = generate(str(tmp_path / "spoken"), speech=real_media("example.mp4"), **options)
    generate(str(tmp_path / "buzz"), **options)
    # Only the host's voice differs: the same moments and the same chat.
    assert (tmp_path / "spoken" / "chat.json").read_bytes() == (tmp_path / "buzz" / "chat.json").read_bytes()
    assert truth["speech"] == "example.mp4"
    monkeypatch.setenv("PEAKCLIP_RENDER_PRESET", "ultrafast")
    out = tmp_path / "out"
    result = run_cli("clip", str(tmp_path / "spoken" / "stream.mp4"), "--chat", str(tmp_path / "spoken" / "chat.json"),
                     "--captions", "auto", "--clips", "1", "--format", "source", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    _, clip = only_clip(out)
    highlight = truth["highlights"][0]
    assert clip["start"] < highlight["end"] and highlight["start"] < clip["end"]
    words = " ".join(text for _, _, text in srt_cues(out / clip["captions"])).split()
    distinctive = {w for w in SPOKEN if len(w) >= 4}
    assert len(set(words) & distinctive) >= 4, words
    assert words == clip["text"].split()


@pytest.mark.parametrize("command", ["clip", "submit", "watch"])
def test_captions_that_cannot_be_made_stop_the_run_before_it_starts(command, tmp_path):
    zh = tmp_path / "zh.toml"
    zh.write_text('[transcript]\nlanguage = "zh"\n')
    out = tmp_path / "out"
    result = run_cli(command, real_media("example.mp4"), "--captions", "auto", "--config", str(zh), "--out", str(out))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "does not cover 'zh'" in result.stderr and "--transcript FILE" in result.stderr
    assert not out.exists()     # nothing analysed, rendered or queued
    (tmp_path / "a.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nhi\n")
    both = run_cli(command, real_media("example.mp4"), "--captions", str(tmp_path / "a.srt"), "--transcript",
                   str(tmp_path / "b.srt"), "--out", str(out))
    assert both.returncode == 2 and "give the transcript once" in both.stderr and both.stderr.count("\n") == 1
