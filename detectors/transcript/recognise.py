"""Offline speech recognisers for ``--captions auto``: what was said in a time range of a recording.

Only the chosen clips are transcribed (minutes of speech, never the whole stream), so a recogniser
takes a range, not a file. Every recogniser keeps one contract (``Recogniser``): segments and word
timings come back on the RECORDING's clock, sorted, inside the range.

The bundled engine is PocketSphinx: its en-US model ships inside the wheel, so nothing downloads at
run time and nothing leaves the machine. It covers English only; other languages are a one-line
error that points to ``--transcript FILE`` or to plugging in another engine by import path
(``get_recogniser("mypackage.whisper:LocalWhisper")``), e.g. a local Whisper model.
"""
from __future__ import annotations

import functools
import importlib
import re
import subprocess
import threading
from typing import Iterable, Iterator, Protocol, runtime_checkable

from peakclip.detectors.transcript.records import Segment, TranscriptError, Word

SAMPLE_RATE = 16000          # what the bundled acoustic model was trained on
FRAMES_PER_SECOND = 100      # PocketSphinx's segmentation frame rate (its "frate")
SEGMENT_GAP = 0.5            # a pause this long (s) ends a caption: captions follow the speaker's phrasing
SEGMENT_WORDS = 12           # and no caption runs longer than this, so it fits on screen


@runtime_checkable
class Recogniser(Protocol):
    """An offline speech recogniser.

    ``name`` is what transcripts record as their format; ``languages`` are the language codes it
    covers ("en", not "en-US": a region is ignored when matching).

    ``transcribe(path, start, end, language, track)`` recognises the speech between ``start`` and
    ``end`` seconds of audio stream ``track`` (counted from 0: the job's ``--audio-track``) of the
    recording at ``path`` and returns its segments sorted by start, not
    overlapping, each with word timings where the engine has them. All times are on the
    recording's clock (``start`` added back) and lie inside ``[start, end]``. Silence or noise
    gives an empty list. It raises ``TranscriptError`` (one line) for a language it does not
    cover or a recording it cannot read, and never downloads anything.
    """

    name: str
    languages: tuple[str, ...]

    def transcribe(self, path: str, start: float, end: float, language: str = "en", track: int = 0) -> list[Segment]:
        ...


# --- PocketSphinx --------------------------------------------------------------------------------


class PocketSphinx:
    """The bundled recogniser: PocketSphinx with the en-US model from its wheel."""

    name = "pocketsphinx"
    languages = ("en",)

    def transcribe(self, path: str, start: float, end: float, language: str = "en", track: int = 0) -> list[Segment]:
        check_language(self, language)
        check_range(start, end)
        pcm = read_pcm(path, start, end, track)
        words = [Word(start + w.start, min(end, start + w.end), w.text) for w in _recognise(pcm)]
        return group_words(words)


def _recognise(pcm: bytes) -> list[Word]:
    """Words in 16 kHz mono s16le audio, timed from its first sample."""
    from pocketsphinx import Endpointer

    words: list[Word] = []
    with _DECODER_LOCK:   # one decoder a process: it holds one utterance at a time
        decoder = _decoder()
        # The voice activity detector splits the audio into utterances: silence is not decoded
        # (faster) and each utterance is normalised on its own speech.
        for offset, speech in speech_regions(pcm, Endpointer(sample_rate=SAMPLE_RATE)):
            decoder.start_utt()
            decoder.process_raw(speech, full_utt=True)
            decoder.end_utt()
            words += clean_words(((s.word, s.start_frame, s.end_frame) for s in decoder.seg()), offset)
    return words


_DECODER_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _decoder():
    """The process's decoder: loading the model takes most of a second, so it is done once."""
    from pocketsphinx import Decoder

    # The defaults are the en-US acoustic model, language model and dictionary inside the wheel.
    return Decoder(samprate=SAMPLE_RATE, loglevel="ERROR")


def speech_regions(pcm: bytes, endpointer) -> Iterator[tuple[float, bytes]]:
    """(start in seconds, audio) of each stretch of speech the endpointer finds in ``pcm``."""
    size = endpointer.frame_bytes
    frames = [pcm[i:i + size] for i in range(0, len(pcm), size)]
    region: list[bytes] = []
    for i, frame in enumerate(frames):
        # The last frame goes through end_stream, which closes a region still open at the end
        # (pocketsphinx's own Segmenter drops it when the audio ends on a whole frame).
        speech = endpointer.end_stream(frame) if i == len(frames) - 1 else endpointer.process(frame)
        if speech is not None:
            region.append(speech)
            if not endpointer.in_speech:
                yield endpointer.speech_start, b"".join(region)
                region = []


_ALTERNATE = re.compile(r"\(\d+\)$")   # "use(2)": the dictionary's second pronunciation of "use"


def clean_words(seg: Iterable[tuple[str, int, int]], offset: float) -> list[Word]:
    """Words from a decoder's segmentation (token, first frame, last frame inclusive), without
    fillers ("<s>", "</s>", "<sil>", "[NOISE]") or pronunciation numbers, ``offset`` s added."""
    words = []
    for token, first, last in seg:
        if token.startswith(("<", "[")):
            continue
        text = _ALTERNATE.sub("", token)
        words.append(Word(round(offset + first / FRAMES_PER_SECOND, 3),
                          round(offset + (last + 1) / FRAMES_PER_SECOND, 3), text))
    return words


# --- shared by recognisers -------------------------------------------------------------------------


def group_words(words: list[Word], gap: float = SEGMENT_GAP, most: int = SEGMENT_WORDS) -> list[Segment]:
    """Caption-sized segments: split at each pause of ``gap`` seconds, then a phrase longer than
    ``most`` words into near-equal parts (14 words read better as 7 + 7 than as 12 + 2)."""
    phrases: list[list[Word]] = []
    for word in words:
        if phrases and word.start - phrases[-1][-1].end < gap:
            phrases[-1].append(word)
        else:
            phrases.append([word])
    return [Segment(part[0].start, part[-1].end, " ".join(w.text for w in part), tuple(part))
            for phrase in phrases for part in split_evenly(phrase, most)]


def split_evenly(items: list, most: int) -> list[list]:
    """``items`` in the fewest runs of at most ``most``, as even in length as can be."""
    parts = -(-len(items) // most)
    bounds = [round(i * len(items) / parts) for i in range(parts + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:])]


def covers(languages: tuple[str, ...], language: str) -> bool:
    """Whether ``language`` ("en", "en-US", "en_GB") is one of ``languages`` (bare codes)."""
    return re.split(r"[-_]", language.strip().lower())[0] in languages


def check_language(recogniser: Recogniser, language: str) -> None:
    if not covers(recogniser.languages, language):
        who = "the bundled recogniser" if type(recogniser) in RECOGNISERS.values() else "the recogniser"
        raise TranscriptError(
            f"captions auto: {who} ({recogniser.name}, {'/'.join(recogniser.languages)}) "
            f"does not cover {language!r}; give a transcript with --transcript FILE or plug in another "
            f"recogniser (transcript.recogniser = \"package.module:ClassName\")")


def check_range(start: float, end: float) -> None:
    if not 0 <= start < end:
        raise ValueError(f"a time range needs 0 <= start < end, got {start}-{end}")


def read_pcm(path: str, start: float, end: float, track: int = 0) -> bytes:
    """Audio stream ``track`` (0: the first) between ``start`` and ``end`` s, as 16 kHz mono s16le.

    Held in memory: a clip's few minutes are a few MB (32 kB a second).
    """
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error",
           "-ss", f"{start:.3f}", "-t", f"{end - start:.3f}", "-i", path,
           "-map", f"0:a:{track}", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"]
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    if done.returncode != 0:
        raise TranscriptError(ffmpeg_failure(path, done.stderr.decode("utf-8", "replace"), track))
    return done.stdout


def ffmpeg_failure(path: str, stderr: str, track: int = 0) -> str:
    """One line for the user saying why ffmpeg could not give audio stream ``track`` of ``path``."""
    if "matches no streams" in stderr:   # ffmpeg's words when -map 0:a:N finds no such audio stream
        return f"captions auto: {path} has no audio {f'track {track} ' if track else ''}to transcribe"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return f"captions auto: could not read the audio of {path}: {lines[-1] if lines else 'ffmpeg failed'}"


# --- choosing a recogniser --------------------------------------------------------------------------


RECOGNISERS: dict[str, type] = {"pocketsphinx": PocketSphinx}


def get_recogniser(spec: str = "pocketsphinx") -> Recogniser:
    """A recogniser by registered name ("pocketsphinx") or import path ("package.module:ClassName",
    a class whose no-argument constructor gives a ``Recogniser``): a local Whisper model plugs in
    without editing peakclip. A spec that names nothing usable is a one-line ``TranscriptError``."""
    spec = spec.strip()
    if spec in RECOGNISERS:
        return RECOGNISERS[spec]()
    if ":" not in spec:
        raise TranscriptError(f"unknown recogniser {spec!r}: use one of {', '.join(sorted(RECOGNISERS))} "
                              f"or an import path package.module:ClassName")
    module_name, _, class_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:   # ImportError, or whatever the plug-in's module raised on import
        raise TranscriptError(f"recogniser {spec!r}: cannot import {module_name}: {error}") from None
    factory = getattr(module, class_name, None)
    if factory is None:
        raise TranscriptError(f"recogniser {spec!r}: {module_name} has no {class_name}")
    try:
        recogniser = factory()
    except Exception as error:
        raise TranscriptError(f"recogniser {spec!r}: {class_name}() failed: {error}") from None
    if not isinstance(recogniser, Recogniser):
        raise TranscriptError(f"recogniser {spec!r}: {class_name} has no name, languages and transcribe()")
    return recogniser
