"""The Python interface, ``peakclip.clip(...)``, on a generated sample; and ``python -m peakclip``."""
import json
import subprocess
import sys

import pytest

import peakclip
from conftest import REPO, ffprobe
from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import load_config

pytestmark = pytest.mark.integration


def test_clip_takes_the_command_line_option_names(sample, fast_config, tmp_path):
    out = tmp_path / "out"
    # the config as a TOML file; the options by peakclip clip's names; format source renders fast
    manifest = peakclip.clip(sample["video"], chat=sample["chat"], out=str(out), config=fast_config, clips=2,
                             format="source", min_len=10, no_report=True)
    with open(out / "manifest.json", encoding="utf-8") as handle:
        assert json.load(handle) == manifest
    assert len(manifest["clips"]) == 2 and not (out / "report.html").exists()
    for clip in manifest["clips"]:
        assert clip["end"] - clip["start"] >= 10 - 1e-6
        video = next(s for s in ffprobe(str(out / clip["file"]))["streams"] if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == (320, 180)     # the source's own picture


def test_clip_renders_full_unless_asked_for_the_pools_profiles(sample, fast_config, tmp_path):
    sizes = {}
    for profiles in (None, "pools"):
        out = tmp_path / str(profiles)
        manifest = peakclip.clip(sample["video"], chat=sample["chat"], out=str(out), config=fast_config, clips=1,
                                 no_report=True, profiles=profiles)
        clip = manifest["clips"][0]
        video = next(s for s in ffprobe(str(out / clip["file"]))["streams"] if s["codec_type"] == "video")
        sizes[profiles] = (clip["pool"], clip["profile"], video["width"], video["height"])
    assert sizes[None] == (sizes["pools"][0], "full", 1080, 1920)          # the same pool, rendered full
    assert sizes["pools"][1:] == ("preview", 720, 1280)                     # its pool's profile (test or small)


def test_clip_takes_a_config_object_and_leaves_it_as_it_was(sample, tmp_path):
    config = load_config(environ={}, overrides={"select": {"clips": 4}})
    manifest = peakclip.clip(sample["video"], out=str(tmp_path / "out"), config=config, clips=1, no_render=True,
                             signals="audio,visual")
    assert len(manifest["clips"]) == 1 and manifest["clips"][0]["file"] is None
    assert manifest["signals"] == ["audio", "visual"]
    assert config.select.clips == 4 and config.render.enabled and config.analysis.signals == ["chat", "audio", "visual"]


@pytest.mark.parametrize("options, words", [({"explode": True}, "unknown option 'explode'"),
                                            ({"clips": 0}, "option clips"), ({"cuts": "some"}, "option cuts")])
def test_clip_refuses_an_unknown_option_or_a_bad_value_before_any_work(sample, tmp_path, options, words):
    with pytest.raises(UserError, match=words):
        peakclip.clip(sample["video"], out=str(tmp_path / "out"), **options)
    assert not (tmp_path / "out").exists()


def test_python_m_peakclip_help():
    result = subprocess.run([sys.executable, "-m", "peakclip", "--help"], capture_output=True, text=True, cwd=REPO,
                            timeout=60)
    assert result.returncode == 0 and "clip" in result.stdout and not result.stderr
