"""``clip``, ``watch`` and ``submit``: the commands that run the clip job, here, live or on the fleet."""
from __future__ import annotations

import argparse
import os
import sys

from peakclip.workers.cli.common import EXIT_PARTIAL, Progress, note_printer, positive_int, score_value, seconds


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
    from peakclip.pipeline.config import captions_overrides

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


def cmd_clip(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from peakclip.detectors.probe import probe

    # ffprobe reads the recording while Python imports the pipeline: on a short stream the two
    # together are a third of the run, one after the other.
    with ThreadPoolExecutor(max_workers=1) as pool:
        probed = pool.submit(probe, args.input)
        from peakclip.pipeline.config import load_config
        from peakclip.pipeline.executors.run import run_clip
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
    from peakclip.pipeline.config import load_config
    from peakclip.pipeline.executors.live import Watch

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
    from peakclip.pipeline.config import load_config
    from peakclip.workers.queue import submit

    config = load_config(args.config, overrides=clip_overrides(args))
    print(submit(args.input, chat_log_of(args), args.out, config))
    return 0


def add_commands(commands) -> None:
    """clip, watch, submit."""
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
