"""Every bench runs on the code it measures: a small run of each, so that none can drift from the
code unseen (a bench that imports what was renamed, or passes a flag that went away, fails here
and not on the day someone measures with it). What a bench measures is not judged here: timings
have no place in tests. Each run must end and print its figures, as numbers.
(``bench/channels.py`` is run by tests/test_channel.py; ``bench/chaos.py``'s harness,
tests/chaos.py, by tests/test_chaos.py.)"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import REPO

NUMBER = r"(\d+(?:\.\d+)?)"


def run_bench(name: str, *args: str, timeout: int = 900) -> str:
    done = subprocess.run([sys.executable, os.path.join(REPO, "bench", f"{name}.py"), *args], capture_output=True,
                          text=True, cwd=REPO, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def figure(pattern: str, output: str) -> float:
    found = re.search(pattern, output)
    assert found, f"{pattern!r} not in:\n{output}"
    return float(found.group(1))


def test_the_speed_bench_runs(sample):
    out = run_bench("speed", "--source", sample["video"], "--chat", sample["chat"], "--rounds", "1")
    assert figure(rf"PySceneDetect / peakclip: {NUMBER}x", out) > 0
    assert figure(rf"peakclip\s+median\s+{NUMBER} s", out) > 0


@pytest.mark.parametrize("name", ["speed", "cost"])
def test_a_bench_refuses_a_stream_too_short_in_one_line(name):
    done = subprocess.run([sys.executable, os.path.join(REPO, "bench", f"{name}.py"), "--minutes", "0.05"],
                          capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(f"bench/{name}.py: error:") and len(done.stderr.strip().splitlines()) == 1


def test_the_cost_bench_runs():
    out = run_bench("cost", "--minutes", "1", "--rounds", "1")
    assert figure(rf"analysis: {NUMBER} CPU-s per stream-hour", out) > 0
    assert figure(rf"render queue: {NUMBER} two-core machines", out) > 0


def test_the_render_bench_runs():
    out = run_bench("render", "--clips", "1", "--length", "5", "--rounds", "1", "--size", "320x180")
    assert figure(rf"ratio peakclip / plain ffmpeg \(wall\): {NUMBER}", out) > 0
    assert figure(rf"ratio peakclip / plain ffmpeg \(cpu\): {NUMBER}", out) > 0


def test_the_live_bench_runs():
    out = run_bench("live", "end", "--hours", "0.2")
    assert figure(rf"10 minutes: caught up in\s+{NUMBER} s; stream end -> final manifest\s+{NUMBER} s", out) > 0
    out = run_bench("live", "latency", "--rate", "5")
    # each planted highlight gets its line: provisional clip's delay, or none (how many there are depends on speed)
    lines = re.findall(r"^highlight \w+\s+[\d.]+-\s*[\d.]+s: (provisional clip\s+[\d.]+ s|no provisional clip)", out,
                       re.MULTILINE)
    assert len(lines) == 3, out


def test_the_chat_parsing_bench_runs():
    out = run_bench("chat_parse", "--messages", "3000")
    rows = re.findall(rf"^(\S+)\s+3000\s+{NUMBER}\s+([\d,]+)\s+", out, re.MULTILINE)
    assert {row[0] for row in rows} >= {"twitchdownloader", "jsonl", "chat-text"}, out


def test_the_promotion_bench_runs():
    out = run_bench("promotion", "--seeds", "1", "--streams", "3", "--clips", "4")
    assert re.search(r"all seeds: fixed \d+ errors, evidence \d+", out), out
