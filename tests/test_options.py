"""The clip job's option table (peakclip.pipeline.options): every ``peakclip clip`` option is in it,
and the CLI, ``submit(..., **options)`` and a stream-end event's ``options`` (through the real
service, over HTTP, into the job record in a real Redis) read it the same way."""
import json
import os
import shutil

import pytest

import services
from peakclip.detectors.errors import UserError
from peakclip.pipeline.config import CUTS, FILLS, PROFILES, Config, load_config
from peakclip.pipeline.options import OPTIONS, TABLE, chat_log_of, file_options, overrides, values_of
from peakclip.workers.cli import build_parser, main
from peakclip.workers.jobs import Jobs, connect

SECRET = "options-secret-7e2a"
# The flags of the clip commands that are not job options: the command's own.
NOT_OPTIONS = {"help", "input", "config", "out", "quiet", "live"}

# One value per option, as Python or JSON gives it (the command line gets its text); file names
# are files in the recordings root of the service below.
SAMPLES = {
    "chat": "show.json", "events": "events.jsonl", "audio_track": 1, "chat_format": "twitchdownloader",
    "chat_offset": 2.5, "stream_start": "2026-11-23T12:00:00Z", "transcript": "show.srt", "transcript_offset": -1.5,
    "captions": "show.srt", "clips": 3, "min_len": 10.0, "max_len": 40.0, "min_score": 1.25,
    "signals": ["chat", "audio"], "cuts": "all", "stages": "auto", "stage_at": ["00:00:50", "00:01:40"],
    "per_product": "strict", "clips_per_product": 2, "format": ["horizontal", "square"], "fill": "crop",
    "facecam": "960,540,320,180", "profiles": "pools", "title": "Today only", "watermark": "logo.png", "copy": True,
    "jobs": 2, "no_render": True, "no_report": True, "export": ["edl", "otio"], "channel": "chef-ana",
}
# What an option needs beside it to be a valid job, or to set anything (--events beside a chat log).
COMPANIONS = {"events": {"chat": "show.json"}, "copy": {"format": ["source"]}}


def command_line(values: dict) -> list[str]:
    """``values`` as ``peakclip clip`` flags."""
    args = []
    for name, value in values.items():
        flag = OPTIONS[name].flag
        if value is True:
            args.append(flag)
        else:
            args += [flag, ",".join(value) if isinstance(value, list) else str(value)]
    return args


def sample_values(name: str, root=None) -> dict:
    """The option's sample with its companions; file names made paths under ``root`` if given."""
    values = {**COMPANIONS.get(name, {}), name: SAMPLES[name]}
    if root is not None:
        files = file_options()
        values = {k: os.path.join(str(root), v) if k in files and v not in files[k] else v for k, v in values.items()}
    return values


def clip_parser_actions(command: str = "clip"):
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    return commands.choices[command]._actions


# ---- the table and the parser ------------------------------------------------------------------

@pytest.mark.parametrize("command", ["clip", "watch", "submit"])
def test_every_clip_command_flag_is_in_the_table_and_back(command):
    actions = [a for a in clip_parser_actions(command) if a.dest not in NOT_OPTIONS]
    assert {a.dest for a in actions} == set(OPTIONS)
    for action in actions:
        assert action.option_strings == [OPTIONS[action.dest].flag]
        assert action.help == OPTIONS[action.dest].help


def test_every_option_has_a_sample_here():
    assert set(SAMPLES) == set(OPTIONS), "a new option needs a sample value in this test"


def test_choices_agree_with_the_config():
    assert OPTIONS["cuts"].choices == CUTS
    assert OPTIONS["fill"].choices == FILLS
    assert OPTIONS["profiles"].choices == PROFILES


@pytest.mark.parametrize("name", [o.name for o in TABLE])
def test_the_command_line_and_a_dict_give_the_same_overrides(name):
    values = sample_values(name)
    args = build_parser().parse_args(["clip", "show.mp4", *command_line(values)])
    from_cli = overrides(values_of(args))
    assert from_cli == overrides(values)
    # JSON's forms of the same values give the same: numbers as text, lists as comma text
    as_text = {k: ",".join(v) if isinstance(v, list) else str(v) if not isinstance(v, bool) else v
               for k, v in values.items()}
    assert overrides(as_text) == from_cli
    if name == "chat":      # the job's chat log, an argument of its own: no config
        assert from_cli == {} and chat_log_of(values) == "show.json"
    else:
        assert from_cli != overrides(COMPANIONS.get(name, {})), f"{name} sets nothing"


def test_the_special_options():
    assert overrides({"no_render": True, "no_report": True}) == {"render": {"enabled": False},
                                                                 "output": {"report": False}}
    assert overrides({"no_render": False, "copy": None}) == {}          # False and None: not given
    assert overrides({"per_product": True}) == overrides({"per_product": "on"}) == {"select": {"per_product": True}}
    assert overrides({"per_product": "strict"}) == {"select": {"per_product": True, "per_product_strict": True}}
    assert overrides({"captions": "auto"}) == {"transcript": {"captions": "auto"}}
    assert overrides({"captions": "talk.srt"}) == {"transcript": {"captions": "auto", "path": "talk.srt"}}
    # --events alone is the chat log; beside one, a second log
    assert overrides({"events": "e.csv"}) == {} and chat_log_of({"events": "e.csv"}) == "e.csv"
    assert overrides({"events": "e.csv", "chat": "c.json"}) == {"chat": {"events": "e.csv"}}
    assert chat_log_of({"events": "e.csv", "chat": "c.json"}) == "c.json"


# ---- bad values: one line naming the option, from every path ------------------------------------

BAD = [({"clips": 0}, "clips", "at least 1"), ({"clips": "three"}, "clips", "whole number"),
       ({"clips": 2.5}, "clips", "whole number"), ({"jobs": True}, "jobs", "whole number"),
       ({"min_len": -3}, "min_len", "positive number of seconds"), ({"max_len": "long"}, "max_len", "seconds"),
       ({"min_score": -1}, "min_score", "0 or more"), ({"min_score": "nan"}, "min_score", "score"),
       ({"cuts": "some"}, "cuts", "invalid choice"), ({"per_product": "loose"}, "per_product", "invalid choice"),
       ({"profiles": "preview"}, "profiles", "invalid choice"),
       ({"no_render": "yes"}, "no_render", "true/false"), ({"signals": 5}, "signals", "comma list"),
       ({"title": ["a", "b"]}, "title", "text"), ({"explode": 1}, "explode", "unknown option"),
       ({"config": "x.toml"}, "config", "unknown option")]


@pytest.mark.parametrize("values, name, message", BAD)
def test_bad_values_are_one_line_naming_the_option(values, name, message):
    with pytest.raises(UserError) as caught:
        overrides(values)
    text = str(caught.value)
    assert name in text and message in text and "\n" not in text


@pytest.mark.parametrize("values, name, message", BAD[:4])
def test_submit_refuses_bad_options_before_touching_the_queue(values, name, message):
    import peakclip

    with pytest.raises(UserError, match=name):
        peakclip.submit("/no/such.mp4", out="/tmp/unused", **values)


@pytest.mark.parametrize("args, flag", [(["--min-score", "-1"], "--min-score"), (["--cuts", "some"], "--cuts"),
                                        (["--clips", "2.5"], "--clips"), (["--min-len", "nan"], "--min-len")])
def test_the_command_line_refuses_them_in_one_line(capsys, args, flag):
    with pytest.raises(SystemExit) as caught:
        main(["clip", "show.mp4", *args])
    lines = capsys.readouterr().err.strip().splitlines()
    assert caught.value.code == 2 and len(lines) == 1 and flag in lines[0]


# ---- through submit and the service, into the job record ---------------------------------------

@pytest.fixture(scope="module")
def stack(sample, tmp_path_factory):
    """A Redis and the webhook service on it, with a recordings root holding every file the samples
    name. No worker: the jobs stay queued, and their records are what is checked."""
    root = tmp_path_factory.mktemp("recordings")
    outputs = tmp_path_factory.mktemp("outputs")
    shutil.copy(sample["video"], root / "show.mp4")
    shutil.copy(sample["chat"], root / "show.json")
    (root / "events.jsonl").write_text('{"t": 12.0, "type": "order", "user": "ann", "amount": 9.9}\n')
    (root / "show.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nhello there.\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")   # only its existence is checked at submit
    redis_server = services.RedisServer(tmp_path_factory.mktemp("redis"))
    env = {**os.environ, "PEAKCLIP_WEBHOOK_SECRET": SECRET, "PEAKCLIP_RECORDINGS_ROOT": str(root),
           "PEAKCLIP_OUTPUT_ROOT": str(outputs), "PEAKCLIP_BROKER_URL": redis_server.url(0),
           "PEAKCLIP_RESULT_BACKEND": redis_server.url(1)}
    try:
        service = services.Service(env, str(tmp_path_factory.mktemp("svc") / "service.log"))
        try:
            yield {"service": service, "root": root, "env": env, "store": Jobs(connect(redis_server.url(1)))}
        finally:
            service.stop()
    finally:
        redis_server.stop()


def job_record(stack, job_id) -> dict:
    record = stack["store"].r.hgetall(stack["store"].key(job_id))
    return {**record, "config": json.loads(record["config"])}


def assert_config_holds(stored: dict, expected_overrides: dict) -> None:
    """Each field the overrides set has, in the stored job config, the value the config makes of it."""
    expected = Config()
    expected.update(expected_overrides, origin="test")
    for section, fields in expected_overrides.items():
        for field in fields:
            assert stored[section][field] == getattr(getattr(expected, section), field), (section, field)


def post_event(stack, event_id, **fields):
    event = {"event_id": event_id, "stream_id": "opts", "recording": "show.mp4", **fields}
    status, _, body = services.post_signed(stack["service"], SECRET, "/hooks/stream-end", event)
    return status, json.loads(body)


def test_an_event_sets_min_score_cuts_and_stage_at(stack):
    status, answer = post_event(stack, "evt-ranking", chat="show.json",
                                options={"min_score": 1.25, "cuts": "all", "stage_at": "00:00:50,00:01:40"})
    assert status == 202, answer
    stored = job_record(stack, answer["job_id"])["config"]
    assert stored["select"]["min_score"] == 1.25 and stored["analysis"]["cuts"] == "all"
    assert stored["tag"]["stage_at"] == ["00:00:50", "00:01:40"]


@pytest.mark.parametrize("name", [o.name for o in TABLE])
def test_every_option_through_a_stream_end_event(stack, name):
    status, answer = post_event(stack, f"evt-{name}", options=sample_values(name))
    assert status == 202, answer
    record = job_record(stack, answer["job_id"])
    root = os.path.realpath(stack["root"])
    resolved = sample_values(name, root)
    assert record["chat"] == (chat_log_of(resolved) or "")
    assert_config_holds(record["config"], overrides(resolved))


@pytest.mark.parametrize("name", [o.name for o in TABLE])
def test_every_option_through_submit(stack, tmp_path, name):
    import peakclip

    root = os.path.realpath(stack["root"])
    config = load_config(environ=stack["env"])
    values = sample_values(name, root)
    job_id = peakclip.submit(os.path.join(root, "show.mp4"), out=str(tmp_path / "out"), config=config, **values)
    record = job_record(stack, job_id)
    assert record["chat"] == (chat_log_of(values) or "")
    assert_config_holds(record["config"], overrides(values))
    assert config.to_dict() == load_config(environ=stack["env"]).to_dict()   # the caller's config is not changed


def test_the_events_log_alone_is_the_chat_log_of_an_event(stack):
    status, answer = post_event(stack, "evt-events-alone", options={"events": "events.jsonl"})
    assert status == 202, answer
    record = job_record(stack, answer["job_id"])
    assert record["chat"] == os.path.join(os.path.realpath(stack["root"]), "events.jsonl")
    assert record["config"]["chat"]["events"] is None


@pytest.mark.parametrize("chat, options, status, words", [
    ("show.json", {"min_score": -1}, 400, "min_score"), (None, {"clips": "three"}, 400, "clips"),
    (None, {"cuts": "some"}, 400, "cuts"), (None, {"config": "/etc/peakclip.toml"}, 400, "config"),
    (None, {"watermark": "../../etc/hostname"}, 403, "outside"), (None, {"chat": "/etc/hostname"}, 403, "outside"),
    ("show.json", {"chat": "other.json"}, 400, "two chat logs"),
])
def test_bad_event_options_are_refused_in_one_line(stack, chat, options, status, words):
    got, answer = post_event(stack, "bad-" + json.dumps(options), chat=chat, options=options)
    assert got == status and words in answer["error"] and "\n" not in answer["error"]
