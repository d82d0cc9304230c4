"""``peakclip`` command line. User errors print one line and exit 2; no tracebacks."""
from __future__ import annotations

import argparse
import json
import os
import sys

from detectors.errors import UserError

EXIT_USER_ERROR = 2
EXIT_PARTIAL = 1


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; a user needs only the error, on one line."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"peakclip: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def score_value(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


positive_int.__name__ = "whole number"
score_value.__name__ = "score"
seconds.__name__ = "number of seconds"


def add_clip_options(parser: argparse.ArgumentParser, input_help: str = "recording file or http(s) URL") -> None:
    """Options shared by every command that runs the clip job (``clip``, ``watch``, ``submit``)."""
    parser.add_argument("input", help=input_help)
    parser.add_argument("--chat", metavar="FILE", help="chat log of the stream")
    parser.add_argument("--events", metavar="FILE",
                        help="the stream's commerce events (product switches, carts, orders) when they are in a "
                             "file of their own: read with the chat log as one audience")
    parser.add_argument("--audio-track", type=int, metavar="N",
                        help="which audio track to analyse and put in the clips, counted from 0 (default 0, the first)")
    parser.add_argument("--chat-format", metavar="NAME", help="force the chat log format instead of detecting it")
    parser.add_argument("--chat-offset", type=float, metavar="S", help="seconds to add to every chat time")
    parser.add_argument("--stream-start", metavar="TIME",
                        help="when the recording started (ISO 8601 or UNIX time), for chat logs with wall-clock times")
    parser.add_argument("--transcript", metavar="FILE|embedded",
                        help="what was said: an SRT, WebVTT or Whisper JSON file, or 'embedded' for the recording's "
                             "own subtitles; clips then open and close on sentence boundaries and carry their text")
    parser.add_argument("--transcript-offset", type=float, metavar="S", help="seconds to add to every transcript time")
    parser.add_argument("--captions", metavar="off|auto|FILE",
                        help="burn captions into the clips and write NN-<id>.srt beside each: 'auto' from the "
                             "transcript, or without one recognised from each clip's own sound (English by default: "
                             "transcript.language); FILE is --transcript FILE with captions (default off)")
    parser.add_argument("--config", metavar="TOML", help="configuration file (see README)")
    parser.add_argument("--clips", type=positive_int, metavar="N", help="how many clips at most (default 5)")
    parser.add_argument("--min-len", type=seconds, metavar="S", help="shortest clip in seconds (default 15)")
    parser.add_argument("--max-len", type=seconds, metavar="S", help="longest clip in seconds (default 60)")
    parser.add_argument("--min-score", type=score_value, metavar="Z",
                        help="clip only moments whose fused score reaches Z (default 2.0); lower it to get the "
                             "best moments of a calm recording (they are tiered C)")
    parser.add_argument("--signals", metavar="LIST", help="comma list of chat,audio,visual (default all)")
    parser.add_argument("--cuts", choices=["edges", "all"],
                        help="decode key frames for scene cuts only near the clips' edges (default), or everywhere "
                             "(slower; the manifest then lists every cut)")
    parser.add_argument("--stages", metavar="N|auto",
                        help="judge the broadcast in N equal stages (default 3), or 'auto': where the audience level shifts")
    parser.add_argument("--stage-at", metavar="TIMES", help="explicit stage boundaries, e.g. 01:20:00,02:40:00")
    parser.add_argument("--per-product", nargs="?", const="on", choices=["on", "strict"], metavar="strict",
                        help="live commerce: one clip for every product the host presented, chosen inside its time "
                             "on air; 'strict': none for a product with no moment reaching --min-score")
    parser.add_argument("--clips-per-product", type=positive_int, metavar="N",
                        help="with --per-product: clips for each product (default 1)")
    parser.add_argument("--format", metavar="LIST",
                        help="vertical (default, 1080x1920), portrait (1080x1350), square, horizontal or source; "
                             "a comma list renders several from one decode")
    parser.add_argument("--fill", metavar="HOW", help="vertical/portrait/square: blur (default) or crop (follow the motion)")
    parser.add_argument("--title", metavar="TEXT", help="title drawn near the top of each clip; with --per-product "
                                                       "{title} and {item} name the clip's product (default: its title)")
    parser.add_argument("--watermark", metavar="PNG", help="image drawn in the top-right corner")
    parser.add_argument("--copy", action="store_true", default=None,
                        help="with --format source: cut on key frames without re-encoding")
    parser.add_argument("--jobs", type=positive_int, metavar="N", help="clips rendered at once (default from the core count)")
    parser.add_argument("--no-render", action="store_true", help="analyse and write the manifest only")
    parser.add_argument("--no-report", action="store_true", help="do not write DIR/report.html")
    parser.add_argument("--export", metavar="LIST",
                        help="also write the chosen spans as editor timelines: a comma list of edl, otio, fcpxml")


def clip_overrides(args: argparse.Namespace) -> dict:
    """CLI flags as config overrides; flags not given leave the config as it is."""
    from pipeline.config import captions_overrides

    pairs = {
        ("chat", "format"): args.chat_format, ("chat", "offset"): args.chat_offset,
        ("chat", "stream_start"): args.stream_start,
        # --events alone is the only log: it is read as the chat log (chat_log_of)
        ("chat", "events"): args.events if args.chat else None,
        ("select", "per_product"): True if args.per_product else None,
        ("select", "per_product_strict"): True if args.per_product == "strict" else None,
        ("select", "clips_per_product"): args.clips_per_product,
        ("transcript", "path"): args.transcript, ("transcript", "offset"): args.transcript_offset,
        ("select", "clips"): args.clips, ("select", "min_len"): args.min_len,
        ("select", "max_len"): args.max_len, ("select", "min_score"): args.min_score,
        ("analysis", "signals"): args.signals,
        ("analysis", "audio_track"): args.audio_track, ("analysis", "cuts"): args.cuts,
        ("tag", "stages"): args.stages, ("tag", "stage_at"): args.stage_at, ("render", "formats"): args.format,
        ("render", "fill"): args.fill, ("render", "title"): args.title, ("render", "watermark"): args.watermark,
        ("render", "copy"): args.copy, ("render", "jobs"): args.jobs,
        ("render", "enabled"): False if args.no_render else None,
        ("output", "report"): False if args.no_report else None, ("output", "exports"): args.export,
    }
    overrides: dict[str, dict] = {}
    for (section, name), value in pairs.items():
        if value is not None:
            overrides.setdefault(section, {})[name] = value
    if args.captions is not None:
        for section, values in captions_overrides(args.captions, args.transcript).items():
            overrides.setdefault(section, {}).update(values)
    return overrides


def chat_log_of(args: argparse.Namespace) -> str | None:
    """The log passed as the job's chat log: --chat, or --events when it is the only one."""
    return args.chat or args.events


class Progress:
    """A progress bar per step on stderr (tqdm), or nothing with --quiet."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bars = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        bar = self.bars.get(step)
        if bar is None:
            # disable=None: a bar only on a terminal, never carriage-return noise in a log file.
            bar = self.bars[step] = tqdm(total=total, desc=step, unit="chunk" if step == "analyse" else "clip",
                                         file=sys.stderr, disable=None)
        bar.update(done - bar.n)
        if done >= total and not bar.disable:
            bar.close()


def note_printer(quiet: bool):
    """Notes (not warnings) go to stderr as they happen, unless --quiet."""
    return None if quiet else (lambda text: print(f"peakclip: {text}", file=sys.stderr, flush=True))


def cmd_clip(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from detectors.probe import probe

    # ffprobe reads the recording while Python imports the pipeline: on a short stream the two
    # together are a third of the run, one after the other.
    with ThreadPoolExecutor(max_workers=1) as pool:
        probed = pool.submit(probe, args.input)
        from pipeline.config import load_config
        from pipeline.run import run_clip
    config = load_config(args.config, overrides=clip_overrides(args))
    manifest = run_clip(args.input, chat_log_of(args), args.out, config, Progress(args.quiet), note_printer(args.quiet),
                        probed.result())
    failed = [c for c in manifest["clips"] if config.render.enabled and manifest["source"]["has_video"] and not c["file"]]
    if not args.quiet:
        for clip in manifest["clips"]:
            print(f"#{clip['rank']} {clip['start']:8.1f}-{clip['end']:8.1f}s  score {clip['score']:6.2f}  "
                  f"stage {clip['stage']}  tier {clip['tier']}  {clip['file'] or '-'}"
                  + (f"  {clip['item']} {clip['item_title']}" if clip.get("item") else ""))
        for warning in manifest["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        if manifest.get("report"):
            print(f"report: {os.path.join(args.out, manifest['report'])}")
        print(f"manifest: {os.path.join(args.out, 'manifest.json')}")
    return EXIT_PARTIAL if failed else 0


def cmd_watch(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from pipeline.live import Watch

    config = load_config(args.config, overrides=clip_overrides(args))

    def announce(item) -> None:
        if not args.quiet:
            clip = item.clip
            print(f"provisional #{clip.rank} {clip.start:8.1f}-{clip.end:8.1f}s  score {clip.score:6.2f}  "
                  f"tier {clip.tier}  {clip.file or '-'}  (stream analysed to {item.decided_at:.0f}s)"
                  + (f"  {clip.item} {clip.item_title}" if clip.item else ""), flush=True)

    manifest = Watch(args.input, chat_log_of(args), args.out, config, announce, note_printer(args.quiet)).run()
    if not args.quiet:
        for item in manifest["provisional"]:
            print(f"provisional #{item['rank']}: {item['outcome']}" + (f" as {item['final_id']}" if item["final_id"] else ""))
        for clip in manifest["clips"]:
            print(f"#{clip['rank']} {clip['start']:8.1f}-{clip['end']:8.1f}s  score {clip['score']:6.2f}  "
                  f"stage {clip['stage']}  tier {clip['tier']}  {clip['file'] or '-'}")
        for warning in manifest["warnings"]:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"manifest: {os.path.join(args.out, 'manifest.json')}")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from workers.queue import submit

    config = load_config(args.config, overrides=clip_overrides(args))
    print(submit(args.input, chat_log_of(args), args.out, config))
    return 0


def print_status(current: dict) -> None:
    print(f"job {current['job_id']}: {current['state']}")
    for step, done in current["progress"].items():
        print(f"  {step}: {done}")
    for task in current["active"]:
        print(f"  running: {task['task']} on {task['worker']}")
    for task in current.get("retrying", []):
        print(f"  waiting to be retried: {task['task']} (its worker {task['worker']} is gone)")
    if current.get("queued"):
        print(f"  queued: {', '.join(current['queued'])}")
    if current["manifest"]:
        print(f"  manifest: {current['manifest']}")
    if current["error"]:
        print(f"  error: {current['error']}")


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from workers.queue import status, wait

    config = load_config(args.config)
    current = wait(args.job_id, args.timeout, config=config) if args.wait else status(args.job_id, config)
    if args.json:
        print(json.dumps(current))
    else:
        print_status(current)
    return {"success": 0, "failure": EXIT_PARTIAL}.get(current["state"], 0 if not args.wait else 3)


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.app import QUEUES

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = [q for q in queues if q not in QUEUES]
    if unknown or not queues:
        raise UserError(f"--queues takes a comma list of {', '.join(QUEUES)} (got {args.queues!r})")
    if args.config:
        os.environ["PEAKCLIP_CONFIG"] = args.config  # the app reads it when it is built
    from pipeline.config import load_config
    from workers.jobs import check_broker

    check_broker(load_config(args.config).queue.broker_url)
    from workers.app import app, declare_queues

    declare_queues(app)
    # mingle and gossip sync worker state at start-up; peakclip needs neither, and skipping them
    # makes a worker ready in a second.
    argv = ["worker", "--queues", ",".join(queues), "--loglevel", args.loglevel,
            "--concurrency", str(args.concurrency), "--pool", args.pool, "--without-mingle", "--without-gossip"]
    if args.hostname:
        argv += ["--hostname", args.hostname]
    app.worker_main(argv)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from workers.service import create_app, serve

    overrides = {"service": {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}}
    config = load_config(args.config, overrides=overrides)
    create_app(config)  # configuration problems are one line here, before the server starts
    serve(config, config.service.host, config.service.port)
    return 0


def tier_state(target: str, config_path: str | None):
    """Where TARGET's clip states live: SQLite beside an output folder, or Redis for a job id."""
    if os.path.isdir(target):
        from pipeline.promotion import open_store

        return open_store(target), None
    import re

    if re.fullmatch(r"[0-9a-f]{20}", target):
        from pipeline.config import load_config
        from pipeline.manifest import read_json
        from workers.jobs import Jobs, connect
        from workers.tierstate import RedisTierState

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
    from pipeline.rerender import profile_wanted, render_promoted
    from pipeline.promotion import PromotionStore

    if not isinstance(store, PromotionStore):
        from workers.queue import queue_app, queue_promoted_render

        profile = queue_promoted_render(store, state, rules, queue_app(config), config)
        return f"{state['id']}: render at profile {profile} queued for pool {state['pool']}" if profile else None
    profile = profile_wanted(state["profile"], state["pool"], rules) if state["status"] == "active" else None
    if profile is None:
        return None
    entry = render_promoted(target, state["id"], profile)
    store.set_render(state["id"], entry["file"], entry["profile"])
    return f"{state['id']}: rendered at profile {profile.name} for pool {state['pool']}: {entry['file']}"


def cmd_feedback(args: argparse.Namespace) -> int:
    from pipeline.config import load_config
    from pipeline.promotion import Feedback
    from pipeline.rules import load_rules

    config = load_config(args.config)
    rules = load_rules(config.tag.rules)
    store, _ = tier_state(args.target, args.config)
    state = store.add(args.clip_id, Feedback(args.impressions, args.plays, args.watch_seconds, args.clicks, args.orders), rules)
    last = state["history"][-1] if state["history"] else None
    print(f"{state['id']}: pool {state['pool']} ({state['status']}), tier {state['tier']}"
          + (f"; last move: {last['action']} {last['from']} -> {last['to']}" if last else ""), flush=True)
    rendered = render_for_pool(args.target, store, state, rules, config)
    if rendered:
        print(rendered)
    return 0


def cmd_tiers(args: argparse.Namespace) -> int:
    store, clip_ids = tier_state(args.target, args.config)
    states = store.clips() if clip_ids is None else [store.clip(c) for c in clip_ids]
    if args.json:
        print(json.dumps([{k: s[k] for k in ("id", "pool", "tier", "stage", "file", "profile", "history")} for s in states]))
        return 0
    print(f"{'clip':12} {'stage':>5} {'tier':>4}  {'pool':8} {'status':8} {'impr.':>8} {'moves'}")
    for s in states:
        moves = "; ".join(f"{h['action']} {h['from']}->{h['to']} (completion {h['metrics']['completion']:.2f}, "
                          f"ctr {h['metrics']['ctr']:.3f}, conversion {h['metrics']['conversion']:.3f})" for h in s["history"])
        print(f"{s['id']:12} {s['stage']:>5} {s['tier']:>4}  {s['pool']:8} {s['status']:8} "
              f"{int(s['counts']['impressions']):>8} {moves or '-'}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from pipeline.config import SIGNALS, load_config
    from pipeline.evaluate import Score, analyse_sample, judge_products, judge_signals, load_truth

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


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="peakclip", description="Find the moments a live audience reacted to and cut them into promo clips.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    clip = commands.add_parser("clip", help="analyse a recording and render its best moments")
    add_clip_options(clip)
    clip.add_argument("--out", metavar="DIR", default="peakclip-out", help="output folder (default peakclip-out)")
    clip.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    clip.set_defaults(handler=cmd_clip)

    watch = commands.add_parser("watch", help="follow a recording while the stream is on air: clip highlights as "
                                              "they happen, then the whole stream at its end")
    add_clip_options(watch, input_help="an HLS playlist (.m3u8) a recording server keeps appending to, or a growing "
                                       "MPEG-TS, FLV or MKV recording")
    watch.add_argument("--out", metavar="DIR", default="peakclip-out", help="output folder (default peakclip-out)")
    watch.add_argument("--quiet", action="store_true", help="no progress lines")
    watch.set_defaults(handler=cmd_watch)

    submit = commands.add_parser("submit", help="queue a clip job for the worker fleet; prints its id")
    add_clip_options(submit)
    submit.add_argument("--out", metavar="DIR", required=True, help="output folder, on storage the workers share")
    submit.set_defaults(handler=cmd_submit)

    status = commands.add_parser("status", help="state and progress of a queued job")
    status.add_argument("job_id")
    status.add_argument("--wait", action="store_true", help="block until the job ends")
    status.add_argument("--timeout", type=seconds, metavar="S", help="with --wait: give up after S seconds (exit 3)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.add_argument("--config", metavar="TOML", help="configuration file")
    status.set_defaults(handler=cmd_status)

    worker = commands.add_parser("worker", help="run a Celery worker for the analyze, render and/or live queues")
    worker.add_argument("--queues", default="analyze,render", help="comma list of analyze, render, live (default analyze,render)")
    worker.add_argument("--concurrency", type=positive_int, default=os.cpu_count() or 1, metavar="N",
                        help="tasks at once (default the core count)")
    worker.add_argument("--pool", default="prefork", choices=["prefork", "solo", "threads"])
    worker.add_argument("--hostname", metavar="NAME", help="worker name (default celery@host)")
    worker.add_argument("--loglevel", default="info")
    worker.add_argument("--config", metavar="TOML", help="configuration file")
    worker.set_defaults(handler=cmd_worker)

    serve = commands.add_parser("serve", help="run the webhook service that queues a job when a stream ends")
    serve.add_argument("--host", metavar="ADDR", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=positive_int, metavar="N", help="port (default 8080)")
    serve.add_argument("--config", metavar="TOML", help="configuration file")
    serve.set_defaults(handler=cmd_serve)

    feedback = commands.add_parser("feedback", help="add a clip's performance numbers; it may move pools")
    feedback.add_argument("target", metavar="TARGET", help="a job's output folder, or a queued job's id")
    feedback.add_argument("clip_id")
    for name, kind in (("impressions", int), ("plays", int), ("watch-seconds", float), ("clicks", int), ("orders", int)):
        feedback.add_argument(f"--{name}", type=kind, default=0, metavar="N")
    feedback.add_argument("--config", metavar="TOML", help="configuration file (for the rules)")
    feedback.set_defaults(handler=cmd_feedback)

    tiers = commands.add_parser("tiers", help="each clip's current pool, tier and history")
    tiers.add_argument("target", metavar="TARGET", help="a job's output folder, or a queued job's id")
    tiers.add_argument("--json", action="store_true")
    tiers.add_argument("--config", metavar="TOML", help="configuration file")
    tiers.set_defaults(handler=cmd_tiers)

    evaluate = commands.add_parser("eval", help="score detection against sample streams that carry a truth file")
    evaluate.add_argument("samples", nargs="+", metavar="SAMPLE_DIR", help="folders with stream.mp4, chat.json, truth.json")
    evaluate.add_argument("--signals", action="append", metavar="LIST",
                          help="signals to rank with (repeat for several rows, e.g. --signals chat --signals audio)")
    evaluate.add_argument("--ablations", action="store_true", help="all signals, each alone, and each left out")
    evaluate.add_argument("--config", metavar="TOML", help="configuration file")
    evaluate.set_defaults(handler=cmd_eval)
    return parser


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Keep memory flat over hours of input: glibc gives each decoding thread its own malloc
    arena, and the megabyte-sized blocks those threads allocate and free one chunk after another
    stay behind in them, so peak memory crept up with the stream's length (152 MB at 10 minutes,
    196 MB at 2 hours). Two arenas keep it level (150 MB both); measured with bench/speed.py
    --memory. A no-op where the C library is not glibc."""
    import ctypes

    m_arena_max = -8
    try:
        # The running program's own symbols: libc is loaded already (find_library would run
        # ldconfig in a subprocess at every start just to learn its name).
        ctypes.CDLL(None).mallopt(m_arena_max, arenas)
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    limit_malloc_arenas()
    try:
        return args.handler(args)
    except UserError as err:
        print(f"peakclip: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("peakclip: interrupted (finished clips are kept: run the same command again to resume)", file=sys.stderr)
        return 130
    except OSError as err:
        # The machine, not peakclip: a full disk, a folder that went away, a permission.
        where = f": {err.filename}" if err.filename else ""
        print(f"peakclip: error: {err.strerror or err}{where}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
