"""``status``, ``worker`` and ``serve``: the queue's side of the command line."""
from __future__ import annotations

import argparse
import json
import os

from peakclip.detectors.errors import UserError
from peakclip.workers.cli.common import EXIT_PARTIAL, positive_int, seconds


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
    from peakclip.pipeline.config import load_config
    from peakclip.workers.queue import status, wait

    config = load_config(args.config)
    current = wait(args.job_id, args.timeout, config=config) if args.wait else status(args.job_id, config)
    if args.json:
        print(json.dumps(current))
    else:
        print_status(current)
    return {"success": 0, "failure": EXIT_PARTIAL}.get(current["state"], 0 if not args.wait else 3)


def cmd_worker(args: argparse.Namespace) -> int:
    from peakclip.workers.app import QUEUES

    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    unknown = [q for q in queues if q not in QUEUES]
    if unknown or not queues:
        raise UserError(f"--queues takes a comma list of {', '.join(QUEUES)} (got {args.queues!r})")
    if args.config:
        os.environ["PEAKCLIP_CONFIG"] = args.config  # the app reads it when it is built
    from peakclip.pipeline.config import load_config
    from peakclip.workers.jobs import check_broker

    check_broker(load_config(args.config).queue.broker_url)
    from peakclip.workers.app import app, declare_queues

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
    from peakclip.pipeline.config import load_config
    from peakclip.workers.service import create_app, serve

    overrides = {"service": {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}}
    config = load_config(args.config, overrides=overrides)
    create_app(config)  # configuration problems are one line here, before the server starts
    serve(config, config.service.host, config.service.port)
    return 0


def add_commands(commands) -> None:
    """status, worker, serve."""
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
