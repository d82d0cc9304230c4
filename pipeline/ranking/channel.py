"""A channel's audience teaching the ranking: which signals lead the clips its audience finishes,
clicks and buys from, learned from feedback and turned into per-signal weight factors.

The method, one weighted ridge regression (the linear model LinUCB keeps per arm, Li et al.,
WWW 2010, without the exploration bonus: the platform, not peakclip, decides what is shown):

- **What a clip is**: the share each signal has of the clip's signal terms (its mean weighted z
  over the moment, ``Clip.signals``, with any factor a channel applied when it was ranked taken
  back out, so every clip is described on the defaults' scale), its length (log2 of
  seconds/30), and its fused score with the default weights (per 4 z). The score is there so
  that the effects are what the signals predict *beyond* what the defaults already expect: an
  audience that likes what the defaults rank high teaches no factor, even where one kind of
  moment happens to score higher than another.
- **How it did**: for each rate (completion: watch seconds / (plays x length), at most 1;
  click-through: clicks / impressions; orders per impression, once the channel has any order),
  the clip's rate shrunk towards the channel's own mean (a Beta prior worth ``PRIOR_TRIALS``
  trials), as log of that over the channel's mean; the reward is their mean. 0: as good as this
  channel's clips usually are.
- **Exposure** (Joachims, Swaminathan & Schnabel, WSDM 2017: weigh feedback by the inverse of how
  likely it was to be seen): a clip promoted to a bigger pool gathers thousands of times the
  impressions of one left in the test pool, only because it was promoted. Counted by impressions,
  the channel would learn whatever was promoted. Each clip's weight is instead its impressions
  over ``exposure`` (the test pool's worth), at most 1: a clip counts once, however far it was
  promoted; promotion makes its rates more precise, not its vote larger.
- **Shrinkage**: the regression's ridge is worth ``prior_clips`` clips of no effect, and a
  signal's effect moves its weight only by as much as it stands beyond ``CLEAR`` (3) standard
  errors (the residual spread of the fit, through the inverse of its weighted design): with thin
  or noisy evidence every effect is held at 0 and the ranking stays the defaults'.
- **Factors**: a signal's weight is multiplied by exp(``gain`` x its clear effect), bounded to
  [1/``max_factor``, ``max_factor``]. The shares sum to 1, so the effects are differences
  between signals: the channel moves weight between them. The length effect (per doubling of a
  clip's length) makes the ``length`` factor the same way: each clip's lead-in, moment and run-on
  are scaled by it about the peak (``select.length_scale``), within ``min_len``-``max_len``.
  The score's effect is what the defaults already do.

Everything here is pure: the stores (``pipeline/promotion/channels.py`` for the CLI, a Redis hash
in ``workers/channelstate.py`` for the queue) keep each clip's features and counts and call these.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import SIGNALS, ChannelConfig, FuseConfig, SelectConfig

COUNTS = ("impressions", "plays", "watch_seconds", "clicks", "orders")
# Prior trials of the Beta prior that shrinks a clip's rate towards its channel's mean: a clip's
# own rate counts for half once it has this many plays (completion) or impressions (the others).
PRIOR_TRIALS = {"completion": 30.0, "ctr": 300.0, "orders": 300.0}
# The ridge per prior clip: a typical variance of a signal's share among a channel's clips.
SHARE_VARIANCE = 0.1
LENGTH = "length"
SCORE = "score"
CLEAR = 3.0         # standard errors an effect must exceed before it moves a weight (three signals are
                    # tested at every feedback: at two, chance alone would move one too often)
SCORE_SCALE = 4.0   # z units: the default score enters the regression in steps of a typical clip's score


@dataclass
class Learned:
    """What a channel has learned: the factor each signal's fuse weight is multiplied by (1: the
    defaults) and, under ``length``, the one its clips' lengths are; the effects they come from
    (log reward per unit of a signal's share; ``length``: per doubling of a clip's length;
    ``score``: per 4 z of its default score) with their
    standard errors, and the evidence (clips with feedback, their weight after the exposure
    correction, impressions)."""
    name: str
    clips: int = 0
    weight: float = 0.0
    impressions: int = 0
    factors: dict[str, float] = field(default_factory=lambda: dict.fromkeys((*SIGNALS, LENGTH), 1.0))
    effects: dict[str, float] = field(default_factory=lambda: dict.fromkeys((*SIGNALS, LENGTH, SCORE), 0.0))
    errors: dict[str, float] = field(default_factory=lambda: dict.fromkeys((*SIGNALS, LENGTH, SCORE), 0.0))

    @property
    def changes_ranking(self) -> bool:
        return any(abs(f - 1.0) > 1e-6 for f in self.factors.values())

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def clip_features(clip: Mapping, factors: Mapping[str, float] | None = None) -> dict:
    """A manifest clip as the learner sees it: each signal's share of its terms (with the
    ``factors`` it was ranked with divided out), its length in seconds, and its fused score with
    the default weights (z units: what the defaults already expect of it)."""
    factors = factors or {}
    terms = {name: max(float(clip["signals"][name]), 0.0) / factors.get(name, 1.0)
             for name in SIGNALS if name in (clip.get("signals") or {})}
    total = sum(terms.values())
    shares = {name: (value / total if total > 0 else 1.0 / len(terms)) for name, value in terms.items()}
    score = clip["channel"]["default_score"] if clip.get("channel") else clip["score"]
    return {"shares": {k: round(v, 4) for k, v in shares.items()}, "length": round(float(clip["end"] - clip["start"]), 3),
            "score": round(float(score), 3)}


def checked_counts(numbers: Mapping[str, float]) -> dict[str, float]:
    """Feedback counts as the learner takes them: finite, not negative, plays and clicks within
    impressions; a one-line UserError naming the problem otherwise."""
    counts = {}
    for name in COUNTS:
        value = numbers.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserError(f"feedback {name} must be a finite number (got {value!r})")
        if value < 0:
            raise UserError("feedback numbers cannot be negative")
        counts[name] = float(value)
    if counts["plays"] > counts["impressions"] or counts["clicks"] > counts["impressions"]:
        raise UserError("plays and clicks cannot exceed impressions")
    return counts


def add_evidence(evidence: Mapping[str, dict], clip_id: str, features: dict, numbers: Mapping[str, float],
                 max_clips: int) -> dict[str, dict]:
    """The channel's evidence (clip id -> features, summed counts, ``seq``: when it was first
    seen) with one feedback added; past ``max_clips`` clips the earliest seen is forgotten, so a
    channel's state stays bounded. Pure: the stores call it inside their own transaction."""
    counts = checked_counts(numbers)
    updated = {k: dict(v) for k, v in evidence.items()}
    entry = updated.get(clip_id)
    if entry is None:
        seq = 1 + max((v["seq"] for v in updated.values()), default=0)
        entry = {**features, "counts": dict.fromkeys(COUNTS, 0.0), "seq": seq}
    entry["counts"] = {name: entry["counts"][name] + counts[name] for name in COUNTS}
    updated[clip_id] = entry
    while len(updated) > max_clips:
        del updated[min(updated, key=lambda k: updated[k]["seq"])]
    return updated


def rates(counts: Mapping[str, float], length: float) -> dict[str, tuple[float, float]]:
    """Each rate as (successes, trials): completed plays of plays, clicks and orders of impressions."""
    plays = counts["plays"]
    completed = min(counts["watch_seconds"] / length, plays) if length > 0 else 0.0
    return {"completion": (completed, plays), "ctr": (counts["clicks"], counts["impressions"]),
            "orders": (counts["orders"], counts["impressions"])}


def rewards(entries: list[dict]) -> np.ndarray:
    """Each clip's reward: the mean over rates of log(its shrunk rate / the channel's mean rate)."""
    measured = [rates(e["counts"], e["length"]) for e in entries]
    found = np.zeros(len(entries))
    used = 0
    for metric, prior in PRIOR_TRIALS.items():
        successes = np.array([m[metric][0] for m in measured])
        trials = np.array([m[metric][1] for m in measured])
        if successes.sum() <= 0 or trials.sum() <= 0:
            continue   # a channel that never sold learns nothing from orders
        mean = successes.sum() / trials.sum()
        shrunk = (successes + prior * mean) / (trials + prior)
        found += np.log(shrunk / mean)
        used += 1
    return found / max(used, 1)


def learn(name: str, evidence: Mapping[str, dict], config: ChannelConfig) -> Learned:
    """The channel's factors from its evidence (the module docstring says how)."""
    entries = [e for e in evidence.values() if e["counts"]["impressions"] > 0]
    learned = Learned(name, clips=len(entries), impressions=int(sum(e["counts"]["impressions"] for e in entries)))
    if not entries:
        return learned
    weights = np.minimum(1.0, np.array([e["counts"]["impressions"] for e in entries]) / config.exposure)
    learned.weight = round(float(weights.sum()), 2)
    columns = [*SIGNALS, LENGTH, SCORE]
    if learned.weight < len(columns) + 1:
        return learned   # fewer clips than the fit has terms: no spread to judge an effect against
    features = np.array([[e["shares"].get(s, 0.0) for s in SIGNALS]
                         + [math.log2(max(e["length"], 1.0) / 30.0), e["score"] / SCORE_SCALE] for e in entries])
    y = rewards(entries)
    total = weights.sum()
    centred = features - (weights @ features) / total
    target = y - (weights @ y) / total
    ridge = config.prior_clips * SHARE_VARIANCE * np.eye(len(columns))
    design = centred.T @ (weights[:, None] * centred)
    precision = design + ridge
    effects = np.linalg.solve(precision, centred.T @ (weights * target))
    # The noise is what the least-squares fit leaves (a whisker of ridge only where the shares
    # leave a direction unmeasured), not the shrunk fit's: shrinkage is no noise.
    fitted = np.linalg.solve(design + 1e-6 * np.eye(len(columns)), centred.T @ (weights * target))
    residual = target - centred @ fitted
    noise = float(weights @ residual ** 2) / (total - len(columns))
    covariance = noise * np.linalg.inv(precision)
    # The shares sum to 1, so only their differences are measured: their errors are those of each
    # effect less the mean of the three (the ridge alone pins their common part, and its prior
    # spread is no uncertainty about any one signal).
    centring = np.eye(len(SIGNALS)) - 1.0 / len(SIGNALS)
    covariance[:3, :3] = centring @ covariance[:3, :3] @ centring
    errors = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    learned.effects = {c: round(float(v), 4) for c, v in zip(columns, effects)}
    learned.errors = {c: round(float(v), 4) for c, v in zip(columns, errors)}
    # Only what stands clear of the noise moves a weight: each signal's effect less CLEAR standard
    # errors (towards 0), so chance alone leaves the defaults as they are.
    moved = (*SIGNALS, LENGTH)
    clear = np.sign(effects[:len(moved)]) * np.maximum(np.abs(effects[:len(moved)]) - CLEAR * errors[:len(moved)], 0.0)
    bound = math.log(config.max_factor)
    learned.factors = {s: round(math.exp(float(np.clip(config.gain * v, -bound, bound))), 4)
                       for s, v in zip(moved, clear)}
    return learned


def channel_fuse(fuse: FuseConfig, learned: Learned | None) -> FuseConfig:
    """The fuse settings a channel ranks with: each signal's weight times its learned factor."""
    if learned is None or not learned.changes_ranking:
        return fuse
    return dataclasses.replace(fuse, **{f"weight_{s}": fuse.weight(s) * learned.factors.get(s, 1.0) for s in SIGNALS})


def channel_select(select: SelectConfig, learned: Learned | None) -> SelectConfig:
    """The span settings a channel ranks with: its clips' lengths times its learned factor."""
    factor = learned.factors.get(LENGTH, 1.0) if learned is not None else 1.0
    if abs(factor - 1.0) <= 1e-6:
        return select
    return dataclasses.replace(select, length_scale=select.length_scale * factor)


def rank_note(rank: int, default_rank: int | None) -> str | None:
    """What the report says of a clip ranked ``rank`` with a channel's learning, which the
    defaults would have ranked ``default_rank`` (None: not picked at all)."""
    if default_rank == rank:
        return None
    if default_rank is None:
        return "picked by the channel's learning: the default weights would not have clipped this moment"
    return f"ranked {rank} by the channel's learning (the default weights: {default_rank})"


def summary(learned: Learned) -> dict:
    """The manifest's ``channel``: its name, the factors it ranked with and the evidence behind them."""
    return {"name": learned.name, "clips": learned.clips, "weight": learned.weight,
            "impressions": learned.impressions, "factors": learned.factors}
