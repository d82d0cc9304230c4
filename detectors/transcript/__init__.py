"""Transcripts: what was said, when. Readers for subtitle and transcript files (one module per
format, like ``detectors.chat``) and a small interface for offline speech recognisers."""
from detectors.transcript.records import Segment, Skipped, Transcript, TranscriptError, Word

__all__ = ["Segment", "Skipped", "Transcript", "TranscriptError", "Word"]
