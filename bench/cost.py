"""Cost per stream-hour: CPU-seconds of analysis and of rendering, and what they mean for a fleet.

    python bench/cost.py [--minutes 10] [--rounds 3] [--source FILE --chat FILE] [--utilisation 0.7]
                         [--broadcast-hours 3] [--clips-per-broadcast 5]

Makes (or takes) a stream of real camera footage as OBS sends it: the real recording in
tests/media looped to ``--minutes``, 1080p30, H.264 at a constant 6 Mbit/s with a 2 s GOP, AAC
sound, and a generated chat log beside it. Then, ``--rounds`` times: ``peakclip clip --no-render``
(analysis) and ``peakclip clip`` with the default rules and render settings (analysis + five
vertical clips). CPU time is what the child processes used (user + system), which a busy shared
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

import numpy as np  # noqa: E402

from samples.generate import chat, plan, real_footage, twitchdownloader_json  # noqa: E402

PEAKCLIP = os.path.join(os.path.dirname(sys.executable), "peakclip")
DAY = 86400.0
CORES_PER_MACHINE = 2


def footage_stream(folder: str, minutes: float) -> tuple[str, str]:
    """The real recording looped to ``minutes`` at 1080p30 6 Mbit/s CBR, and a chat log for it."""
    video = os.path.join(folder, "stream.mp4")
    seconds = minutes * 60
    rng = np.random.default_rng(5)
    moments = max(1, min(3, int(seconds // 90)))   # as many as fit, margins included
    truth = plan(rng, seconds, ["crowd", "chat", "action"][:moments], ["spam", "bots"][:moments - 1])
    log = os.path.join(folder, "chat.json")
    with open(log, "w", encoding="utf-8") as out:
        json.dump(twitchdownloader_json(chat(rng, truth), seconds), out)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", real_footage()[0],
                    "-t", str(seconds), "-vf", "scale=1920:1080,fps=30", "-c:v", "libx264", "-preset", "veryfast",
                    "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M", "-g", "60", "-keyint_min", "60",
                    "-sc_threshold", "0", "-c:a", "aac", "-b:a", "128k", "-movflags", "+faststart", video], check=True)
    return video, log


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
    with tempfile.TemporaryDirectory() as scratch:
        video, log = (args.source, args.chat) if args.source else footage_stream(scratch, args.minutes)
        seconds = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                        video], capture_output=True, text=True, check=True).stdout)
        analysis, full, walls, clips = [], [], [], 0
        for round_ in range(args.rounds):
            out = os.path.join(scratch, f"out-{round_}")
            base = [PEAKCLIP, "clip", video, "--quiet", "--no-report"] + (["--chat", log] if log else [])
            cpu, wall = cpu_seconds(base + ["--no-render", "--out", out + "-a"])
            analysis.append(cpu)
            walls.append(wall)
            full.append(cpu_seconds(base + ["--out", out + "-r"])[0])
            with open(os.path.join(out + "-r", "manifest.json"), encoding="utf-8") as handle:
                clips = sum(1 for c in json.load(handle)["clips"] if c.get("file"))
    analyse = statistics.median(analysis) * 3600.0 / seconds
    per_clip = max(0.0, statistics.median(full) - statistics.median(analysis)) / max(1, clips)
    # A broadcast gets its clips once, whatever its length: per stream-hour, rendering costs the
    # clips of one broadcast spread over its hours.
    render = per_clip * args.clips_per_broadcast / args.broadcast_hours
    print(f"stream: {seconds / 60:.1f} min of real camera footage, 1080p30, 6 Mbit/s CBR, 2 s GOP; {args.rounds} round(s)")
    print(f"analysis: {analyse:,.0f} CPU-s per stream-hour ({statistics.median(walls):.1f} s wall for this stream)")
    print(f"render: {per_clip:,.1f} CPU-s per clip (of {clips} vertical clips, default rules); {render:,.0f} CPU-s per "
          f"stream-hour for {args.broadcast_hours:g}-hour broadcasts with {args.clips_per_broadcast} clips each")
    for name, cost in (("analysis", analyse), ("render", render)):
        print(f"{name} queue: {machines(cost, 10_000, args.utilisation):.2f} two-core machines per 10,000 "
              f"stream-hours a day at {args.utilisation:.0%} utilisation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
