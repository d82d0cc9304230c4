"""A channel's audience teaching the ranking, offline: channels whose audiences have hidden
preferences, feedback drawn from them, and how often the channel's top 3 clips become the
moments its audience prefers.

Each stream is 30 minutes of raw chat, audio and visual series on the pipeline's 0.5 s grid
(baseline noise as the detectors see it: chatters, dB, log2 bytes per frame) with 12 planted
moments, 3 of each kind:

- **chat**: the chat erupts (7-13 deviations), sound and picture barely move (a joke, a reveal);
- **action**: loud and busy (sound and picture 4-8 deviations), little chat;
- **sales**: the chat asks and buys (3-6), little else (a price drop);
- **mixed**: everything rises together (2.5-5 each).

The stream is ranked by the real ``rank`` (fusion, selection, stages, tiers) with and without
the channel's learning. An audience prefers a kind (its clips of that kind complete, get clicked
and sell more; the others less) or matches the defaults (a clip's appeal follows its default
fused score); the ``short`` audience likes kinds as the defaults do and finishes short clips
(its completion falls as 15 s over the clip's length). Every clip of a training stream gets
feedback in rounds with realistic counts: impressions drawn from its pool's size, plays, watch seconds, clicks and orders drawn around its
appeal with per-clip noise (some clips are simply better), moved between pools by the bundled
promotion rules (so promoted clips gather far more impressions: the exposure bias), and the
channel learns from every round with the same functions the stores call
(``pipeline.ranking.channel``). After 20 training streams, 120 fresh streams are ranked with and
without the learning; the figures are the share of their top-3 clips of each kind and those
clips' mean length.

    .venv/bin/python bench/channels.py                 # 5 audiences x 3 seeds, the table
    .venv/bin/python bench/channels.py --streams 20 --seeds 1,2,3 --json
    .venv/bin/python bench/channels.py --count-impressions   # without the exposure correction
"""
from __future__ import annotations

import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import numpy as np  # noqa: E402

from peakclip.detectors.chat import ChatConfig  # noqa: E402
from peakclip.detectors.probe import Probe  # noqa: E402
from peakclip.detectors.series import Series  # noqa: E402
from peakclip.pipeline.analysis.assemble import Analysis  # noqa: E402
from peakclip.pipeline.config import Config  # noqa: E402
from peakclip.pipeline.promotion.pools import COUNTS, Feedback, Pooled, add_pooled, pooled_change, settle  # noqa: E402
from peakclip.pipeline.ranking.channel import Learned, add_evidence, clip_features, learn  # noqa: E402
from peakclip.pipeline.ranking.fuse import chat_shift_seconds  # noqa: E402
from peakclip.pipeline.ranking.rank import rank  # noqa: E402
from peakclip.pipeline.ranking.rules import load_rules  # noqa: E402

HOP = 0.5
DURATION = 1800.0
KINDS = ("chat", "action", "sales", "mixed")
# Each kind's strength per signal, in robust deviations above the baseline: (low, high).
STRENGTH = {"chat": {"chat": (7, 13), "audio": (0, 1.5), "visual": (0, 1)},
            "action": {"chat": (0, 2.5), "audio": (4, 8), "visual": (4, 8)},
            "sales": {"chat": (3, 6), "audio": (0.5, 2), "visual": (0, 1)},
            "mixed": {"chat": (2.5, 5), "audio": (2.5, 5), "visual": (2, 4)}}
# Baseline of each raw series: (level, robust spread) in its own unit.
BASELINE = {"chat": (6.0, 2.5), "audio": (-30.0, 1.5), "visual": (10.0, 0.3)}
# Audiences: how much each kind of moment appeals to them (0-1); "defaults" follows the default score.
AUDIENCES = {"chat": {"chat": 1.0, "action": 0.1, "sales": 0.3, "mixed": 0.3},
             "action": {"chat": 0.1, "action": 1.0, "sales": 0.0, "mixed": 0.4},
             "sales": {"chat": 0.3, "action": 0.0, "sales": 1.0, "mixed": 0.2},
             "defaults": None, "short": None}
# Audiences with a taste for length: their completion is multiplied by (LENGTH_PIVOT / seconds) to
# this power (they finish short clips and leave long ones); their kinds' appeal is the defaults'.
LENGTH_TASTE = {"short": 1.0}
LENGTH_PIVOT = 15.0
ROUNDS = 6     # feedback rounds per clip (a platform reporting a few times a day for two days)


def make_stream(rng: np.random.Generator, index: int) -> tuple[Analysis, list[dict]]:
    """A stream's raw series and its planted moments (kind, start, end, seconds)."""
    n = int(DURATION / HOP)
    values = {"chat": rng.poisson(BASELINE["chat"][0], n).astype(float),
              "audio": rng.normal(*BASELINE["audio"], n), "visual": rng.normal(*BASELINE["visual"], n)}
    kinds = [k for k in KINDS for _ in range(3)]
    rng.shuffle(kinds)
    slot = DURATION / len(kinds)
    moments = []
    for i, kind in enumerate(kinds):
        length = rng.uniform(6, 16)
        start = i * slot + rng.uniform(20, slot - length - 20)
        moments.append({"kind": kind, "start": start, "end": start + length})
        for signal, (low, high) in STRENGTH[kind].items():
            # The chat types after the moment: its rise is placed where fusion looks for it.
            shift = chat_shift_seconds(ChatConfig()) if signal == "chat" else 0.0
            a, b = int((start + shift) / HOP), int((start + length + shift) / HOP)
            values[signal][a:b] += rng.uniform(low, high) * BASELINE[signal][1]
    probe = Probe(f"stream-{index}.mp4", DURATION, True, True)
    return Analysis(probe, {name: Series(name, 0.0, HOP, v) for name, v in values.items()}), moments


def kind_at(moments: list[dict], t: float) -> str | None:
    """The kind of the planted moment around ``t`` (seconds), with the chat's lag as slack."""
    for m in moments:
        if m["start"] - 3 <= t <= m["end"] + 3:
            return m["kind"]
    return None


def appeal(audience: str, kind: str | None, default_score: float) -> float:
    """How much a clip appeals to the audience (0-1)."""
    if AUDIENCES[audience] is None:
        return float(np.clip((default_score - 2.0) / 4.0, 0.0, 1.0))
    return AUDIENCES[audience].get(kind, 0.0) if kind else 0.0


def feedback_rounds(rng: np.random.Generator, clip, quality: float, rules, selling: bool, pooled: Pooled,
                    taste: float = 0.0):
    """The clip's feedback, round by round, as its platform would report it, moved between pools
    by ``settle`` as the stores run it; yields (counts, the calibration totals after it)."""
    length = clip.end - clip.start
    state = {"pool": clip.pool, "status": "active", "tier": clip.tier, "length": length,
             "counts": dict.fromkeys(COUNTS, 0), "lifetime": dict.fromkeys(COUNTS, 0.0), "judgement": None}
    own = rng.lognormal(0.0, 0.25)   # this clip's own luck: a thumbnail, a title, the hour it went out
    completion = float(np.clip((0.22 + 0.35 * quality) * own * (LENGTH_PIVOT / length) ** taste, 0.02, 0.98))
    ctr = float(np.clip((0.012 + 0.04 * quality) * own, 0.001, 0.5))
    conversion = float(np.clip(((0.02 + 0.08 * quality) if selling else 0.01) * own, 0.0, 0.9))
    for _ in range(ROUNDS):
        if state["status"] != "active":
            break
        impressions = int(rng.poisson(0.7 * rules.pool(state["pool"]).viewers))
        plays = int(rng.binomial(impressions, 0.3 + 0.2 * quality))
        watched = float(np.clip(rng.normal(completion, 0.08 / np.sqrt(max(plays, 1))), 0, 1)) * plays * length
        clicks = int(rng.binomial(impressions, ctr))
        orders = int(rng.binomial(clicks, conversion))
        feedback = Feedback(impressions, plays, round(watched, 1), clicks, orders)
        before = dict(state["lifetime"])
        settle({clip.id: state}, clip.id, feedback, rules, pooled)
        pooled = add_pooled(pooled, state["tier"], pooled_change(before, state["lifetime"], length, rules))
        yield vars(feedback), pooled


def top3(ranking, moments: list[dict]) -> list[str | None]:
    return [kind_at(moments, c.peak) for c in sorted(ranking.clips, key=lambda c: c.rank)[:3]]


def by_impressions(evidence: dict[str, dict], per_vote: float) -> dict[str, dict]:
    """The evidence as a learner that counts impressions would see it: a clip promoted to 200,000
    impressions as that many test pools' worth of clips (one copy per ``per_vote`` impressions,
    the counts shared out), where the exposure correction counts it once."""
    copies = {}
    for clip_id, entry in evidence.items():
        n = max(1, int(round(entry["counts"]["impressions"] / per_vote)))
        for k in range(n):
            copies[f"{clip_id}#{k}"] = {**entry, "counts": {c: v / n for c, v in entry["counts"].items()}}
    return copies


def simulate(audience: str, seed: int, streams: int, evaluate: int, exposure: bool = True) -> dict:
    """Train a channel on ``streams`` streams of feedback, then rank ``evaluate`` fresh ones with
    and without it; the top-3 share of each kind, both ways."""
    rng = np.random.default_rng([seed, KINDS.index(audience) if audience in KINDS else 9])
    config, rules = Config(), load_rules(None)
    evidence: dict[str, dict] = {}
    learned = Learned(audience)
    pooled: Pooled = {}
    for index in range(streams):
        analysis, moments = make_stream(rng, index)
        for clip in rank(analysis, config, learned=learned).clips:
            features = clip_features(clip.to_dict(), learned.factors)
            quality = appeal(audience, kind_at(moments, clip.peak), features["score"])
            for numbers, calibration in feedback_rounds(rng, clip, quality, rules, audience == "sales", pooled,
                                                        LENGTH_TASTE.get(audience, 0.0)):
                evidence = add_evidence(evidence, clip.id, features, numbers, config.channel.max_clips)
                pooled = calibration
        learned = learn(audience, evidence if exposure else by_impressions(evidence, config.channel.exposure),
                        config.channel)
    shares = {"default": dict.fromkeys(KINDS, 0), "channel": dict.fromkeys(KINDS, 0)}
    lengths: dict[str, list[float]] = {"default": [], "channel": []}
    total = 0
    # The fresh streams come from a generator of their own: the same streams for every audience and
    # setting of a seed, however much of the training's randomness the learning used.
    fresh = np.random.default_rng([seed, 1000])
    for index in range(evaluate):
        analysis, moments = make_stream(fresh, 1000 + index)
        for name, used in (("default", None), ("channel", learned)):
            ranking = rank(analysis, config, learned=used)
            for kind in top3(ranking, moments):
                if kind:
                    shares[name][kind] += 1
            lengths[name] += [c.end - c.start for c in sorted(ranking.clips, key=lambda c: c.rank)[:3]]
        total += 3
    return {"audience": audience, "seed": seed, "clips": learned.clips, "factors": learned.factors,
            "effects": learned.effects, "errors": learned.errors,
            "default": {k: round(100 * v / total, 1) for k, v in shares["default"].items()},
            "channel": {k: round(100 * v / total, 1) for k, v in shares["channel"].items()},
            "length": {name: round(float(np.mean(v)), 1) for name, v in lengths.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=20, help="streams of feedback before judging (default 20)")
    # 120: 360 top-3 clips, so a share is known to about +-2.5 points (30 streams: +-5, a seed's
    # figure then moved by which streams were drawn as much as by what was learned)
    parser.add_argument("--evaluate", type=int, default=120, help="fresh streams judged (default 120)")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--audiences", default=",".join(AUDIENCES))
    parser.add_argument("--count-impressions", action="store_true",
                        help="learn without the exposure correction: every impression counts (a promoted clip many times)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [simulate(a, int(s), args.streams, args.evaluate, not args.count_impressions)
               for a in args.audiences.split(",") for s in args.seeds.split(",")]
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{'audience':9} {'seed':>4} {'clips':>5}  {'factors (chat/audio/visual/length)':28} top-3 share of each kind, "
          "no channel -> channel (points); top-3 clips' mean length (s)")
    for r in results:
        factors = "/".join(f"{r['factors'][s]:.2f}" for s in ("chat", "audio", "visual", "length"))
        kinds = "  ".join(f"{k} {r['default'][k]:.0f}->{r['channel'][k]:.0f}" for k in KINDS)
        print(f"{r['audience']:9} {r['seed']:>4} {r['clips']:>5}  {factors:28} {kinds}  "
              f"length {r['length']['default']:.1f}->{r['length']['channel']:.1f}")


if __name__ == "__main__":
    main()
