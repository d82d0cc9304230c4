"""Installed, peakclip is one import package: beside PyPI's own ``pipeline`` and ``workers``
distributions it shadows neither, and ``peakclip clip`` still works.

The wheel is built from this checkout and installed into a fresh virtualenv that already holds
PyPI's ``pipeline`` and ``workers`` (the real distributions, from the package index). peakclip's
own dependencies come from the test run's environment, added after the new venv's packages
(a path in a .pth file), so that only the packages under test are new.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile

import pytest

from conftest import REPO

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the files git knows (setuptools builds in the source folder: build/).
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.splitlines()
    for name in listed:
        if os.path.isfile(os.path.join(REPO, name)):
            os.makedirs(os.path.dirname(source / name), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(folder), str(source)],
                   check=True, capture_output=True, timeout=600)
    [built] = [f for f in os.listdir(folder) if f.endswith(".whl")]
    return str(folder / built)


def test_the_wheel_holds_one_top_level_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"peakclip"}
    for needed in ("peakclip/__main__.py", "peakclip/detectors/chat/bilibili.py", "peakclip/pipeline/ranking/rules.toml",
                   "peakclip/pipeline/output/render/graph.py", "peakclip/workers/cli/__init__.py",
                   "peakclip/samples/generate/__main__.py", "peakclip/detectors/models/face_detection_yunet_2023mar.onnx",
                   "peakclip/detectors/models/LICENSE-yunet.txt"):
        assert needed in names


def test_beside_pypis_pipeline_and_workers(wheel, sample, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "pipeline", "workers"], check=True, capture_output=True, timeout=600)
    subprocess.run([*pip, "--no-deps", wheel], check=True, capture_output=True, timeout=600)
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "zz-peakclip-test-deps.pth"), "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")   # numpy, celery, ... of this test run
    # Where each name resolves (PyPI's workers is Python 2 code: found, not executed).
    where = subprocess.run([python, "-c", "import importlib.util, json, peakclip.pipeline, peakclip.workers;"
                            "print(json.dumps([importlib.util.find_spec(n).origin for n in ('pipeline', 'workers',"
                            " 'peakclip', 'peakclip.pipeline', 'peakclip.workers')]))"],
                           capture_output=True, text=True, cwd=str(tmp_path))
    assert where.returncode == 0, where.stderr
    pypi_pipeline, pypi_workers, *ours = json.loads(where.stdout)
    for path in (pypi_pipeline, pypi_workers, *ours):
        assert path.startswith(site), path   # all from the new venv, none from the checkout
    assert "peakclip" not in pypi_pipeline and "peakclip" not in pypi_workers
    assert all(os.sep + "peakclip" + os.sep in path for path in ours)
    assert subprocess.run([python, "-m", "peakclip", "--help"], capture_output=True, cwd=str(tmp_path)).returncode == 0
    out = tmp_path / "out"
    made = subprocess.run([python, "-m", "peakclip", "clip", sample["video"], "--chat", sample["chat"], "--out", str(out),
                           "--format", "source", "--clips", "2", "--quiet"], capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=600)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["clips"] and all((out / c["file"]).is_file() for c in manifest["clips"])
