import pytest

from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import captions_overrides, load_config


def test_precedence_defaults_toml_env_flags(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[select]\nclips = 7\nmin_len = 20\n[render]\npreset = "slow"\n')
    config = load_config(str(toml), environ={"PEAKCLIP_SELECT_CLIPS": "9", "PEAKCLIP_BROKER_URL": "redis://x"},
                         overrides={"select": {"min_len": 12.0}})
    assert config.select.clips == 9          # env beats file
    assert config.select.min_len == 12.0     # flag beats file
    assert config.render.preset == "slow"    # file beats default
    assert config.select.max_len == 60.0     # default


def test_transcript_section_follows_the_same_precedence(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[transcript]\npath = "talk.srt"\noffset = 2.5\nstream = 1\n')
    config = load_config(str(toml), environ={"PEAKCLIP_TRANSCRIPT_OFFSET": "-1.5", "PEAKCLIP_TRANSCRIPT_FORMAT": "srt"},
                         overrides={"transcript": {"path": "embedded"}})
    assert (config.transcript.path, config.transcript.offset, config.transcript.format, config.transcript.stream) == \
        ("embedded", -1.5, "srt", 1)
    assert load_config(None, environ={}).transcript.path is None      # no transcript unless asked for


def test_captions_file_is_the_transcript_with_captions_on():
    assert captions_overrides("off") == {"transcript": {"captions": "off"}}
    assert captions_overrides("auto", "talk.srt") == {"transcript": {"captions": "auto"}}
    assert captions_overrides("talk.srt", "talk.srt") == {"transcript": {"captions": "auto", "path": "talk.srt"}}
    config = load_config(None, environ={"PEAKCLIP_TRANSCRIPT_LANGUAGE": "de"}, overrides=captions_overrides("talk.vtt"))
    assert (config.transcript.path, config.transcript.captions, config.transcript.language) == ("talk.vtt", "auto", "de")
    assert load_config(None, environ={}).transcript.captions == "off"
    with pytest.raises(UserError, match="give the transcript once"):
        captions_overrides("talk.srt", "other.srt")
    with pytest.raises(UserError, match="--captions takes"):
        captions_overrides(" ")


def test_render_profiles_unset_is_the_default_of_the_way_a_job_runs():
    config = load_config(None, environ={})
    assert config.render.profiles is None
    assert {path: config.for_path(path).render.profiles for path in ("clip", "queue", "live")} == \
        {"clip": "full", "queue": "pools", "live": "pools"}
    assert config.render.profiles is None                           # for_path gives a copy
    staged = load_config(None, environ={"PEAKCLIP_RENDER_PROFILES": "pools"})
    assert staged.for_path("clip").render.profiles == "pools"
    full = load_config(None, environ={}, overrides={"render": {"profiles": "full"}})
    assert full.for_path("queue").render.profiles == full.for_path("live").render.profiles == "full"


@pytest.mark.parametrize("overrides, message", [
    ({"select": {"min_len": 50.0, "max_len": 20.0}}, "longer than --max-len"),
    ({"analysis": {"signals": "chat,smell"}}, "--signals"),
    ({"render": {"formats": "round"}}, "--format"),
    ({"render": {"formats": "vertical", "copy": True}}, "--copy"),
    ({"select": {"clips": "many"}}, "bad value"),
    ({"nope": {"x": 1}}, "unknown config section"),
    ({"select": {"nope": 1}}, "unknown setting"),
    ({"transcript": {"format": "docx"}}, "transcript.format must be one of"),
    ({"transcript": {"stream": -1}}, "transcript.stream counts from 0"),
    ({"transcript": {"captions": "talk.srt"}}, "transcript.captions must be off or auto"),
    ({"render": {"profiles": "preview"}}, r"render.profiles \(--profiles\) must be full or pools"),
    ({"select": {"buying_share": 0.0}}, "select.buying_share is a share"),
])
def test_bad_values_are_user_errors(overrides, message):
    with pytest.raises(UserError, match=message):
        load_config(None, environ={}, overrides=overrides)


def test_bad_toml_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[select\n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_config(str(bad), environ={})
    with pytest.raises(UserError, match="not found"):
        load_config(str(tmp_path / "none.toml"), environ={})
