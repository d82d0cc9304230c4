"""Stages, tiers, pools and staged promotion."""
import json
import os

import numpy as np
import pytest
import services
from conftest import run_cli

from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import SelectConfig
from peakclip.pipeline.promotion.evidence import (allocate_slots, beta_cdf, calibrated_mean, chance_above, judge,
                                                  posterior, tier_prior)
from peakclip.pipeline.promotion.pools import Feedback, PromotionStore, open_store
from peakclip.pipeline.ranking.broadcast import auto_stages, equal_stages, explicit_stages
from peakclip.pipeline.ranking.fuse import Fused
from peakclip.pipeline.ranking.rules import BUNDLED as RULES_FILE
from peakclip.pipeline.ranking.rules import Pool, load_rules
from peakclip.pipeline.ranking.select import select_spans
from peakclip.pipeline.ranking.tag import stage_of, tag_spans, tier_of
from peakclip.samples.generate import generate

HOP = 0.5
RULES = load_rules()
POOL = Pool("test", 500, min_impressions=300, promote={"completion": 0.4, "ctr": 0.03, "conversion": 0.02},
            retire={"completion": 0.15, "ctr": 0.005})


NAMES = ("impressions", "plays", "watch_seconds", "clicks", "orders")
CTR_ONLY = Pool("test", 500, min_impressions=300, promote={"ctr": 0.03}, retire={})


def counts_of(impressions, plays, watch_seconds, clicks, orders) -> dict:
    return dict(zip(NAMES, (impressions, plays, watch_seconds, clicks, orders)))


def test_beta_cdf_is_scipys():
    from scipy.special import betainc

    rng = np.random.default_rng(5)
    a, b = rng.uniform(0.3, 3000, 300), rng.uniform(0.3, 200000, 300)
    x = np.clip(a / (a + b) * rng.uniform(0.3, 2.0, 300), 0, 1)
    assert np.max(np.abs(beta_cdf(x, a, b) - betainc(a, b, x))) < 1e-9
    assert beta_cdf(0.0, 2, 3) == 0.0 and beta_cdf(1.01, 2, 3) == 1.0


def test_the_issues_300_impressions_are_not_evidence_enough():
    """At 300 impressions a 3% bar is 9 clicks: a 2% clip that drew 10 clicks passes the raw bar,
    a 4% clip that drew 8 fails it. Neither is sure on the evidence: both are held."""
    prior = {"ctr": (3.0, 97.0)}   # a tier expected at 3%, worth 100 impressions
    lucky = posterior(prior, counts_of(300, 0, 0, 10, 0), 20.0)
    unlucky = posterior(prior, counts_of(300, 0, 0, 8, 0), 20.0)
    assert 10 / 300 >= 0.03 > 8 / 300                                   # the fixed rule: promote one, hold the other
    for post in (lucky, unlucky):
        verdict = judge(CTR_ONLY, post, 300, True, 0.9)
        assert verdict.action == "hold" and 0.1 < verdict.p_clear < 0.9, verdict
    # Ten times the traffic tells them apart: 4% is promoted, 2% retired.
    assert judge(CTR_ONLY, posterior(prior, counts_of(3000, 0, 0, 120, 0), 20.0), 3000, True, 0.9).action == "promote"
    assert judge(CTR_ONLY, posterior(prior, counts_of(3000, 0, 0, 60, 0), 20.0), 3000, True, 0.9).action == "retire"


def test_the_tier_is_the_prior():
    """The same 300 impressions: an S-tier clip (expected 4.5%) and a C-tier clip (2.2%) stand
    differently, and the difference shrinks as evidence comes in."""
    seen = counts_of(300, 200, 2000, 10, 0)
    s_tier, c_tier = (chance_above(posterior(tier_prior(t, RULES), seen, 20.0), {"ctr": 0.03})["ctr"] for t in "SC")
    assert s_tier > 0.8 > 0.5 > c_tier
    more = counts_of(30000, 20000, 200000, 1000, 30)
    s_more, c_more = (chance_above(posterior(tier_prior(t, RULES), more, 20.0), {"ctr": 0.03})["ctr"] for t in "SC")
    assert abs(s_more - c_more) < abs(s_tier - c_tier) and min(s_more, c_more) > 0.95


def test_calibration_moves_the_tier_prior_to_what_the_tier_did():
    mean = RULES.prior["B"]["ctr"]
    strength = RULES.strength["ctr"]
    assert calibrated_mean(mean, strength, None) == mean
    # Ten other B clips at 1.5%, each counting at most `strength` impressions: the tier's mean follows them.
    pooled = {"ctr": (10 * strength * 0.015, 10 * strength)}
    assert calibrated_mean(mean, strength, pooled["ctr"]) == pytest.approx((mean + 10 * 0.015) / 11)
    alpha, beta = tier_prior("B", RULES, pooled)["ctr"]
    assert alpha + beta == pytest.approx(strength) and alpha / (alpha + beta) < mean


@pytest.mark.parametrize("counts, has_next, expected", [
    # impressions, plays, watch seconds (20 s clip), clicks, orders; a tier-A clip in the test pool
    ((200, 150, 2500, 30, 5), True, "hold"),             # too few impressions to judge yet
    ((2000, 1500, 15000, 120, 8), True, "promote"),      # completion .50, ctr .06, conversion .067, on enough traffic
    ((400, 300, 3000, 20, 1), True, "hold"),             # the same rates on 20 clicks: conversion is not sure yet
    ((400, 300, 600, 20, 1), True, "retire"),            # completion .10: sure to be under .15
    ((2000, 1500, 15000, 30, 1), True, "retire"),        # ctr .015: sure to miss .03
    ((600, 400, 4000, 27, 0), True, "retire"),           # trial over at 600 impressions: no order in 27 clicks
    ((600, 400, 4000, 27, 2), True, "promote"),          # trial over: 2 orders in 27 clicks, likelier over the bars than not
    ((2000, 1500, 15000, 120, 8), False, "hold"),        # the top pool: nowhere to go
])
def test_promotion_on_evidence(counts, has_next, expected):
    post = posterior(tier_prior("A", RULES), counts_of(*counts), 20.0)
    pool = RULES.pool("test")
    verdict = judge(pool, post, counts[0], has_next, RULES.confidence)
    assert verdict.action == expected, verdict
    assert verdict.reason


def test_thompson_sampling_gives_slots_by_the_chance_of_being_best():
    bars = {"ctr": 0.03}
    strong, unsure, weak = {"ctr": (60.0, 940.0)}, {"ctr": (2.0, 48.0)}, {"ctr": (10.0, 990.0)}
    rng = np.random.default_rng(7)
    wins = np.zeros(3)
    for _ in range(2000):
        for index in allocate_slots([strong, unsure, weak], bars, 1, rng):
            wins[index] += 1
    assert wins.sum() == 2000
    assert wins[0] > wins[1] > wins[2]                   # the likeliest best wins most, the unsure one its share
    assert wins[1] > 200 and wins[2] < 20
    assert allocate_slots([strong, weak], bars, 2, rng) == [0, 1]   # room for all: no draw
    assert allocate_slots([strong], bars, 0, rng) == []


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


def make_manifest(folder, clips=2, tier="A"):
    manifest = {"schema": "peakclip/manifest@1", "rules": {"version": RULES.version},
                "clips": [{"id": f"clip{i}", "start": 10.0 * i, "end": 10.0 * i + 20, "stage": 1, "tier": tier,
                           "pool": "test"} for i in range(clips)]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


# 2,000 impressions at completion .50, click-through .06, conversion .067: sure to clear the test pool's bars.
PROMOTING = {"impressions": 2000, "plays": 1500, "watch_seconds": 15000, "clicks": 120, "orders": 8}
# 500 impressions at completion .05: sure to be under the retire floor of .15.
RETIRING = {"impressions": 500, "plays": 400, "watch_seconds": 400, "clicks": 10, "orders": 0}


def flags(numbers: dict) -> list[str]:
    return [part for name, value in numbers.items() for part in (f"--{name.replace('_', '-')}", str(value))]


def test_promotion_moves_are_recorded_with_their_posterior_and_survive_a_restart(tmp_path):
    make_manifest(tmp_path)
    store = open_store(str(tmp_path))
    state = store.add("clip0", Feedback(**PROMOTING), RULES)
    assert state["pool"] == "small" and state["counts"]["impressions"] == 0
    move = state["history"][0]
    assert (move["action"], move["from"], move["to"]) == ("promote", "test", "small")
    assert move["metrics"] == {"completion": 0.5, "ctr": 0.06, "conversion": 0.0667} and move["counts"]["impressions"] == 2000
    assert move["p_clear"] >= RULES.confidence and "P(clears test's bars)" in move["reason"]
    assert move["posterior"]["ctr"]["mean"] == pytest.approx((state["judgement"]["posterior"]["ctr"]["alpha"])
                                                             / (state["judgement"]["posterior"]["ctr"]["alpha"]
                                                                + state["judgement"]["posterior"]["ctr"]["beta"]), abs=1e-4)
    assert 0.03 < move["posterior"]["ctr"]["mean"] < 0.06     # the tier's prior pulls the raw .06 in a little
    state = store.add("clip1", Feedback(**RETIRING), RULES)
    assert state["status"] == "retired" and "completion < 0.15" in state["history"][0]["reason"]
    store.close()
    again = open_store(str(tmp_path))       # a restart: the state is all still there
    assert again.clip("clip0")["pool"] == "small" and again.clip("clip1")["status"] == "retired"
    assert again.clip("clip0")["history"] == [move]
    with pytest.raises(UserError):
        again.add("nope", Feedback(impressions=1), RULES)
    with pytest.raises(UserError):
        again.add("clip0", Feedback(impressions=1, clicks=5), RULES)


def test_a_tiers_feedback_calibrates_the_prior_of_its_other_clips(tmp_path):
    """Three B clips that did badly (ctr 1%) lower what the fourth is expected to do."""
    make_manifest(tmp_path, clips=4, tier="B")
    store = open_store(str(tmp_path))
    fresh = store.add("clip3", Feedback(impressions=1), RULES)["judgement"]["posterior"]["ctr"]["mean"]
    for cid in ("clip0", "clip1", "clip2"):
        store.add(cid, Feedback(impressions=250, plays=150, watch_seconds=1500, clicks=2, orders=0), RULES)
    after = store.add("clip3", Feedback(impressions=1), RULES)["judgement"]["posterior"]["ctr"]["mean"]
    assert fresh == pytest.approx(RULES.prior["B"]["ctr"], abs=5e-4)
    assert after < fresh - 0.005


def test_slots_are_given_by_thompson_draws_and_a_waiting_clip_moves_up_when_one_frees(tmp_path):
    rules_file = tmp_path / "slots.toml"
    rules_file.write_text(open(RULES_FILE, encoding="utf-8").read().replace(
        'name = "small"\n', 'name = "small"\nslots = 1\n'))
    rules = load_rules(str(rules_file))
    assert rules.pool("small").slots == 1
    make_manifest(tmp_path, clips=3)
    store = open_store(str(tmp_path))
    first = store.add("clip0", Feedback(**PROMOTING), rules)
    assert first["pool"] == "small" and "a free slot" in first["history"][0]["reason"]
    second = store.add("clip1", Feedback(**PROMOTING), rules)
    assert second["pool"] == "test" and second["status"] == "active"
    assert second["judgement"]["action"] == "wait" and "slot taken" in second["judgement"]["reason"]
    # The clip in small retires: its slot goes to the one waiting, on the next feedback of any clip.
    store.add("clip0", Feedback(impressions=3000, plays=2000, watch_seconds=2000, clicks=10, orders=0), rules)
    assert store.clip("clip0")["status"] == "retired"
    assert store.clip("clip1")["pool"] == "small"
    assert store.clip("clip1")["history"][-1]["action"] == "promote"


def snapshot(folder) -> str:
    """Everything learned in a job's tier state, as the CLI shows it."""
    return run_cli("tiers", str(folder), "--json").stdout


@pytest.mark.parametrize("numbers, message", [
    ({"impressions": -5}, "cannot be negative"),
    ({"impressions": 10, "clicks": 11}, "cannot exceed impressions"),
    ({"impressions": 10, "plays": 11}, "cannot exceed impressions"),
    ({"impressions": 10, "clicks": 2, "orders": 3}, "orders cannot exceed clicks"),
    ({"impressions": 10, "watch_seconds": "nan"}, "must be a number"),
])
def test_bad_feedback_is_refused_with_one_line_and_nothing_learned(tmp_path, numbers, message):
    make_manifest(tmp_path)
    assert run_cli("feedback", str(tmp_path), "clip0", *flags({"impressions": 400, "plays": 300, "watch_seconds": 3000,
                                                                 "clicks": 20, "orders": 1})).returncode == 0
    before = snapshot(tmp_path)
    result = run_cli("feedback", str(tmp_path), "clip0", *flags(numbers))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert snapshot(tmp_path) == before


def test_feedback_for_an_unknown_clip_is_refused_and_nothing_learned(tmp_path):
    make_manifest(tmp_path)
    open_store(str(tmp_path)).close()
    before = snapshot(tmp_path)
    result = run_cli("feedback", str(tmp_path), "clip9", "--impressions", "10")
    assert result.returncode == 2 and result.stderr.strip() == "peakclip: error: no clip clip9 here"
    assert snapshot(tmp_path) == before


def add_many(folder, count):
    store = PromotionStore(os.path.join(folder, "tiers.sqlite"))
    for _ in range(count):
        store.add("clip0", Feedback(impressions=1, plays=1, watch_seconds=2.5, clicks=0), RULES)
    store.close()


def test_concurrent_feedback_from_several_processes_adds_up_exactly(tmp_path):
    make_manifest(tmp_path)
    open_store(str(tmp_path)).close()
    services.side_by_side(add_many, (str(tmp_path), 60))
    counts = open_store(str(tmp_path)).clip("clip0")["counts"]
    assert counts["impressions"] == 240 and counts["plays"] == 240 and counts["watch_seconds"] == pytest.approx(600.0)


def test_feedback_and_tiers_commands(tmp_path):
    make_manifest(tmp_path)
    result = run_cli("feedback", str(tmp_path), "clip0", *flags(PROMOTING))
    assert result.returncode == 0 and "pool small" in result.stdout and "P(clears test's bars)" in result.stdout
    result = run_cli("feedback", str(tmp_path), "clip1", "--impressions", "100", "--plays", "60", "--watch-seconds", "500",
                     "--clicks", "3")
    assert result.returncode == 0 and "100 of 300 impressions in test" in result.stdout
    listed = json.loads(run_cli("tiers", str(tmp_path), "--json").stdout)
    assert [(c["id"], c["pool"], c["tier"], c["stage"], c["status"]) for c in listed] == \
        [("clip0", "small", "A", 1, "active"), ("clip1", "test", "A", 1, "active")]
    assert listed[0]["history"][0]["action"] == "promote" and listed[0]["history"][0]["p_clear"] >= RULES.confidence
    # Judged where it is now: 0 of small's impressions, its chance against small's higher bars (not
    # test's, which it cleared), and why it moved up.
    now = listed[0]["judgement"]
    assert now["action"] == "hold" and now["reason"].startswith("0 of 2000 impressions in small; promoted from test: P(clears")
    assert now["p_clear"] < listed[0]["history"][0]["p_clear"]
    assert listed[1]["judgement"]["action"] == "hold" and listed[1]["counts"]["impressions"] == 100
    assert set(listed[1]["judgement"]["posterior"]) == {"completion", "ctr", "conversion"}
    table = run_cli("tiers", str(tmp_path)).stdout
    assert "promote test->small after 2000 impressions: P(clears test's bars)" in table
    assert "0 of 2000 impressions in small; promoted from test" in table
    assert "100 of 300 impressions in test" in table
    bad = run_cli("feedback", str(tmp_path / "nowhere"), "clip0", "--impressions", "1")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


SECRET = "tiers-secret-51c2"


@pytest.mark.integration
def test_metrics_through_the_service_on_a_real_redis(tmp_path_factory):
    """POST /clips/{id}/metrics against `peakclip serve` on a real Redis: the posterior and the
    reason come back and are kept; bad numbers and unknown clips are refused with one line and
    change nothing, the calibration totals included."""
    from peakclip.workers.jobs import connect
    from peakclip.workers.tierstate import POOLED, RedisTierState

    redis_server = services.RedisServer(tmp_path_factory.mktemp("redis"))
    recordings = tmp_path_factory.mktemp("recordings")
    env = {**os.environ, "PEAKCLIP_BROKER_URL": redis_server.url(0), "PEAKCLIP_RESULT_BACKEND": redis_server.url(1),
           "PEAKCLIP_WEBHOOK_SECRET": SECRET, "PEAKCLIP_RECORDINGS_ROOT": str(recordings),
           "PEAKCLIP_OUTPUT_ROOT": str(tmp_path_factory.mktemp("outputs"))}
    try:
        service = services.Service(env, str(tmp_path_factory.mktemp("svc") / "service.log"))
        try:
            client = connect(redis_server.url(1))
            tiers = RedisTierState(client)
            manifest = {"clips": [{"id": f"{i:010x}", "start": 0.0, "end": 20.0, "stage": 1, "tier": "B",
                                   "pool": "test"} for i in (0xa1, 0xa2)]}
            tiers.ensure(manifest, "0123456789abcdef0123")
            first, second = (c["id"] for c in manifest["clips"])

            status, _, body = services.post_signed(service, SECRET, f"/clips/{first}/metrics", PROMOTING)
            answer = json.loads(body)
            assert status == 200 and answer["pool"] == "small", answer
            assert answer["judgement"]["p_clear"] >= RULES.confidence
            assert answer["history"][0]["reason"].startswith("P(clears test's bars)")
            assert answer["history"][0]["posterior"]["ctr"]["mean"] > RULES.prior["B"]["ctr"]
            kept = tiers.clip(first)
            assert kept["pool"] == "small" and kept["history"] == answer["history"]
            pooled = client.hgetall(POOLED)
            assert float(pooled["B:ctr:w"]) == pytest.approx(RULES.strength["ctr"])   # one clip counts one prior's worth

            status, _, body = services.post_signed(service, SECRET, f"/clips/{second}/metrics",
                                                   {"impressions": 120, "plays": 80, "watch_seconds": 700, "clicks": 4})
            assert status == 200 and json.loads(body)["judgement"]["reason"] == "120 of 300 impressions in test"
            learned = (tiers.clip(first), tiers.clip(second), client.hgetall(POOLED))
            for clip_id, payload, code in (
                    (second, {"impressions": -3}, 400), (second, {"impressions": 5, "clicks": 6}, 400),
                    (second, {"impressions": 5, "clicks": 2, "orders": 3}, 400), (second, {"impressions": True}, 400),
                    (second, {"impressions": 2.5}, 400), (second, [1, 2], 400), ("00000000ff", {"impressions": 5}, 404)):
                status, _, body = services.post_signed(service, SECRET, f"/clips/{clip_id}/metrics", payload)
                error = json.loads(body)["error"]
                assert status == code and "\n" not in error and "Traceback" not in error, (payload, body)
            assert (tiers.clip(first), tiers.clip(second), client.hgetall(POOLED)) == learned
            # Slots in Redis: small holds one clip of the job; the second waits until the first retires there.
            slotted = load_rules()
            slotted.pool("small").slots = 1
            state = tiers.add(second, Feedback(**PROMOTING), slotted)
            assert state["pool"] == "test" and state["judgement"]["action"] == "wait", state["judgement"]
            tiers.add(first, Feedback(impressions=3000, plays=2000, watch_seconds=2000, clicks=10), slotted)
            assert tiers.clip(first)["status"] == "retired"
            assert tiers.clip(second)["pool"] == "small" and tiers.clip(second)["history"][-1]["action"] == "promote"
        finally:
            service.stop()
    finally:
        redis_server.stop()


@pytest.mark.parametrize("change, message", [
    (("confidence = 0.9", "confidence = 1.5"), "promotion.confidence must be above 0.5 and below 1"),
    (("S = { completion = 0.50", "X = { completion = 0.50"), "unknown tier 'X'"),
    (("strength = { completion = 30", "strength = { completion = 0"), "promotion.strength must be above 0"),
    (("strength = { completion = 30", "strength = { views = 3, completion = 30"), "unknown metrics views"),
    (("ctr = 0.045", "ctr = 1.2"), "rates must be above 0 and below 1"),
    (("max_impressions = 600", "max_impressions = 100"), "max_impressions must be at least min_impressions"),
    (('name = "small"\n', 'name = "small"\nslots = 0\n'), "slots must be at least 1"),
])
def test_bad_promotion_rules_are_one_line(tmp_path, change, message):
    text = open(RULES_FILE, encoding="utf-8").read()
    assert change[0] in text
    path = tmp_path / "rules.toml"
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(UserError, match=message) as err:
        load_rules(str(path))
    assert "\n" not in str(err.value)


def test_a_state_file_from_before_promotion_on_evidence_is_carried_on(tmp_path):
    """Old tiers.sqlite (no lifetime counts, judgements or posteriors): the columns are added, the
    lifetime counts come from the current pool's and the recorded promotions', and feedback goes on."""
    import sqlite3

    make_manifest(tmp_path)
    db = sqlite3.connect(str(tmp_path / "tiers.sqlite"))
    db.executescript("""
        CREATE TABLE clips (id TEXT PRIMARY KEY, length REAL, stage INTEGER, tier TEXT, pool TEXT, status TEXT,
            impressions INTEGER DEFAULT 0, plays INTEGER DEFAULT 0, watch_seconds REAL DEFAULT 0,
            clicks INTEGER DEFAULT 0, orders INTEGER DEFAULT 0, rules_version TEXT, file TEXT, profile TEXT);
        CREATE TABLE history (clip_id TEXT, at REAL, action TEXT, from_pool TEXT, to_pool TEXT, counts TEXT, metrics TEXT);
    """)
    db.execute("INSERT INTO clips VALUES ('clip0', 20, 1, 'A', 'small', 'active', 100, 80, 800, 5, 0, 'old', NULL, NULL)")
    db.execute("INSERT INTO clips VALUES ('clip1', 20, 1, 'A', 'test', 'active', 0, 0, 0, 0, 0, 'old', NULL, NULL)")
    db.execute("INSERT INTO history VALUES ('clip0', 1.0, 'promote', 'test', 'small', ?, ?)",
               (json.dumps({"impressions": 400, "plays": 300, "watch_seconds": 3000, "clicks": 20, "orders": 1}),
                json.dumps({"completion": 0.5, "ctr": 0.05, "conversion": 0.05})))
    db.commit()
    db.close()
    store = open_store(str(tmp_path))
    assert store.states()["clip0"]["lifetime"]["impressions"] == 500
    state = store.add("clip0", Feedback(impressions=10), RULES)
    assert state["pool"] == "small" and state["counts"]["impressions"] == 110
    assert state["history"][0]["reason"] is None and state["judgement"]["reason"] == "110 of 2000 impressions in small"
    assert store.states()["clip0"]["lifetime"]["impressions"] == 510
    assert run_cli("tiers", str(tmp_path)).returncode == 0
