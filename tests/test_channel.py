"""A channel's audience teaching the ranking: the learning on made-up feedback, the ranking it
changes, and the CLI's path (clip --channel -> feedback -> the next run ranked differently)."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import services
from conftest import REPO

from peakclip.detectors.errors import UserError
from peakclip.detectors.probe import Probe
from peakclip.detectors.series import Series
from peakclip.pipeline.analysis.assemble import Analysis
from peakclip.pipeline.config import ChannelConfig, Config
from peakclip.pipeline.promotion.channels import ChannelFile, store_folder
from peakclip.pipeline.ranking.channel import Learned, add_evidence, channel_fuse, clip_features, learn
from peakclip.pipeline.ranking.rank import rank

CONFIG = ChannelConfig()


def made_up_clip(i: int, chat: float, audio: float, visual: float, score: float = 4.0, length: float = 20.0) -> dict:
    return {"id": f"clip{i:06d}", "start": 0.0, "end": length, "score": score,
            "signals": {"chat": chat, "audio": audio, "visual": visual, "orders": 0, "paid": 0.0}}


def feedback(impressions: int, completion: float, ctr: float, length: float = 20.0) -> dict:
    plays = impressions // 2
    return {"impressions": impressions, "plays": plays, "watch_seconds": completion * plays * length,
            "clicks": int(round(ctr * impressions)), "orders": 0}


def audience(n: int, rng, likes: str | None, promoted: dict | None = None) -> dict:
    """``n`` clips, alternately chat-led and action-led, with feedback from an audience that
    ``likes`` one kind (None: neither, only the clip's score). ``promoted``: one more clip with
    that many impressions and the given kind and rates."""
    evidence = {}
    for i in range(n):
        kind = "chat" if i % 2 else "action"
        signals = (rng.uniform(6, 10), rng.uniform(0, 1), rng.uniform(0, 1)) if kind == "chat" else \
            (rng.uniform(0, 2), rng.uniform(4, 7), rng.uniform(4, 7))
        score = rng.uniform(2.5, 7)
        liked = (kind == likes) if likes else (score - 2.5) / 4.5
        luck = rng.lognormal(0, 0.15)
        numbers = feedback(int(rng.integers(300, 600)), (0.2 + 0.4 * liked) * luck, (0.01 + 0.04 * liked) * luck)
        evidence = add_evidence(evidence, f"clip{i:06d}", clip_features(made_up_clip(i, *signals, score)), numbers, 500)
    if promoted:
        signals = (1.0, 6.0, 6.0) if promoted["kind"] == "action" else (9.0, 0.5, 0.5)
        evidence = add_evidence(evidence, "promoted", clip_features(made_up_clip(99, *signals)),
                                feedback(promoted["impressions"], promoted["completion"], promoted["ctr"]), 500)
    return evidence


def test_no_feedback_and_thin_feedback_keep_the_defaults():
    assert learn("c", {}, CONFIG).factors == {"chat": 1.0, "audio": 1.0, "visual": 1.0, "length": 1.0}
    thin = audience(4, np.random.default_rng(1), likes="chat")
    learned = learn("c", thin, CONFIG)
    assert learned.clips == 4 and not learned.changes_ranking
    assert channel_fuse(Config().fuse, learned) == Config().fuse


@pytest.mark.parametrize("likes, up, down", [("chat", "chat", "audio"), ("action", "audio", "chat")])
def test_an_audience_that_likes_one_kind_moves_the_weights_towards_it(likes, up, down):
    learned = learn("c", audience(60, np.random.default_rng(2), likes=likes), CONFIG)
    assert learned.factors[up] > 1.0 > learned.factors[down] and learned.factors[up] / learned.factors[down] > 1.5, learned
    # Bounded (to the 4 decimals a factor is kept with: 1/3 is 0.3333).
    assert all(1 / CONFIG.max_factor - 1e-4 <= f <= CONFIG.max_factor for f in learned.factors.values())


def test_an_audience_that_likes_what_the_defaults_like_teaches_nothing():
    for seed in range(3):
        learned = learn("c", audience(60, np.random.default_rng(10 + seed), likes=None), CONFIG)
        assert learned.clips == 60 and not learned.changes_ranking, learned
        assert learned.effects["score"] > 0        # what it liked is what the score already says


def test_a_promoted_clip_counts_once_not_by_its_impressions():
    # The test pool's chat-led clips do better; one action clip, promoted up to the large pool,
    # did very well there and gathered 200,000 impressions.
    rng = np.random.default_rng(3)
    evidence = audience(40, rng, likes="chat", promoted={"kind": "action", "impressions": 200_000,
                                                        "completion": 0.7, "ctr": 0.07})
    learned = learn("c", evidence, CONFIG)
    assert learned.factors["chat"] > 1.2 and learned.weight == pytest.approx(41, abs=0.01)


def test_bad_feedback_is_refused_and_changes_nothing():
    evidence = audience(3, np.random.default_rng(4), likes="chat")
    before = json.dumps(evidence, sort_keys=True)
    features = clip_features(made_up_clip(1, 5, 1, 1))
    for bad, message in [({"impressions": -1}, "negative"), ({"impressions": 10, "plays": 20}, "exceed"),
                         ({"impressions": 10, "watch_seconds": float("nan")}, "finite"),
                         ({"impressions": float("inf")}, "finite"), ({"impressions": "many"}, "finite")]:
        with pytest.raises(UserError, match=message):
            add_evidence(evidence, "clip000001", features, bad, 500)
    assert json.dumps(evidence, sort_keys=True) == before


def test_the_state_is_bounded():
    evidence = {}
    for i in range(12):
        evidence = add_evidence(evidence, f"c{i}", clip_features(made_up_clip(i, 5, 1, 1)), feedback(300, 0.4, 0.02), 10)
    assert len(evidence) == 10 and "c0" not in evidence and "c1" not in evidence and "c11" in evidence


def test_features_take_the_channels_factors_back_out():
    clip = made_up_clip(1, 6.0, 2.0, 2.0)
    ranked_with = {"chat": 2.0, "audio": 1.0, "visual": 1.0}
    assert clip_features(clip, ranked_with)["shares"] == clip_features(made_up_clip(1, 3.0, 2.0, 2.0))["shares"]


def analysis_with_two_moments() -> Analysis:
    """Ten minutes: a moment the chat alone carries (at 120 s) and a loud, busy one (at 420 s)."""
    rng = np.random.default_rng(5)
    n = 1200
    chat, audio, visual = rng.poisson(6, n).astype(float), rng.normal(-30, 1.5, n), rng.normal(10, 0.3, n)
    chat[250:270] += 25          # 125-135 s: where fusion looks for a reaction to 120 s
    audio[840:860] += 9
    visual[840:860] += 1.8
    signals = {"chat": Series("chat", 0, 0.5, chat), "audio": Series("audio", 0, 0.5, audio),
               "visual": Series("visual", 0, 0.5, visual)}
    return Analysis(Probe("two.mp4", 600.0, True, True), signals)


def test_the_learning_reranks_and_says_so():
    config = Config()
    config.tag.stages = "1"
    plain = rank(analysis_with_two_moments(), config)
    assert plain.channel is None and all(c.channel is None for c in plain.clips)
    first = min(plain.clips, key=lambda c: c.rank)
    # No feedback yet: the same ranking, only the channel recorded.
    unlearned = rank(analysis_with_two_moments(), config, learned=Learned("c"))
    assert [c.to_dict() for c in unlearned.clips] == [c.to_dict() for c in plain.clips]
    assert unlearned.channel == {"name": "c", "clips": 0, "weight": 0.0, "impressions": 0,
                                 "factors": {"chat": 1.0, "audio": 1.0, "visual": 1.0, "length": 1.0}}
    favoured = "audio" if first.signals["chat"] > first.signals["audio"] else "chat"
    other = {"chat": "audio", "audio": "chat"}[favoured]
    learned = Learned("c", clips=30, weight=30.0, factors={favoured: 2.5, other: 0.4, "visual": 1.0})
    ranked = rank(analysis_with_two_moments(), config, learned=learned)
    top = min(ranked.clips, key=lambda c: c.rank)
    assert abs(top.peak - first.peak) > 60                     # the other moment leads now
    assert top.channel["default_rank"] == 2 and top.channel["default_score"] < first.score + 1e-6
    assert ranked.channel["factors"][favoured] == 2.5


def test_an_audience_that_leaves_long_clips_gets_shorter_ones():
    """Clips of 15 to 60 s, alike in every signal, whose audience finishes the short ones and
    leaves the long ones: the length factor falls under 1 (the signals' stay), and a ranking
    with it makes each clip shorter about its peak, never under --min-len."""
    rng = np.random.default_rng(4)
    evidence = {}
    for i in range(80):
        length = float(rng.uniform(15, 60))
        signals = (rng.uniform(3, 6), rng.uniform(3, 6), rng.uniform(1, 3))
        completion = 0.6 * (15.0 / length) * rng.lognormal(0, 0.1)
        numbers = feedback(int(rng.integers(300, 600)), completion, 0.03 * rng.lognormal(0, 0.1), length)
        evidence = add_evidence(evidence, f"clip{i:06d}", clip_features(made_up_clip(i, *signals, 4.0, length)),
                                numbers, 500)
    learned = learn("c", evidence, CONFIG)
    assert learned.factors["length"] < 0.8 and learned.effects["length"] < 0, learned
    assert all(abs(learned.factors[s] - 1.0) < 0.15 for s in ("chat", "audio", "visual")), learned
    config = Config()
    config.tag.stages = "1"
    config.select.min_len = 8.0
    plain = rank(analysis_with_two_moments(), config)
    shorter = rank(analysis_with_two_moments(), config, learned=learned)
    assert [c.peak for c in shorter.clips] == [c.peak for c in plain.clips]
    for before, after in zip(plain.clips, shorter.clips):
        assert config.select.min_len - 1e-6 <= after.end - after.start < before.end - before.start - 1, (before, after)
        assert after.start <= after.peak <= after.end
    assert shorter.channel["factors"]["length"] == learned.factors["length"]


def test_the_channel_simulator_runs_on_the_code_it_measures():
    """bench/channels.py imports the promotion and learning it measures: a short run of it (two
    audiences, few streams) ends with its figures, the learning moved towards the chat-led audience
    and not for the one that likes what the defaults like, so the bench cannot drift from the code."""
    done = subprocess.run([sys.executable, os.path.join(REPO, "bench", "channels.py"), "--streams", "12",
                           "--evaluate", "3", "--seeds", "1", "--audiences", "chat,defaults", "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr
    chat, defaults = json.loads(done.stdout)
    assert chat["clips"] > 20 and chat["factors"]["chat"] > 1.0, chat
    assert defaults["factors"] == {"chat": 1.0, "audio": 1.0, "visual": 1.0, "length": 1.0} and defaults["channel"] == defaults["default"]


def test_the_file_store_keeps_what_was_learned(tmp_path):
    store = ChannelFile(str(tmp_path / "channels"))
    rng = np.random.default_rng(6)
    for clip_id, entry in audience(20, rng, likes="chat").items():
        store.add("chef", clip_id, {k: entry[k] for k in ("shares", "length", "score")}, entry["counts"], CONFIG)
    again = ChannelFile(str(tmp_path / "channels")).learned("chef", CONFIG)
    assert again.clips == 20 and again.factors["chat"] > 1.0
    with pytest.raises(UserError, match="channel name"):
        store.learned("../etc", CONFIG)
    assert store_folder(ChannelConfig(), {"XDG_DATA_HOME": "/data"}) == "/data/peakclip/channels"


def add_to_file(folder: str, times: int) -> None:
    store = ChannelFile(folder)
    for i in range(times):
        store.add("busy", f"clip{i % 3}", clip_features(made_up_clip(i % 3, 5, 1, 1)), feedback(10, 0.4, 0.1), CONFIG)


def test_feedback_from_several_processes_at_once_adds_up(tmp_path):
    services.side_by_side(add_to_file, (str(tmp_path), 30))
    evidence = ChannelFile(str(tmp_path)).evidence("busy")
    assert sum(e["counts"]["impressions"] for e in evidence.values()) == 4 * 30 * 10
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".partial")]


# ---- the CLI: clip --channel, feedback, the next run ranked with what was learned ---------------

def clip_run(stream, out, env, *extra):
    result = run_cli_env(env, "clip", stream[0], "--chat", stream[1], "--out", out, "--no-render", "--quiet", *extra)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def run_cli_env(env, *args):
    return subprocess.run([sys.executable, "-m", "peakclip", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=600, env={**os.environ, **env})


def visual_share(clip: dict, factors: dict | None = None) -> float:
    return clip_features(clip, factors)["shares"]["visual"]


def test_feedback_teaches_the_channel_and_its_next_stream_is_ranked_with_it(channel_streams, tmp_path):
    streams = channel_streams
    # A quick learner (the ridge worth 2 clips, not 10), so that three short streams teach it enough.
    env = {"PEAKCLIP_CHANNEL_STORE": str(tmp_path / "store"), "PEAKCLIP_CHANNEL_PRIOR_CLIPS": "2"}
    plain = clip_run(streams[0], str(tmp_path / "plain"), env)
    assert "channel" not in plain and all("channel" not in c for c in plain["clips"])
    outs = []
    for i, stream in enumerate(streams):
        out = str(tmp_path / f"run{i}")
        manifest = clip_run(stream, out, env, "--channel", "chef")
        assert manifest["channel"]["clips"] == 0
        if i == 0:   # no feedback yet: what the defaults make, the channel recorded beside it
            assert {k: v for k, v in manifest.items() if k != "channel"} == plain
        outs.append((out, manifest))
    # This audience watches and clicks the moments the picture carries, the more the more the
    # picture leads the clip (completion 0.12 to 0.59, click-through 0.8% to 5.9%), not a chat alone.
    for out, manifest in outs:
        for clip in manifest["clips"]:
            share, length = visual_share(clip), clip["end"] - clip["start"]
            result = run_cli_env(env, "feedback", out, clip["id"], "--impressions", "400", "--plays", "200",
                                 "--watch-seconds", str(round(0.12 * math.exp(1.6 * share) * 200 * length, 1)),
                                 "--clicks", str(round(400 * 0.008 * math.exp(2 * share))), "--orders", "0")
            assert result.returncode == 0, result.stderr
            assert "channel chef: " in result.stdout
    shown = run_cli_env(env, "channel", "chef", "--json")
    assert shown.returncode == 0, shown.stderr
    learned = json.loads(shown.stdout)
    assert learned["clips"] == sum(len(m["clips"]) for _, m in outs) >= 7
    assert learned["factors"]["visual"] > 1.0 > learned["factors"]["chat"]
    words = run_cli_env(env, "channel", "chef")
    assert words.returncode == 0 and f"learned from {learned['clips']} clips" in words.stdout
    # The streams again, for the channel: a clip is ranked otherwise than the defaults rank it (a
    # moment the picture carries above one the chat alone carries), and the report says so.
    moved = []
    for i, stream in enumerate(streams):
        again = clip_run(stream, str(tmp_path / f"again{i}"), env, "--channel", "chef")
        assert again["channel"]["factors"] == learned["factors"]
        moved += [(i, c) for c in again["clips"] if c["channel"]["default_rank"] != c["rank"]]
    assert moved
    for _, clip in moved:
        if clip["rank"] < (clip["channel"]["default_rank"] or 99):   # moved up (or newly picked): the picture leads it
            shares = clip_features(clip, learned["factors"])["shares"]
            assert shares["visual"] > shares["chat"], clip
    with open(tmp_path / f"again{moved[0][0]}" / "report.html", encoding="utf-8") as handle:
        assert "by the channel&#x27;s learning" in handle.read()
    # Live: `watch --channel` of that stream (an MPEG-TS file, as an encoder writes it) ends with
    # the channel's ranking, the same as `clip --channel` over the same file.
    recording = str(tmp_path / "on-air.ts")
    subprocess.run(["ffmpeg", "-v", "error", "-i", streams[moved[0][0]][0], "-c", "copy", "-f", "mpegts", recording],
                   check=True)
    quick = tmp_path / "live.toml"
    quick.write_text("[live]\npoll = 0.5\nidle_end = 2.0\n")
    watched = run_cli_env(env, "watch", recording, "--chat", streams[moved[0][0]][1], "--out", str(tmp_path / "live"),
                          "--config", str(quick), "--no-render", "--quiet", "--channel", "chef")
    assert watched.returncode == 0, watched.stderr
    with open(tmp_path / "live" / "manifest.json", encoding="utf-8") as handle:
        live = json.load(handle)
    batch = clip_run((recording, streams[moved[0][0]][1]), str(tmp_path / "batch"), env, "--config", str(quick),
                     "--channel", "chef")
    assert live["live"]["state"] == "ended" and live["channel"]["factors"] == learned["factors"]
    fields = ("id", "start", "end", "score", "rank", "channel")
    assert [{k: c[k] for k in fields} for c in live["clips"]] == [{k: c[k] for k in fields} for c in batch["clips"]]
    assert any(c["channel"]["default_rank"] != c["rank"] for c in live["clips"])
    # Bad feedback: one line, exit 2, and what the channel learned is as it was.
    path = os.path.join(env["PEAKCLIP_CHANNEL_STORE"], "chef.json")
    with open(path, "rb") as handle:
        before = handle.read()
    clip_id = outs[0][1]["clips"][0]["id"]
    for bad in (["--impressions", "-5"], ["--impressions", "10", "--plays", "20"],
                ["--impressions", "10", "--watch-seconds", "nan"]):
        result = run_cli_env(env, "feedback", outs[0][0], clip_id, *bad)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    with open(path, "rb") as handle:
        assert handle.read() == before
    bad_name = run_cli_env(env, "clip", streams[0][0], "--out", str(tmp_path / "bad"), "--channel", "../x")
    assert bad_name.returncode == 2 and "channel name" in bad_name.stderr and bad_name.stderr.count("\n") == 1
