"""The in-process executor behind ``peakclip clip`` (and ``peakclip.clip``).

A job is: plan (probe, chunks) -> analyse each chunk -> assemble (``pipeline.analysis``) -> rank
(``pipeline.ranking.rank``) -> render each clip -> finish (``pipeline.output``). ``run_clip``
runs those steps one after another in this process; ``peakclip.workers.tasks`` runs the same
functions as Celery tasks. Everything that crosses from one
step to the next is plain data (``to_dict``/``from_dict``), so both give the same clips.
"""
from __future__ import annotations

import copy
import os
import tempfile
from typing import Callable

from peakclip.detectors.errors import UserError
from peakclip.detectors.objects import abort_unfinished, check_bucket, download, is_object, join, remove_others, upload
from peakclip.detectors.storage import read_json
from peakclip.detectors.probe import Probe
from peakclip.pipeline.analysis.analyze import analyze
from peakclip.pipeline.config import Config
from peakclip.pipeline.output.captions import check_captions, clip_captions
from peakclip.pipeline.output.finish import check_output_dir, clip_files_of, clips_to_render, finish
from peakclip.pipeline.output.names import CLIPS_FOLDER, MANIFEST
from peakclip.pipeline.output.render import Rendered, render_clips, resumed_note
from peakclip.pipeline.promotion.channels import channel_learning
from peakclip.pipeline.ranking.rank import rank
from peakclip.pipeline.ranking.rules import load_rules


def run_clip(path: str, chat_path: str | None, out_dir: str, config: Config,
             on_progress: Callable[[str, int, int], None] | None = None,
             on_note: Callable[[str], None] | None = None, source: Probe | None = None) -> dict:
    """Run the whole job in this process and write ``out_dir/manifest.json``; returns the manifest.
    ``on_note`` hears what a person at the terminal should know that is not a warning; ``source``
    is the recording's probe when the caller has it already. Each clip is rendered at the full
    profile unless ``config.render.profiles`` says "pools" (the profile of the pool it starts in).

    Objects (``s3://``, ``peakclip.detectors.objects``) may stand for any file: the recording is
    read where it lies (presigned, by range); the small inputs (chat and events logs, transcript,
    rules, watermark) are fetched into a scratch folder; with ``out_dir`` an object prefix, the
    job writes into the scratch folder and ``publish`` uploads it, the manifest last."""
    named = [chat_path, config.chat.events, config.transcript.path, config.tag.rules, config.render.watermark]
    if not is_object(out_dir) and not any(is_object(p) for p in named):
        return run_here(path, chat_path, out_dir, config, on_progress, on_note, source)
    if is_object(out_dir):
        check_bucket(out_dir)
    with tempfile.TemporaryDirectory(prefix="peakclip-job-") as scratch:
        chat_path, config = fetched(chat_path, config, scratch)
        local_out = os.path.join(scratch, "out") if is_object(out_dir) else out_dir
        manifest = run_here(path, chat_path, local_out, config, on_progress, on_note, source)
        if is_object(out_dir):
            publish(local_out, out_dir)
        return manifest


SMALL_INPUTS = ("chat", "events", "transcript", "rules", "watermark")


def fetched(chat_path: str | None, config: Config, scratch: str,
            only: tuple[str, ...] = SMALL_INPUTS) -> tuple[str | None, Config]:
    """The chat log and the config with every small input that is an object fetched into
    ``scratch`` (the config copied, never changed); ``only``: the inputs (of ``SMALL_INPUTS``) to
    fetch, the others left as they are named (a queued step fetches just what it reads)."""
    config = copy.deepcopy(config)
    copies: dict[str, str] = {}   # one copy an object (--events alone is also the chat log)

    def local(url: str | None, name: str, what: str) -> str | None:
        if not is_object(url) or name not in only:
            return url
        if url not in copies:
            copies[url] = download(url, os.path.join(scratch, f"{len(copies)}-{os.path.basename(url) or 'object'}"),
                                   what)
        return copies[url]
    chat_path = local(chat_path, "chat", "chat log")
    config.chat.events = local(config.chat.events, "events", "events log")
    config.transcript.path = local(config.transcript.path, "transcript", "transcript")
    config.tag.rules = local(config.tag.rules, "rules", "rules file")
    config.render.watermark = local(config.render.watermark, "watermark", "watermark image")
    return chat_path, config


def publish(local_out: str, prefix: str, already: set[str] = frozenset()) -> None:
    """Upload the job's folder under the object ``prefix``: every file whole, the manifest last,
    so a manifest in the bucket always names objects that are there; then the clips an earlier
    run into the same prefix left that this manifest does not name are deleted. Hidden files (resume
    records, partial files) stay behind, and so do the files named in ``already`` (relative,
    with ``/``: uploaded before, e.g. by a queued job's render steps). Last, any upload still
    open under the prefix is aborted: a job's uploads are all done by then, and an open one is
    the remains of one that was cut off."""
    files = []
    for root, folders, names in os.walk(local_out):
        folders[:] = [f for f in folders if not f.startswith(".")]
        files += [os.path.relpath(os.path.join(root, n), local_out) for n in names if not n.startswith(".")]
    if MANIFEST not in files:
        raise UserError(f"the job wrote no {MANIFEST}: nothing published to {prefix}")
    files = [f for f in files if f.replace(os.sep, "/") not in already]
    for name in sorted(f for f in files if f != MANIFEST) + [MANIFEST]:
        upload(os.path.join(local_out, name), join(prefix, name.replace(os.sep, "/")))
    # After the manifest: what an earlier run into the prefix left that this one did not keep,
    # and the parts of uploads cut off on the way (a killed render's, an interrupted run's).
    manifest = read_json(os.path.join(local_out, MANIFEST), f"the job wrote no {MANIFEST}")
    remove_others(join(prefix, CLIPS_FOLDER), set(clip_files_of(manifest)))
    abort_unfinished(prefix)


def run_here(path: str, chat_path: str | None, out_dir: str, config: Config,
             on_progress: Callable[[str, int, int], None] | None = None,
             on_note: Callable[[str], None] | None = None, source: Probe | None = None) -> dict:
    """``run_clip`` with every file and the output folder on this machine."""
    config = config.for_path("clip")
    check_captions(config.transcript)
    check_output_dir(out_dir)
    progress = on_progress or (lambda step, done, total: None)
    analysis = analyze(path, chat_path, config, lambda done, total: progress("analyse", done, total), source)
    ranking = rank(analysis, config, learned=channel_learning(config))
    clips = clips_to_render(ranking, config)
    rendered: list[Rendered] = []
    if clips:
        done = []
        captions = clip_captions(clips, ranking.probe, analysis.transcript, config,
                                 lambda n, total: progress("captions", n, total))
        rules = load_rules(config.tag.rules)
        rendered = render_clips(ranking.probe, clips, out_dir, config.render,
                                lambda r: (done.append(r), progress("render", len(done), len(clips))), captions,
                                lambda clip: rules.start_profile(clip.pool, config.render.profiles))
        note = resumed_note(rendered, out_dir)
        if note and on_note:
            on_note(note)
    return finish(ranking, rendered, out_dir, config)
