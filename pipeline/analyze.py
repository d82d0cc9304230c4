"""Analysis: probe, plan chunks, run the detectors on each chunk, merge the raw series by time.

``analyze_chunk`` is the unit of work both executors share: the CLI calls it in-process for each
chunk, a Celery worker calls it as a task. Chunk results are raw features; normalisation happens
only after merging, over the whole stream, so results do not depend on where chunk seams fall.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from detectors.audio import audio_loudness
from detectors.chat import ChatLog, read_chat
from detectors.chunks import Chunk, plan_chunks
from detectors.errors import UserError
from detectors.probe import Probe, probe
from detectors.series import Series, bins_for, concat
from detectors.visual import visual_change
from pipeline.config import AnalysisConfig, Config


@dataclass
class Analysis:
    probe: Probe
    signals: dict[str, Series]            # raw series, whole stream, same grid
    chat: ChatLog | None = None
    warnings: list[str] = field(default_factory=list)


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


def analyze_chunk(path: str, chunk: Chunk, signals: list[str], config: AnalysisConfig) -> tuple[dict[str, Series], list[str]]:
    """Raw media series for one chunk. Audio and video decode side by side (two ffmpeg processes)."""
    warnings: list[str] = []
    jobs = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        if "audio" in signals:
            jobs["audio"] = pool.submit(audio_loudness, path, chunk.start, chunk.end, config.hop,
                                        config.audio_rate, config.audio_track, warnings)
        if "visual" in signals:
            jobs["visual"] = pool.submit(visual_change, path, chunk.start, chunk.end, config.hop,
                                         config.visual_fps, config.visual_width, config.visual_height, warnings)
        return {name: job.result() for name, job in jobs.items()}, warnings


def merge_chunks(results: list[dict[str, Series]], n_bins: int) -> dict[str, Series]:
    names = results[0].keys() if results else []
    return {name: concat([r[name] for r in results]).fit(n_bins) for name in names}


def analyze(path: str, chat_path: str | None, config: Config,
            progress: Callable[[int, int], None] | None = None) -> Analysis:
    """The whole analysis in this process: chunks one after another, then merged."""
    source = probe(path)
    a = config.analysis
    media, warnings = media_signals(source, a.signals)
    # The chat log is read before any decoding: a bad log should fail in a second, not after an hour.
    chat = None
    if chat_path:
        chat = read_chat(chat_path, config.chat, a.hop, source.duration)
        warnings += chat.warnings()
    if not media and not (chat is not None and "chat" in a.signals):
        raise UserError(f"none of the signals {','.join(a.signals)} can be measured on {path}"
                        + ("" if chat_path else " (no --chat log given)"))
    chunks = plan_chunks(source.duration, a.chunk_seconds, a.hop) if media else []
    results = []
    if progress:
        progress(0, len(chunks))
    for done, chunk in enumerate(chunks, start=1):
        series, chunk_warnings = analyze_chunk(path, chunk, media, a)
        results.append(series)
        warnings += chunk_warnings
        if progress:
            progress(done, len(chunks))
    n_bins = bins_for(source.duration, a.hop)
    signals = merge_chunks(results, n_bins) if media else {}
    if chat is not None and "chat" in a.signals:
        signals["chat"] = chat.series()
    return Analysis(source, {name: signals[name] for name in a.signals if name in signals}, chat, warnings)
