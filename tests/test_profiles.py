"""Render profiles per pool: with render.profiles "pools" (the queue's and live mode's default) a
clip starting in a trial pool (test, small) is rendered cheaply (720x1280, a faster preset);
feedback promoting it to a pool that asks for the full profile (medium) renders it again,
through the CLI in place and through the queue as a task, and the manifest and the tier state
point at the new file. A clip rendered at full from the start (`peakclip clip`'s default) is
never rendered again. Real ffmpeg renders checked with ffprobe, a real Redis, real Celery
workers and real HTTP against the service."""
import json
import os
import shutil
import time

import pytest
from conftest import ffprobe, run_cli, write_srt

from peakclip.detectors.errors import UserError
from peakclip.detectors.probe import Probe
from peakclip.pipeline.output.render.compose import output_size
from peakclip.pipeline.promotion.rerender import profile_wanted
from peakclip.pipeline.ranking.rules import BUNDLED, FULL, Profile, load_rules
from peakclip.samples.generate import generate

RULES = load_rules()
# A calm generated stream: nothing stands out, so its best moments are tier C, in the test pool.
CALM = ["--min-score", "0.1", "--min-len", "5", "--max-len", "6"]
# Sure on the evidence to clear the test pool's bars (completion ~0.6, click-through 0.06, conversion 0.067) ...
PROMOTING = ["--impressions", "2000", "--plays", "1500", "--watch-seconds", "5000", "--clicks", "120", "--orders", "8"]
# ... and out of small (2,000 impressions; completion 0.45, click-through 0.04, conversion 0.03)
TO_MEDIUM = ["--impressions", "2500", "--plays", "2000", "--watch-seconds", "9000", "--clicks", "150", "--orders", "10"]


def bundled_without_profiles() -> str:
    """The bundled rules as a custom rules file from before profiles: no [profiles], no pool profile."""
    lines = open(BUNDLED, encoding="utf-8").read().split("\n")
    kept, skipping = [], False
    for line in lines:
        if line.startswith("[profiles."):
            skipping = True
        elif line.startswith("[") or line.startswith("#"):
            skipping = False
        if not skipping and not line.startswith("profile ="):
            kept.append(line)
    return "\n".join(kept)


def test_bundled_rules_render_the_trial_pools_at_preview_and_the_rest_full():
    assert {p.name: p.profile for p in RULES.pools} == {"test": "preview", "small": "preview", "medium": "full",
                                                         "large": "full"}
    assert RULES.start["S"] == "small"     # so every clip starts at the preview
    preview = RULES.profile_of("test")
    assert (preview.short_side, preview.preset) == (720, "superfast")
    assert RULES.profile_of("large") == Profile(FULL)   # full: the render config as it is


def test_a_clip_is_rendered_again_only_for_a_bigger_audiences_profile(tmp_path):
    preview = RULES.profile_of("test")
    assert [profile_wanted("preview", pool, RULES) for pool in ("test", "small", "medium", "large")] == \
        [None, None, Profile(FULL), Profile(FULL)]
    # rendered at full from the start: never again at the preview, wherever it is
    assert [profile_wanted(FULL, pool, RULES) for pool in ("test", "small", "medium", "large")] == [None] * 4
    assert profile_wanted(None, "medium", RULES) is None                # never rendered, or --copy
    assert profile_wanted("gone", "test", RULES) == preview             # a profile the rules no longer have
    # rules whose bigger pools ask for more than full: a full render stands in for the trial pools'
    # preview, and is redone where the pools ask for the better one
    path = tmp_path / "hq.toml"
    path.write_text(open(BUNDLED, encoding="utf-8").read().replace('profile = "full"', 'profile = "hq"')
                    .replace("[profiles.full]", "[profiles.hq]\npreset = \"slow\"\ncrf = 18\n\n[profiles.full]"))
    hq = load_rules(str(path))
    assert [profile_wanted(FULL, pool, hq) for pool in ("test", "small")] == [None] * 2
    assert profile_wanted(FULL, "medium", hq) == profile_wanted("preview", "medium", hq) == hq.profiles["hq"]


def test_the_start_profile_is_the_pools_or_full():
    assert RULES.start_profile("test", "pools") == RULES.profile_of("test") != Profile(FULL)
    assert RULES.start_profile("test", FULL) == RULES.start_profile("small", FULL) == Profile(FULL)


def test_a_rules_file_without_profiles_still_loads_and_renders_everything_full(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text(bundled_without_profiles())
    old = load_rules(str(path))
    assert [p.name for p in old.pools] == ["test", "small", "medium", "large"]
    assert all(old.profile_of(p.name) == Profile(FULL) for p in old.pools)


@pytest.mark.parametrize("change, message", [
    (('profile = "preview"', 'profile = "cheap"'), "unknown profile 'cheap'"),
    (("short_side = 720 ", "short_side = 719 "), "even number"),
    (('preset = "superfast"', 'preset = "quick"'), "preset must be one of"),
    (("crf = 26 ", "crf = 99 "), "crf must be 0 to 51"),
    (("crf = 26 ", "bitrate = 26 "), "unknown keys bitrate"),
])
def test_bad_profiles_are_one_line(tmp_path, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(open(BUNDLED, encoding="utf-8").read().replace(*change))
    with pytest.raises(UserError) as err:
        load_rules(str(path))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_sizes_scale_with_the_profile_and_stay_even():
    source = Probe("x", 10.0, True, True, display_width=1280, display_height=720)
    assert output_size(source, "vertical", 720) == (720, 1280)
    assert output_size(source, "portrait", 720) == (720, 900)
    assert output_size(source, "horizontal", 540) == (960, 540)
    assert output_size(source, "square", 720) == (720, 720)
    assert output_size(source, "vertical") == (1080, 1920)
    assert output_size(source, "source", 540) == (960, 540)      # a larger source comes down ...
    assert output_size(source, "source", 1080) == (1280, 720)    # ... a smaller one is never blown up
    assert all(v % 2 == 0 for v in output_size(source, "portrait", 362))


@pytest.fixture(scope="module")
def calm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calm")
    generate(str(folder), seed=5, duration=40.0, highlights=[], distractors=[], size=(320, 180))
    return str(folder / "stream.mp4")


def load(out) -> dict:
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def size_of(path) -> tuple[int, int]:
    video = [s for s in ffprobe(path)["streams"] if s["codec_type"] == "video"][0]
    return video["width"], video["height"]


@pytest.mark.integration
def test_cli_feedback_renders_a_promoted_test_pool_clip_at_full(calm, fast_config, tmp_path):
    out = str(tmp_path / "out")
    result = run_cli("clip", calm, "--out", out, "--clips", "1", *CALM, "--profiles", "pools", "--config", fast_config,
                     "--quiet")
    assert result.returncode == 0, result.stderr
    clip = load(out)["clips"][0]
    assert (clip["tier"], clip["pool"], clip["profile"]) == ("C", "test", "preview")
    assert size_of(os.path.join(out, clip["file"])) == (720, 1280)
    preview_file = clip["file"]

    # test -> small: the same profile, nothing rendered
    result = run_cli("feedback", out, clip["id"], *PROMOTING, "--config", fast_config)
    assert result.returncode == 0 and len(result.stdout.strip().splitlines()) == 1 and "pool small" in result.stdout
    assert load(out)["clips"][0]["file"] == preview_file
    # small -> medium: the full profile
    result = run_cli("feedback", out, clip["id"], *TO_MEDIUM, "--config", fast_config)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "pool medium" in lines[0] and lines[1].startswith(f"{clip['id']}: rendered at profile full")
    promoted = load(out)["clips"][0]
    assert promoted["profile"] == "full" and promoted["file"] != preview_file
    assert size_of(os.path.join(out, promoted["file"])) == (1080, 1920)
    assert float(ffprobe(os.path.join(out, promoted["file"]))["format"]["duration"]) == \
        pytest.approx(clip["end"] - clip["start"], abs=0.1)                       # the same span
    assert os.path.isfile(os.path.join(out, promoted["thumbnail"])) and promoted["thumbnail"] != clip["thumbnail"]
    assert os.path.isfile(os.path.join(out, preview_file))   # the earlier file stays for whoever holds it
    state = json.loads(run_cli("tiers", out, "--json").stdout)[0]
    assert (state["pool"], state["file"], state["profile"]) == ("medium", promoted["file"], "full")
    assert not [n for n in os.listdir(os.path.join(out, "clips")) if "partial" in n]

    # More feedback in the new pool renders nothing again.
    again = run_cli("feedback", out, clip["id"], "--impressions", "10", "--config", fast_config)
    assert again.returncode == 0 and len(again.stdout.strip().splitlines()) == 1


@pytest.mark.integration
def test_cli_clip_renders_full_and_promotion_renders_nothing_again(calm, fast_config, tmp_path):
    out = str(tmp_path / "out")
    result = run_cli("clip", calm, "--out", out, "--clips", "1", *CALM, "--config", fast_config, "--quiet")
    assert result.returncode == 0, result.stderr
    clip = load(out)["clips"][0]
    assert (clip["tier"], clip["pool"], clip["profile"]) == ("C", "test", "full")   # tagged as ever, rendered full
    assert size_of(os.path.join(out, clip["file"])) == (1080, 1920) and ".preview" not in clip["file"]
    files = sorted(os.listdir(os.path.join(out, "clips")))
    for numbers, pool in ((PROMOTING, "small"), (TO_MEDIUM, "medium")):
        result = run_cli("feedback", out, clip["id"], *numbers, "--config", fast_config)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.strip().splitlines()) == 1 and f"pool {pool}" in result.stdout   # no render line
    assert load(out)["clips"][0] == clip and sorted(os.listdir(os.path.join(out, "clips"))) == files
    state = json.loads(run_cli("tiers", out, "--json").stdout)[0]
    assert (state["pool"], state["file"], state["profile"]) == ("medium", clip["file"], "full")


@pytest.mark.integration
def test_without_profiles_every_clip_renders_full_and_feedback_renders_nothing(calm, tmp_path):
    rules = tmp_path / "old.toml"
    rules.write_text(bundled_without_profiles())
    config = tmp_path / "old-config.toml"
    config.write_text(f'[render]\npreset = "superfast"\ncrf = 30\n[tag]\nrules = "{rules}"\n')
    out = str(tmp_path / "out")
    assert run_cli("clip", calm, "--out", out, "--clips", "1", *CALM, "--config", str(config), "--quiet").returncode == 0
    clip = load(out)["clips"][0]
    assert (clip["pool"], clip["profile"]) == ("test", "full")
    assert size_of(os.path.join(out, clip["file"])) == (1080, 1920)
    result = run_cli("feedback", out, clip["id"], *PROMOTING, "--config", str(config))
    assert result.returncode == 0 and len(result.stdout.strip().splitlines()) == 1 and "pool small" in result.stdout


# ---- the queue and the service --------------------------------------------------------------

SECRET = "profiles-secret-3b7e"


@pytest.fixture(scope="module")
def fleet_and_service(calm, tmp_path_factory):
    from services import webhook_stack

    root, outputs = tmp_path_factory.mktemp("recordings"), tmp_path_factory.mktemp("outputs")
    os.symlink(calm, root / "calm.mp4")
    with webhook_stack(tmp_path_factory, PEAKCLIP_WEBHOOK_SECRET=SECRET, PEAKCLIP_RECORDINGS_ROOT=str(root),
                       PEAKCLIP_OUTPUT_ROOT=str(outputs), PEAKCLIP_RENDER_PRESET="superfast",
                       PEAKCLIP_RENDER_CRF="30") as (_, fleet, service):
        yield {"fleet": fleet, "service": service, "root": root, "outputs": outputs}


def post_metrics(service, clip_id, payload):
    from services import post_signed

    return post_signed(service, SECRET, f"/clips/{clip_id}/metrics", payload)


def wait_for_profile(manifest_path, clip_id, profile, timeout=120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(manifest_path, encoding="utf-8") as handle:
            entry = next(c for c in json.load(handle)["clips"] if c["id"] == clip_id)
        if entry["profile"] == profile:
            return entry
        time.sleep(0.3)
    raise AssertionError(f"clip {clip_id} was not rendered at {profile}: {entry}")


def rendered_state(tiers, clip_id, timeout=10) -> dict:
    """The clip's tier state once it names the full render (written just after the manifest)."""
    deadline = time.monotonic() + timeout
    state = tiers.clip(clip_id)
    while state["profile"] != "full" and time.monotonic() < deadline:
        time.sleep(0.2)
        state = tiers.clip(clip_id)
    return state


@pytest.mark.integration
def test_promotion_through_the_service_and_the_queue_renders_full(fleet_and_service):
    from peakclip.workers.jobs import connect
    from peakclip.workers.tierstate import RedisTierState

    fleet, service = fleet_and_service["fleet"], fleet_and_service["service"]
    out = str(fleet_and_service["outputs"] / "calm")
    job_id = fleet.submit(str(fleet_and_service["root"] / "calm.mp4"), "--out", out, "--clips", "2", *CALM)
    done = fleet.status(job_id, wait=True)
    assert done["state"] == "success", done
    clips = load(out)["clips"]
    assert len(clips) == 2 and all((c["pool"], c["profile"]) == ("test", "preview") for c in clips)
    assert all(size_of(os.path.join(out, c["file"])) == (720, 1280) for c in clips)
    assert load(out)["render"]["settings"]["profiles"] == "pools"     # the queue's default
    tiers = RedisTierState(connect(fleet.env["PEAKCLIP_RESULT_BACKEND"]))

    # The service: the answer comes at once and says a render is queued; the worker renders it.
    first = clips[0]
    metrics = {"impressions": 2000, "plays": 1500, "watch_seconds": 5000, "clicks": 120, "orders": 8}
    status, _, body = post_metrics(service, first["id"], metrics)
    answer = json.loads(body)
    assert status == 200 and answer["pool"] == "small" and answer["render_queued"] is None, answer   # still a preview pool
    to_medium = {"impressions": 2500, "plays": 2000, "watch_seconds": 9000, "clicks": 150, "orders": 10}
    status, _, body = post_metrics(service, first["id"], to_medium)
    answer = json.loads(body)
    assert status == 200 and answer["pool"] == "medium" and answer["render_queued"] == "full", answer
    assert answer["profile"] == "preview"   # not waited for: the file is still the preview
    status, _, body = post_metrics(service, first["id"], {"impressions": 5})   # while it renders: no second one
    assert status == 200 and json.loads(body)["render_queued"] in ("full", None)
    entry = wait_for_profile(done["manifest"], first["id"], "full")
    assert size_of(os.path.join(out, entry["file"])) == (1080, 1920)
    state = rendered_state(tiers, first["id"])
    assert (state["pool"], state["file"], state["profile"]) == ("medium", entry["file"], "full")
    served = json.loads(service.request("GET", f"/jobs/{job_id}")[2])["manifest"]["clips"][0]
    assert served["file"] == entry["file"]

    # `peakclip feedback JOBID ...`: the same through the queue's tier state.
    second = clips[1]
    assert fleet.cli("feedback", job_id, second["id"], *PROMOTING).returncode == 0
    result = fleet.cli("feedback", job_id, second["id"], *TO_MEDIUM)
    assert result.returncode == 0, result.stderr
    assert f"{second['id']}: render at profile full queued for pool medium" in result.stdout
    entry = wait_for_profile(done["manifest"], second["id"], "full")
    assert size_of(os.path.join(out, entry["file"])) == (1080, 1920)
    state = rendered_state(tiers, second["id"])
    assert (state["file"], state["profile"]) == (entry["file"], "full")
    both = load(out)["clips"]
    assert [c["profile"] for c in both] == ["full", "full"]   # neither promotion's manifest write lost the other's


@pytest.mark.integration
def test_a_stream_end_event_renders_at_the_pools_profiles(fleet_and_service):
    from services import post_signed

    fleet, service = fleet_and_service["fleet"], fleet_and_service["service"]
    shutil.copy(fleet_and_service["root"] / "calm.mp4", fleet_and_service["root"] / "ended.mp4")   # inside the root
    event = {"event_id": "calm-end", "stream_id": "calm", "recording": "ended.mp4",
             "options": {"clips": 1, "min_score": 0.1, "min_len": 5, "max_len": 6}}
    status, _, body = post_signed(service, SECRET, "/hooks/stream-end", event)
    assert status == 202, body
    done = fleet.status(json.loads(body)["job_id"], wait=True)
    assert done["state"] == "success", done
    with open(done["manifest"], encoding="utf-8") as handle:
        clip = json.load(handle)["clips"][0]
    assert (clip["pool"], clip["profile"]) == ("test", "preview")
    assert size_of(os.path.join(os.path.dirname(done["manifest"]), clip["file"])) == (720, 1280)


@pytest.mark.integration
def test_a_queued_job_asked_for_full_renders_full_and_promotion_queues_nothing(fleet_and_service):
    fleet, service = fleet_and_service["fleet"], fleet_and_service["service"]
    out = str(fleet_and_service["outputs"] / "calm-full")
    recording = fleet_and_service["root"] / "calm-full.mp4"   # a name of its own: clip ids (and tier states) of their own
    os.symlink(os.path.realpath(fleet_and_service["root"] / "calm.mp4"), recording)
    job_id = fleet.submit(str(recording), "--out", out, "--clips", "1", *CALM, "--profiles", "full")
    done = fleet.status(job_id, wait=True)
    assert done["state"] == "success", done
    clip = load(out)["clips"][0]
    assert (clip["pool"], clip["profile"]) == ("test", "full")
    assert size_of(os.path.join(out, clip["file"])) == (1080, 1920)
    for metrics, pool in (({"impressions": 2000, "plays": 1500, "watch_seconds": 5000, "clicks": 120, "orders": 8},
                           "small"),
                          ({"impressions": 2500, "plays": 2000, "watch_seconds": 9000, "clicks": 150, "orders": 10},
                           "medium")):
        status, _, body = post_metrics(service, clip["id"], metrics)
        answer = json.loads(body)
        assert status == 200 and answer["pool"] == pool and answer["render_queued"] is None, answer
        assert answer["profile"] == "full" and answer["file"] == clip["file"]
    assert load(out)["clips"][0] == clip


@pytest.mark.integration
def test_promotion_of_a_job_in_a_bucket_renders_full_into_the_bucket(calm, tmp_path_factory, tmp_path):
    """Workers that share no disk: a queued job s3:// in -> s3:// out (captions from a transcript
    in the bucket), both clips promoted to medium one after the other, the renders running at once
    on two workers. Each is rendered again at full into its worker's scratch and uploaded; the
    bucket's manifest names both new files (neither write lost the other's), which are there and
    1080x1920 with their captions; the preview files stay; the tier state points at the new files;
    no scratch is left behind."""
    from services import Fleet, ObjectStore, RedisServer

    from peakclip.workers.jobs import connect
    from peakclip.workers.tierstate import RedisTierState

    store = ObjectStore(tmp_path_factory.mktemp("seaweedfs-promoted"))
    redis = RedisServer(tmp_path_factory.mktemp("redis-promoted"))
    fleet = Fleet(redis, 0, str(tmp_path_factory.mktemp("logs-promoted")),
                  **store.env(PEAKCLIP_RENDER_PRESET="superfast", PEAKCLIP_RENDER_CRF="30"))
    client = store.client()
    try:
        for bucket in ("recordings", "clips"):
            client.create_bucket(Bucket=bucket)
        write_srt(tmp_path / "talk.srt", 40.0, seed=2)
        client.upload_file(calm, "recordings", "calm.mp4")
        client.upload_file(str(tmp_path / "talk.srt"), "recordings", "talk.srt")
        scratch = [tmp_path_factory.mktemp(f"tmp-{name}") for name in ("w1", "w2")]
        for name, folder in zip(("w1", "w2"), scratch):
            fleet.start(name, HOME=str(tmp_path_factory.mktemp(f"home-{name}")), TMPDIR=str(folder))
        job_id = fleet.submit("s3://recordings/calm.mp4", "--out", "s3://clips/calm", "--clips", "2", *CALM,
                              "--captions", "s3://recordings/talk.srt")
        done = fleet.status(job_id, wait=True)
        assert done["state"] == "success", done

        def manifest() -> dict:
            return json.loads(client.get_object(Bucket="clips", Key="calm/manifest.json")["Body"].read())

        first = manifest()["clips"]
        assert len(first) == 2 and all((c["pool"], c["profile"]) == ("test", "preview") and c["captions"]
                                       for c in first), first
        for clip in first:
            assert fleet.cli("feedback", job_id, clip["id"], *PROMOTING).returncode == 0
        for clip in first:
            result = fleet.cli("feedback", job_id, clip["id"], *TO_MEDIUM)
            assert result.returncode == 0, result.stderr
            assert f"{clip['id']}: render at profile full queued for pool medium" in result.stdout
        deadline = time.monotonic() + 180
        while [c["profile"] for c in manifest()["clips"]] != ["full", "full"] and time.monotonic() < deadline:
            time.sleep(0.5)
        final = manifest()["clips"]
        assert [c["profile"] for c in final] == ["full", "full"], final
        keys = set(store.keys("clips", "calm/"))
        tiers = RedisTierState(connect(fleet.env["PEAKCLIP_RESULT_BACKEND"]))
        for before, after in zip(first, final):
            assert after["file"] != before["file"] and after["captions"] and after["captions"] != before["captions"]
            assert {f"calm/{after[k]}" for k in ("file", "captions", "thumbnail")} <= keys
            assert {f"calm/{before[k]}" for k in ("file", "captions")} <= keys      # the earlier files stay
            local = tmp_path / os.path.basename(after["file"])
            client.download_file("clips", f"calm/{after['file']}", str(local))
            assert size_of(str(local)) == (1080, 1920)
            assert float(ffprobe(str(local))["format"]["duration"]) == pytest.approx(after["end"] - after["start"],
                                                                                   abs=0.1)
            state = tiers.clip(after["id"])
            deadline = time.monotonic() + 10      # the tier state is written just after the manifest
            while state["profile"] != "full" and time.monotonic() < deadline:
                time.sleep(0.2)
                state = tiers.clip(after["id"])
            assert (state["pool"], state["file"], state["profile"]) == ("medium", after["file"], "full")
        assert [c["id"] for c in final] == [c["id"] for c in first]
        assert not [f for folder in scratch for f in os.listdir(folder) if f.startswith("peakclip-")]
    finally:
        fleet.stop_all()
        redis.stop()
        store.stop()
