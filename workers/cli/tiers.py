"""``feedback`` and ``tiers``: a clip's performance in, its pool and history out."""
from __future__ import annotations

import argparse
import json
import os

from peakclip.detectors.errors import UserError


def tier_state(target: str, config_path: str | None):
    """Where TARGET's clip states live: SQLite beside an output folder, or Redis for a job id."""
    if os.path.isdir(target):
        from peakclip.pipeline.promotion.pools import open_store

        return open_store(target), None
    import re

    if re.fullmatch(r"[0-9a-f]{20}", target):
        from peakclip.detectors.storage import read_json
        from peakclip.pipeline.config import load_config
        from peakclip.workers.jobs import Jobs, connect
        from peakclip.workers.tierstate import RedisTierState

        jobs = Jobs(connect(load_config(config_path).queue.result_backend, check=True))
        current = jobs.status(target)
        if current["state"] != "success":
            raise UserError(f"job {target} is {current['state']}: its clips are not tagged yet")
        manifest = read_json(current["manifest"], f"the manifest of job {target} is gone: {current['manifest']}")
        return RedisTierState(jobs.r), [c["id"] for c in manifest["clips"]]
    raise UserError(f"{target} is neither an output folder nor a job id")


def render_for_pool(target: str, store, state: dict, rules, config) -> str | None:
    """The render a clip's pool asks for, if its files are at another profile: done here for an
    output folder, queued for a queued job's clip. Returns the line that says so, or None."""
    from peakclip.pipeline.promotion.pools import PromotionStore

    if isinstance(store, PromotionStore):
        from peakclip.pipeline.promotion.rerender import render_for_pool as render_here

        return render_here(target, store, state, rules)
    from peakclip.workers.queue import queue_app, queue_promoted_render

    profile = queue_promoted_render(store, state, rules, queue_app(config), config)
    return f"{state['id']}: render at profile {profile} queued for pool {state['pool']}" if profile else None


def cmd_feedback(args: argparse.Namespace) -> int:
    from peakclip.pipeline.config import load_config
    from peakclip.pipeline.promotion.pools import Feedback
    from peakclip.pipeline.ranking.rules import load_rules

    config = load_config(args.config)
    rules = load_rules(config.tag.rules)
    store, _ = tier_state(args.target, args.config)
    state = store.add(args.clip_id, Feedback(args.impressions, args.plays, args.watch_seconds, args.clicks, args.orders), rules)
    from peakclip.workers.cli.channel import channel_feedback   # the same numbers teach the clip's channel

    learned = channel_feedback(args.target, args.clip_id, vars(args), config, store)
    last = state["history"][-1] if state["history"] else None
    judgement = state["judgement"]
    print(f"{state['id']}: pool {state['pool']} ({state['status']}), tier {state['tier']}"
          + (f"; last move: {last['action']} {last['from']} -> {last['to']}" if last else "")
          + (f"; {judgement['reason']}" if judgement else ""), flush=True)
    if learned:
        print(learned)
    rendered = render_for_pool(args.target, store, state, rules, config)
    if rendered:
        print(rendered)
    return 0


def posterior_text(judgement: dict | None) -> str:
    """The posterior means in a few characters: completion / ctr / conversion."""
    if not judgement:
        return "-"
    post = judgement["posterior"]
    return f"{post['completion']['mean']:.2f} / {post['ctr']['mean']:.3f} / {post['conversion']['mean']:.3f}"


def cmd_tiers(args: argparse.Namespace) -> int:
    store, clip_ids = tier_state(args.target, args.config)
    states = store.clips() if clip_ids is None else [store.clip(c) for c in clip_ids]
    if args.json:
        print(json.dumps([{k: s[k] for k in ("id", "pool", "tier", "stage", "status", "counts", "judgement", "file",
                                             "profile", "history")} for s in states]))
        return 0
    print(f"{'clip':12} {'stage':>5} {'tier':>4}  {'pool':8} {'status':8} {'impr.':>8} {'P(clear)':>8}  "
          f"{'posterior completion / ctr / conversion':40} why")
    for s in states:
        judgement = s["judgement"]
        p_clear = f"{judgement['p_clear']:.2f}" if judgement else "-"
        print(f"{s['id']:12} {s['stage']:>5} {s['tier']:>4}  {s['pool']:8} {s['status']:8} "
              f"{int(s['counts']['impressions']):>8} {p_clear:>8}  {posterior_text(judgement):40} "
              f"{judgement['reason'] if judgement else 'no feedback yet'}")
        for h in s["history"]:
            why = h.get("reason") or (f"completion {h['metrics']['completion']:.2f}, ctr {h['metrics']['ctr']:.3f}, "
                                      f"conversion {h['metrics']['conversion']:.3f}")
            print(f"{'':12}   {h['action']} {h['from']}->{h['to']} after {int(h['counts']['impressions'])} "
                  f"impressions: {why}")
    return 0


def add_commands(commands) -> None:
    """feedback, tiers."""
    feedback = commands.add_parser("feedback", help="add a clip's performance numbers; it may move pools")
    feedback.add_argument("target", metavar="TARGET", help="a job's output folder, or a queued job's id")
    feedback.add_argument("clip_id")
    for name, kind in (("impressions", int), ("plays", int), ("watch-seconds", float), ("clicks", int), ("orders", int)):
        feedback.add_argument(f"--{name}", type=kind, default=0, metavar="N")
    feedback.add_argument("--config", metavar="TOML", help="configuration file (for the rules)")
    feedback.set_defaults(handler=cmd_feedback)

    tiers = commands.add_parser("tiers", help="each clip's pool, tier, posterior and why it moved")
    tiers.add_argument("target", metavar="TARGET", help="a job's output folder, or a queued job's id")
    tiers.add_argument("--json", action="store_true")
    tiers.add_argument("--config", metavar="TOML", help="configuration file")
    tiers.set_defaults(handler=cmd_tiers)
