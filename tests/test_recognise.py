"""The offline recogniser behind ``--captions auto``: real speech (tests/media/example.mp4) through
the real PocketSphinx model, generated tone and noise, and the plug-in interface."""
from __future__ import annotations

import difflib
import re
import subprocess

import pytest
from conftest import real_media
from pocketsphinx import Endpointer

from peakclip.detectors.transcript.recognise import (
    PocketSphinx,
    Recogniser,
    clean_words,
    covers,
    get_recogniser,
    group_words,
    read_pcm,
    speech_regions,
)
from peakclip.detectors.transcript.records import Segment, TranscriptError, Word

# What two passes agree on (example.mp4 over 5-25 s, and the whole file): the speaker's words as
# recognised, except "uses", which PocketSphinx hears as "users".
REFERENCE = ("you are allowed to use this voice for any purpose including commercial uses on the bottom "
             "right you can see the time when the time reaches forty seconds i will say banana").split()
TOKEN = re.compile(r"[a-z][a-z'.-]*")   # dictionary words: lowercase, maybe "don't", "a.m.", "air-force"


def words_of(segments: list[Segment]) -> list[Word]:
    return [w for s in segments for w in s.words]


@pytest.fixture(scope="module")
def speech():
    """example.mp4 from 5 to 25 s, transcribed once: the range, and its segments."""
    start, end = 5.0, 25.0
    return start, end, PocketSphinx().transcribe(real_media("example.mp4"), start, end)


def test_real_speech_words_are_timed_inside_the_range_in_order(speech):
    start, end, segments = speech
    words = words_of(segments)
    assert len(words) >= 15
    assert all(start <= w.start < w.end <= end for w in words)
    assert all(a.end <= b.start for a, b in zip(words, words[1:]))
    assert all(TOKEN.fullmatch(w.text) for w in words), [w.text for w in words]
    for seg in segments:
        assert seg.text == " ".join(w.text for w in seg.words)
        assert (seg.start, seg.end) == (seg.words[0].start, seg.words[-1].end)
    assert all(a.end <= b.start for a, b in zip(segments, segments[1:]))


def test_real_speech_matches_the_reference(speech):
    words = [w.text for w in words_of(speech[2])]
    matched = sum(b.size for b in difflib.SequenceMatcher(a=REFERENCE, b=words).get_matching_blocks())
    assert matched / len(REFERENCE) >= 0.8, " ".join(words)
    assert {"voice", "purpose", "bottom", "forty", "seconds", "banana"} <= set(words)


def test_captions_split_at_the_pause(speech):
    # The speaker pauses ~0.8 s after "see the time": a caption ends there.
    texts = [s.text for s in speech[2]]
    assert any(t.endswith("see the time") for t in texts), texts
    assert all(len(s.words) <= 12 for s in speech[2])


def test_times_are_on_the_recordings_clock():
    # "...i will say banana", and at 40 s (the clock in the picture) "banana" again.
    segments = PocketSphinx().transcribe(real_media("example.mp4"), 35.0, 42.0)
    banana = [w for w in words_of(segments) if w.text == "banana"]
    assert banana and 39.5 < banana[0].start < 40.5, segments


def test_the_jobs_audio_track_is_the_one_heard(tmp_path):
    """A recording whose first audio track is a tone and whose second holds the speech: the
    second is heard when asked for (``--audio-track 1``), the first is not speech."""
    path = str(tmp_path / "two-tracks.mkv")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:d=7",
                    "-ss", "35", "-t", "7", "-i", real_media("example.mp4"), "-map", "0:a", "-map", "1:a",
                    "-c:a", "pcm_s16le", path], check=True)
    assert "banana" in [w.text for w in words_of(PocketSphinx().transcribe(path, 0.0, 7.0, track=1))]
    assert "banana" not in [w.text for w in words_of(PocketSphinx().transcribe(path, 0.0, 7.0))]
    with pytest.raises(TranscriptError, match="has no audio track 2 to transcribe"):
        PocketSphinx().transcribe(path, 0.0, 7.0, track=2)


def test_tone_and_noise_give_few_words(tmp_path):
    path = str(tmp_path / "tone-noise.wav")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:d=4",
                    "-f", "lavfi", "-i", "anoisesrc=d=4:a=0.1:seed=1", "-filter_complex",
                    "[0][1]concat=n=2:v=0:a=1", "-ar", "44100", path], check=True)
    assert len(words_of(PocketSphinx().transcribe(path, 0.0, 8.0))) <= 3


def test_a_recording_without_audio_is_one_line_error(tmp_path):
    path = str(tmp_path / "silent-film.mp4")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=gray:s=64x64:d=1",
                    "-c:v", "mpeg4", path], check=True)
    with pytest.raises(TranscriptError, match="has no audio") as caught:
        PocketSphinx().transcribe(path, 0.0, 1.0)
    assert "\n" not in str(caught.value)


def test_a_language_the_model_does_not_cover_is_one_line_error():
    with pytest.raises(TranscriptError, match=r"does not cover 'zh'.*--transcript FILE") as caught:
        PocketSphinx().transcribe(real_media("example.mp4"), 5.0, 6.0, language="zh")
    assert "\n" not in str(caught.value)
    assert covers(("en",), "en-US") and covers(("en",), "EN_gb") and not covers(("en",), "zh")


def test_a_bad_range_is_refused():
    with pytest.raises(ValueError):
        PocketSphinx().transcribe(real_media("example.mp4"), 5.0, 5.0)


# --- plugging in another engine ---------------------------------------------------------------------


class FixedRecogniser:
    """A plug-in as a user would write one: it hears the same three words in any range."""

    name = "fixed"
    languages = ("en", "de")

    def transcribe(self, path: str, start: float, end: float, language: str = "en", track: int = 0) -> list[Segment]:
        words = [Word(start + i, start + i + 0.5, text) for i, text in enumerate(["one", "two", "three"])]
        return group_words(words)


class NotARecogniser:
    name = "half"


def test_registered_name_and_import_path_give_recognisers():
    assert isinstance(get_recogniser("pocketsphinx"), PocketSphinx)
    plugged = get_recogniser(f"{__name__}:FixedRecogniser")
    assert isinstance(plugged, Recogniser) and plugged.name == "fixed"
    assert [w.start for w in words_of(plugged.transcribe("any.mp4", 10.0, 20.0))] == [10.0, 11.0, 12.0]


@pytest.mark.parametrize("spec, says", [
    ("whisper", "unknown recogniser"),
    ("no_such_package.engine:Engine", "cannot import"),
    (f"{__name__}:Missing", "has no Missing"),
    (f"{__name__}:NotARecogniser", "has no name, languages and transcribe"),
])
def test_a_bad_spec_is_one_line_error(spec, says):
    with pytest.raises(TranscriptError, match=says) as caught:
        get_recogniser(spec)
    assert "\n" not in str(caught.value)


# --- the small pieces ---------------------------------------------------------------------------------


def test_fillers_and_pronunciation_numbers_are_cleaned():
    seg = [("<s>", 0, 4), ("use(2)", 5, 19), ("<sil>", 20, 40), ("[NOISE]", 41, 50), ("this", 51, 60),
           ("</s>", 61, 70)]
    assert clean_words(seg, 2.0) == [Word(2.05, 2.2, "use"), Word(2.51, 2.61, "this")]


def test_words_group_at_pauses_and_long_phrases_split_evenly():
    def word(t):
        return Word(t, t + 0.2, "w")
    phrase = [word(0.3 * i) for i in range(14)]         # 14 words, 0.1 s apart
    after_pause = [word(10.0), word(10.3)]
    groups = group_words(phrase + after_pause)
    assert [len(g.words) for g in groups] == [7, 7, 2]


def test_speech_running_to_the_end_is_kept():
    # Cut off mid-sentence ("...including commercial") on a whole number of VAD frames.
    endpointer = Endpointer(sample_rate=16000)
    pcm = read_pcm(real_media("example.mp4"), 5.0, 9.5)
    pcm = pcm[:len(pcm) - len(pcm) % endpointer.frame_bytes]
    regions = list(speech_regions(pcm, endpointer))
    assert regions
    offset, last = regions[-1]
    assert offset + len(last) / 32000 > 4.4
