"""Analysis speed and memory: peakclip's three-signal analysis against PySceneDetect, one run.

    python bench/speed.py [--minutes 3] [--rounds 3] [--source FILE --chat FILE | --footage [--noise 40]]
    python bench/speed.py --memory 2        peak memory: 10 minutes against 2 hours
    python bench/speed.py --cuts 180        scene cuts against a stream made with known cuts

Makes (or takes) a 1080p30 H.264 stream at ~6 Mbps with a 2 s GOP and AAC audio, with a matching
chat log, then alternates, ``--rounds`` times: ``peakclip clip --no-render`` (chat, audio and
visual) and PySceneDetect's ``detect-content`` on the same file, each timed with its peak memory
(RSS). Prints the ratio of the medians, peakclip's speed as a multiple of real time, and how long
each phase of peakclip's analysis takes (chat parse, audio, visual, fusion), so the slowest part
is visible. PySceneDetect is installed into its own virtualenv (``.venv-bench``) on first use:
it brings the GUI build of OpenCV, which must not replace peakclip's headless one.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.streams import exit_refusing_short, footage_stream  # noqa: E402
from bench.warm import compile_peakclip  # noqa: E402
from peakclip.detectors.audio import audio_features  # noqa: E402
from peakclip.detectors.chat import read_chat  # noqa: E402
from peakclip.detectors.probe import probe  # noqa: E402
from peakclip.detectors.visual import packet_scan, packets_flat, rate_sample, visual_features  # noqa: E402
from peakclip.pipeline.analysis.analyze import analyze  # noqa: E402
from peakclip.pipeline.config import Config  # noqa: E402
from peakclip.pipeline.ranking.rank import rank
from peakclip.samples.generate import generate  # noqa: E402

BENCH_VENV = os.path.join(REPO, ".venv-bench")


def scenedetect_command() -> str:
    exe = os.path.join(BENCH_VENV, "bin", "scenedetect")
    if not os.path.exists(exe):
        subprocess.run([sys.executable, "-m", "venv", BENCH_VENV], check=True)
        subprocess.run([os.path.join(BENCH_VENV, "bin", "pip"), "install", "-q", "scenedetect"], check=True)
    return exe


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command, measured by GNU time."""
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M", *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - started
        return elapsed, int(report.read().strip().splitlines()[-1]) / 1024


def scenedetect_cuts(video: str, scenedetect: str, scratch: str) -> list[float]:
    """The cut times PySceneDetect's detect-content finds (the start of every scene but the first)."""
    import csv

    subprocess.run([scenedetect, "-q", "-i", video, "-o", scratch, "detect-content", "list-scenes"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stem = os.path.splitext(os.path.basename(video))[0]
    with open(os.path.join(scratch, f"{stem}-Scenes.csv"), newline="") as handle:
        rows = list(csv.reader(handle))
    header = next(i for i, row in enumerate(rows) if "Start Time (seconds)" in row)
    column = rows[header].index("Start Time (seconds)")
    return [float(row[column]) for row in rows[header + 2:] if len(row) > column]   # scene 1 starts at 0


def phases(video: str, chat: str, config: Config) -> dict[str, float]:
    info = probe(video)
    a = config.analysis
    out = {}
    started = time.perf_counter()
    read_chat(chat, config.chat, a.hop, info.duration)
    out["chat parse"] = time.perf_counter() - started
    started = time.perf_counter()
    audio_features(video, 0.0, info.duration, a.hop, a.audio_rate)
    out["audio"] = time.perf_counter() - started
    started = time.perf_counter()
    visual_features(video, 0.0, info.duration, a.hop, a.visual_width, a.visual_height, a.cut_threshold,
                    cuts=a.cuts == "all")
    seconds = time.perf_counter() - started
    flat = packets_flat(*rate_sample(video, *packet_scan(video, 0.0, info.duration)))
    read = "key frames: CBR" if flat else "packets, every key frame" if a.cuts == "all" else "packets"
    out[f"visual ({read})"] = seconds
    analysis = analyze(video, chat, config)
    started = time.perf_counter()
    rank(analysis, config)
    out["fusion + selection" + (" + cuts near edges" if a.cuts == "edges" else "")] = time.perf_counter() - started
    return out


def memory_check(scratch: str, hours: float) -> None:
    """Peak RSS of the analysis on a 10-minute and a ``hours``-long stream (small pictures, so the
    long one is quick to make): memory must not grow with the length of the stream."""
    import ffmpeg

    long_path, short_path = os.path.join(scratch, "long.mp4"), os.path.join(scratch, "short.mp4")
    seconds = hours * 3600
    video = ffmpeg.input(f"testsrc2=s=160x90:r=30:d={seconds}", f="lavfi")
    audio = ffmpeg.input(f"sine=f=330:d={seconds}:sample_rate=16000", f="lavfi")
    ffmpeg.output(video, audio, long_path, vcodec="libx264", preset="ultrafast", g=60, keyint_min=60, sc_threshold=0,
                  acodec="aac", audio_bitrate="32k").global_args("-v", "error").overwrite_output().run()
    ffmpeg.input(long_path, t=600).output(short_path, c="copy").global_args("-v", "error").overwrite_output().run()
    peakclip = os.path.join(REPO, ".venv", "bin", "peakclip")
    for label, path in (("10 minutes", short_path), (f"{hours:g} hours", long_path)):
        elapsed, rss = timed([peakclip, "clip", path, "--out", os.path.join(scratch, "out-" + label[:2]), "--no-render", "--quiet"])
        print(f"memory: {label:10} {elapsed:7.2f} s  peak RSS {rss:5.0f} MB")


SCENES = ["testsrc2", "smptehdbars", "rgbtestsrc", "testsrc", "yuvtestsrc", "pal100bars", "smptebars"]


def cut_stream(folder: str, seconds: float, seed: int = 3) -> tuple[str, list[float]]:
    """A 1080p30 H.264 stream (~6 Mbit/s, fixed 2 s GOP, so cuts fall between key frames as in a
    live encode) of test pictures, each shifted to another hue, with hard cuts at random times
    3 to 12 s apart; returns the file and the true cut times."""
    import random

    rng = random.Random(seed)
    cuts, t = [], 0.0
    while True:
        t = round(t + rng.uniform(3.0, 12.0), 3)
        if t > seconds - 3:
            break
        cuts.append(round(round(t * 30) / 30, 3))     # on a frame
    edges = [0.0] + cuts + [seconds]
    parts = []
    for i, (a, b) in enumerate(zip(edges, edges[1:])):
        source = SCENES[i % len(SCENES)]
        parts.append(f"{source}=s=1920x1080:r=30:d={b - a:.4f},hue=h={rng.randint(0, 359)},format=yuv420p[s{i}]")
    graph = ";".join(parts) + ";" + "".join(f"[s{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=1:a=0[v]"
    path = os.path.join(folder, "cuts.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-filter_complex", graph, "-f", "lavfi", "-i",
                    f"sine=f=330:d={seconds}", "-map", "[v]", "-map", "0:a", "-c:v", "libx264", "-preset", "veryfast",
                    "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M", "-g", "60", "-keyint_min", "60",
                    "-sc_threshold", "0", "-c:a", "aac", "-shortest", path], check=True)
    return path, cuts


def cuts_check(scratch: str, seconds: float) -> None:
    """peakclip's cuts and PySceneDetect's against the true cuts of a stream made for it."""
    import json

    video, truth = cut_stream(scratch, seconds)
    scenedetect = scenedetect_command()
    out = os.path.join(scratch, "out")
    subprocess.run([os.path.join(REPO, ".venv", "bin", "peakclip"), "clip", video, "--out", out, "--no-render",
                    "--no-report", "--quiet", "--cuts", "all"], check=True)
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        ours = json.load(handle)["events"]["cuts"]
    theirs = scenedetect_cuts(video, scenedetect, scratch)
    near = lambda found, wanted: sum(1 for t in wanted if any(abs(t - u) <= 1.0 for u in found))  # noqa: E731
    print(f"stream: {seconds:g} s of 1080p30, {len(truth)} hard cuts, 2 s GOP (cuts between key frames)")
    for name, found in (("peakclip", ours), ("PySceneDetect", theirs)):
        print(f"{name:14} reports {len(found):3}: {near(found, truth)}/{len(truth)} true cuts within 1 s, "
              f"{len(found) - near(truth, found)} reported where there is none")
    print(f"PySceneDetect's cuts that peakclip also reports within 1 s: {near(ours, theirs)}/{len(theirs)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source")
    parser.add_argument("--chat")
    parser.add_argument("--footage", action="store_true",
                        help="the real camera recording looped to --minutes at 1080p30, 6 Mbit/s CBR (bench/streams.py)")
    parser.add_argument("--noise", type=int, default=0, metavar="N",
                        help="with --footage: heavy sensor noise of strength N (e.g. 40)")
    parser.add_argument("--memory", type=float, metavar="HOURS",
                        help="instead: peak memory on a 10-minute and a HOURS-long (small-picture) stream")
    parser.add_argument("--cuts", type=float, metavar="SECONDS",
                        help="instead: scene cuts against a SECONDS-long stream made with known cuts")
    args = parser.parse_args()
    if args.cuts:
        with tempfile.TemporaryDirectory() as scratch:
            cuts_check(scratch, args.cuts)
        return 0
    if args.memory:
        with tempfile.TemporaryDirectory() as scratch:
            memory_check(scratch, args.memory)
        return 0
    scenedetect = scenedetect_command()
    compile_peakclip()
    with tempfile.TemporaryDirectory() as scratch:
        video, chat = args.source, args.chat
        if not video and args.footage:
            video, chat = footage_stream(os.path.join(scratch, "stream"), args.minutes, args.noise)
        elif not video:
            folder = os.path.join(scratch, "stream")
            generate(folder, seed=5, duration=args.minutes * 60, highlights=3, size=(1920, 1080), bitrate="6M")
            video, chat = os.path.join(folder, "stream.mp4"), os.path.join(folder, "chat.json")
        info = probe(video)
        bitrate = os.path.getsize(video) * 8 / info.duration / 1e6
        peakclip = [os.path.join(REPO, ".venv", "bin", "peakclip"), "clip", video, "--out", os.path.join(scratch, "out"),
                    "--no-render", "--quiet"] + (["--chat", chat] if chat else [])
        others = [scenedetect, "-q", "-i", video, "-o", scratch, "detect-content", "list-scenes", "-n"]
        runs = {"peakclip": [], "PySceneDetect": []}
        for _ in range(args.rounds):
            runs["peakclip"].append(timed(peakclip))
            runs["PySceneDetect"].append(timed(others))
        split = phases(video, chat, Config()) if chat else {}
    medians = {name: statistics.median(t for t, _ in values) for name, values in runs.items()}
    rss = {name: max(m for _, m in values) for name, values in runs.items()}
    print(f"source: {info.width}x{info.height} {info.fps:g} fps, {info.duration:.0f} s, {bitrate:.1f} Mbit/s; "
          f"{os.cpu_count()} cores; {args.rounds} rounds, alternating")
    for name in runs:
        print(f"{name:14} median {medians[name]:7.2f} s  ({info.duration / medians[name]:6.1f}x real time)  "
              f"peak RSS {rss[name]:5.0f} MB")
    print(f"PySceneDetect / peakclip: {medians['PySceneDetect'] / medians['peakclip']:.2f}x")
    for name, seconds in split.items():
        print(f"  phase {name:20} {seconds:6.2f} s")
    return 0


if __name__ == "__main__":
    exit_refusing_short(main, "speed.py")
