"""Probe a recording: duration, which streams it has, picture size and frame rate.

Reads container headers through ``ffmpeg.probe`` (ffprobe); decodes nothing.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction

import ffmpeg

from peakclip.detectors.errors import MediaError
from peakclip.detectors.objects import check_object, is_object, readable, scrub


@dataclass
class Probe:
    path: str
    duration: float
    has_audio: bool
    has_video: bool
    width: int = 0            # coded size
    height: int = 0
    display_width: int = 0    # size a player shows (coded size corrected by the sample aspect ratio)
    display_height: int = 0
    fps: float = 0.0
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_rate: int = 0
    audio_tracks: int = 0     # how many audio streams the recording has
    audio_track: int = 0      # which of them a job uses (analysis.audio_track, checked by the planner)
    ends_mid_packet: bool = False  # an MPEG-TS file whose size is no whole number of packets: cut off

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Probe":
        return cls(**data)


def is_url(path: str) -> bool:
    """Whether ``path`` is read over the network (http(s), or an object: ``s3://``), not a file here."""
    return path.startswith(("http://", "https://")) or is_object(path)


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value)


def _last_line(stderr: bytes | None) -> str:
    lines = [ln.strip() for ln in (stderr or b"").decode("utf-8", "replace").splitlines() if ln.strip()]
    return scrub(lines[-1]) if lines else "ffprobe failed"


def looks_like_mp4(path: str) -> bool:
    """Whether the file starts with an MP4 box (``ftyp``, an old QuickTime file's ``moov``, or
    ``mdat``/``free``/``wide`` of a writer that never got to the end), rather than being some
    other file with an .mp4 name."""
    if is_url(path):
        return False
    with open(path, "rb") as handle:
        return handle.read(8)[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def probe(path: str) -> Probe:
    """Describe ``path`` (a file, an http(s) URL or an object). Raises MediaError for anything unusable."""
    if is_object(path):
        if check_object(path, "input") == 0:
            raise MediaError(f"input is empty (0 bytes): {path}")
    elif not is_url(path):
        if not os.path.exists(path):
            raise MediaError(f"input not found: {path}")
        if os.path.isdir(path):
            raise MediaError(f"input is a directory, not a recording: {path}")
        if os.path.getsize(path) == 0:
            raise MediaError(f"input is empty (0 bytes): {path}")
    try:
        info = ffmpeg.probe(readable(path))
    except ffmpeg.Error as err:
        if b"moov atom not found" in (err.stderr or b"") and looks_like_mp4(path):
            # The index an MP4 writer adds when it closes the file: a recording whose encoder
            # crashed or was killed has the media but not the map to it.
            raise MediaError(f"{path} is an MP4 whose index (moov atom) was never written: the recording was not "
                             "finished (encoder crash?). Recover it with a tool such as untrunc, or record to MKV, "
                             "FLV or MPEG-TS (readable up to a crash) and remux to MP4 afterwards "
                             "(ffmpeg -i in.mkv -c copy out.mp4)") from None
        raise MediaError(f"not a media file ffmpeg can read: {path} ({_last_line(err.stderr)})") from None

    streams = info.get("streams", [])
    # An attached cover picture is a "video" stream holding one still image: not the picture track.
    videos = [s for s in streams if s.get("codec_type") == "video"
              and not s.get("disposition", {}).get("attached_pic")]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    durations = [float(info.get("format", {}).get("duration") or 0)]
    durations += [float(s.get("duration") or 0) for s in videos + audios]
    duration = max(durations)
    if not videos and not audios:
        raise MediaError(f"no audio or video stream in {path}")
    if duration <= 0:
        raise MediaError(f"cannot tell how long {path} is (no duration in its headers)")

    result = Probe(path=path, duration=duration, has_audio=bool(audios), has_video=bool(videos))
    _ORIGINS[path] = _start_time(info)
    # An MPEG-TS file is a run of 188-byte packets (192 in M2TS): a file that stops part-way
    # through one was cut off. Its length is read from its timestamps, so nothing else shows it.
    container = info.get("format", {}).get("format_name", "")
    if container == "mpegts" and not is_url(path):
        size = os.path.getsize(path)
        result.ends_mid_packet = size % 188 != 0 and size % 192 != 0
    if videos:
        v = videos[0]
        result.width, result.height = int(v.get("width", 0)), int(v.get("height", 0))
        sar = _rate((v.get("sample_aspect_ratio") or "1:1").replace(":", "/")) or 1.0
        result.display_width = int(round(result.width * sar / 2)) * 2
        result.display_height = result.height
        result.fps = _rate(v.get("avg_frame_rate")) or _rate(v.get("r_frame_rate")) or 30.0
        result.video_codec = v.get("codec_name")
    if audios:
        result.audio_tracks = len(audios)
        a = audios[0]
        result.audio_codec = a.get("codec_name")
        result.audio_rate = int(a.get("sample_rate") or 0)
    return result


# Each recording's clock origin, learnt by ``probe`` (which reads it anyway) or by one ffprobe call.
_ORIGINS: dict[str, float] = {}


def _start_time(info: dict) -> float:
    try:
        return float(info.get("format", {}).get("start_time") or 0.0)
    except ValueError:
        return 0.0


def clock_origin(path: str) -> float:
    """The container's timestamp of the recording's start (``format.start_time``).

    ffprobe reports packet times on the container's clock, while ffmpeg's ``-ss`` counts from the
    recording's start; an MPEG-TS recording often starts at 1.4 s, or hours in when a live clock
    carried on. Subtracting this puts packet times on the same clock as everything else."""
    if path not in _ORIGINS:
        try:
            _ORIGINS[path] = _start_time(ffmpeg.probe(readable(path), show_entries="format=start_time"))
        except ffmpeg.Error:
            return 0.0
    return _ORIGINS[path]
