"""Coarse to fine: scene cuts decoded only around clip edges give the clips a full pass gives."""
import dataclasses
import json

import numpy as np
import pytest
from conftest import run_cli

from peakclip.detectors.visual import scene_cuts, visual_features
from peakclip.pipeline.analysis.analyze import analyze
from peakclip.pipeline.config import Config, SelectConfig
from peakclip.pipeline.ranking.cuts import CutsOnDemand, settle
from peakclip.pipeline.ranking.fuse import Fused
from peakclip.pipeline.ranking.rank import edges_of, rank
from peakclip.pipeline.ranking.select import select_spans


def test_a_windows_cuts_are_the_full_pass_cuts_there(sample):
    full = visual_features(sample["video"], 0.0, 150.0, 0.5)
    coarse = visual_features(sample["video"], 0.0, 150.0, 0.5, cuts=False)
    assert coarse.cuts is None and coarse.keys == full.keys and coarse.spots == full.spots
    assert len(full.cuts) >= 3
    for cut in full.cuts:
        found = scene_cuts(sample["video"], coarse.keys, coarse.spots, [(cut - 1.0, cut + 1.0)])
        assert found == [t for t in full.cuts if cut - 1.0 <= t < cut + 1.0]
    # the whole stream in pieces: every cut, once
    pieces = [(a, a + 7.0) for a in np.arange(0.0, 150.0, 7.0)]
    assert scene_cuts(sample["video"], coarse.keys, coarse.spots, pieces) == full.cuts
    calm = [(a, b) for a, b in zip([0.0] + full.cuts, full.cuts + [150.0]) if b - a > 6]
    assert scene_cuts(sample["video"], coarse.keys, coarse.spots, [(a + 2.0, b - 2.0) for a, b in calm]) == []


def test_pairs_measured_once_are_not_decoded_again(sample, tmp_path):
    """A live watch ranks the growing stream after every chunk: the key-frame pairs measured for
    one ranking answer the next without decoding, and new windows decode only their new pairs."""
    full = visual_features(sample["video"], 0.0, 150.0, 0.5)
    coarse = visual_features(sample["video"], 0.0, 150.0, 0.5, cuts=False)
    windows = [(cut - 1.0, cut + 1.0) for cut in full.cuts]
    judged: dict[float, float] = {}
    assert scene_cuts(sample["video"], coarse.keys, coarse.spots, windows, judged=judged) == full.cuts
    assert len(judged) >= len(full.cuts)
    # Every pair is known: nothing is decoded (a file that is not there is never opened).
    assert scene_cuts(str(tmp_path / "gone.mp4"), coarse.keys, coarse.spots, windows, judged=judged) == full.cuts
    wide = [(cut - 5.0, cut + 5.0) for cut in full.cuts]
    before = dict(judged)
    found = scene_cuts(sample["video"], coarse.keys, coarse.spots, wide, judged=judged)
    assert found == [t for t in full.cuts if any(lo <= t < hi for lo, hi in wide)]
    assert len(judged) > len(before) and all(judged[k] == v for k, v in before.items())


def full_and_coarse(video: str, config: Config) -> tuple:
    everything = dataclasses.replace(config, analysis=dataclasses.replace(config.analysis, cuts="all"))
    full = rank(analyze(video, config.chat.events or None, everything), everything)
    analysis = analyze(video, config.chat.events or None, config)
    assert "cuts" not in analysis.events
    return full, rank(analysis, config)


@pytest.mark.parametrize("signals", [["chat", "audio", "visual"], ["chat", "visual"]])
def test_cuts_near_edges_choose_the_clips_a_full_pass_chooses(sample, signals):
    config = Config()
    config.select = dataclasses.replace(config.select, clips=5, min_score=1.0)
    config.analysis = dataclasses.replace(config.analysis, signals=signals)
    config.chat = dataclasses.replace(config.chat, events=sample["chat"])
    full, coarse = full_and_coarse(sample["video"], config)
    assert [(c.start, c.end, c.peak) for c in coarse.clips] == [(c.start, c.end, c.peak) for c in full.clips]
    assert len(coarse.clips) >= 3
    # only cuts near the chosen clips' edges were looked for
    snap = config.select.snap
    assert set(coarse.cuts) <= set(full.cuts) and len(coarse.cuts) < len(full.cuts)
    edges = [t for clip in coarse.clips for t in (clip.start, clip.end)]
    assert all(min(abs(cut - t) for t in edges) <= 2 * snap for cut in coarse.cuts)


def test_per_product_clips_are_the_full_pass_clips(tmp_path):
    from peakclip.samples.generate import generate

    generate(str(tmp_path), seed=4, duration=400.0, size=(160, 90), fps=10, commerce=True)
    config = Config()
    config.chat = dataclasses.replace(config.chat, events=str(tmp_path / "events.jsonl"))
    config.select = dataclasses.replace(config.select, per_product=True)
    full, coarse = full_and_coarse(str(tmp_path / "stream.mp4"), config)
    assert len(full.clips) >= 3
    assert [(c.start, c.end, c.item) for c in coarse.clips] == [(c.start, c.end, c.item) for c in full.clips]


class KnownCuts(CutsOnDemand):
    """The lookup with its decoder swapped for a list of cuts: selection's side of the bargain."""

    def __init__(self, cuts: list[float], pauses: list[float]):
        super().__init__("", [], [], pauses, Config().analysis)
        self.every_cut, self.windows_found = np.asarray(cuts), 0

    def find(self, windows):
        self.windows_found += len(windows)
        return [t for t in self.every_cut if any(lo <= t < hi for lo, hi in windows)]


@pytest.mark.parametrize("seed", range(8))
def test_selection_settles_on_the_spans_every_cut_gives(seed):
    rng = np.random.default_rng(seed)
    n = 2400
    score = np.convolve(rng.gamma(1.0, 1.0, n), np.ones(9) / 9, mode="same")
    for peak in rng.choice(n, 8, replace=False):
        score[max(0, peak - 10):peak + 10] += rng.uniform(2.0, 6.0)
    fused = Fused(0.5, score, {"audio": score})
    cuts = sorted(rng.uniform(0, 1200, 300).round(3))
    pauses = sorted(rng.uniform(0, 1200, 40).round(3))
    config = SelectConfig(clips=6)
    full = select_spans(fused, 1200.0, config, sorted(cuts + pauses))
    lookup = KnownCuts(cuts, pauses)
    settled = settle(lambda near: select_spans(fused, 1200.0, config, near), lookup)
    assert settled == full and len(full) == 6
    assert sum(min(abs(t - c) for c in cuts) < 1e-9 for s in full for t in (s.start, s.end)) >= 4  # cuts mattered
    assert lookup.windows_found <= 4 * len(full)       # a window per edge, asked once or twice
    assert len(lookup.cuts) < len(cuts) / 4


def test_selection_that_keeps_asking_ends_with_every_cut_decoded():
    lookup = KnownCuts([5.0, 50.0], [])
    asked = []

    def restless(near):            # asks about a new window every run
        asked.append(len(asked))
        return list(near(float(len(asked)), float(len(asked)) + 1.0))
    settle(restless, lookup, rounds=3)
    assert len(asked) == 4 and lookup.decoded[-1] == (0.0, float("inf")) and list(lookup.cuts) == [5.0, 50.0]


def test_the_lookup_decodes_only_windows_it_was_asked_about(sample):
    config = Config()
    analysis = analyze(sample["video"], None, config)
    edges = edges_of(analysis, config, [])
    assert isinstance(edges, CutsOnDemand)
    assert len(edges(10.0, 14.0)) == len([p for p in analysis.events["pauses"] if 10.0 <= p < 14.0])
    assert edges.missing == [(10.0, 14.0)] and edges.decode_missing()
    assert edges.decoded == [(10.0, 14.0)] and not edges.decode_missing()
    edges(11.0, 13.0)                 # inside a decoded window: nothing new to decode
    assert edges.missing == []


def test_the_cli_lists_cuts_near_clip_edges_or_every_cut(sample, tmp_path):
    runs = {}
    for mode in ("edges", "all"):
        out = tmp_path / mode
        result = run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", str(out), "--no-render",
                         "--no-report", "--quiet", "--cuts", mode)
        assert result.returncode == 0, result.stderr
        runs[mode] = json.loads((out / "manifest.json").read_text())
    assert [(c["start"], c["end"]) for c in runs["edges"]["clips"]] == [(c["start"], c["end"]) for c in runs["all"]["clips"]]
    assert set(runs["edges"]["events"]["cuts"]) < set(runs["all"]["events"]["cuts"])
    bad = run_cli("clip", sample["video"], "--out", str(tmp_path / "bad"), "--cuts", "some")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
