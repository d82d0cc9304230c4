"""Rendering a promoted clip again, at the profile of the pool it was promoted to.

A clip starts in a pool whose profile may be cheap (``preview``: 720p, a fast preset; when the job
rendered at its pools' profiles, ``render.profiles``); when feedback moves it to a pool that asks
for a profile meant for a bigger audience (``full``), it is rendered again from
the recording: the same span, formats, fill, title, watermark and captions as the job's own run
(the manifest records the render settings, the source and each clip's captions file), under new
file names (``pipeline/output/names.py``). Then manifest.json is rewritten to point at the
new files, under a lock so that two clips promoted at once both land. The earlier files stay:
the report and anyone holding their address keep working; a rerun of the job removes them.

Both executors call ``render_promoted``: ``peakclip feedback DIR`` in its own process, and the
``peakclip.render_promoted`` task of the queue, whose job's output may be a folder or a bucket
(rendered in the worker's scratch, the files uploaded, then the manifest).
"""
from __future__ import annotations

import dataclasses
import fcntl
import os
import tempfile
from contextlib import contextmanager, nullcontext

from peakclip.detectors.errors import UserError
from peakclip.detectors.objects import download, is_object, join, upload
from peakclip.detectors.probe import probe
from peakclip.detectors.storage import read_json, write_json_atomic
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.captions import srt_cues
from peakclip.pipeline.output.names import MANIFEST
from peakclip.pipeline.output.render import render_clip
from peakclip.pipeline.promotion.pools import PromotionStore
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.rules import Profile, Rules


def profile_wanted(rendered: str | None, pool: str, rules: Rules) -> Profile | None:
    """The profile a clip rendered at ``rendered`` must be rendered at again now that it is in
    ``pool``, or None: its files already are, or are at a profile meant for a pool further up the
    ladder (a clip rendered at full from the start is never rendered again at a preview), or it
    has none to redo (never rendered; ``--copy`` and manifests from before profiles record none,
    and both are the recording's full quality)."""
    if not rendered:
        return None
    wanted = rules.profile_of(pool)
    if wanted.name == rendered or rules.reach(rendered) >= rules.reach(wanted.name):
        return None
    return wanted


def manifest_path(out: str) -> str:
    """The job's manifest.json in the output folder or object prefix ``out``."""
    return join(out, MANIFEST) if is_object(out) else os.path.join(out, MANIFEST)


def read_manifest(out: str) -> dict:
    """The manifest of the job in ``out`` (a folder or an object prefix); a missing one is a one-line UserError."""
    return read_json(manifest_path(out), f"no manifest.json in {out}: give a job's output folder or a job id")


def clip_entry(manifest: dict, clip_id: str) -> dict:
    """The manifest's entry for ``clip_id``; an unknown id is a one-line UserError."""
    for entry in manifest["clips"]:
        if entry["id"] == clip_id:
            return entry
    raise UserError(f"no clip {clip_id} in the manifest")


@contextmanager
def manifest_lock(out_dir: str):
    """One writer of manifest.json at a time (other feedback, other workers on shared storage)."""
    with open(os.path.join(out_dir, ".manifest.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recorded_render(manifest: dict, out_dir: str) -> RenderConfig:
    """The render settings the job ran with, as its manifest recorded them."""
    settings = (manifest.get("render") or {}).get("settings")
    if not settings:
        raise UserError(f"the manifest in {out_dir} records no render settings (rendered without profiles, or "
                        "not rendered): run the job again to render its clips at their pools' profiles")
    known = {f.name for f in dataclasses.fields(RenderConfig)}
    return RenderConfig(**{k: v for k, v in settings.items() if k in known})


def clip_of(entry: dict) -> Clip:
    """A manifest entry as a Clip."""
    known = {f.name for f in dataclasses.fields(Clip)}
    return Clip(**{k: v for k, v in entry.items() if k in known})


def render_promoted(out: str, clip_id: str, profile: Profile, lock=None) -> dict:
    """Render clip ``clip_id`` of the job in ``out`` at ``profile`` and point the manifest at the
    new files; returns the clip's manifest entry. A clip already at ``profile`` is left as it is
    (a task delivered twice renders once, unless both run at the same moment). ``out``: the job's
    output folder, or its object prefix (``s3://``): then the clip renders in a scratch folder,
    its files are uploaded whole and the manifest after them, as a job publishes. ``lock``: what
    every writer of that manifest holds while it reads and rewrites it (for a bucket the queue's
    Redis lock, which the caller must give; for a folder its lock file by default)."""
    if is_object(out) and lock is None:
        raise ValueError("a manifest in a bucket is rewritten only under a lock its writers share")
    manifest = read_manifest(out)
    entry = clip_entry(manifest, clip_id)
    if entry.get("profile") == profile.name:
        return entry
    config = recorded_render(manifest, out)
    source = probe(manifest["render"]["source"])
    source.audio_track = manifest["source"].get("audio_track", 0)
    with (tempfile.TemporaryDirectory(prefix="peakclip-promoted-") if is_object(out) else nullcontext(out)) as here:
        captions = None
        if entry.get("captions"):
            local = os.path.join(here, entry["captions"])
            if is_object(out):
                download(join(out, entry["captions"]), local, "captions file")
            with open(local, encoding="utf-8") as handle:
                captions = srt_cues(handle.read())
        result = render_clip(source, clip_of(entry), here, config, captions=captions, profile=profile)
        if result.error:
            raise UserError(result.error)
        if is_object(out):
            for name in result.all():
                upload(os.path.join(here, name), join(out, name))
        with lock or manifest_lock(out):
            manifest = read_manifest(out)   # again: another clip's promotion may have landed meanwhile
            entry = clip_entry(manifest, clip_id)
            entry.update(file=result.files[config.formats[0]], files=result.files, thumbnail=result.thumbnail,
                         preview=result.preview, captions=result.srt, profile=result.profile)
            write_json_atomic(os.path.join(here, MANIFEST), manifest)
            if is_object(out):
                upload(os.path.join(here, MANIFEST), manifest_path(out))
    return entry


def render_for_pool(out_dir: str, store: PromotionStore, state: dict, rules: Rules) -> str | None:
    """Render a clip of the output folder ``out_dir`` at the profile its pool asks for, if its
    files are at another, and record it in ``store``; returns the line that says so, or None."""
    profile = profile_wanted(state["profile"], state["pool"], rules) if state["status"] == "active" else None
    if profile is None:
        return None
    entry = render_promoted(out_dir, state["id"], profile)
    store.set_render(state["id"], entry["file"], entry["profile"])
    return f"{state['id']}: rendered at profile {profile.name} for pool {state['pool']}: {entry['file']}"
