"""Analysis in this process: plan (``plan``), run the detectors on each chunk (``chunk``), merge
the raw results by time (``assemble``). A Celery fleet runs the same three steps as tasks.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable

from peakclip.detectors.probe import Probe
from peakclip.pipeline.analysis.assemble import Analysis, assemble
from peakclip.pipeline.analysis.chunk import analyze_chunk
from peakclip.pipeline.analysis.plan import load_transcript, plan_analysis, read_plan_chat
from peakclip.pipeline.config import Config


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
