"""Transcripts: what was said, when. Readers for subtitle and transcript files (one module per
format, like ``detectors.chat``) and a small interface for offline speech recognisers.

Each format's module (``srt``, ``webvtt``, ``whisper_json``) has ``sniff(head) -> bool``,
``parse(text) -> Iterator[Segment | Skipped]`` and ``language(text)``; ``read.FORMATS`` is the
registry and ``read_transcript`` the entry point. ``read_embedded`` reads a recording's own
subtitle stream through ffmpeg.
"""
from peakclip.detectors.transcript.embedded import read_embedded
from peakclip.detectors.transcript.read import FORMATS, detect_format, read_transcript
from peakclip.detectors.transcript.records import Segment, Skipped, Transcript, TranscriptError, Word

__all__ = ["FORMATS", "Segment", "Skipped", "Transcript", "TranscriptError", "Word", "detect_format",
           "read_embedded", "read_transcript"]
