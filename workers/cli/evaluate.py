"""``eval``: score detection against sample streams that carry a truth file."""
from __future__ import annotations

import argparse
import os

from peakclip.workers.cli.common import EXIT_PARTIAL


def cmd_eval(args: argparse.Namespace) -> int:
    from peakclip.pipeline.config import SIGNALS, load_config
    from peakclip.pipeline.executors.evaluate import Score, analyse_sample, judge_products, judge_signals, load_truth

    config = load_config(args.config)
    sets = [s.split(",") for s in (args.signals or [",".join(SIGNALS)])]
    if args.ablations:
        sets = [list(SIGNALS)] + [[s] for s in SIGNALS] + [[x for x in SIGNALS if x != s] for s in SIGNALS]
    for wanted in sets:
        config.update({"analysis": {"signals": wanted}}, origin="--signals")  # validates the names
    config.update({"analysis": {"signals": list(SIGNALS)}}, origin="eval")
    totals = {",".join(s): Score() for s in sets}
    print(f"{'stream':24} {'signals':22} {'found':>7} {'false':>6} {'covered':>8} {'junk':>5} {'>C':>3}  picked; junk")
    truths = {folder: load_truth(folder) for folder in args.samples}  # a bad folder fails before any work
    products_ok = True
    for folder, truth in truths.items():
        analysis = analyse_sample(folder, config)
        for wanted in sets:
            name = ",".join(wanted)
            score = judge_signals(analysis, truth, config, wanted)
            totals[name] = totals[name] + score
            print(f"{os.path.basename(os.path.normpath(folder)):24} {name:22} {score.found:>3}/{score.planted:<3} "
                  f"{score.false_picks:>6} {score.covered:>4}/{score.found:<3} {score.junk:>5} {score.junk_above_c:>3}  "
                  f"{','.join(score.picked) or '-'}; {', '.join(score.junk_tiers) or '-'}")
        if truth.get("products"):   # a commerce sample: --per-product judged product by product
            products_ok &= print_product_checks(os.path.basename(os.path.normpath(folder)),
                                                judge_products(analysis, truth, config))
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
    return 0 if best.perfect and best.coverage >= 0.9 and products_ok else EXIT_PARTIAL


def print_product_checks(stream: str, checks: list) -> bool:
    """A line per presented product of a commerce sample (--per-product); True if all are right."""
    for check in checks:
        clips = ", ".join(f"{a:.1f}-{b:.1f}s {tier}" for a, b, tier in check.clips) or "no clip"
        reveal = {None: "no reveal", True: "reveal covered", False: "reveal MISSED"}[check.covered]
        print(f"{stream:24} product {check.item:12} {check.title[:22]:22} {clips:24} "
              f"{'inside' if check.inside else 'OUTSIDE'}  {reveal:14}  orders {check.orders}/{check.truth_orders}  "
              f"{'ok' if check.ok else 'WRONG'}")
    right = sum(check.ok for check in checks)
    print(f"{stream:24} products {right}/{len(checks)} right (--per-product)")
    return right == len(checks)


def add_commands(commands) -> None:
    """eval."""
    evaluate = commands.add_parser("eval", help="score detection against sample streams that carry a truth file")
    evaluate.add_argument("samples", nargs="+", metavar="SAMPLE_DIR", help="folders with stream.mp4, chat.json, truth.json")
    evaluate.add_argument("--signals", action="append", metavar="LIST",
                          help="signals to rank with (repeat for several rows, e.g. --signals chat --signals audio)")
    evaluate.add_argument("--ablations", action="store_true", help="all signals, each alone, and each left out")
    evaluate.add_argument("--config", metavar="TOML", help="configuration file")
    evaluate.set_defaults(handler=cmd_eval)
