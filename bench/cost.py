"""Cost per stream-hour: CPU-seconds of analysis and of rendering, and what they mean for a fleet.

    python bench/cost.py [--minutes 10] [--rounds 3] [--source FILE --chat FILE] [--utilisation 0.7]
                         [--broadcast-hours 3] [--clips-per-broadcast 5]

Makes (or takes) a stream of real camera footage as OBS sends it: the real recording in
tests/media looped to ``--minutes``, 1080p30, H.264 at a constant 6 Mbit/s with a 2 s GOP, AAC
sound, and a generated chat log beside it. Then, ``--rounds`` times: ``peakclip clip --no-render``
(analysis), ``peakclip clip --profiles pools`` with the default rules and render settings (analysis +
the vertical clips, each at the render profile of the pool it starts in, as the queue renders them)
and the same with ``--profiles full`` (every clip at the full profile, as ``peakclip clip`` renders
by default). CPU time is what the child processes used (user + system), which a busy shared
machine disturbs far less than wall time. Prints the medians: analysis in CPU-seconds per
stream-hour (it grows with the stream), rendering per clip and per stream-hour for broadcasts of
``--broadcast-hours`` (a broadcast gets its clips once), and how many 2-core machines each queue
needs for 10,000 stream-hours a day at ``--utilisation``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.streams import exit_refusing_short, footage_stream  # noqa: E402
from bench.warm import compile_peakclip  # noqa: E402

PEAKCLIP = os.path.join(os.path.dirname(sys.executable), "peakclip")
DAY = 86400.0
CORES_PER_MACHINE = 2


def cpu_seconds(args: list[str]) -> tuple[float, float]:
    """CPU seconds (user + system, the command and everything it started) and wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def machines(cpu_per_hour: float, hours_a_day: float, utilisation: float) -> float:
    """2-core machines kept ``utilisation`` busy that process ``hours_a_day`` stream-hours a day."""
    return cpu_per_hour * hours_a_day / (DAY * CORES_PER_MACHINE * utilisation)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source")
    parser.add_argument("--chat")
    parser.add_argument("--utilisation", type=float, default=0.7, help="how busy a worker machine is kept (0-1)")
    parser.add_argument("--broadcast-hours", type=float, default=3.0, help="how long a typical broadcast is")
    parser.add_argument("--clips-per-broadcast", type=int, default=5, help="clips rendered for each broadcast")
    args = parser.parse_args()
    compile_peakclip()
    with tempfile.TemporaryDirectory() as scratch:
        video, log = (args.source, args.chat) if args.source else footage_stream(scratch, args.minutes)
        seconds = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                        video], capture_output=True, text=True, check=True).stdout)
        cpu: dict[str, list[float]] = {"analysis": [], "default rules": [], "all full": []}
        walls, clips, tiers = [], 0, ""
        for round_ in range(args.rounds):
            out = os.path.join(scratch, f"out-{round_}")
            base = [PEAKCLIP, "clip", video, "--quiet", "--no-report"] + (["--chat", log] if log else [])
            used, wall = cpu_seconds(base + ["--no-render", "--out", out + "-a"])
            cpu["analysis"].append(used)
            walls.append(wall)
            cpu["default rules"].append(cpu_seconds(base + ["--profiles", "pools", "--out", out + "-r"])[0])
            cpu["all full"].append(cpu_seconds(base + ["--profiles", "full", "--out", out + "-f"])[0])
            with open(os.path.join(out + "-r", "manifest.json"), encoding="utf-8") as handle:
                rendered = [c for c in json.load(handle)["clips"] if c.get("file")]
            clips = len(rendered)
            tiers = ", ".join(f"{c['tier']} ({c['profile']})" for c in rendered)
    median = {name: statistics.median(values) for name, values in cpu.items()}
    analyse = median["analysis"] * 3600.0 / seconds
    # A broadcast gets its clips once, whatever its length: per stream-hour, rendering costs the
    # clips of one broadcast spread over its hours.
    per_clip = {name: max(0.0, median[name] - median["analysis"]) / max(1, clips) for name in ("default rules", "all full")}
    render = per_clip["default rules"] * args.clips_per_broadcast / args.broadcast_hours
    print(f"stream: {seconds / 60:.1f} min of real camera footage, 1080p30, 6 Mbit/s CBR, 2 s GOP; {args.rounds} round(s)")
    print(f"analysis: {analyse:,.0f} CPU-s per stream-hour ({statistics.median(walls):.2f} s wall for this stream)")
    print(f"render: {per_clip['default rules']:,.1f} CPU-s per clip at the default rules' profiles ({clips} vertical "
          f"clips: {tiers}), {per_clip['all full']:,.1f} with every clip at full: "
          f"{1 - per_clip['default rules'] / max(1e-9, per_clip['all full']):.0%} less")
    print(f"render: {render:,.0f} CPU-s per stream-hour for {args.broadcast_hours:g}-hour broadcasts with "
          f"{args.clips_per_broadcast} clips each")
    for name, cost in (("analysis", analyse), ("render", render)):
        print(f"{name} queue: {machines(cost, 10_000, args.utilisation):.2f} two-core machines per 10,000 "
              f"stream-hours a day at {args.utilisation:.0%} utilisation")
    return 0


if __name__ == "__main__":
    exit_refusing_short(main, "cost.py")
