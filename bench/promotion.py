"""Promotion on evidence against today's fixed rules, offline, at equal traffic.

    python bench/promotion.py [--seeds 1,2,3] [--streams 40] [--clips 8] [--budget 600] [--rounds 24] [--confidence P]

Simulated streams, one after another as a platform sees them: each has ``--clips`` clips in the
test pool (tiers A, B and C, as the bundled rules start them there; S starts in small), each
with hidden true rates (completion, click-through, conversion) drawn around its tier's mean
(logit-normal, so the detector's tier says something and not everything). The test pool serves
a stream's clips ``--budget`` impressions per clip in all, spread over ``--rounds`` rounds; each
round its impressions go evenly to the clips still on trial there (promoted and retired clips
leave it). A round's feedback per clip: impressions ~ Poisson(share), plays ~ Binomial(impressions,
play rate 0.6), each play watching a Beta-distributed share of the clip, clicks ~ Binomial(
impressions, ctr), orders ~ Binomial(clicks, conversion), with each round's rates moved by a
lognormal factor (sd 0.15: the audience of an hour is not the audience of the next).

Each sees the same clips, the same true rates and the same traffic schedule:

- fixed: today's rules before this change (after ``min_impressions``, promote when the raw rates
  all reach the bars, retire under a floor, hold otherwise; judged again at every feedback);
- evidence: ``settle`` from ``pipeline/promotion/pools.py`` as the stores run it (Beta posteriors,
  the tier prior calibrated on the feedback of every clip seen so far, the bundled rules'
  ``confidence``); the trial ends when the stream's test traffic is spent (not at the pool's
  ``max_impressions``, which the budget would cut short), and a clip still on trial then goes
  as at ``max_impressions``: promoted when P(clears the bars) is at least 0.5.

A third row is no policy but a yardstick of what the traffic can tell:

- referee: knows how this world draws clips (each tier's true mean rates and spread, the share a
  play watches), lets every clip take its whole share of the traffic, and decides once at the end,
  promoting when the exact posterior chance of clearing every bar is at least 0.5 (the fewest
  errors that clip's evidence allows). What it still gets wrong is what the numbers cannot say.

A wrong promotion is a clip promoted whose true rates miss one of the test pool's bars; a missed
one a clip not promoted (held when the traffic ran out, or retired) whose true rates clear them
all. Printed per seed and summed, with the impressions each policy used.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from peakclip.pipeline.promotion.pools import COUNTS, Feedback, add_pooled, metrics, pooled_change, settle  # noqa: E402
from peakclip.pipeline.ranking.rules import load_rules  # noqa: E402

# The simulated world: the true mean rates of each tier (not the rules' prior: the calibration has to find them),
# and how far a clip strays from its tier's mean (sd on the logit scale).
TRUE_MEAN = {"A": {"completion": 0.46, "ctr": 0.037, "conversion": 0.030},
             "B": {"completion": 0.42, "ctr": 0.030, "conversion": 0.025},
             "C": {"completion": 0.36, "ctr": 0.022, "conversion": 0.018}}
TIER_SHARE = {"A": 0.3, "B": 0.4, "C": 0.3}
SPREAD = {"completion": 0.35, "ctr": 0.40, "conversion": 0.50}
PLAY_RATE = 0.6
WATCH_CONCENTRATION = 2.0    # per-play watched share ~ Beta(c k, (1 - c) k)
ROUND_NOISE = 0.15           # sd of the log of each round's rate factor
LENGTH = 20.0                # seconds
POLICIES = ("fixed", "evidence", "referee")


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def make_clips(rng: np.random.Generator, count: int) -> list[dict]:
    """Clips with a tier and hidden true rates."""
    tiers = rng.choice(list(TIER_SHARE), size=count, p=list(TIER_SHARE.values()))
    clips = []
    for tier in tiers:
        rates = {m: 1 / (1 + math.exp(-(logit(mean) + rng.normal(0, SPREAD[m])))) for m, mean in TRUE_MEAN[tier].items()}
        clips.append({"tier": str(tier), "rates": rates})
    return clips


def round_feedback(rng: np.random.Generator, rates: dict, impressions: int) -> Feedback:
    """One round's numbers for a clip shown ``impressions`` times."""
    factor = {m: math.exp(rng.normal(0, ROUND_NOISE)) for m in rates}
    ctr = min(0.99, rates["ctr"] * factor["ctr"])
    conversion = min(0.99, rates["conversion"] * factor["conversion"])
    completion = min(0.99, rates["completion"] * factor["completion"])
    plays = int(rng.binomial(impressions, PLAY_RATE))
    watched = float(rng.beta(completion * WATCH_CONCENTRATION, (1 - completion) * WATCH_CONCENTRATION, plays).sum())
    clicks = int(rng.binomial(impressions, ctr))
    orders = int(rng.binomial(clicks, conversion))
    return Feedback(impressions, plays, watched * LENGTH, clicks, orders)


GRID = np.linspace(-7.0, 3.0, 2001)   # logit of a rate: the referee integrates over this grid


def referee_promotes(tier: str, counts: dict, bars: dict, rounds: int) -> bool:
    """The world's own posterior: P(every true rate clears its bar | the clip's counts), each
    rate's prior the logit-normal the clips were drawn from, promoted at 0.5 or more. Clicks and
    orders are binomial; the mean watched share of ``plays`` plays is close to normal with the
    variance of the Beta the shares are drawn from, plus that of the audience's drift over
    ``rounds`` rounds."""
    rate = 1 / (1 + np.exp(-GRID))
    seen = rate * math.exp(ROUND_NOISE ** 2 / 2)    # what a rate looks like through the audience's drift, on average
    chance = 1.0
    for metric, bar in bars.items():
        log_prior = -0.5 * ((GRID - logit(TRUE_MEAN[tier][metric])) / SPREAD[metric]) ** 2
        if metric == "completion":
            plays = counts["plays"]
            watched = counts["watch_seconds"] / (LENGTH * plays) if plays else 0.0
            variance = seen * (1 - seen) / ((WATCH_CONCENTRATION + 1) * max(plays, 1)) + (ROUND_NOISE * seen) ** 2 / rounds
            log_like = (-0.5 * (watched - seen) ** 2 / variance - 0.5 * np.log(variance)) if plays else 0.0
        else:
            hits, trials = (counts["clicks"], counts["impressions"]) if metric == "ctr" else (counts["orders"], counts["clicks"])
            log_like = hits * np.log(seen) + (trials - hits) * np.log1p(-seen)
        weight = np.exp(log_prior + log_like - np.max(log_prior + log_like))
        chance *= float(weight[rate >= bar].sum() / weight.sum())
    return chance >= 0.5


def fixed_decision(pool, counts: dict, has_next: bool) -> str:
    """Today's rules before promotion on evidence: raw rates against the bars."""
    measured = metrics(counts, LENGTH)
    if counts["impressions"] < pool.min_impressions:
        return "hold"
    if any(measured[name] < floor for name, floor in pool.retire.items()):
        return "retire"
    if has_next and all(measured[name] >= bar for name, bar in pool.promote.items()):
        return "promote"
    return "hold"


def run(seed: int, streams: int, clips_per_stream: int, budget: int, rounds: int, confidence: float | None) -> dict:
    rules = load_rules()
    rules.confidence = confidence or rules.confidence
    rules.pool("test").max_impressions = None   # the trial ends when the stream's test traffic is spent
    test = rules.pool("test")
    world = np.random.default_rng(seed)
    result = {name: {"wrong": 0, "missed": 0, "promoted": 0, "impressions": 0} for name in POLICIES}
    result["clearing"] = 0
    result["clips"] = 0
    pooled: dict = {}
    for _ in range(streams):
        clips = make_clips(world, clips_per_stream)
        clears = [all(c["rates"][m] >= bar for m, bar in test.promote.items()) for c in clips]
        result["clearing"] += sum(clears)
        result["clips"] += len(clips)
        # The same traffic and the same audience noise for both policies: one random stream each, same seed.
        stream_seed = int(world.integers(2**32))
        finals = {}
        for policy in POLICIES:
            rng = np.random.default_rng(stream_seed)
            states = {str(i): {"pool": "test", "status": "active", "tier": c["tier"], "length": LENGTH,
                               "counts": dict.fromkeys(COUNTS, 0), "lifetime": dict.fromkeys(COUNTS, 0.0),
                               "judgement": None} for i, c in enumerate(clips)}
            per_round = budget * len(clips) / rounds
            for _ in range(rounds):
                trial = [cid for cid, s in states.items() if s["status"] == "active" and s["pool"] == "test"]
                if not trial:
                    break
                for cid in trial:
                    feedback = round_feedback(rng, clips[int(cid)]["rates"], int(rng.poisson(per_round / len(trial))))
                    result[policy]["impressions"] += feedback.impressions
                    state = states[cid]
                    if policy == "referee":   # every clip stays on trial; judged once, below
                        for name in COUNTS:
                            state["counts"][name] += getattr(feedback, name)
                    elif policy == "fixed":
                        for name in COUNTS:
                            state["counts"][name] += getattr(feedback, name)
                        action = fixed_decision(test, state["counts"], True)
                        if action == "promote":
                            state["pool"] = "small"
                        elif action == "retire":
                            state["status"] = "retired"
                    else:
                        before = dict(state["lifetime"])
                        settle({cid: state}, cid, feedback, rules, pooled)
                        pooled = add_pooled(pooled, state["tier"], pooled_change(before, state["lifetime"], LENGTH, rules))
            if policy == "evidence":
                # The stream's test traffic is spent: its trial is over, as at the pool's max_impressions.
                for state in states.values():
                    if state["status"] == "active" and state["pool"] == "test" and state["judgement"]:
                        state["pool"] = "small" if state["judgement"]["p_clear"] >= 0.5 else "test"
            if policy == "referee":
                for state in states.values():
                    state["pool"] = "small" if referee_promotes(state["tier"], state["counts"], test.promote, rounds) else "test"
            finals[policy] = [s["pool"] == "small" for s in states.values()]
        for policy, promoted in finals.items():
            result[policy]["promoted"] += sum(promoted)
            result[policy]["wrong"] += sum(p and not c for p, c in zip(promoted, clears))
            result[policy]["missed"] += sum(c and not p for p, c in zip(promoted, clears))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--streams", type=int, default=40)
    parser.add_argument("--clips", type=int, default=8, help="clips per stream in the test pool")
    parser.add_argument("--budget", type=int, default=600, help="test-pool impressions per clip, on average")
    parser.add_argument("--rounds", type=int, default=24, help="feedback rounds the budget is spread over")
    parser.add_argument("--confidence", type=float, help="instead of the bundled rules' promotion.confidence")
    args = parser.parse_args()
    totals = dict.fromkeys(POLICIES, 0)
    print(f"{'seed':>4} {'clips':>5} {'clear':>5}  {'policy':8} {'promoted':>8} {'wrong':>5} {'missed':>6} "
          f"{'errors':>6} {'impressions':>11}")
    for seed in (int(s) for s in args.seeds.split(",")):
        result = run(seed, args.streams, args.clips, args.budget, args.rounds, args.confidence)
        for policy in POLICIES:
            r = result[policy]
            errors = r["wrong"] + r["missed"]
            totals[policy] += errors
            print(f"{seed:>4} {result['clips']:>5} {result['clearing']:>5}  {policy:8} {r['promoted']:>8} {r['wrong']:>5} "
                  f"{r['missed']:>6} {errors:>6} {r['impressions']:>11}")
        errors = {p: result[p]["wrong"] + result[p]["missed"] for p in POLICIES}
        print(f"{seed:>4} evidence: {1 - errors['evidence'] / max(1, errors['fixed']):.0%} fewer wrong plus missed "
              f"promotions; the referee {1 - errors['referee'] / max(1, errors['fixed']):.0%}")
    print(f"all seeds: fixed {totals['fixed']} errors, evidence {totals['evidence']}: "
          f"{1 - totals['evidence'] / max(1, totals['fixed']):.0%} fewer; the referee {totals['referee']}: "
          f"{1 - totals['referee'] / max(1, totals['fixed']):.0%} fewer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
