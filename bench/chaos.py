"""The full-size chaos run of the queue: does every job end, with the calm run's clips?

    python bench/chaos.py [--broker redis|rabbitmq] [--restart-mode term|kill] [--streams 4]
                          [--option-sets 5] [--kills 8] [--restarts 2] [--wave 2] [--objects] [--out DIR]

Makes ``--streams`` 3-minute 720p sample streams and submits each with ``--option-sets`` option sets
(``--format source``, ultrafast preset) to a fleet of two prefork workers (concurrency 2;
visibility timeout 20 s, restore interval 2 s, Redis with ``appendonly yes`` and ``appendfsync
everysec``). The faults follow a plan tied to the jobs' progress, not to the clock
(``tests/chaos.py``): ``--kills`` times the whole process group of a worker that is analysing a
chunk, or rendering a clip, in turn, is SIGKILLed and a new worker started; ``--restarts`` times,
spread among the kills, the broker (Redis, which also holds the job records, or a RabbitMQ node)
is shut down (``term``) or SIGKILLed (``kill``) at such a moment and restarted. Jobs are submitted
``--wave`` at a time, the next wave once no job in flight can still reach the next fault's moment,
so every planned fault is made however fast the machine is. With ``--objects`` the recordings and
chat logs are in a SeaweedFS bucket, every job is s3:// in -> s3:// out, each worker has its own
HOME and TMPDIR, and the ``--restarts`` faults SIGKILL the object store (not the broker) and start
it again. Then every job is checked: succeeded,
clips equal to an in-process CLI run of the same job, every clip file whole (ffprobe), no stray
file. The heartbeat and reconciler settings are the defaults (``[queue]`` in pipeline/config.py).

The servers, fleet and checks are the test suite's (``tests/services.py``, ``tests/chaos.py``);
``tests/test_chaos.py`` runs the same at CI size.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "tests")]

from chaos import STORE_FAULT, run_chaos, spread_plan  # noqa: E402

from peakclip.samples.generate import generate  # noqa: E402

BROKER_FAULT = {"term": "restart the broker", "kill": "SIGKILL the broker"}
OPTION_SETS = [["--clips", "3"], ["--clips", "5"], ["--clips", "2", "--stages", "1"],
               ["--clips", "4", "--min-len", "10", "--max-len", "20"], ["--clips", "3", "--stages", "auto"]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    parser.add_argument("--restart-mode", choices=["term", "kill"], default="term")
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--option-sets", type=int, default=5)
    parser.add_argument("--kills", type=int, default=8, help="worker process groups SIGKILLed")
    parser.add_argument("--restarts", type=int, default=2, help="broker shut downs (or SIGKILLs) and restarts")
    parser.add_argument("--wave", type=int, default=2, help="jobs submitted at a time while faults are due")
    parser.add_argument("--stuck-after", type=float, default=600.0,
                        help="safety net: give up when no job has moved for this long (s)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="safety net: give up after this long (s)")
    parser.add_argument("--objects", action="store_true",
                        help="s3:// in and out through a SeaweedFS server; --restarts SIGKILL it instead of the broker")
    parser.add_argument("--out", help="keep everything here (default: a temporary folder)")
    args = parser.parse_args()
    folder = args.out or tempfile.mkdtemp(prefix="peakclip-chaos-")
    os.makedirs(folder, exist_ok=True)
    streams = []
    for seed in range(args.streams):
        sample = os.path.join(folder, f"stream-{seed}")
        if not os.path.exists(os.path.join(sample, "truth.json")):
            generate(sample, seed=100 + seed, duration=180.0, size=(1280, 720))
        streams.append((os.path.join(sample, "stream.mp4"), os.path.join(sample, "chat.json")))
    config = os.path.join(folder, "chaos.toml")
    with open(config, "w") as handle:
        handle.write('[render]\npreset = "ultrafast"\nformats = ["source"]\n')
    name = f"{args.broker}-{'objects' if args.objects else args.restart_mode}"
    run = tempfile.mkdtemp(prefix=f"run-{name}-", dir=folder)   # a fresh Redis and broker
    # One chunk a job here (180 s streams, analysis.chunk_seconds 300): "a chunk running", not "half done".
    plan = spread_plan(args.kills, args.restarts, STORE_FAULT if args.objects else BROKER_FAULT[args.restart_mode],
                       moments=("a chunk running", "a render running"))
    result = run_chaos(run, streams,
                       [OPTION_SETS[i % len(OPTION_SETS)] for i in range(args.option_sets)], config, plan,
                       broker=args.broker, workers=2, concurrency=2, wave=args.wave,
                       stuck_after=args.stuck_after, timeout=args.timeout, objects=args.objects, env={"PEAKCLIP_QUEUE_VISIBILITY_TIMEOUT": "20",
                                                  "PEAKCLIP_QUEUE_RESTORE_INTERVAL": "2",
                                                  # the production defaults, not the tests' quick ones
                                                  "PEAKCLIP_QUEUE_HEARTBEAT": "2", "PEAKCLIP_QUEUE_WORKER_GONE": "10",
                                                  "PEAKCLIP_QUEUE_RECONCILE_INTERVAL": "5",
                                                  "PEAKCLIP_QUEUE_STALL_TIMEOUT": "60"})
    faults = f"object store SIGKILLed x{args.restarts}" if args.objects else f"{args.restart_mode} x{args.restarts}"
    print(f"{args.broker} ({faults}), {args.kills} worker SIGKILLs: {result.summary()}")
    for what, at in result.unmade:
        print(f"  never made: {what} at {at}")
    for why in result.died:
        print(f"  {why}")
    for event in result.events:
        print(" ", event)
    for job_id, status in result.jobs.items():
        if status["state"] != "success":
            print(f"  {job_id}: {status['state']} {status.get('error') or ''}")
    for problem in result.mismatched + result.strays:
        print("  ", problem)
    with open(os.path.join(folder, f"result-{name}.json"), "w") as handle:
        json.dump({"summary": result.summary(), "plan": plan, "events": result.events, "jobs": result.jobs,
                   "mismatched": result.mismatched, "strays": result.strays, "unmade": result.unmade,
                   "died": result.died}, handle, indent=1)
    ok = (result.succeeded == len(result.jobs) and not result.mismatched and not result.strays and not result.unmade
          and not result.died)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
