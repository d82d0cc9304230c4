"""Resuming a render: what a finished clip depends on (its key), and the hidden record beside it
that lets a rerun into the same folder keep it instead of rendering it again."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import TYPE_CHECKING

from peakclip.detectors.probe import Probe
from peakclip.detectors.storage import write_atomic
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.captions import Cue
from peakclip.pipeline.output.names import CLIPS_FOLDER, ClipFiles, done_record_name
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.rules import Profile

if TYPE_CHECKING:
    from peakclip.pipeline.output.render import Rendered


def render_key(source: Probe, clip: Clip, config: RenderConfig, captions: list[Cue] | None = None,
               profile: Profile = Profile()) -> str:
    """What a rendered clip depends on: the source file (and its size and time, so a re-recorded
    file counts as new), the span, the render settings (not how many run at once, nor which
    profiles the job chose: the profile itself counts), captions and the profile (``config`` is the
    one the profile was applied to)."""
    try:
        stat = os.stat(source.path)
        identity = [os.path.abspath(source.path), stat.st_size, stat.st_mtime_ns]
    except OSError:
        identity = [source.path]   # a URL: taken as unchanged
    # Caption settings change nothing without captions: clips rendered before they existed resume.
    settings = {k: v for k, v in dataclasses.asdict(config).items()
                if k not in ("jobs", "profiles") and (captions is not None or not k.startswith("caption_"))}
    data = [identity, source.audio_track, clip.id, clip.rank, clip.start, clip.end, clip.peak, settings]
    if captions is not None:
        data.append([dataclasses.astuple(cue) for cue in captions])
    if profile != Profile():   # clips rendered before profiles existed (all full) resume
        data.append(profile.to_dict())
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()


def done_record(out_dir: str, clip: Clip) -> str:
    """A hidden note beside a finished clip: its render key and files, for resuming a run."""
    return os.path.join(out_dir, CLIPS_FOLDER, done_record_name(clip.rank, clip.id))


def write_done_record(out_dir: str, clip: Clip, key: str, files: ClipFiles, cut: tuple[float, float] | None,
                      framing: dict | None = None) -> None:
    """Written once every file of the clip is in place (the record says they are)."""
    write_atomic(done_record(out_dir, clip), json.dumps({"key": key, "files": files.videos, "thumbnail": files.thumbnail,
                                                        "preview": files.preview, "cut": cut,
                                                        **({"srt": files.srt} if files.srt else {}),
                                                        **({"framing": framing} if framing else {})}))


def finished_before(out_dir: str, clip: Clip, key: str) -> dict | None:
    """The record an earlier run into the same folder left for the clip, if its key matches and
    every file is still there: a rerun after Ctrl-C or a crash resumes instead of rendering it
    again. Its ``files`` (format -> path), ``thumbnail``, ``preview``, ``cut`` and ``srt``."""
    try:
        with open(done_record(out_dir, clip), encoding="utf-8") as handle:
            note = json.load(handle)
    except (OSError, ValueError):
        return None
    files = [*note.get("files", {}).values(), note.get("thumbnail"), note.get("preview"),
             *([note["srt"]] if note.get("srt") else [])]
    if note.get("key") != key or not all(f and os.path.isfile(os.path.join(out_dir, f)) for f in files):
        return None
    return note


def resumed_note(rendered: list[Rendered], out_dir: str) -> str | None:
    """What a person rerunning into the same folder should hear: that finished clips were kept."""
    kept = sum(r.resumed for r in rendered)
    if not kept:
        return None
    return (f"kept {kept} of {len(rendered)} clip(s) an earlier run finished in {out_dir} with the same "
            "settings (not rendered again)")
