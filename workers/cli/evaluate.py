"""``eval``: score detection against sample streams that carry a truth file."""
from __future__ import annotations

import argparse

from peakclip.detectors.errors import UserError
from peakclip.workers.cli.common import EXIT_PARTIAL


def cmd_eval(args: argparse.Namespace) -> int:
    from peakclip.pipeline.config import SIGNALS, load_config
    from peakclip.pipeline.executors.evaluate import evaluate_samples

    if args.ask < 1:
        raise UserError(f"--ask is clips per highlight, at least 1 (got {args.ask:g})")
    config = load_config(args.config)
    sets = [s.split(",") for s in (args.signals or [",".join(SIGNALS)])]
    if args.ablations:
        sets = [list(SIGNALS)] + [[s] for s in SIGNALS] + [[x for x in SIGNALS if x != s] for s in SIGNALS]
    for wanted in sets:
        config.update({"analysis": {"signals": wanted}}, origin="--signals")  # validates the names
    config.update({"analysis": {"signals": list(SIGNALS)}}, origin="eval")
    return 0 if evaluate_samples(args.samples, config, sets, args.ask) else EXIT_PARTIAL


def add_commands(commands) -> None:
    """eval."""
    evaluate = commands.add_parser("eval", help="score detection against sample streams that carry a truth file")
    evaluate.add_argument("samples", nargs="+", metavar="SAMPLE_DIR",
                          help="folders with stream.mp4, chat.json (or chat.xml, chat.jsonl), truth.json")
    evaluate.add_argument("--signals", action="append", metavar="LIST",
                          help="signals to rank with (repeat for several rows, e.g. --signals chat --signals audio)")
    evaluate.add_argument("--ablations", action="store_true", help="all signals, each alone, and each left out")
    evaluate.add_argument("--ask", type=float, default=1.0, metavar="X",
                          help="clips asked per highlight planted (default 1; 1.5 asks for junk, which must stay C)")
    evaluate.add_argument("--config", metavar="TOML", help="configuration file")
    evaluate.set_defaults(handler=cmd_eval)
