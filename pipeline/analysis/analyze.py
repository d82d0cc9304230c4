"""Analysis: probe, plan chunks, run the detectors on each chunk, merge the raw results by time.

``analyze_chunk`` is the unit of work both executors share: the CLI calls it in-process for each
chunk, a Celery worker calls it as a task. Chunk results are raw features; normalisation happens
only after merging, over the whole stream, so results do not depend on where chunk seams fall.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable

from peakclip.detectors.audio import audio_features
from peakclip.detectors.chat import ChatLog, detect_format, read_chat
from peakclip.detectors.chunks import Chunk, plan_chunks
from peakclip.detectors.errors import MediaError, UserError
from peakclip.detectors.probe import Probe, probe
from peakclip.detectors.series import Series, bins_for, concat
from peakclip.detectors.transcript import Transcript, read_embedded, read_transcript
from peakclip.detectors.transcript.embedded import NAME as EMBEDDED
from peakclip.detectors.visual import visual_features
from peakclip.pipeline.config import AnalysisConfig, Config, TranscriptConfig


@dataclass
class ChunkResult:
    """Raw features of one chunk: series on the shared grid, and sure events (seconds)."""
    series: dict[str, Series] = field(default_factory=dict)
    events: dict[str, list[float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    until: float = 0.0     # where the decoded media of the chunk ends (early in a cut-off recording)

    def to_dict(self) -> dict:
        return {"series": {k: v.to_dict() for k, v in self.series.items()}, "events": self.events,
                "warnings": self.warnings, "until": self.until}

    @classmethod
    def from_dict(cls, data: dict) -> "ChunkResult":
        return cls({k: Series.from_dict(v) for k, v in data["series"].items()}, data["events"], data["warnings"],
                   data["until"])


@dataclass
class Analysis:
    probe: Probe
    signals: dict[str, Series]                 # the fusable signals: chat, audio, visual (raw, whole stream)
    extras: dict[str, Series] = field(default_factory=dict)      # what qualifies a signal (audio_flatness)
    # pauses; keys and spots (visual_features'), and cuts when every key frame was decoded
    events: dict[str, list[float]] = field(default_factory=dict)
    chat: ChatLog | None = None
    warnings: list[str] = field(default_factory=list)
    transcript: Transcript | None = None


def media_signals(source: Probe, wanted: list[str]) -> tuple[list[str], list[str]]:
    """Which of the wanted media signals this recording can give, and warnings for the rest."""
    usable, warnings = [], []
    if "audio" in wanted:
        (usable if source.has_audio else warnings).append(
            "audio" if source.has_audio else "no audio stream: the audio signal is left out")
    if "visual" in wanted:
        (usable if source.has_video else warnings).append(
            "visual" if source.has_video else "no video stream: the visual signal is left out")
    return usable, warnings


def analyze_chunk(path: str, chunk: Chunk, signals: list[str], config: AnalysisConfig) -> ChunkResult:
    """Raw media features of one chunk. Audio and video decode side by side (two ffmpeg processes)."""
    result = ChunkResult()
    with ThreadPoolExecutor(max_workers=2) as pool:
        audio = visual = None
        if "audio" in signals:
            audio = pool.submit(audio_features, path, chunk.start, chunk.end, config.hop, config.audio_rate,
                                config.audio_track, result.warnings)
        if "visual" in signals:
            visual = pool.submit(visual_features, path, chunk.start, chunk.end, config.hop, config.visual_width,
                                 config.visual_height, config.cut_threshold, result.warnings, config.cuts == "all")
        if audio is not None:
            features = audio.result()
            result.series.update(audio=features.loudness, audio_flatness=features.flatness)
            result.events["pauses"] = features.pauses
            result.until = max(result.until, features.until)
        if visual is not None:
            features = visual.result()
            result.series["visual"] = features.motion
            result.events.update(keys=features.keys, spots=features.spots)
            if features.cuts is not None:
                result.events["cuts"] = features.cuts
            result.until = max(result.until, features.until)
    return result


def merge_chunks(results: list[ChunkResult], n_bins: int) -> ChunkResult:
    """Join chunk results in time order: series end to end, events in one sorted list each."""
    merged = ChunkResult()
    if not results:
        return merged
    for name in results[0].series:
        merged.series[name] = concat([r.series[name] for r in results]).fit(n_bins)
    for name in results[0].events:
        merged.events[name] = sorted(t for r in results for t in r.events.get(name, []))
    merged.warnings = [w for r in results for w in r.warnings]
    merged.until = max(r.until for r in results)
    return merged


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
    return read_chat(plan.chat_path, config.chat, config.analysis.hop, plan.probe.duration) if plan.chat_path else None


def load_transcript(config: TranscriptConfig, recording: str) -> Transcript | None:
    """The transcript ``config`` names (a file, or the recording's own subtitles), or None."""
    if not config.path:
        return None
    if config.path == EMBEDDED:
        return read_embedded(recording, config.stream)   # ffmpeg puts it on the recording's clock already
    return read_transcript(config.path, config.format, config.offset)


def transcript_warnings(transcript: Transcript, duration: float) -> list[str]:
    """What a person should know about the transcript: cues it skipped, or a clock that misses
    the recording (then the clip edges fall back to cuts and pauses)."""
    found = []
    if not any(s.end > 0 and s.start < duration for s in transcript.segments):
        found.append(f"transcript: none of its {len(transcript.segments)} segment(s) falls inside the recording "
                     f"(0 to {duration:.1f} s): is its clock right? (--transcript-offset)")
    if transcript.skipped:
        shown = ", ".join(f"line {s.line} ({s.reason})" for s in transcript.skipped_lines)
        more = ", ..." if transcript.skipped > len(transcript.skipped_lines) else ""
        found.append(f"transcript: skipped {transcript.skipped} cue(s) it could not read: {shown}{more}")
    return found


def decoded_length(plan: Plan, merged: ChunkResult, hop: float) -> tuple[Probe, list[str]]:
    """A recording cut off mid-stream (a crashed encoder) may still carry the full length in its
    header; the media then ends early. The probe comes back with the length that decodes, so
    selection and rendering stay inside it, and a warning says so."""
    if not plan.chunks or merged.until >= plan.probe.duration - max(2.0, 4 * hop):
        if plan.probe.ends_mid_packet:
            return plan.probe, [f"the recording ends part-way through a packet at {plan.probe.duration:.1f} s (cut off?): "
                                "analysed and clipped up to where it decodes"]
        return plan.probe, []
    if merged.until <= 0:
        raise MediaError(f"nothing in {plan.path} decodes (the recording is damaged or cut off at its start)")
    probe = Probe.from_dict({**plan.probe.to_dict(), "duration": round(merged.until, 3)})
    return probe, [f"the recording stops at {merged.until:.1f} s, though its header says {plan.probe.duration:.1f} s "
                   "(cut off?): analysed and clipped up to where it decodes"]


def assemble(plan: Plan, results: list[ChunkResult], chat: ChatLog | None, config: Config,
             transcript: Transcript | None = None) -> Analysis:
    """Merge chunk results (in chunk order, whatever order they finished in), the chat and the transcript."""
    a = config.analysis
    ordered = sorted(results, key=lambda r: min((s.t0 for s in r.series.values()), default=0.0))
    merged = merge_chunks(ordered, bins_for(plan.probe.duration, a.hop))
    source, cut_off = decoded_length(plan, merged, a.hop)
    warnings = (plan.warnings + cut_off + merged.warnings + (chat.warnings() if chat else [])
                + (transcript_warnings(transcript, source.duration) if transcript else []))
    n_bins = bins_for(source.duration, a.hop)
    series = {name: s.fit(n_bins) for name, s in merged.series.items()}
    if chat is not None and "chat" in a.signals:
        series["chat"] = chat.series().fit(n_bins)
    signals = {name: series.pop(name) for name in a.signals if name in series}
    # keys and spots pair up one to one, and a key frame's spot is never after it: cutting both
    # at the key frames that are inside the recording keeps the pairs.
    inside = sum(1 for t in merged.events.get("keys", []) if t < source.duration)
    events = {name: times[:inside] if name in ("keys", "spots") else [t for t in times if t < source.duration]
              for name, times in merged.events.items()}
    return Analysis(source, signals, series, events, chat, warnings, transcript)


def analyze(path: str, chat_path: str | None, config: Config,
            progress: Callable[[int, int], None] | None = None, source: Probe | None = None) -> Analysis:
    """The whole analysis in this process: ``analysis.workers`` chunks at a time (default one per
    core; the decoding runs in ffmpeg processes, so threads are enough), then assembled."""
    parallel = config.analysis.workers or os.cpu_count() or 1
    plan = plan_analysis(path, chat_path, config, parallel, source)
    # The chat log and transcript are read before any decoding: a bad file should fail in a
    # second, not after an hour.
    chat = read_plan_chat(plan, config)
    transcript = load_transcript(config.transcript, plan.path)
    results = []
    if progress:
        progress(0, len(plan.chunks))
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        pending = [pool.submit(analyze_chunk, path, chunk, plan.media, config.analysis) for chunk in plan.chunks]
        for done, future in enumerate(as_completed(pending), start=1):
            results.append(future.result())
            if progress:
                progress(done, len(plan.chunks))
    return assemble(plan, results, chat, config, transcript)
