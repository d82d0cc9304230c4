"""Transcripts: each format with the quirks real files have, skip-and-count, one-line errors,
the same speech read alike from every format, subtitles stored in a recording, and property tests
(arbitrary or damaged input ends in segments and skips, or one TranscriptError line)."""
import json
import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_chat_fuzz import EDITS, mutate  # the same byte edits that damage the chat logs

from peakclip.detectors.transcript import (
    FORMATS,
    Segment,
    Skipped,
    Transcript,
    TranscriptError,
    Word,
    detect_format,
    read_embedded,
    read_transcript,
    srt,
    webvtt,
)

# ---- one piece of speech, four sentences, written by hand in each format --------------------------

SENTENCES = ["Welcome back to the stream, everyone.", "Today we finally beat the last boss.",
             "Watch this jump: it is impossible!", "Thanks for watching & see you tomorrow."]
# when each word starts, as the Whisper file and YouTube's inline timestamps say
WORD_STARTS = [0.5, 0.9, 1.2, 1.4, 1.6, 2.1, 3.2, 3.6, 3.9, 4.4, 4.7, 4.9, 5.2, 6.0, 6.5, 6.9, 7.5, 7.7, 7.9,
               9.0, 9.4, 9.7, 10.2, 10.4, 10.6, 10.8]

SPEECH_SRT = """1
00:00:00,500 --> 00:00:02,900
Welcome back to the stream, everyone.

2
00:00:03,200 --> 00:00:05,600
Today we finally beat
the last boss.

3
00:00:06,000 --> 00:00:08,400
<i>Watch this jump: it is impossible!</i>

4
00:00:09,000 --> 00:00:11,500
Thanks for watching & see you tomorrow.
"""

SPEECH_VTT = """WEBVTT

NOTE written by hand for the tests

1
00:00.500 --> 00:02.900
<v Host>Welcome back to the stream, everyone.

00:03.200 --> 00:05.600 align:start position:10%
Today we finally beat
the last boss.

00:06.000 --> 00:08.400
<c.yellow>Watch this jump:</c> it is impossible!

00:09.000 --> 00:11.500
Thanks for watching &amp; see you tomorrow.
"""

# YouTube's automatic captions as yt-dlp writes them: lines that do not follow the sentences, a
# timestamp before each word but a line's first, each line shown again above the next, 10 ms
# cues that only hold a line, a blank line of one space, and a last line of one word.
SPEECH_YOUTUBE = """WEBVTT
Kind: captions
Language: en

00:00:00.500 --> 00:00:03.590 align:start position:0%
 
Welcome<00:00:00.900><c> back</c><00:00:01.200><c> to</c><00:00:01.400><c> the</c><00:00:01.600><c> stream,</c><00:00:02.100><c> everyone.</c><00:00:03.200><c> Today</c>

00:00:03.590 --> 00:00:03.600 align:start position:0%
Welcome back to the stream, everyone. Today
 

00:00:03.600 --> 00:00:05.990 align:start position:0%
Welcome back to the stream, everyone. Today
we<00:00:03.900><c> finally</c><00:00:04.400><c> beat</c><00:00:04.700><c> the</c><00:00:04.900><c> last</c><00:00:05.200><c> boss.</c>

00:00:05.990 --> 00:00:06.000 align:start position:0%
we finally beat the last boss.
 

00:00:06.000 --> 00:00:09.390 align:start position:0%
we finally beat the last boss.
Watch<00:00:06.500><c> this</c><00:00:06.900><c> jump:</c><00:00:07.500><c> it</c><00:00:07.700><c> is</c><00:00:07.900><c> impossible!</c><00:00:09.000><c> Thanks</c>

00:00:09.390 --> 00:00:09.400 align:start position:0%
Watch this jump: it is impossible! Thanks
 

00:00:09.400 --> 00:00:10.790 align:start position:0%
Watch this jump: it is impossible! Thanks
for<00:00:09.700><c> watching</c><00:00:10.200><c> &amp;</c><00:00:10.400><c> see</c><00:00:10.600><c> you</c>

00:00:10.790 --> 00:00:10.800 align:start position:0%
for watching &amp; see you
 

00:00:10.800 --> 00:00:11.500 align:start position:0%
for watching &amp; see you
tomorrow.

00:00:11.500 --> 00:00:11.510 align:start position:0%
tomorrow.
 
"""


def whisper_words(spoken: str, end: float) -> list[dict]:
    """Whisper's word list for "word start word start ...", each word ending where the next starts."""
    pairs = spoken.split()
    starts = [float(t) for t in pairs[1::2]]
    return [{"word": f" {word}", "start": start, "end": finish, "probability": 0.9}
            for word, start, finish in zip(pairs[0::2], starts, starts[1:] + [end])]


def whisper_segment(number: int, start: float, end: float, spoken: str) -> dict:
    words = whisper_words(spoken, end)
    return {"id": number, "seek": 0, "start": start, "end": end, "text": "".join(w["word"] for w in words),
            "tokens": [50364, 2421], "temperature": 0.0, "avg_logprob": -0.21, "compression_ratio": 1.3,
            "no_speech_prob": 0.02, "words": words}


SPEECH_WHISPER = json.dumps({
    "text": " " + " ".join(SENTENCES),
    "segments": [
        whisper_segment(0, 0.5, 2.9, "Welcome 0.5 back 0.9 to 1.2 the 1.4 stream, 1.6 everyone. 2.1"),
        whisper_segment(1, 3.2, 5.6, "Today 3.2 we 3.6 finally 3.9 beat 4.4 the 4.7 last 4.9 boss. 5.2"),
        whisper_segment(2, 6.0, 8.4, "Watch 6.0 this 6.5 jump: 6.9 it 7.5 is 7.7 impossible! 7.9"),
        whisper_segment(3, 9.0, 11.5, "Thanks 9.0 for 9.4 watching 9.7 & 10.2 see 10.4 you 10.6 tomorrow. 10.8"),
    ],
    "language": "en"}, indent=2)

SPEECH = {"srt": SPEECH_SRT, "webvtt": SPEECH_VTT, "youtube": SPEECH_YOUTUBE, "whisper-json": SPEECH_WHISPER}


def write(tmp_path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return str(path)


def texts(transcript: Transcript) -> list[str]:
    return [s.text for s in transcript.segments]


def words_of(transcript: Transcript) -> list[str]:
    return " ".join(texts(transcript)).split()


def parsed(module, text: str) -> tuple[list[Segment], list[Skipped]]:
    items = list(module.parse(text))
    return [i for i in items if isinstance(i, Segment)], [i for i in items if isinstance(i, Skipped)]


def assert_tidy(transcript: Transcript) -> None:
    """What read_transcript promises of every transcript it returns."""
    for segment in transcript.segments:
        assert segment.text and segment.text == " ".join(segment.text.split())
        assert segment.start <= segment.end
    for before, after in zip(transcript.segments, transcript.segments[1:]):
        assert before.start < after.start and before.end <= after.start
    assert transcript.skipped >= len(transcript.skipped_lines) and len(transcript.skipped_lines) <= 5


# ---- the same speech from every format ------------------------------------------------------------

@pytest.mark.parametrize("name", SPEECH)
def test_every_format_reads_the_same_words(tmp_path, name):
    transcript = read_transcript(write(tmp_path, f"speech.{name}", SPEECH[name]))
    assert words_of(transcript) == " ".join(SENTENCES).split()
    assert transcript.format == ("webvtt" if name == "youtube" else name)
    assert transcript.skipped == 0
    assert_tidy(transcript)
    if name != "youtube":        # YouTube breaks its lines elsewhere than the sentences
        assert texts(transcript) == SENTENCES
        assert [(s.start, s.end) for s in transcript.segments] == [(0.5, 2.9), (3.2, 5.6), (6.0, 8.4), (9.0, 11.5)]


@pytest.mark.parametrize("name", ["youtube", "whisper-json"])
def test_word_timings_from_youtube_and_whisper_agree(tmp_path, name):
    transcript = read_transcript(write(tmp_path, f"speech.{name}", SPEECH[name]))
    words = [w for s in transcript.segments for w in s.words]
    assert [w.text for w in words] == " ".join(SENTENCES).split()
    assert [w.start for w in words] == WORD_STARTS
    assert all(w.start <= w.end for w in words)


def test_detection():
    assert {name: detect_format(text) for name, text in SPEECH.items()} == {
        "srt": "srt", "webvtt": "webvtt", "youtube": "webvtt", "whisper-json": "whisper-json"}
    assert detect_format('[{"start": 0.0, "end": 1.0, "text": "hi"}]') == "whisper-json"
    assert detect_format("00:00:01.000 --> 00:00:02.000\nno header\n") == "srt"
    assert detect_format('{"comments": [], "video": {"start": 0, "end": 60}}') is None
    assert detect_format("just some notes\nabout the stream\n") is None


# ---- SubRip ----------------------------------------------------------------------------------------

def test_srt_quirks(tmp_path):
    content = ("\ufeff\r\n\r\n"                                     # BOM, blank lines before the first cue
               "1\r\n00:00:01.000 --> 00:00:02.000\r\n<b>Dot</b> for   comma\r\n\r\n\r\n\r\n"   # '.', extra blank lines
               "00:00:03,000 --> 00:00:04,000\r\n{\\an8}no index,\r\n<font color=\"#ffff00\">on top</font>\r\n"
               "3\r\n"                                               # no blank line before the next cue
               "00:00:05,000 --> 00:00:06,500 X1:100 X2:600 Y1:10 Y2:50\r\n<i>coordinates</i>\r\n  \r\n"  # spaces as a blank
               "4\r\n00:00:07,000 --> 00:00:08,000\r\n   \r\n\r\n"    # a cue with no text: dropped, not counted
               "5\r\n\r\n00:00:09,000 --> 00:00:10,000\r\nindex cut off\r\n")  # a blank line after the index
    transcript = read_transcript(write(tmp_path, "quirks.srt", content))
    assert texts(transcript) == ["Dot for comma", "no index, on top", "coordinates", "index cut off"]
    assert [(s.start, s.end) for s in transcript.segments] == [(1, 2), (3, 4), (5, 6.5), (9, 10)]
    assert transcript.skipped == 0 and transcript.language is None


def test_srt_number_as_text_and_minutes_only():
    segments, skipped = parsed(srt, "00:01,000 --> 00:02,000\n42\n\n00:03,000 --> 00:04,000\nthe answer\n")
    assert [s.text for s in segments] == ["42", "the answer"] and not skipped


def test_srt_bad_cues_are_skipped_and_counted(tmp_path):
    content = ("1\n00:00:01,000 --> 00:00:02,000\ngood one\n\n"
               "2\n00:00:0x,000 --> 00:00:04,000\nbroken time\n\n"
               "3\n00:00:06,000 --> 00:00:05,000\nends before it starts\n\n"
               "4\n00:00:07,000 --> 00:00:99,000\nninety-nine seconds\n\n"
               "some garbage\nwithout a time\n\n"
               "6\n00:00:09,000 --> 00:00:10,000\ngood two\n")
    transcript = read_transcript(write(tmp_path, "bad.srt", content))
    assert texts(transcript) == ["good one", "good two"]
    assert transcript.skipped == 4
    assert [(s.line, s.reason) for s in transcript.skipped_lines] == [
        (6, "unreadable cue time"), (10, "cue ends before it starts"), (14, "minutes or seconds past 59"),
        (17, "text outside any cue")]


def test_only_the_first_five_skips_are_kept(tmp_path):
    broken = "".join(f"{i}\n00:00:{i:02d},000 --> soon\nbroken\n\n" for i in range(1, 9))
    transcript = read_transcript(write(tmp_path, "many.srt", broken + "9\n00:00:20,000 --> 00:00:21,000\nfine\n"))
    assert transcript.skipped == 8 and len(transcript.skipped_lines) == 5
    assert [s.line for s in transcript.skipped_lines] == [2, 6, 10, 14, 18]


def test_rolling_captions_converted_to_srt_are_read_once():
    # yt-dlp --convert-subs srt keeps the roll; the converter drops YouTube's blank placeholder line
    content = ("1\n00:00:00,500 --> 00:00:02,000\none two three\n\n"
               "2\n00:00:02,000 --> 00:00:02,010\none two three\n\n"
               "3\n00:00:02,010 --> 00:00:04,000\none two three\nfour five\n\n"
               "4\n00:00:04,000 --> 00:00:05,000\nfour five\nsix\n")
    segments, _ = parsed(srt, content)
    assert " ".join(s.text for s in segments).split() == "one two three four five six".split()


def test_the_same_words_twice_in_ordinary_cues_are_both_kept():
    segments, _ = parsed(srt, "00:00:01,000 --> 00:00:01,500\nNo!\n\n00:00:01,600 --> 00:00:02,000\nNo!\n")
    assert [s.text for s in segments] == ["No!", "No!"]


# ---- WebVTT ----------------------------------------------------------------------------------------

def test_webvtt_quirks(tmp_path):
    content = ("WEBVTT - stream captions\nKind: captions\n\n"
               "STYLE\n::cue { color: yellow }\n\n"
               "REGION\nid:left width:40%\n\n"
               "NOTE\nthis comment spans\ntwo lines\n\n"
               "intro\n00:01.000 --> 00:02.500 region:left align:start\n<v.loud Roger Bingham>We are in</v> "
               "<lang en>New York</lang> &lt;live&gt; &amp; well\n\n"
               "01:00:00.000 --> 01:00:02.000 line:0 position:20% size:60%\n<i>An hour</i> <b>in</b>\n\n"
               "00:10.000 --> 00:11.000\n<00:00:10.000><c>Karaoke</c> <00:00:10.400><c>style</c> "
               "<00:00:10.800><c>words</c>\n")
    transcript = read_transcript(write(tmp_path, "quirks.vtt", content))
    assert texts(transcript) == ["We are in New York <live> & well", "Karaoke style words", "An hour in"]
    assert [s.start for s in transcript.segments] == [1.0, 10.0, 3600.0]
    assert [(w.text, w.start, w.end) for w in transcript.segments[1].words] == [
        ("Karaoke", 10.0, 10.4), ("style", 10.4, 10.8), ("words", 10.8, 11.0)]
    assert transcript.skipped == 0 and transcript.language is None


def test_webvtt_bad_cues_are_skipped_and_counted():
    content = ("WEBVTT\n\n00:01.000 --> 00:02.000\nfine\n\n"
               "00:03.000 -> 00:04.000\nan arrow too short\n\n"
               "a line of garbage\n\n"
               "00:05.000 --> 00:0x.000\nbroken\n\n"
               "id\n00:06.000 --> 00:07.000\nfine too\n")
    segments, skipped = parsed(webvtt, content)
    assert [s.text for s in segments] == ["fine", "fine too"]
    assert [(s.line, s.reason) for s in skipped] == [
        (6, "text outside any cue"), (9, "text outside any cue"), (11, "unreadable cue time")]


def test_youtube_rolling_captions_language_and_one_segment_a_line(tmp_path):
    transcript = read_transcript(write(tmp_path, "stream.en.vtt", SPEECH_YOUTUBE))
    assert texts(transcript) == ["Welcome back to the stream, everyone. Today", "we finally beat the last boss.",
                                 "Watch this jump: it is impossible! Thanks", "for watching & see you", "tomorrow."]
    assert [(s.start, s.end) for s in transcript.segments] == [
        (0.5, 3.59), (3.6, 5.99), (6.0, 9.39), (9.4, 10.79), (10.8, 11.5)]
    assert transcript.language == "en"


def test_youtube_older_three_line_roll_with_colour_tags():
    # the 2016 layout: three lines on screen, colour classes on some words, a line of one word
    content = ("WEBVTT\nKind: captions\nLanguage: en\nStyle:\n::cue(c.colorE5E5E5) { color: rgb(229,229,229); }\n##\n\n"
               "00:03:18.169 --> 00:03:19.399 align:start position:19%\n"
               "but in this case here want to\npoint out the unusual aspect<c.colorE5E5E5> a</c>\n"
               "particularly<00:03:18.680><c> large</c><00:03:18.940><c> table</c>\n\n"
               "00:03:19.399 --> 00:03:19.799 align:start position:19%\n"
               "point out the unusual aspect<c.colorE5E5E5> a</c>\nparticularly large table\n \n\n"
               "00:03:19.799 --> 00:03:21.919 align:start position:19%\n"
               "point out the unusual aspect<c.colorE5E5E5> a</c>\nparticularly large table\n"
               "and<00:03:20.199><c> also</c><00:03:20.370><c> perhaps</c><00:03:21.120><c> an</c> way\n\n"
               "00:03:21.919 --> 00:03:23.220 align:start position:19%\n"
               "particularly large table\nand also perhaps an way\nappropriate\n")
    segments, skipped = parsed(webvtt, content)
    spoken = " ".join(s.text for s in segments).split()
    assert spoken == ("but in this case here want to point out the unusual aspect a particularly large table "
                      "and also perhaps an way appropriate").split()
    assert not skipped
    assert segments[-1].words == (Word(201.919, 203.22, "appropriate"),)


# ---- Whisper JSON ----------------------------------------------------------------------------------

def test_whisper_bad_segments_skipped_words_without_times_dropped(tmp_path):
    document = {"text": " ...", "segments": [
        {"start": 0.0, "end": 1.0, "text": " kept", "words": [
            {"word": " kept", "start": 0.0, "end": 0.8}, {"word": " 2024"}, {"word": " bad", "start": "x", "end": 1}]},
        {"end": 2.0, "text": " no start"},
        {"start": 3.0, "end": 2.5, "text": " backwards"},
        {"start": True, "end": 4.0, "text": " a boolean"},
        "not an object",
        {"start": 5.0, "end": 6.0, "text": "   "},                   # empty: dropped, not counted
        {"start": 7.0, "end": 8.0, "text": " also  kept "}], "language": "de"}
    transcript = read_transcript(write(tmp_path, "whisper.json", json.dumps(document)))
    assert texts(transcript) == ["kept", "also kept"]
    assert transcript.segments[0].words == (Word(0.0, 0.8, "kept"),)
    assert transcript.skipped == 4 and [s.line for s in transcript.skipped_lines] == [2, 3, 4, 5]
    assert transcript.language == "de"


def test_faster_whisper_bare_list_with_text_words(tmp_path):
    segments = [{"start": 1.0, "end": 2.0, "text": " one", "words": [{"text": "one", "start": 1.0, "end": 1.9}]},
                {"start": 0.0, "end": 0.9, "text": " zero"}]
    transcript = read_transcript(write(tmp_path, "fw.json", json.dumps(segments)))
    assert texts(transcript) == ["zero", "one"] and transcript.segments[1].words == (Word(1.0, 1.9, "one"),)


def test_whisper_cpp_layout(tmp_path):
    document = {"systeminfo": "AVX = 1", "model": {"type": "base"},
                "params": {"model": "models/ggml-base.en.bin", "language": "auto", "translate": False},
                "result": {"language": "en"},
                "transcription": [
                    {"timestamps": {"from": "00:00:00,000", "to": "00:00:02,500"}, "offsets": {"from": 0, "to": 2500},
                     "text": " And so my fellow Americans"},
                    {"timestamps": {"from": "00:00:02,500", "to": "00:00:04,000"}, "text": " ask not"},
                    {"offsets": {"from": 4000, "to": 5250}, "text": " what your country"}]}
    transcript = read_transcript(write(tmp_path, "jfk.json", json.dumps(document)))
    assert texts(transcript) == ["And so my fellow Americans", "ask not", "what your country"]
    assert [(s.start, s.end) for s in transcript.segments] == [(0, 2.5), (2.5, 4), (4, 5.25)]
    assert transcript.language == "en"


def test_whisper_cut_off_reads_up_to_the_break(tmp_path):
    cut = SPEECH_WHISPER[:SPEECH_WHISPER.rindex("Watch this jump")]      # inside the third segment's text
    transcript = read_transcript(write(tmp_path, "running.json", cut))
    assert texts(transcript) == SENTENCES[:2]
    assert transcript.skipped == 1 and "cut off" in transcript.skipped_lines[0].reason


def test_whisper_json_without_segments_is_an_error(tmp_path):
    with pytest.raises(TranscriptError, match=r"is not whisper-json: no \"segments\" list"):
        read_transcript(write(tmp_path, "other.json", '{"text": "hello", "chunks": []}'))


# ---- read_transcript: tidying and errors -----------------------------------------------------------

def test_offset_order_overlaps_and_cues_that_start_together(tmp_path):
    content = ("WEBVTT\n\n00:05.000 --> 00:07.000\nlater\n\n"
               "00:01.000 --> 00:04.000\n<00:00:01.000>first <00:00:03.500>overlapping\n\n"
               "00:03.000 --> 00:04.500\n- Speaker one\n\n00:03.000 --> 00:03.800\n- Speaker two\n")
    transcript = read_transcript(write(tmp_path, "o.vtt", content), offset=10.0)
    assert texts(transcript) == ["first overlapping", "- Speaker one - Speaker two", "later"]
    assert [(s.start, s.end) for s in transcript.segments] == [(11.0, 13.0), (13.0, 14.5), (15.0, 17.0)]
    # the cut takes the words with it
    assert transcript.segments[0].words == (Word(11.0, 13.0, "first"), Word(13.0, 13.0, "overlapping"))
    assert_tidy(transcript)


def test_forced_format(tmp_path):
    path = write(tmp_path, "speech.txt", SPEECH_SRT)
    assert texts(read_transcript(path, format="srt")) == SENTENCES
    with pytest.raises(TranscriptError, match="none of its .* cue\\(s\\) could be read as webvtt"):
        read_transcript(write(tmp_path, "notes.txt", "some notes\n\nabout the stream\n"), format="webvtt")
    with pytest.raises(TranscriptError, match="unknown transcript format 'ass'"):
        read_transcript(path, format="ass")


def test_utf16_and_broken_bytes(tmp_path):
    transcript = read_transcript(write(tmp_path, "u16.srt", SPEECH_SRT.encode("utf-16")))
    assert texts(transcript) == SENTENCES
    broken = SPEECH_SRT.encode().replace(b"Welcome", b"Welc\xff\xfeme")
    assert texts(read_transcript(write(tmp_path, "broken.srt", broken)))[0] == "Welc\ufffd\ufffdme back to the stream, everyone."


def test_a_file_with_no_speech_is_an_empty_transcript(tmp_path):
    transcript = read_transcript(write(tmp_path, "silent.vtt", "WEBVTT\n\nNOTE nothing was said\n"))
    assert transcript.segments == [] and transcript.skipped == 0 and transcript.format == "webvtt"


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
CHAT_LOG = '{"t": 1.5, "user": "ann", "text": "hi"}\n{"t": 2.0, "user": "bob", "text": "LUL"}\n'


@pytest.mark.parametrize("name, content, message", [
    ("missing.srt", None, "transcript not found: "),
    ("folder", "dir", "transcript is a directory, not a file: "),
    ("empty.srt", "", "is empty"),
    ("blank.vtt", "\ufeff \r\n\n", "is empty"),
    ("random.bin", bytes(range(256)) * 8, "not a transcript peakclip can read"),
    ("chat.jsonl", CHAT_LOG, "not a transcript peakclip can read"),
    ("picture.png", PNG, "not a transcript peakclip can read"),
])
def test_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        write(tmp_path, name, content)
    with pytest.raises(TranscriptError) as caught:
        read_transcript(str(path))
    assert message in str(caught.value) and str(path) in str(caught.value) and "\n" not in str(caught.value)


# ---- subtitles stored in the recording -------------------------------------------------------------

def make_recording(folder, subtitles: str | None) -> str:
    """A 12 s black 160x120 MP4, with ``subtitles`` (SRT text) as a mov_text stream when given."""
    out = os.path.join(folder, "with-subs.mp4" if subtitles else "no-subs.mp4")
    inputs = ["-f", "lavfi", "-i", "color=c=black:s=160x120:d=12:r=5"]
    if subtitles:
        srt_path = os.path.join(folder, "subs.srt")
        with open(srt_path, "w", encoding="utf-8") as handle:
            handle.write(subtitles)
        inputs += ["-i", srt_path, "-c:s", "mov_text"]
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *inputs,
                    "-c:v", "libx264", "-preset", "ultrafast", out], check=True)
    return out


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("recordings"))
    return {"subs": make_recording(folder, SPEECH_SRT), "none": make_recording(folder, None)}


@pytest.mark.integration
def test_embedded_subtitles(recordings):
    transcript = read_embedded(recordings["subs"])
    assert transcript.format == "embedded" and texts(transcript) == SENTENCES
    assert [(s.start, s.end) for s in transcript.segments] == [(0.5, 2.9), (3.2, 5.6), (6.0, 8.4), (9.0, 11.5)]


@pytest.mark.integration
@pytest.mark.parametrize("which, stream, message", [
    ("none", 0, "has no subtitle stream"),
    ("subs", 1, "has 1 subtitle stream(s): there is no stream 1"),
])
def test_embedded_errors(recordings, which, stream, message):
    with pytest.raises(TranscriptError) as caught:
        read_embedded(recordings[which], stream)
    assert message in str(caught.value) and recordings[which] in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("make, message", [
    (lambda folder: os.path.join(folder, "gone.mp4"), "recording not found"),
    (lambda folder: folder, "recording is a directory"),
    (lambda folder: write_text(folder, "broken.mp4", "not a video"), "not a media file ffmpeg can read"),
])
def test_embedded_bad_recordings(tmp_path, make, message):
    with pytest.raises(TranscriptError) as caught:
        read_embedded(make(str(tmp_path)))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def write_text(folder: str, name: str, content: str) -> str:
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)
    return path


# ---- property tests --------------------------------------------------------------------------------

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# text that looks a little like the formats, so the parsers get past their first checks
PIECES = st.sampled_from(["WEBVTT", "\n", "\n\n", "\r\n", " ", "-->", " --> ", "00:00:01,000", "00:02.500", "99:99:99.999",
                          "<c>", "</c>", "<00:00:01.520>", "{\\an8}", "<i>", "NOTE", "1", "word", "&amp;", "\ufeff",
                          '{"segments": [', '{"start": 1, "end": 2, "text": "x"}', ",", "]", "}", '"words": [',
                          '{"offsets": {"from": 1, "to": 0}}', "[", "NaN", "1e999", "9" * 30])
TEXTS = st.one_of(st.text(max_size=400), st.lists(PIECES, max_size=60).map("".join))


@FUZZ
@given(text=TEXTS, name=st.sampled_from(sorted(FORMATS)))
def test_parsers_yield_only_segments_and_skips(text, name):
    try:
        items = list(FORMATS[name].parse(text))
    except TranscriptError as err:
        assert str(err) and "\n" not in str(err)
        return
    for item in items:
        assert isinstance(item, (Segment, Skipped))
        if isinstance(item, Segment):
            assert 0 <= item.start <= item.end and all(isinstance(w, Word) for w in item.words)


def outcome(data: bytes, **options) -> None:
    """Read ``data`` as a transcript: only a tidy Transcript or a one-line TranscriptError may come out."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "transcript")
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            transcript = read_transcript(path, **options)
        except TranscriptError as err:
            assert str(err) and "\n" not in str(err)
            return
    assert_tidy(transcript)


@FUZZ
@given(name=st.sampled_from(sorted(SPEECH)), edits=EDITS, forced=st.sampled_from([None, *FORMATS]))
def test_damaged_files(name, edits, forced):
    outcome(mutate(SPEECH[name].encode(), edits), format=forced)


@FUZZ
@given(data=st.binary(max_size=2048), offset=st.sampled_from([0.0, 12.5, -3.0]))
def test_arbitrary_bytes(data, offset):
    outcome(data, offset=offset)
