"""Shared fixtures: generated sample streams (real H.264/AAC files made by samples.generate)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from samples.generate import generate

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="session")
def sample(tmp_path_factory):
    """A 2.5-minute stream with one highlight of each kind and three distractors."""
    folder = tmp_path_factory.mktemp("sample")
    truth = generate(str(folder), seed=11, duration=150.0, highlights=["crowd", "chat", "action"],
                     distractors=["spam", "camera", "cuts"], size=(320, 180))
    return {"dir": str(folder), "video": str(folder / "stream.mp4"), "chat": str(folder / "chat.json"),
            "truth": truth}


@pytest.fixture(scope="session")
def fast_config(tmp_path_factory):
    """Render settings that keep tests quick; everything else stays at its default."""
    path = tmp_path_factory.mktemp("config") / "fast.toml"
    path.write_text('[render]\npreset = "superfast"\ncrf = 30\n')
    return str(path)


def run_cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a child process, as a user would."""
    return subprocess.run([sys.executable, "-m", "workers.cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=600)


def ffprobe(path: str) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", path],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def overlaps(a_start: float, a_end: float, b_start: float, b_end: float) -> bool:
    return a_start < b_end and b_start < a_end
