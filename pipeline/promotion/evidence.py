"""Promotion on evidence: each clip's rates as Beta posteriors, its tier as the prior.

A fixed bar on raw rates is a coin toss near the bar: at 300 impressions a click-through of 3% is 9
clicks, and chance alone lifts a 2% clip over it or holds a 4% one under it. Here each metric is a
Beta-Binomial model (Chapelle & Li 2011):

- completion: full plays' worth of watching over plays, ``min(watch_seconds / length, plays)``
  successes in ``plays`` trials. A play watched halfway counts half. Treating watched fractions
  as Bernoulli trials overstates their spread (a fraction in [0, 1] with mean p varies at most
  p(1 - p), as a coin does), so the posterior is, if anything, wider than the truth: cautious.
- ctr: ``clicks`` successes in ``impressions`` trials.
- conversion: ``orders`` successes in ``clicks`` trials.

The prior is what the detector said before any viewer saw the clip (Wang et al., WWW 2021: a
content model's score as the prior, engagement moving the posterior): the mean of the clip's tier
for each metric (``[promotion.prior]`` in rules.toml), calibrated on the feedback other clips of
the tier have had (``calibrated_mean``), at a strength of ``[promotion] strength`` pseudo-trials.

A clip is promoted when the posterior probability that its rates clear the bars into the next pool
(the pool's ``promote`` table) reaches ``confidence``; retired when that probability is at most
``1 - confidence``, or when it is that sure a rate is under the pool's ``retire`` floor; held
otherwise, until the pool's ``max_impressions`` end its trial: then the likelier side wins
(promoted at 0.5 or more, else retired). A pool with ``slots`` takes at most that many clips; when more qualify than are free,
Thompson sampling (one draw from each candidate's posterior) picks who moves up.

Everything here is pure and works on numpy arrays; the stores (``pools.py``, ``workers/tierstate.py``)
call it inside their transactions and the bench (``bench/promotion.py``) in its simulation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from peakclip.pipeline.ranking.rules import METRICS, Pool, Rules

# The count each metric's trials are: completion is over plays, ctr over impressions, conversion over clicks.
TRIALS = {"completion": "plays", "ctr": "impressions", "conversion": "clicks"}
_lgamma = np.vectorize(math.lgamma, otypes=[float])


def _continued_fraction(a: np.ndarray, b: np.ndarray, x: np.ndarray, eps: float = 1e-13,
                        max_terms: int = 20000) -> np.ndarray:
    """The continued fraction of the incomplete beta function (modified Lentz), element-wise;
    converges fast for x < (a + 1) / (a + b + 2)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
    h = d.copy()
    for m in range(1, max_terms + 1):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < tiny, tiny, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            step = d * c
            h = h * step
        if np.all(np.abs(step - 1.0) < eps):
            break
    return h


def beta_cdf(x, a, b) -> np.ndarray:
    """P(X <= x) for X ~ Beta(a, b), element-wise (the regularised incomplete beta function)."""
    x, a, b = np.broadcast_arrays(np.asarray(x, float), np.asarray(a, float), np.asarray(b, float))
    out = np.where(x >= 1.0, 1.0, 0.0)
    inside = (x > 0.0) & (x < 1.0)
    if not inside.any():
        return out
    xi, ai, bi = x[inside], a[inside], b[inside]
    flip = xi >= (ai + 1.0) / (ai + bi + 2.0)       # I_x(a, b) = 1 - I_(1-x)(b, a): the side that converges
    xs, as_, bs = np.where(flip, 1.0 - xi, xi), np.where(flip, bi, ai), np.where(flip, ai, bi)
    log_front = _lgamma(as_ + bs) - _lgamma(as_) - _lgamma(bs) + as_ * np.log(xs) + bs * np.log1p(-xs)
    tail = np.exp(log_front) * _continued_fraction(as_, bs, xs) / as_
    out[inside] = np.clip(np.where(flip, 1.0 - tail, tail), 0.0, 1.0)
    return out


def evidence(counts: dict, length: float) -> dict[str, tuple[float, float]]:
    """(successes, trials) of each metric from a clip's counts (``length`` in seconds)."""
    plays = float(counts["plays"])
    watched = min(float(counts["watch_seconds"]) / length, plays) if length > 0 else 0.0
    return {"completion": (watched, plays), "ctr": (float(counts["clicks"]), float(counts["impressions"])),
            "conversion": (float(counts["orders"]), float(counts["clicks"]))}


def contribution(counts: dict, length: float, strength: dict[str, float]) -> dict[str, tuple[float, float]]:
    """What one clip's counts add to its tier's calibration: per metric (weighted successes,
    weight), its rate weighted by its trials up to the prior's strength. A clip counts at most as
    much as one prior, so a few clips promoted to huge audiences do not speak for the whole tier
    (they are the tier's best, and they would pull its mean up)."""
    out = {}
    for metric, (successes, trials) in evidence(counts, length).items():
        weight = min(trials, strength[metric])
        out[metric] = (weight * successes / trials if trials else 0.0, weight)
    return out


def calibrated_mean(prior_mean: float, strength: float, pooled: tuple[float, float] | None) -> float:
    """The tier's mean for a metric: the rules' mean at ``strength`` pseudo-trials, moved by the
    pooled (weighted successes, weight) of the tier's other clips."""
    successes, weight = pooled or (0.0, 0.0)
    return (strength * prior_mean + successes) / (strength + weight)


def tier_prior(tier: str, rules: Rules, pooled: dict[str, tuple[float, float]] | None = None
               ) -> dict[str, tuple[float, float]]:
    """The Beta(alpha, beta) prior of each metric for a clip of ``tier`` before its own feedback."""
    out = {}
    for metric in METRICS:
        strength = rules.strength[metric]
        mean = calibrated_mean(rules.prior[tier][metric], strength, (pooled or {}).get(metric))
        out[metric] = (strength * mean, strength * (1.0 - mean))
    return out


def posterior(prior: dict[str, tuple[float, float]], counts: dict, length: float) -> dict[str, tuple[float, float]]:
    """Beta(alpha + successes, beta + failures) of each metric."""
    seen = evidence(counts, length)
    return {m: (a + seen[m][0], b + seen[m][1] - seen[m][0]) for m, (a, b) in prior.items()}


def chance_above(post: dict[str, tuple[float, float]], bars: dict[str, float]) -> dict[str, float]:
    """P(rate >= bar) of each barred metric under the posterior."""
    names = list(bars)
    a = np.array([post[m][0] for m in names])
    b = np.array([post[m][1] for m in names])
    return dict(zip(names, (1.0 - beta_cdf(np.array([bars[m] for m in names]), a, b)).tolist()))


@dataclass
class Judgement:
    """What the evidence says of a clip in a pool: ``promote``, ``retire`` or ``hold``, the
    posterior probability that it clears the bars into the next pool, and why, in words."""
    action: str
    p_clear: float
    reason: str


def judge(pool: Pool, post: dict[str, tuple[float, float]], impressions: float, has_next: bool,
          confidence: float) -> Judgement:
    """Promote, retire or hold a clip whose posterior is ``post`` after ``impressions`` in ``pool``.
    The metrics' posteriors are independent, so the chance of clearing every bar is their product."""
    above = chance_above(post, pool.promote)
    p_clear = float(np.prod(list(above.values()))) if has_next else 0.0
    if impressions < pool.min_impressions:
        return Judgement("hold", p_clear, f"{int(impressions)} of {pool.min_impressions} impressions in {pool.name}")
    under = {m: 1.0 - p for m, p in chance_above(post, pool.retire).items()}
    worst = max(under, key=under.get) if under else None
    if worst and under[worst] >= confidence:
        return Judgement("retire", p_clear, f"P({worst} < {pool.retire[worst]:g}) {under[worst]:.2f} >= {confidence:g}")
    if not has_next:
        return Judgement("hold", p_clear, f"top pool; P({worst} < {pool.retire[worst]:g}) {under[worst]:.2f}"
                         if worst else "top pool")
    detail = ", ".join(f"{m} {p:.2f}" for m, p in above.items())
    if p_clear >= confidence:
        return Judgement("promote", p_clear, f"P(clears {pool.name}'s bars) {p_clear:.2f} >= {confidence:g} ({detail})")
    if p_clear <= 1.0 - confidence:
        return Judgement("retire", p_clear, f"P(clears {pool.name}'s bars) {p_clear:.2f} <= {1 - confidence:.2g} ({detail})")
    if pool.max_impressions is not None and impressions >= pool.max_impressions:
        # The trial is over: a clip is not held in a trial pool for ever; the likelier side wins.
        action, sign = ("promote", ">=") if p_clear >= 0.5 else ("retire", "<")
        return Judgement(action, p_clear, f"trial over ({int(impressions)} impressions): P(clears {pool.name}'s bars) "
                         f"{p_clear:.2f} {sign} 0.5 ({detail})")
    return Judgement("hold", p_clear, f"P(clears {pool.name}'s bars) {p_clear:.2f}, not yet sure ({detail})")


def thompson_scores(posts: list[dict[str, tuple[float, float]]], bars: dict[str, float],
                    rng: np.random.Generator) -> np.ndarray:
    """One Thompson draw per candidate: each barred rate sampled from its posterior, the score the
    smallest sampled rate / bar (above 1: the draw clears every bar)."""
    scores = np.empty(len(posts))
    for i, post in enumerate(posts):
        scores[i] = min(rng.beta(post[m][0], post[m][1]) / bar for m, bar in bars.items())
    return scores


def allocate_slots(posts: list[dict[str, tuple[float, float]]], bars: dict[str, float], free: int,
                   rng: np.random.Generator) -> list[int]:
    """Indices of the candidates that get the ``free`` slots: all of them when they fit, else the
    best ``free`` Thompson draws (a clip more likely to be the best gets a slot more often, and an
    uncertain one still gets its chance)."""
    if free <= 0:
        return []
    if len(posts) <= free:
        return list(range(len(posts)))
    scores = thompson_scores(posts, bars, rng)
    return sorted(np.argsort(-scores, kind="stable")[:free].tolist())


def summary(post: dict[str, tuple[float, float]]) -> dict[str, dict[str, float]]:
    """The posterior as stored and shown: each metric's mean and its Beta parameters."""
    return {m: {"mean": round(a / (a + b), 4), "alpha": round(a, 3), "beta": round(b, 3)} for m, (a, b) in post.items()}
