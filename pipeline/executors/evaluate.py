"""Evaluation: how well the ranked clips match the highlights planted in a sample stream.

For a stream whose truth lists N planted highlights, the top N clips are judged:
- found: a planted highlight that a top-N clip overlaps by at least half the highlight;
- false pick: a top-N clip that overlaps no planted highlight (``picked`` names the distractor
  it landed on, if any);
- covered: a found highlight whose clip holds the whole moment (starts no later than 1 s after
  the moment starts and ends no earlier than 1 s before it ends).
And every clip the run made, whatever its rank, counts: a clip on no highlight is junk (``junk``,
with its rank and tier in ``junk_tiers``), and junk tiered above C would be promoted to a pool
it should never reach (``junk_above_c``).
A commerce sample's products are judged one by one with --per-product (``judge_products``).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field

from peakclip.detectors.errors import UserError
from peakclip.detectors.storage import read_json
from peakclip.pipeline.analysis.analyze import analyze
from peakclip.pipeline.analysis.assemble import Analysis
from peakclip.pipeline.config import Config
from peakclip.pipeline.ranking.rank import rank

COVER_SLACK = 1.0
# A sample's chat log, by the names samples.generate gives them: TwitchDownloader JSON, a Chinese
# room's Bilibili danmaku XML, or its Douyin listener's webcast messages (wall-clock times).
CHAT_LOGS = ("chat.json", "chat.xml", "chat.jsonl")


@dataclass
class Score:
    """How a run's clips matched the planted truth (counts add up across streams)."""
    planted: int = 0
    found: int = 0
    false_picks: int = 0
    covered: int = 0
    picked: list[str] = field(default_factory=list)  # distractor kinds among the false picks
    junk: int = 0                                      # clips at any rank on no highlight
    junk_above_c: int = 0                              # ... of them tiered S, A or B
    junk_tiers: list[str] = field(default_factory=list)  # "#rank tier" of each junk clip
    lowest: list[str] = field(default_factory=list)      # per stream, the kind of its lowest-ranked highlight
    by_way: dict[str, tuple[int, int]] = field(default_factory=dict)  # "kind:way" -> (found, planted)

    def __add__(self, other: "Score") -> "Score":
        return Score(self.planted + other.planted, self.found + other.found, self.false_picks + other.false_picks,
                     self.covered + other.covered, self.picked + other.picked, self.junk + other.junk,
                     self.junk_above_c + other.junk_above_c, self.junk_tiers + other.junk_tiers,
                     self.lowest + other.lowest,
                     {way: tuple(a + b for a, b in zip(self.by_way.get(way, (0, 0)), other.by_way.get(way, (0, 0))))
                      for way in self.by_way | other.by_way})

    @property
    def coverage(self) -> float:
        return self.covered / self.found if self.found else 0.0

    @property
    def perfect(self) -> bool:
        return self.found == self.planted and self.false_picks == 0 and self.junk_above_c == 0


def overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Seconds two spans share."""
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def judge(clips: list[dict], truth: dict) -> Score:
    """Score the clips of one run (manifest dicts, seconds) against the stream's truth."""
    planted = truth["highlights"]
    top = sorted(clips, key=lambda c: c["rank"])[:len(planted)]
    score = Score(planted=len(planted))
    for h in planted:
        hits = [c for c in top if overlap(c["start"], c["end"], h["start"], h["end"]) >= 0.5 * (h["end"] - h["start"])]
        way = f"{h['kind']}:{h.get('way', '-')}"
        way_found, way_planted = score.by_way.get(way, (0, 0))
        score.by_way[way] = (way_found + bool(hits), way_planted + 1)
        if hits:
            score.found += 1
            if any(c["start"] <= h["start"] + COVER_SLACK and c["end"] >= h["end"] - COVER_SLACK for c in hits):
                score.covered += 1
    for c in top:
        if not any(overlap(c["start"], c["end"], h["start"], h["end"]) > 0 for h in planted):
            score.false_picks += 1
            score.picked += [d["kind"] for d in truth.get("distractors", [])
                             if overlap(c["start"], c["end"], d["start"], d["end"]) > 0] or ["nothing"]
    # Which kind of moment the ranking puts last among the highlights it found (a kind that is
    # always last is one the fusion undervalues, even when it is found).
    ranked = [(min(c["rank"] for c in hits), h["kind"]) for h in planted
              if (hits := [c for c in clips if overlap(c["start"], c["end"], h["start"], h["end"])
                           >= 0.5 * (h["end"] - h["start"])])]
    if len(ranked) > 1:
        score.lowest.append(max(ranked)[1])
    for c in clips:
        if not any(overlap(c["start"], c["end"], h["start"], h["end"]) > 0 for h in planted):
            score.junk += 1
            score.junk_above_c += c["tier"] != "C"
            score.junk_tiers.append(f"#{c['rank']} {c['tier']}")
    return score


def load_truth(folder: str) -> dict:
    """A sample folder's truth.json; a folder without one is a one-line UserError."""
    path = os.path.join(folder, "truth.json")
    truth = read_json(path, f"no truth.json in {folder}: eval needs sample folders made by samples.generate")
    if not isinstance(truth.get("highlights"), list):
        raise UserError(f"{path} has no 'highlights' list")
    return truth


def analyse_sample(folder: str, config: Config) -> Analysis:
    """The sample's recording analysed with its chat log (chat.json, or a Chinese room's
    Bilibili danmaku chat.xml or Douyin chat.jsonl, placed by truth's ``stream_start`` unless the
    config gives one), and a commerce stream's events.jsonl (product switches, carts, orders) as
    the second log."""
    chat = next((path for path in (os.path.join(folder, name) for name in CHAT_LOGS) if os.path.exists(path)),
                os.path.join(folder, CHAT_LOGS[0]))
    started = load_truth(folder).get("stream_start")
    if started is not None and config.chat.stream_start is None:
        config = dataclasses.replace(config, chat=dataclasses.replace(config.chat, stream_start=str(started)))
    events = os.path.join(folder, "events.jsonl")
    if os.path.exists(events):
        if os.path.exists(chat):
            config = dataclasses.replace(config, chat=dataclasses.replace(config.chat, events=events))
        else:
            chat = events
    return analyze(os.path.join(folder, "stream.mp4"), chat if os.path.exists(chat) else None, config)


@dataclass
class ProductCheck:
    """How --per-product did on one presented product of a commerce sample."""
    item: str
    title: str
    clips: list[tuple[float, float, str]]   # (start, end, tier) of the clips made for it
    inside: bool                              # every one inside the product's window
    covered: bool | None                      # its planted price reveal held whole (None: none planted)
    orders: int                               # what the manifest counts for the item
    truth_orders: int
    # (in its clips, all) of the orders in the buying lag after its reveal (None: none planted)
    burst: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        sold_in_clip = self.burst is None or not self.burst[1] or 2 * self.burst[0] > self.burst[1]
        return (len(self.clips) == 1 and self.inside and self.covered is not False and sold_in_clip
                and self.orders == self.truth_orders)


def order_times(folder: str) -> dict[str, list[float]]:
    """Each item's order times (seconds) in a commerce sample's events.jsonl; empty without one."""
    path = os.path.join(folder, "events.jsonl")
    if not os.path.exists(path):
        return {}
    times: dict[str, list[float]] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line) if line.strip() else {}
            if record.get("type") == "order" and record.get("item"):
                times.setdefault(record["item"], []).append(float(record["t"]))
    return times


def judge_products(analysis: Analysis, truth: dict, config: Config,
                   orders: dict[str, list[float]] | None = None) -> list[ProductCheck]:
    """Rank with --per-product and check each product of ``truth["products"]``: exactly one clip,
    inside its window, covering its planted reveal when it had one, and the manifest's order
    count for the item equal to the truth's; with ``orders`` (item -> order times in seconds,
    ``order_times``), also most (more than half) of the orders in the ``select.buying_lag`` after
    its reveal inside its clip: the moment people bought."""
    select = dataclasses.replace(config.select, per_product=True)
    ranking = rank(analysis, dataclasses.replace(config, select=select))
    listed = {p["item"]: p for p in ranking.products or []}
    reveals = {h["item"]: h for h in truth["highlights"] if "item" in h}
    checks = []
    for product in truth["products"]:
        mine = [c for c in ranking.clips if c.item == product["item"]]
        reveal = reveals.get(product["item"])
        covered = None if reveal is None else any(
            c.start <= reveal["start"] + COVER_SLACK and c.end >= reveal["end"] - COVER_SLACK for c in mine)
        inside = bool(mine) and all(product["start"] - 1e-6 <= c.start and c.end <= product["end"] + 1e-6 for c in mine)
        burst = None
        if reveal is not None and orders is not None:
            after = [t for t in orders.get(product["item"], [])
                     if reveal["start"] <= t <= reveal["start"] + config.select.buying_lag]
            burst = (sum(any(c.start <= t <= c.end for c in mine) for t in after), len(after))
        checks.append(ProductCheck(product["item"], product["title"], [(c.start, c.end, c.tier) for c in mine], inside,
                                   covered, int(listed.get(product["item"], {}).get("orders", 0)), int(product["orders"]),
                                   burst))
    return checks


def judge_signals(analysis: Analysis, truth: dict, config: Config, signals: list[str], ask: float = 1.0) -> Score:
    """Rank using only ``signals`` (an ablation) and judge the clips against the truth. A stream
    with more highlights planted than ``select.clips`` asks for that many clips (a user clipping a
    long stream asks for more than the default five), so the top N can hold them all; ``ask``
    times that many (rounded up: 1.5 asks for more clips than there are moments, so every clip
    past the highlights is junk, to be tiered C)."""
    subset = dataclasses.replace(analysis, signals={k: v for k, v in analysis.signals.items() if k in signals})
    clips = max(config.select.clips, math.ceil(len(truth["highlights"]) * ask - 1e-9))
    config = dataclasses.replace(config, select=dataclasses.replace(config.select, clips=clips))
    return judge([c.to_dict() for c in rank(subset, config).clips], truth)


def evaluate_samples(folders: list[str], config: Config, sets: list[list[str]], ask: float = 1.0) -> bool:
    """Judge every sample folder with each set of signals and print a row per stream and set, the
    totals, and the product checks of commerce samples (what ``peakclip eval`` shows); ``ask``:
    clips asked per highlight planted (``judge_signals``). True when
    the first set found every highlight, picked nothing false, tiered no junk above C, covered at
    least 90% and got every product right."""
    totals = {",".join(s): Score() for s in sets}
    print(f"{'stream':24} {'signals':22} {'found':>7} {'false':>6} {'covered':>8} {'junk':>5} {'>C':>3}  picked; junk")
    truths = {folder: load_truth(folder) for folder in folders}  # a bad folder fails before any work
    products_ok = True
    for folder, truth in truths.items():
        analysis = analyse_sample(folder, config)
        for wanted in sets:
            name = ",".join(wanted)
            score = judge_signals(analysis, truth, config, wanted, ask)
            totals[name] = totals[name] + score
            print(f"{os.path.basename(os.path.normpath(folder)):24} {name:22} {score.found:>3}/{score.planted:<3} "
                  f"{score.false_picks:>6} {score.covered:>4}/{score.found:<3} {score.junk:>5} {score.junk_above_c:>3}  "
                  f"{','.join(score.picked) or '-'}; {', '.join(score.junk_tiers) or '-'}")
        if truth.get("products"):   # a commerce sample: --per-product judged product by product
            products_ok &= print_product_checks(os.path.basename(os.path.normpath(folder)),
                                                judge_products(analysis, truth, config, order_times(folder)))
    print()
    print(f"{'total':24} {'signals':22} {'found':>7} {'false':>6} {'covered':>8} {'junk':>5} {'>C':>3}")
    for name, score in totals.items():
        print(f"{'':24} {name:22} {score.found:>3}/{score.planted:<3} {score.false_picks:>6} "
              f"{score.covered:>4}/{score.found:<3} {score.junk:>5} {score.junk_above_c:>3} ({score.coverage:.0%})")
    best = totals[",".join(sets[0])]
    if best.lowest:
        kinds = sorted(set(best.lowest), key=lambda k: -best.lowest.count(k))
        print(f"\nlowest-ranked highlight of each stream ({','.join(sets[0])}): "
              + ", ".join(f"{k} {best.lowest.count(k)}" for k in kinds))
    if len(best.by_way) > 1:
        print(f"found by way of planting ({','.join(sets[0])}): "
              + ", ".join(f"{way} {found}/{planted}" for way, (found, planted) in sorted(best.by_way.items())))
    return best.perfect and best.coverage >= 0.9 and products_ok


def print_product_checks(stream: str, checks: list) -> bool:
    """A line per presented product of a commerce sample (--per-product); True if all are right."""
    for check in checks:
        clips = ", ".join(f"{a:.1f}-{b:.1f}s {tier}" for a, b, tier in check.clips) or "no clip"
        reveal = {None: "no reveal", True: "reveal covered", False: "reveal MISSED"}[check.covered]
        burst = f"bought in clip {check.burst[0]}/{check.burst[1]}" if check.burst else ""
        print(f"{stream:24} product {check.item:12} {check.title[:22]:22} {clips:24} "
              f"{'inside' if check.inside else 'OUTSIDE'}  {reveal:14}  {burst:20}  orders {check.orders}/{check.truth_orders}  "
              f"{'ok' if check.ok else 'WRONG'}")
    right = sum(check.ok for check in checks)
    print(f"{stream:24} products {right}/{len(checks)} right (--per-product)")
    return right == len(checks)
