"""The plan of an analysis: the recording probed, its chunks (key-frame-aligned time ranges),
which media signals it can give, and the chat log and transcript that go with it."""
from __future__ import annotations

from dataclasses import dataclass, field

from peakclip.detectors.chat import ChatLog, detect_format, read_chat
from peakclip.detectors.chunks import Chunk, plan_chunks
from peakclip.detectors.errors import UserError
from peakclip.detectors.probe import Probe, probe
from peakclip.detectors.transcript import Transcript, read_embedded, read_transcript
from peakclip.detectors.transcript.embedded import NAME as EMBEDDED
from peakclip.pipeline.analysis.chunk import media_signals
from peakclip.pipeline.config import Config, TranscriptConfig


@dataclass
class Plan:
    """What a job will analyse: the probe, the chunks, which media signals; JSON-able for a queue."""
    path: str
    chat_path: str | None
    probe: Probe
    chunks: list[Chunk]
    media: list[str]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"path": self.path, "chat_path": self.chat_path, "probe": self.probe.to_dict(),
                "chunks": [c.to_dict() for c in self.chunks], "media": self.media, "warnings": self.warnings}

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        return cls(data["path"], data["chat_path"], Probe.from_dict(data["probe"]),
                   [Chunk(**c) for c in data["chunks"]], data["media"], data["warnings"])


def plan_analysis(path: str, chat_path: str | None, config: Config, parallel: int = 1,
                  source: Probe | None = None) -> Plan:
    """Probe the recording, check the chat log is one, and cut the work into chunks: at most
    ``analysis.chunk_seconds`` long, and short enough that ``parallel`` of them run side by side
    (never shorter than ``analysis.min_chunk_seconds``: each chunk costs two ffmpeg starts).
    ``source``: the recording's probe, when the caller already has it."""
    source = source or probe(path)
    a = config.analysis
    if source.has_audio and a.audio_track >= source.audio_tracks:
        raise UserError(f"--audio-track {a.audio_track}: {path} has {source.audio_tracks} audio track(s), "
                        f"numbered from 0")
    source.audio_track = a.audio_track
    media, warnings = media_signals(source, a.signals)
    if chat_path and not config.chat.format:
        detect_format(chat_path)  # a file that is no chat log fails here, before any decoding
    if config.chat.events:
        detect_format(config.chat.events)
    if config.select.per_product and not chat_path:
        raise UserError("--per-product needs the product events: give --events (or --chat) with the log that has them")
    if not media and not (chat_path and "chat" in a.signals):
        raise UserError(f"none of the signals {','.join(a.signals)} can be measured on {path}"
                        + ("" if chat_path else " (no --chat log given)"))
    length = min(a.chunk_seconds, max(a.min_chunk_seconds, source.duration / max(1, parallel)))
    chunks = plan_chunks(source.duration, length, a.hop) if media else []
    return Plan(path, chat_path, source, chunks, media, warnings)


def read_plan_chat(plan: Plan, config: Config) -> ChatLog | None:
    """The plan's chat log read onto the analysis grid, or None without one."""
    return read_chat(plan.chat_path, config.chat, config.analysis.hop, plan.probe.duration) if plan.chat_path else None


def load_transcript(config: TranscriptConfig, recording: str) -> Transcript | None:
    """The transcript ``config`` names (a file, or the recording's own subtitles), or None."""
    if not config.path:
        return None
    if config.path == EMBEDDED:
        return read_embedded(recording, config.stream)   # ffmpeg puts it on the recording's clock already
    return read_transcript(config.path, config.format, config.offset)
