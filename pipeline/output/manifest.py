"""The manifest: the contract other tools read (``schema: peakclip/manifest@1``)."""
from __future__ import annotations

import json
import os
import uuid

from peakclip.detectors.errors import UserError
from peakclip.detectors.probe import Probe
from peakclip.pipeline.ranking.broadcast import Stage
from peakclip.pipeline.ranking.tag import Clip

SCHEMA = "peakclip/manifest@1"


def build_manifest(source: Probe, chat: dict | None, signals: list[str], stages: list[Stage],
                   clips: list[Clip], warnings: list[str], rules_version: str, cuts: list[float],
                   transcript: dict | None = None, products: list[dict] | None = None) -> dict:
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
    return manifest


def read_json(path: str, missing: str) -> dict:
    """A JSON object from ``path``; a missing file or bad JSON is a one-line UserError."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise UserError(missing) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path} is not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} does not hold a JSON object")
    return data


def partial_name(path: str) -> str:
    """A unique hidden name beside ``path`` to write to before renaming onto it."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")


def write_atomic(path: str, text: str) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see half a file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = partial_name(path)
    try:
        with open(partial, "x", encoding="utf-8") as out:   # the usual permissions (umask), unlike mkstemp's 0600
            out.write(text)
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise


def write_json_atomic(path: str, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
