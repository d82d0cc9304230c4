"""One chunk of the recording: the unit of work both executors share (the CLI calls it in
process for each chunk, a Celery worker calls it as a task). Its results are raw features;
normalisation happens only after merging, over the whole stream, so results do not depend on
where chunk seams fall.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from peakclip.detectors.audio import audio_features
from peakclip.detectors.chunks import Chunk
from peakclip.detectors.probe import Probe
from peakclip.detectors.series import Series
from peakclip.detectors.visual import visual_features
from peakclip.pipeline.config import AnalysisConfig


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
    """Raw media features of one chunk of the recording at ``path``: ``chunk.start``..``chunk.end``
    in seconds of the recording's clock. Returns series of raw per-bin values (bins of
    ``config.hop`` seconds from the chunk's start: audio loudness in dB, its spectral flatness,
    the visual motion) and sure events in seconds (pauses; key-frame times and cut spots), never
    normalised: normalising happens over the whole stream, after the chunks are merged, so the
    seams cannot move a result. Audio and video decode side by side (two ffmpeg processes)."""
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
