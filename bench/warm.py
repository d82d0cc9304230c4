"""Compile peakclip's modules to bytecode before anything is timed, as an installed package has them.

``pip install`` compiles a regular install's modules; an editable install (this checkout) leaves
it to the first import, and with ``PYTHONDONTWRITEBYTECODE`` set (common in containers and CI)
every run compiles every module again: ~0.1 s per run that is not the analysis. PySceneDetect,
pip-installed into its own virtualenv, has its bytecode already, so this keeps the comparison fair.
"""
from __future__ import annotations

import compileall
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compile_peakclip() -> None:
    for package in ("peakclip", "detectors", "pipeline", "workers"):
        compileall.compile_dir(os.path.join(REPO, package), quiet=1)
