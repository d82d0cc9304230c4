"""``clip``, ``watch`` and ``submit``: the commands that run the clip job, here, live or on the fleet."""
from __future__ import annotations

import argparse
import os
import sys

from peakclip.pipeline.options import add_options, chat_log_of, job_config, values_of
from peakclip.workers.cli.common import EXIT_PARTIAL, Progress, note_printer


def add_clip_options(parser: argparse.ArgumentParser, input_help: str = "recording: a file, an http(s) URL or s3://bucket/key") -> None:
    """The input, --config, and the clip job's options (the table in peakclip.pipeline.options),
    shared by every command that runs the clip job (``clip``, ``watch``, ``submit``)."""
    parser.add_argument("input", help=input_help)
    parser.add_argument("--config", metavar="TOML", help="configuration file (see README)")
    add_options(parser)


def cmd_clip(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from peakclip.detectors.probe import probe

    # ffprobe reads the recording while Python imports the pipeline: on a short stream the two
    # together are a third of the run, one after the other.
    with ThreadPoolExecutor(max_workers=1) as pool:
        probed = pool.submit(probe, args.input)
        from peakclip.pipeline.executors.run import run_clip
    options = values_of(args)
    config = job_config(args.config, options)
    manifest = run_clip(args.input, chat_log_of(options), args.out, config, Progress(args.quiet), note_printer(args.quiet),
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
    from peakclip.pipeline.executors.live import Watch

    options = values_of(args)
    config = job_config(args.config, options)

    def announce(item) -> None:
        if not args.quiet:
            clip = item.clip
            print(f"provisional #{clip.rank} {clip.start:8.1f}-{clip.end:8.1f}s  score {clip.score:6.2f}  "
                  f"tier {clip.tier}  {clip.file or '-'}  (stream analysed to {item.decided_at:.0f}s)"
                  + (f"  {clip.item} {clip.item_title}" if clip.item else ""), flush=True)

    from peakclip.pipeline.promotion.channels import channel_learning

    manifest = Watch(args.input, chat_log_of(options), args.out, config, announce, note_printer(args.quiet),
                     learned=channel_learning(config)).run()
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
    from peakclip.workers.queue import submit, submit_watch

    if args.live:
        options = values_of(args)
        print(submit_watch(args.input, chat_log_of(options), args.out, job_config(args.config, options)))
    else:
        print(submit(args.input, out=args.out, config=args.config, **values_of(args)))
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
    add_clip_options(watch, input_help="an HLS playlist (.m3u8, a file or its http(s) URL) a recording server keeps "
                                       "appending to, or a growing MPEG-TS, FLV or MKV recording")
    watch.add_argument("--out", metavar="DIR", default="peakclip-out",
                       help="output folder, or s3://bucket/prefix (default peakclip-out)")
    watch.add_argument("--quiet", action="store_true", help="no progress lines")
    watch.set_defaults(handler=cmd_watch)

    submit = commands.add_parser("submit", help="queue a clip job for the worker fleet; prints its id")
    add_clip_options(submit)
    submit.add_argument("--out", metavar="DIR", required=True,
                        help="output: s3://bucket/prefix, or a folder every worker sees at the same path")
    submit.add_argument("--live", action="store_true",
                        help="INPUT is a stream on air: queue a watch of it (peakclip watch on a worker of the live "
                             "queue), as the service's on_publish does")
    submit.set_defaults(handler=cmd_submit)
