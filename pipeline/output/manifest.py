"""The manifest: the contract other tools read (``schema: peakclip/manifest@1``)."""
from __future__ import annotations

from peakclip.detectors.probe import Probe
from peakclip.pipeline.ranking.broadcast import Stage
from peakclip.pipeline.ranking.clip import Clip

SCHEMA = "peakclip/manifest@1"


def build_manifest(source: Probe, chat: dict | None, signals: list[str], stages: list[Stage],
                   clips: list[Clip], warnings: list[str], rules_version: str, cuts: list[float],
                   transcript: dict | None = None, products: list[dict] | None = None,
                   channel: dict | None = None) -> dict:
    """The manifest (``SCHEMA``) as a JSON-able dict: the source (duration in seconds), the chat
    and transcript summaries, the signals used, the broadcast stages and clips (times in seconds
    of the recording), the rules' version, the scene cuts found (seconds) and the warnings;
    ``products`` with ``--per-product``; ``channel`` with ``--channel`` (its name, the factors
    it ranked with and the evidence behind them). ``finish`` adds the render, report and exports."""
    manifest = {
        "schema": SCHEMA,
        "source": {"path": source.path, "duration": round(source.duration, 3),
                   "has_audio": source.has_audio, "has_video": source.has_video, "audio_track": source.audio_track},
        "chat": chat,
        "transcript": transcript,
        "signals": signals,
        "stages": [{"index": s.index, "start": s.start, "end": s.end} for s in stages],
        "rules": {"version": rules_version},
        "clips": [clip.to_dict() for clip in clips],
        "events": {"cuts": cuts},
        "warnings": warnings,
    }
    if products is not None:   # --per-product: each presented item, its sales and its clip
        manifest["products"] = products
    if channel is not None:    # --channel: left out without one, so such manifests stay as they were
        manifest["channel"] = channel
    return manifest
