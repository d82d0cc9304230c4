"""The in-process executor behind ``peakclip clip`` (and ``peakclip.clip``).

A job is: plan (probe, chunks) -> analyse each chunk -> assemble (``pipeline.analysis``) -> rank
(``pipeline.ranking.rank``) -> render each clip -> finish (``pipeline.output``). ``run_clip``
runs those steps one after another in this process; ``peakclip.workers.tasks`` runs the same
functions as Celery tasks. Everything that crosses from one
step to the next is plain data (``to_dict``/``from_dict``), so both give the same clips.
"""
from __future__ import annotations

from typing import Callable

from peakclip.detectors.probe import Probe
from peakclip.pipeline.analysis.analyze import analyze
from peakclip.pipeline.config import Config
from peakclip.pipeline.output.captions import check_captions, clip_captions
from peakclip.pipeline.output.finish import check_output_dir, clips_to_render, finish
from peakclip.pipeline.output.render import Rendered, render_clips, resumed_note
from peakclip.pipeline.ranking.rank import rank
from peakclip.pipeline.ranking.rules import load_rules


def run_clip(path: str, chat_path: str | None, out_dir: str, config: Config,
             on_progress: Callable[[str, int, int], None] | None = None,
             on_note: Callable[[str], None] | None = None, source: Probe | None = None) -> dict:
    """Run the whole job in this process and write ``out_dir/manifest.json``; returns the manifest.
    ``on_note`` hears what a person at the terminal should know that is not a warning; ``source``
    is the recording's probe when the caller has it already. Each clip is rendered at the full
    profile unless ``config.render.profiles`` says "pools" (the profile of the pool it starts in)."""
    config = config.for_path("clip")
    check_captions(config.transcript)
    check_output_dir(out_dir)
    progress = on_progress or (lambda step, done, total: None)
    analysis = analyze(path, chat_path, config, lambda done, total: progress("analyse", done, total), source)
    ranking = rank(analysis, config)
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
