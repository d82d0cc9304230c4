"""Per-product clips (``--per-product``): the best moment of each product the host presented.

A live-commerce seller wants one short clip per item, posted on that item's page, not the two
loudest moments of a stream with twelve items. So for each presented product on air at least
``min_len`` in total, the spans are chosen inside its on-air window(s) by ``select_spans`` (the
window is the only room it may use), on the fused score plus a bonus from that item's own orders
and carts in the ``buying_lag`` seconds after each moment (buyers act seconds after a price is
revealed).

The moment people bought is the pitch that works, and a bonus of a few deviations cannot
outweigh a crowd roar unrelated to the item. So where the item sold in its windows, the moments
its buyers answered (``buying_runs``: a bonus at least ``buying_share`` of the largest there) are
picked first, and a louder moment nobody bought after only comes in for a further clip
(``clips_per_product`` > 1). If no answered moment reaches ``min_score`` the best of them is the
clip all the same, marked ``fallback`` (tiered C). A product that sold nothing in its windows
gets its best moment there; if none reaches ``min_score``, its best span, also ``fallback``.
``per_product_strict`` gives a fallback product no clip.

Pure functions over the fused score, the product windows and the per-item sales arrays
(``ChatLog.products``, ``ChatLog.item_commerce``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from peakclip.detectors.chat import ProductWindow
from peakclip.detectors.series import fit_bins
from peakclip.detectors.transcript import Segment
from peakclip.pipeline.config import SelectConfig
from peakclip.pipeline.ranking.fuse import Fused
from peakclip.pipeline.ranking.select import Span, select_spans

# Every peak scores more than this: the fallback's "no threshold" (not -inf, which select_spans
# would take for a candidate when every bin is blocked).
NO_THRESHOLD = -1e9
SALES = ("carts", "orders", "paid")


@dataclass
class ProductPick:
    """The span chosen for a product on air, and whether it was only the best there was
    (``fallback``)."""
    span: Span
    item: str
    title: str
    fallback: bool      # no moment in the windows (of an item that sold: that its buyers answered)
                        # reached min_score: the best span there was


def on_air(windows: Sequence[ProductWindow]) -> dict[str, list[ProductWindow]]:
    """Each item's windows, items in the order they were first presented."""
    shown: dict[str, list[ProductWindow]] = {}
    for window in windows:
        shown.setdefault(window.item, []).append(window)
    return shown


def sum_ahead(values: np.ndarray, bins: int) -> np.ndarray:
    """For each bin b, the sum of ``values[b:b + bins]``."""
    total = np.concatenate([[0.0], np.cumsum(values)])
    index = np.arange(len(values))
    return total[np.minimum(index + bins, len(values))] - total[index]


def buying_bonus(sales: dict[str, np.ndarray] | None, n: int, hop: float, config: SelectConfig) -> np.ndarray:
    """What an item's buyers add to each moment's score: its orders and carts in the
    ``buying_lag`` seconds after the moment, log-scaled so a big burst does not drown the picture
    and the sound."""
    sales = sales or {}
    ahead = max(1, int(round(config.buying_lag / hop)))
    orders = sum_ahead(fit_bins(sales.get("orders"), n), ahead)
    carts = sum_ahead(fit_bins(sales.get("carts"), n), ahead)
    return config.weight_item_orders * np.log1p(orders) + config.weight_item_carts * np.log1p(carts)


def buying_runs(bonus: np.ndarray, windows: Sequence[ProductWindow], hop: float, share: float) -> list[tuple[float, float]]:
    """Where the item's buyers answered a moment in its ``windows``: (start, end) in seconds of
    each run of bins (``hop`` seconds) whose buying bonus (``buying_bonus``) is at least ``share``
    of the largest inside the windows, the strongest buying first. Empty when nothing of the item
    sold there (or the weights are 0)."""
    times = (np.arange(len(bonus)) + 0.5) * hop
    inside = np.zeros(len(bonus), bool)
    for window in windows:
        inside |= (times >= window.start) & (times < window.end)
    best = float(bonus[inside].max(initial=0.0))
    if best <= 0:
        return []
    answered = np.r_[False, inside & (bonus >= share * best), False]
    starts, ends = np.flatnonzero(answered[1:] & ~answered[:-1]), np.flatnonzero(answered[:-1] & ~answered[1:])
    runs = sorted(zip(starts, ends), key=lambda run: -bonus[run[0]:run[1]].max())
    return [(float(a * hop), float(b * hop)) for a, b in runs]


def answered_by(span: Span, runs: Sequence[tuple[float, float]]) -> bool:
    """Whether the span's peak is a moment the buyers answered (inside one of ``runs``)."""
    return any(start <= span.peak < end for start, end in runs)


def spans_in_windows(fused: Fused, windows: list[ProductWindow], duration: float, config: SelectConfig,
                     edges: list[float], segments: Sequence[Segment] | None,
                     runs: Sequence[tuple[float, float]] = ()) -> list[Span]:
    """The best ``clips_per_product`` spans over all of one item's windows, best first: in each
    window the moments inside ``runs`` (seconds: where the item's buyers answered, strongest
    first) are picked before any other (``select_spans``' quotas), and across windows an
    answered moment ranks above any other, then the score."""
    found = []
    for window in windows:
        quotas = [(max(start, window.start), min(end, window.end), config.clips) for start, end in runs
                  if start < window.end and end > window.start]
        found += select_spans(inside_only(fused, window), duration, config, edges, quotas, segments,
                              within=(window.start, window.end))
    return sorted(found, key=lambda span: (not answered_by(span, runs), -span.score))[:config.clips]


def inside_only(fused: Fused, window: ProductWindow) -> Fused:
    """The score inside ``window`` only (-inf elsewhere): the window's best moment is its own even
    when it rises towards a higher one of the next product (select_spans would take it for that
    moment's shoulder), and a moment ends where the window does."""
    times = (np.arange(len(fused.score)) + 0.5) * fused.hop
    score = np.where((times >= window.start) & (times < window.end), fused.score, -np.inf)
    return Fused(fused.hop, score, fused.signals)


def pick_products(fused: Fused, windows: Sequence[ProductWindow], sales: dict[str, dict[str, np.ndarray]],
                  duration: float, config: SelectConfig, edges: list[float] | None = None,
                  segments: Sequence[Segment] | None = None) -> list[ProductPick]:
    """The spans of every product on air at least ``min_len``; each span's ``score`` is the fused
    score at its peak (the bonus chooses the moment, the tier still compares it with the stream).
    Where the item sold in its windows, its first span is a moment its buyers answered
    (``buying_runs``), however loud another moment there is."""
    each = dataclasses.replace(config, clips=config.clips_per_product)
    picks = []
    for item, shown in on_air(windows).items():
        if sum(w.end - w.start for w in shown) < config.min_len - 1e-6:
            continue
        bonus = buying_bonus(sales.get(item), len(fused.score), fused.hop, config)
        boosted = Fused(fused.hop, fused.score + bonus, fused.signals)
        runs = buying_runs(bonus, shown, fused.hop, config.buying_share)
        spans = spans_in_windows(boosted, shown, duration, each, edges or [], segments, runs)
        fallback = not spans or (bool(runs) and not answered_by(spans[0], runs))
        if fallback:
            spans = [] if config.per_product_strict else spans_in_windows(
                boosted, shown, duration, dataclasses.replace(each, min_score=NO_THRESHOLD), edges or [], segments, runs)
        for span in spans:
            peak = min(len(fused.score) - 1, int(span.peak / fused.hop))
            span.score = round(float(fused.score[peak]), 3)
            picks.append(ProductPick(span, item, shown[0].title, fallback))
    return picks


def sales_between(sales: dict[str, np.ndarray] | None, start: float, end: float, hop: float) -> dict:
    """An item's carts, orders and paid money from ``start`` to ``end`` seconds."""
    first = max(0, int(start / hop))
    last = None if end == float("inf") else max(0, int(np.ceil(end / hop)))
    totals = {name: float((sales or {}).get(name, np.zeros(0))[first:last].sum()) for name in SALES}
    return {"carts": int(totals["carts"]), "orders": int(totals["orders"]), "paid": round(totals["paid"], 2)}


def sales_on_air(sales: dict[str, np.ndarray] | None, windows: list[ProductWindow], hop: float) -> dict:
    """An item's carts, orders and paid money over all its windows on air."""
    parts = [sales_between(sales, w.start, w.end, hop) for w in windows]
    return {"carts": sum(p["carts"] for p in parts), "orders": sum(p["orders"] for p in parts),
            "paid": round(sum(p["paid"] for p in parts), 2)}


def clip_title(template: str | None, item: str, title: str) -> str:
    """The text drawn on a product's clip: ``template`` with ``{title}`` and ``{item}`` filled in
    (other braces are left as they are), or without one the product's title (its id if untitled)."""
    if not template:
        return title or item
    return template.replace("{title}", title or item).replace("{item}", item)


def products_summary(windows: Sequence[ProductWindow], sales: dict[str, dict[str, np.ndarray]], hop: float,
                     clips_by_item: dict[str, list[str]]) -> list[dict]:
    """The manifest's ``products``: every presented item, its windows, everything the logs credit
    it with (carts, orders, paid), and its clip (best first in ``clips``; ``clip`` null if none)."""
    summary = []
    for item, shown in on_air(windows).items():
        whole = sales_between(sales.get(item), 0.0, float("inf"), hop)
        ids = clips_by_item.get(item, [])
        summary.append({"item": item, "title": shown[0].title, "windows": [[w.start, w.end] for w in shown], **whole,
                        "clip": ids[0] if ids else None, "clips": ids})
    return summary


def label_products(clips: list, picks: list[ProductPick], windows: Sequence[ProductWindow],
                   sales: dict[str, dict[str, np.ndarray]], hop: float, config: SelectConfig,
                   template: str | None, fallback_pool: str) -> list[dict]:
    """Mark each clip (``pipeline.ranking.clip.Clip``) with its product, title and the item's sales (a
    fallback clip is tiered C whatever its stage's lift says: it is no moment, only the best
    span); returns the manifest's ``products``."""
    shown = on_air(windows)
    by_span = {(pick.span.start, pick.span.end): pick for pick in picks}
    for clip in clips:
        pick = by_span[(clip.start, clip.end)]
        item_sales = sales.get(pick.item)
        clip.item, clip.item_title = pick.item, pick.title
        clip.title = clip_title(template, pick.item, pick.title)
        clip.item_sales = {"clip": sales_between(item_sales, clip.start, clip.end + config.buying_lag, hop),
                           "on_air": sales_on_air(item_sales, shown[pick.item], hop)}
        if pick.fallback:
            clip.tier, clip.pool = "C", fallback_pool
    clip_ids: dict[str, list[str]] = {}
    for clip in clips:
        clip_ids.setdefault(clip.item, []).append(clip.id)
    return products_summary(windows, sales, hop, clip_ids)


def unclipped_note(windows: Sequence[ProductWindow], picks: list[ProductPick], config: SelectConfig) -> str | None:
    """A warning naming the presented products that got no clip, and why, or None."""
    clipped = {pick.item for pick in picks}
    missing = [item for item in on_air(windows) if item not in clipped]
    if not missing:
        return None
    why = ("on air under --min-len, or no moment reached --min-score (--per-product strict)"
           if config.per_product_strict else "on air under --min-len in one piece")
    return f"--per-product: {len(missing)} product(s) got no clip ({why}): {', '.join(missing[:5])}" + \
        (", ..." if len(missing) > 5 else "")
