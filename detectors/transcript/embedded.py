"""Subtitles stored in the recording itself (an MKV's WebVTT or SubRip track, an MP4's mov_text,
a TS's captions converted to text): ffmpeg writes the chosen subtitle stream as WebVTT to a pipe
and the WebVTT reader reads it.

ffmpeg puts the subtitles on the same clock as the recording's pictures and sound (the
container's start time taken off), so no offset is needed. Picture subtitles (DVD, Blu-ray PGS,
DVB) hold no text and are refused in one line.
"""
from __future__ import annotations

import os
import subprocess

import ffmpeg

from peakclip.detectors.transcript import webvtt
from peakclip.detectors.transcript.read import decode, transcript_of
from peakclip.detectors.transcript.records import Transcript, TranscriptError

NAME = "embedded"
PICTURE_CODECS = {"dvd_subtitle", "dvb_subtitle", "hdmv_pgs_subtitle", "xsub", "dvb_teletext"}


def last_line(stderr: bytes | None, fallback: str) -> str:
    lines = [line.strip() for line in (stderr or b"").decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else fallback


def subtitle_codecs(media_path: str) -> list[str]:
    """The codec of each subtitle stream, in ffmpeg's ``0:s:N`` order."""
    if not os.path.exists(media_path):
        raise TranscriptError(f"recording not found: {media_path}")
    if os.path.isdir(media_path):
        raise TranscriptError(f"recording is a directory, not a file: {media_path}")
    try:
        info = ffmpeg.probe(media_path, select_streams="s")
    except ffmpeg.Error as err:
        raise TranscriptError(f"not a media file ffmpeg can read: {media_path} "
                              f"({last_line(err.stderr, 'ffprobe failed')})") from None
    return [str(stream.get("codec_name") or "unknown") for stream in info.get("streams", [])]


def subtitles_as_webvtt(media_path: str, stream: int) -> str:
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", media_path,
               "-map", f"0:s:{stream}", "-f", "webvtt", "pipe:1"]
    done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise TranscriptError(f"cannot extract subtitle stream {stream} of {media_path}: "
                              f"{last_line(done.stderr, f'ffmpeg exited with {done.returncode}')}")
    return decode(done.stdout)


def read_embedded(media_path: str, stream: int = 0) -> Transcript:
    """The recording's ``stream``-th subtitle stream (0 is the first) as a transcript."""
    codecs = subtitle_codecs(media_path)
    if not codecs:
        raise TranscriptError(f"recording {media_path} has no subtitle stream")
    if not 0 <= stream < len(codecs):
        raise TranscriptError(f"recording {media_path} has {len(codecs)} subtitle stream(s): "
                              f"there is no stream {stream} (the first is 0)")
    if codecs[stream] in PICTURE_CODECS:
        raise TranscriptError(f"subtitle stream {stream} of {media_path} is pictures ({codecs[stream]}), not text")
    source = f"{media_path} (subtitle stream {stream})"
    transcript = transcript_of(subtitles_as_webvtt(media_path, stream), webvtt.NAME, 0.0, source)
    transcript.format = NAME
    return transcript
