"""Stages, tiers, pools and staged promotion."""
import json
import multiprocessing
import os

import numpy as np
import pytest
from conftest import run_cli

from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import SelectConfig
from peakclip.pipeline.promotion.pools import Feedback, PromotionStore, decide, open_store
from peakclip.pipeline.ranking.broadcast import auto_stages, equal_stages, explicit_stages
from peakclip.pipeline.ranking.fuse import Fused
from peakclip.pipeline.ranking.rules import Pool, load_rules
from peakclip.pipeline.ranking.select import select_spans
from peakclip.pipeline.ranking.tag import stage_of, tag_spans, tier_of
from peakclip.samples.generate import generate

HOP = 0.5
RULES = load_rules()
POOL = Pool("test", 500, min_impressions=300, promote={"completion": 0.4, "ctr": 0.03, "conversion": 0.02},
            retire={"completion": 0.15, "ctr": 0.005})


@pytest.mark.parametrize("counts, has_next, expected", [
    # impressions, plays, watch seconds (20 s clip), clicks, orders
    ((200, 150, 2500, 30, 5), True, "hold"),        # too few impressions to judge yet
    ((400, 300, 3000, 20, 1), True, "promote"),     # completion .50, ctr .05, conversion .05: all beat the pool
    ((400, 300, 3000, 20, 0), True, "hold"),        # conversion 0 is under the bar but not a retire floor
    ((400, 300, 600, 20, 1), True, "retire"),       # completion .10 < .15
    ((400, 300, 3000, 1, 1), True, "retire"),       # ctr .0025 < .005
    ((400, 300, 3000, 20, 1), False, "hold"),       # the top pool: nowhere to go
])
def test_promotion_rules(counts, has_next, expected):
    names = ("impressions", "plays", "watch_seconds", "clicks", "orders")
    action, measured = decide(POOL, dict(zip(names, counts)), 20.0, has_next)
    assert action == expected, measured


def test_bundled_rules_are_versioned_and_complete():
    assert RULES.version and [p.name for p in RULES.pools] == ["test", "small", "medium", "large"]
    assert RULES.next_pool("test") == "small" and RULES.next_pool("large") is None
    assert set(RULES.start) == {"S", "A", "B", "C"} and RULES.quota >= 1


@pytest.mark.parametrize("score, tier", [(9.0, "S"), (7.0, "S"), (5.0, "A"), (3.0, "B"), (1.0, "C")])
def test_tier_against_the_whole_stream(score, tier):
    assert tier_of(score, RULES) == tier


def fused_with_peaks(n, peaks):
    score = np.zeros(n)
    for centre, height in peaks:
        score[centre - 6:centre + 6] = height
    return Fused(HOP, score, {"audio": score})


def test_every_stage_gets_its_quota_without_a_weak_clip_called_s():
    # A busy first stage with three strong moments, a quiet third stage with one modest moment.
    fused = fused_with_peaks(2400, [(200, 9), (500, 8.5), (700, 8), (2000, 3.0)])
    stages = equal_stages(1200.0, 3)
    config = SelectConfig(clips=3)
    plain = select_spans(fused, 1200.0, config)
    assert {stage_of(s.peak, stages) for s in plain} == {1}
    quota = select_spans(fused, 1200.0, config, quotas=[(s.start, s.end, 1) for s in stages])
    assert sorted(stage_of(s.peak, stages) for s in quota) == [1, 1, 3]   # stage 2 has nothing worth a clip
    clips = tag_spans(quota, stages, "rec.mp4", RULES)
    third = [c for c in clips if c.stage == 3][0]
    assert third.tier == "A"                          # B against the stream, lifted as its stage's best
    assert [c.tier for c in clips if c.stage == 1] == ["S", "S"]
    weak = tag_spans(select_spans(fused_with_peaks(2400, [(2000, 3.0)]), 1200.0, config), stages, "r", RULES)
    assert weak[0].tier == "A" and all(c.tier != "S" for c in weak)
    assert all(c.pool == RULES.start[c.tier] for c in clips)


def test_explicit_and_equal_stages():
    stages = explicit_stages(3 * 3600.0, ["01:20:00", "9600"])
    assert [(s.start, s.end) for s in stages] == [(0, 4800), (4800, 9600), (9600, 10800)]
    with pytest.raises(UserError):
        explicit_stages(600.0, ["00:20:00"])
    with pytest.raises(UserError):
        explicit_stages(600.0, ["soon"])
    assert [(s.start, s.end) for s in equal_stages(300.0, 3)] == [(0, 100), (100, 200), (200, 300)]


def test_auto_stages_find_where_the_audience_shifts():
    rng = np.random.default_rng(3)
    level = np.r_[np.full(2400, 4.0), np.full(3600, 12.0), np.full(1200, 5.0)]   # 20 min, 30 min, 10 min
    audience = rng.poisson(level).astype(float)
    stages = auto_stages(audience, HOP, len(audience) * HOP, min_stage=300)
    assert [round(s.start / 60) for s in stages] == [0, 20, 50]
    flat = auto_stages(rng.poisson(np.full(7200, 6.0)).astype(float), HOP, 3600.0, min_stage=300)
    assert len(flat) == 1


@pytest.mark.integration
def test_auto_stages_on_a_generated_stream(tmp_path):
    folder = tmp_path / "growing"
    generate(str(folder), seed=21, duration=360.0, highlights=["crowd", "chat", "action"], distractors=[],
             size=(160, 90), audience=[0.4, 0.4, 2.5])
    config = tmp_path / "auto.toml"
    config.write_text("[tag]\nauto_min_stage = 60\n")
    out = str(tmp_path / "out")
    result = run_cli("clip", str(folder / "stream.mp4"), "--chat", str(folder / "chat.json"), "--out", out,
                     "--no-render", "--quiet", "--stages", "auto", "--config", str(config))
    assert result.returncode == 0, result.stderr
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    bounds = [s["start"] for s in manifest["stages"][1:]]
    assert len(bounds) == 1 and abs(bounds[0] - 240) <= 30   # the audience grew at 4 minutes
    assert manifest["rules"]["version"] == RULES.version


def make_manifest(folder, clips=2):
    manifest = {"schema": "peakclip/manifest@1", "rules": {"version": RULES.version},
                "clips": [{"id": f"clip{i}", "start": 10.0 * i, "end": 10.0 * i + 20, "stage": 1, "tier": "A",
                           "pool": "test"} for i in range(clips)]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_promotion_moves_are_recorded_and_survive_a_restart(tmp_path):
    make_manifest(tmp_path)
    store = open_store(str(tmp_path))
    state = store.add("clip0", Feedback(impressions=400, plays=300, watch_seconds=3000, clicks=20, orders=1), RULES)
    assert state["pool"] == "small" and state["counts"]["impressions"] == 0
    move = state["history"][0]
    assert (move["action"], move["from"], move["to"]) == ("promote", "test", "small")
    assert move["metrics"] == {"completion": 0.5, "ctr": 0.05, "conversion": 0.05} and move["counts"]["impressions"] == 400
    state = store.add("clip1", Feedback(impressions=500, plays=400, watch_seconds=500, clicks=10), RULES)
    assert state["status"] == "retired"
    store.close()
    again = open_store(str(tmp_path))       # a restart: the state is all still there
    assert again.clip("clip0")["pool"] == "small" and again.clip("clip1")["status"] == "retired"
    assert len(again.clip("clip0")["history"]) == 1
    with pytest.raises(UserError):
        again.add("nope", Feedback(impressions=1), RULES)
    with pytest.raises(UserError):
        again.add("clip0", Feedback(impressions=1, clicks=5), RULES)


def add_many(folder, count):
    store = PromotionStore(os.path.join(folder, "tiers.sqlite"))
    for _ in range(count):
        store.add("clip0", Feedback(impressions=1, plays=1, watch_seconds=2.5, clicks=0), RULES)
    store.close()


def test_concurrent_feedback_from_several_processes_adds_up_exactly(tmp_path):
    make_manifest(tmp_path)
    open_store(str(tmp_path)).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=add_many, args=(str(tmp_path), 60)) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    counts = open_store(str(tmp_path)).clip("clip0")["counts"]
    assert counts["impressions"] == 240 and counts["plays"] == 240 and counts["watch_seconds"] == pytest.approx(600.0)


def test_feedback_and_tiers_commands(tmp_path):
    make_manifest(tmp_path)
    result = run_cli("feedback", str(tmp_path), "clip0", "--impressions", "400", "--plays", "300",
                     "--watch-seconds", "3000", "--clicks", "20", "--orders", "1")
    assert result.returncode == 0 and "pool small" in result.stdout
    listed = json.loads(run_cli("tiers", str(tmp_path), "--json").stdout)
    assert [(c["id"], c["pool"], c["tier"], c["stage"]) for c in listed] == [("clip0", "small", "A", 1), ("clip1", "test", "A", 1)]
    assert listed[0]["history"][0]["action"] == "promote"
    table = run_cli("tiers", str(tmp_path))
    assert "promote test->small" in table.stdout
    bad = run_cli("feedback", str(tmp_path / "nowhere"), "clip0", "--impressions", "1")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
