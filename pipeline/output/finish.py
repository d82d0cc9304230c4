"""Finishing a job: the renders recorded on the clips, the report and the exports written, then
the manifest last (its presence says the job is done), and what an earlier run left removed."""
from __future__ import annotations

import dataclasses
import os

from peakclip.detectors.errors import UserError
from peakclip.detectors.probe import is_url
from peakclip.detectors.storage import write_atomic, write_json_atomic
from peakclip.pipeline.config import Config
from peakclip.pipeline.output.export import write_exports
from peakclip.pipeline.output.manifest import build_manifest
from peakclip.pipeline.output.names import CLIPS_FOLDER, MANIFEST, OWN_FILE, REPORT, done_record_name
from peakclip.pipeline.output.render import Rendered
from peakclip.pipeline.output.report import build_report
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.rank import Ranking
from peakclip.pipeline.ranking.rules import load_rules


def clips_to_render(ranking: Ranking, config: Config) -> list[Clip]:
    """The clips the render step should make (none when rendering is off or there is no picture)."""
    if not config.render.enabled or not ranking.clips:
        return []
    if not ranking.probe.has_video:
        ranking.warnings.append("no video stream: clips are listed but not rendered (a clip needs a picture)")
        return []
    return ranking.clips


def finish(ranking: Ranking, rendered: list[Rendered], out_dir: str, config: Config, extra: dict | None = None,
           elsewhere: frozenset[str] = frozenset()) -> dict:
    """Record the renders on the clips (files relative to ``out_dir``; with ``--copy`` the span
    actually cut, in seconds, replaces the chosen one, which is kept as ``span``), write the report
    and the exports asked for, then ``out_dir/manifest.json`` last (its presence says the job is
    done); ``extra`` joins the manifest's top level. ``elsewhere``: clip files (relative) already
    where the output is published though not in ``out_dir`` (a bucket). Returns the manifest."""
    by_id = {r.clip_id: r for r in rendered}
    warnings = list(ranking.warnings)
    for clip in ranking.clips:
        result = by_id.get(clip.id)
        if result is None:
            continue
        if result.heard is not None:
            clip.text = result.heard
        if result.error:
            warnings.append(result.error)
            continue
        clip.file, clip.files = result.files[config.render.formats[0]], result.files
        clip.thumbnail, clip.preview, clip.captions = result.thumbnail, result.preview, result.srt
        clip.profile, clip.framing = result.profile, result.framing
        if result.cut:
            clip.span = {"start": clip.start, "end": clip.end}
            clip.start, clip.end = result.cut
    manifest = build_manifest(ranking.probe, ranking.chat, ranking.signals, ranking.stages, ranking.clips, warnings,
                              ranking.rules_version, ranking.cuts, ranking.transcript, ranking.products,
                              ranking.channel)
    if config.render.enabled:
        # What rendering a clip again takes (a promotion to a pool with another profile): the
        # recording wherever the job ran from, and the render settings before any profile was
        # applied (how many at once is no setting).
        path = ranking.probe.path
        manifest["render"] = {"source": path if is_url(path) else os.path.abspath(path),
                              "settings": {k: v for k, v in dataclasses.asdict(config.render).items() if k != "jobs"}}
    manifest.update(extra or {})
    manifest["exports"] = write_exports(manifest, ranking.probe.fps, out_dir, config.output.exports)
    if config.output.report:
        report = build_report(manifest, ranking.timeline, out_dir, load_rules(config.tag.rules), elsewhere)
        write_atomic(os.path.join(out_dir, REPORT), report)
        manifest["report"] = REPORT
    write_json_atomic(os.path.join(out_dir, MANIFEST), manifest)
    if config.render.enabled:
        remove_stale_clips(out_dir, manifest)
    return manifest


def remove_stale_clips(out_dir: str, manifest: dict) -> None:
    """After a rerun into the same folder, remove the clips of the earlier run that this one did
    not keep (other spans, other formats) and partial files a killed render left, so the folder
    holds what the manifest lists."""
    folder = os.path.join(out_dir, CLIPS_FOLDER)
    keep = set(clip_files_of(manifest)) | {done_record_name(c["rank"], c["id"]) for c in manifest["clips"]}
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if OWN_FILE.match(name) and name not in keep:
            try:
                os.remove(os.path.join(folder, name))
            except OSError:
                pass


def clip_files_of(manifest: dict) -> list[str]:
    """The names (in the clips folder) of every file the manifest's clips have."""
    return [os.path.basename(f) for clip in manifest["clips"]
            for f in [*(clip.get("files") or {}).values(), clip.get("thumbnail"), clip.get("preview"),
                      clip.get("captions")] if f]


def check_output_dir(out_dir: str) -> None:
    """Make the output folder; one that cannot be made or written is a one-line UserError."""
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create output folder {out_dir}: {err.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise UserError(f"output folder is not writable: {out_dir}")
