"""A transcript through the real CLI: clips open and close between what is said, carry their
text, and the manifest says what was read; bad transcripts are one line and exit 2."""
import json
import os

import pytest
from conftest import run_cli, write_srt

TOLERANCE = 1e-3     # the manifest rounds times to milliseconds


def clip_run(sample, out, *extra) -> dict:
    result = run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", str(out), "--no-render", "--quiet",
                     *extra)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def cut_into(t, cues):
    """The cue that time ``t`` falls strictly inside, if any."""
    return next((cue for cue in cues if cue[0] + TOLERANCE < t < cue[1] - TOLERANCE), None)


@pytest.fixture(scope="module")
def plain(sample, tmp_path_factory):
    """The manifest of a run without a transcript."""
    return clip_run(sample, tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def talk(sample, tmp_path_factory):
    path = tmp_path_factory.mktemp("transcript") / "talk.srt"
    return {"path": str(path), "cues": write_srt(path, 150.0, seed=4)}


def test_no_clip_starts_or_ends_inside_a_transcript_segment(sample, plain, talk, tmp_path):
    # Sound and picture alone cut into speech: that is what the transcript is for.
    assert any(cut_into(t, talk["cues"]) for c in plain["clips"] for t in (c["start"], c["end"]))
    assert plain["transcript"] is None and all(c["text"] is None for c in plain["clips"])

    manifest = clip_run(sample, tmp_path / "talk", "--transcript", talk["path"])
    assert manifest["transcript"] == {"format": "srt", "segments": len(talk["cues"]), "skipped": 0, "language": None}
    assert len(manifest["clips"]) == len(plain["clips"]) and manifest["warnings"] == []
    for clip in manifest["clips"]:
        assert cut_into(clip["start"], talk["cues"]) is None and cut_into(clip["end"], talk["cues"]) is None, clip
        assert 15 <= clip["end"] - clip["start"] <= 60 and clip["start"] <= clip["peak"] <= clip["end"]
        # the words are the cues the clip holds, whole and in order
        held = [text for start, end, text in talk["cues"]
                if clip["start"] - TOLERANCE <= start and end <= clip["end"] + TOLERANCE]
        assert held and clip["text"] == " ".join(held)


def test_a_transcript_on_another_clock_is_a_warning_and_the_clips_stay_as_without(sample, plain, talk, tmp_path):
    shifted = clip_run(sample, tmp_path / "late", "--transcript", talk["path"], "--transcript-offset", "1000")
    assert [(c["start"], c["end"]) for c in shifted["clips"]] == [(c["start"], c["end"]) for c in plain["clips"]]
    assert all(c["text"] == "" for c in shifted["clips"])      # a transcript, but nothing said in the clips
    assert any("transcript: none of its" in w and "--transcript-offset" in w for w in shifted["warnings"])


def test_unreadable_cues_are_skipped_counted_and_warned_about(sample, talk, tmp_path):
    damaged = tmp_path / "damaged.srt"
    with open(talk["path"], encoding="utf-8") as handle:
        damaged.write_text(handle.read() + "\n\n999\n00:02:99,000 --> soon\nlost words\n", encoding="utf-8")
    manifest = clip_run(sample, tmp_path / "out", "--transcript", str(damaged))
    assert manifest["transcript"]["skipped"] == 1 and manifest["transcript"]["segments"] == len(talk["cues"])
    assert any(w.startswith("transcript: skipped 1 cue(s)") for w in manifest["warnings"])


def test_the_recordings_own_subtitles_are_read_with_embedded(made_media, tmp_path):
    result = run_cli("clip", made_media("subtitles.mkv"), "--transcript", "embedded", "--out", str(tmp_path),
                     "--no-render", "--quiet")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "manifest.json", encoding="utf-8") as handle:
        assert json.load(handle)["transcript"] == {"format": "embedded", "segments": 2, "skipped": 0, "language": None}


@pytest.mark.parametrize("transcript, message", [
    ("missing.srt", "transcript not found: "),
    ("junk.srt", "not a transcript peakclip can read: "),
    ("embedded", "has no subtitle stream"),
])
def test_a_bad_transcript_is_one_line_and_exit_2(sample, tmp_path, transcript, message):
    (tmp_path / "junk.srt").write_text("just some notes\nno times at all\n")
    path = transcript if transcript == "embedded" else str(tmp_path / transcript)
    result = run_cli("clip", sample["video"], "--transcript", path, "--out", str(tmp_path / "out"), "--no-render")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert not os.path.exists(tmp_path / "out" / "manifest.json")
