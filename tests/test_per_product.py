"""--per-product with real parts: generated live-commerce streams (chat in chat.json, product
switches, carts and orders in events.jsonl) through the real CLI, one clip per presented product."""
import dataclasses
import json
import os
import re
import sys
from collections import Counter

import numpy as np
import pytest
from conftest import REPO, ffprobe, run_cli

from peakclip.detectors.chat import ProductWindow
from peakclip.pipeline.config import SelectConfig
from peakclip.pipeline.ranking.fuse import Fused
from peakclip.pipeline.ranking.per_product import buying_bonus, buying_runs, clip_title, pick_products

SEEDS = (3, 5, 8, 13)
DURATION = 370.0    # the shortest commerce stream the generator makes (six items of 60 s)


@pytest.fixture(scope="module")
def commerce_streams(tmp_path_factory):
    from peakclip.samples.generate import generate

    streams = []
    for seed in SEEDS:
        folder = tmp_path_factory.mktemp(f"commerce-{seed}")
        truth = generate(str(folder), seed=seed, duration=DURATION, size=(160, 90), fps=10, commerce=True)
        streams.append((folder, truth))
    return streams


def logged_orders(folder) -> dict[str, int]:
    records = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    return dict(Counter(r["item"] for r in records if r["type"] == "order"))


def per_product(folder, out, *extra):
    result = run_cli("clip", str(folder / "stream.mp4"), "--chat", str(folder / "chat.json"),
                     "--events", str(folder / "events.jsonl"), "--per-product", "--out", str(out), "--quiet", *extra)
    assert result.returncode == 0, result.stderr
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def check_one_clip_per_product(manifest: dict, truth: dict, orders: dict[str, int]) -> None:
    reveals = {h["item"]: h for h in truth["highlights"] if "item" in h}
    clips = {c["item"]: c for c in manifest["clips"]}
    assert len(manifest["clips"]) == len(clips) == len(truth["products"])          # exactly one each
    for product in truth["products"]:
        clip = clips[product["item"]]
        assert product["start"] - 1e-6 <= clip["start"] < clip["end"] <= product["end"] + 1e-6, (product, clip)
        assert clip["item_title"] == clip["title"] == product["title"]              # no --title: the product's
        reveal = reveals.get(product["item"])
        if reveal:
            assert clip["start"] <= reveal["start"] and clip["end"] >= reveal["end"], (reveal, clip)
        else:
            assert clip["tier"] == "C"       # nothing sold, no reveal: the best span there was, honestly C
        assert clip["item_sales"]["on_air"]["orders"] == product["orders"]
    listed = {p["item"]: p for p in manifest["products"]}
    assert list(listed) == [p["item"] for p in truth["products"]]
    assert {item: p["orders"] for item, p in listed.items() if p["orders"]} == orders
    assert all(p["clip"] == clips[item]["id"] and p["windows"] == [[t["start"], t["end"]]]
               for item, p, t in zip(listed, listed.values(), truth["products"]))
    assert manifest["schema"] == "peakclip/manifest@1"


def test_one_clip_per_product_on_four_commerce_streams(commerce_streams, tmp_path):
    for folder, truth in commerce_streams:
        manifest = per_product(folder, tmp_path / folder.name, "--no-render")
        check_one_clip_per_product(manifest, truth, logged_orders(folder))
        assert manifest["warnings"] == []
        check_report_groups_by_product((tmp_path / folder.name / "report.html").read_text(), manifest)


def check_report_groups_by_product(report: str, manifest: dict) -> None:
    """A row per product in the order shown, its orders and a link to its clip's card; the cards
    follow in the same order, each naming its product."""
    rows = re.findall(r'<tr data-item="([^"]+)">(.*?)</tr>', report)
    assert [item for item, _ in rows] == [p["item"] for p in manifest["products"]]
    for (item, row), product in zip(rows, manifest["products"]):
        assert f'<td class="n">{product["orders"]}</td>' in row and f'href="#clip-{product["clip"]}"' in row
    cards = re.findall(r'<article class="card" id="clip-([0-9a-f]+)"', report)
    assert cards == [p["clip"] for p in manifest["products"]]
    assert all(f"{p['item']} · " in report for p in manifest["products"])
    strip = re.search(r'<svg class="strip".*?</svg>', report, re.S).group(0)    # the products along the stream
    assert [re.search(r": (\d+) orders</title>", block).group(1) for block in strip.split("<rect")[1:] if "<title>" in block] \
        == [str(p["orders"]) for p in manifest["products"]]


def test_a_whole_stream_run_of_the_same_stream_is_unchanged(commerce_streams, tmp_path):
    folder, _ = commerce_streams[0]
    result = run_cli("clip", str(folder / "stream.mp4"), "--chat", str(folder / "chat.json"), "--events",
                     str(folder / "events.jsonl"), "--out", str(tmp_path), "--no-render", "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "products" not in manifest and all("item" not in c for c in manifest["clips"])
    assert manifest["chat"]["products"] == len(json.loads((folder / "truth.json").read_text())["products"])


def test_a_rendered_product_clip_carries_its_templated_title(commerce_streams, tmp_path, monkeypatch):
    folder, truth = commerce_streams[1]
    monkeypatch.setenv("PEAKCLIP_RENDER_PRESET", "ultrafast")
    manifest = per_product(folder, tmp_path, "--format", "source", "--title", "{title} · today only", "--no-report")
    for clip in manifest["clips"]:
        assert clip["title"] == f"{clip['item_title']} · today only"
        tags = ffprobe(str(tmp_path / clip["file"]))["format"]["tags"]
        assert tags["title"] == clip["title"]


def test_strict_leaves_products_without_a_moment_unclipped(commerce_streams, tmp_path):
    folder, truth = commerce_streams[0]
    manifest = per_product(folder, tmp_path, "--no-render", "--per-product", "strict")
    unsold = {p["item"] for p in truth["products"] if not p["orders"]}
    clipped = {c["item"] for c in manifest["clips"]}
    assert clipped and not clipped & unsold
    assert all(p["clip"] is None for p in manifest["products"] if p["item"] in unsold)
    assert any("got no clip" in w for w in manifest["warnings"])


def test_per_product_on_a_log_without_product_events_clips_nothing_and_says_why(commerce_streams, tmp_path):
    folder, _ = commerce_streams[0]
    result = run_cli("clip", str(folder / "stream.mp4"), "--chat", str(folder / "chat.json"), "--per-product",
                     "--no-render", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["clips"] == [] and manifest["products"] == []
    assert manifest["warnings"] == ['--per-product: the logs hold no product events (type "product"): no product to clip']


def test_per_product_without_any_log_is_one_line_exit_2(commerce_streams, tmp_path):
    folder, _ = commerce_streams[0]
    result = run_cli("clip", str(folder / "stream.mp4"), "--per-product", "--no-render", "--out", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "--per-product needs the product events" in result.stderr


# ---- the selection itself, on made-up scores ------------------------------------------------

def test_the_items_own_orders_choose_between_two_equal_moments():
    hop, n = 0.5, 400                                  # 200 s
    score = np.zeros(n)
    score[[60, 140]] = 3.0                             # two equal peaks, at 30 s and 70 s
    score = np.convolve(score, np.ones(9) / 3, mode="same")
    orders = np.zeros(n)
    orders[150:160] = 2                                # buyers 5-10 s after the second
    windows = [ProductWindow("A", "Lamp", 10.0, 100.0), ProductWindow("B", "Mug", 100.0, 200.0)]
    config = SelectConfig(min_len=15, max_len=30)
    picks = pick_products(Fused(hop, score, {}), windows, {"A": {"orders": orders, "carts": np.zeros(n)}}, 200.0, config)
    first = next(p for p in picks if p.item == "A")
    assert first.span.start <= 70 <= first.span.end and not first.fallback
    assert first.span.score == pytest.approx(score[140], abs=1e-3)   # the tier sees the fused score, no bonus
    second = next(p for p in picks if p.item == "B")
    assert second.fallback and 100 <= second.span.start and second.span.end <= 200
    assert buying_bonus(None, n, hop, config).sum() == 0


def test_an_item_shown_twice_gets_one_clip_in_its_better_window_and_n_clips_when_asked():
    hop, n = 0.5, 600                                  # 300 s
    score = np.zeros(n)
    score[[100, 400, 440]] = [3.0, 5.0, 4.0]           # 50 s; 200 s and 220 s
    score = np.convolve(score, np.ones(9) / 3, mode="same")
    windows = [ProductWindow("A", "Lamp", 20.0, 90.0), ProductWindow("B", "Mug", 90.0, 150.0),
               ProductWindow("A", "Lamp", 150.0, 290.0)]
    one = pick_products(Fused(hop, score, {}), windows, {}, 300.0, SelectConfig(min_len=15, max_len=30))
    lamp = [p.span for p in one if p.item == "A"]
    assert len(lamp) == 1 and lamp[0].start <= 200 <= lamp[0].end            # the second showing's moment
    two = pick_products(Fused(hop, score, {}), windows, {}, 300.0,
                        SelectConfig(min_len=15, max_len=30, clips_per_product=2))
    lamp = sorted(p.span.peak for p in two if p.item == "A")
    assert len(lamp) == 2 and 196 <= lamp[0] <= 202 <= 216 <= lamp[1] <= 222 and all(150 <= p.span.start and p.span.end <= 290 for p in two if p.item == "A")
    assert not any(a.span.start < b.span.end and b.span.start < a.span.end for a in two for b in two if a is not b)
    short = [ProductWindow("C", "Pin", 0.0, 10.0)]    # on air under min_len: no clip
    assert pick_products(Fused(hop, score, {}), short, {}, 300.0, SelectConfig(min_len=15)) == []


def loud_and_sold(n: int = 240, hop: float = 0.5) -> tuple[Fused, list[ProductWindow]]:
    """120 s of one product's window: a loud moment at 30 s (fused 8, a crowd roar) and a quiet
    price reveal at 80 s (fused 2.5)."""
    score = np.zeros(n)
    score[[60, 160]] = [8.0, 2.5]
    return Fused(hop, np.convolve(score, np.bartlett(13), mode="same"), {}), [ProductWindow("A", "Lamp", 0.0, 120.0)]


def burst(n: int, at: list[int], each: int = 1) -> np.ndarray:
    values = np.zeros(n)
    values[at] = each
    return values


def test_the_items_buyers_outweigh_a_louder_moment_in_its_window():
    fused, windows = loud_and_sold()
    n, config = len(fused.score), SelectConfig(min_len=15, max_len=30)
    # 20 orders and 25 carts 4-12 s after the reveal, and one stray order 5 s after the loud moment
    sales = {"A": {"orders": burst(n, list(range(168, 188)) + [70]), "carts": burst(n, list(range(165, 190)))}}
    bonus = buying_bonus(sales["A"], n, fused.hop, config)
    assert fused.score[60] > fused.score[160] + bonus[160]          # the bonus alone loses to the roar
    (pick,) = pick_products(fused, windows, sales, 120.0, config)
    assert pick.span.start <= 80 <= pick.span.end <= 100 and not pick.fallback
    assert pick.span.score == pytest.approx(fused.score[160], abs=1e-3)   # the tier sees the fused score
    assert buying_runs(bonus, windows, fused.hop, config.buying_share)[0][0] > 40   # the stray order is no burst
    # a second clip: the loud moment, after the one its buyers answered
    two = pick_products(fused, windows, sales, 120.0, SelectConfig(min_len=15, max_len=30, clips_per_product=2))
    assert [p.span.start <= 30 <= p.span.end for p in two] == [False, True]
    # weights of 0 turn the sales off: the loudest moment again
    (loud,) = pick_products(fused, windows, sales, 120.0,
                            SelectConfig(min_len=15, max_len=30, weight_item_orders=0, weight_item_carts=0))
    assert loud.span.start <= 30 <= loud.span.end


def test_a_product_that_sold_after_a_dull_moment_gets_that_moment_tiered_c_or_none_when_strict():
    fused, windows = loud_and_sold()
    fused.score[150:170] = 0.0                                         # the reveal: nothing to see or hear
    n = len(fused.score)
    sales = {"A": {"orders": burst(n, [170]), "carts": burst(n, [168, 169])}}   # and one buyer
    (pick,) = pick_products(fused, windows, sales, 120.0, SelectConfig(min_len=15, max_len=30))
    assert pick.fallback and pick.span.start <= 80 <= pick.span.end and pick.span.end >= 85
    strict = SelectConfig(min_len=15, max_len=30, per_product_strict=True)
    assert pick_products(fused, windows, sales, 120.0, strict) == []
    # nothing sold: the loudest moment, as before
    (unsold,) = pick_products(fused, windows, {}, 120.0, strict)
    assert unsold.span.start <= 30 <= unsold.span.end and not unsold.fallback


def test_clip_titles_from_a_template():
    assert clip_title(None, "SKU-1", "Lamp") == "Lamp"
    assert clip_title(None, "SKU-1", "") == "SKU-1"
    assert clip_title("{title} · today only ({item}) {x}", "SKU-1", "Lamp") == "Lamp · today only (SKU-1) {x}"


# ---- a louder moment unrelated to the item in its window ----------------------------------------

RIVAL_SEEDS = (9, 10)   # a loud crowd or action moment in the window of every item that sells


@pytest.fixture(scope="module")
def rival_streams(tmp_path_factory):
    """Generated commerce streams with rivals, analysed for real (recording, chat and events)."""
    from peakclip.pipeline.config import Config
    from peakclip.pipeline.executors.evaluate import analyse_sample
    from peakclip.samples.generate import generate

    streams = []
    for seed in RIVAL_SEEDS:
        folder = tmp_path_factory.mktemp(f"rivals-{seed}")
        truth = generate(str(folder), seed=seed, duration=DURATION, size=(160, 90), fps=10, commerce=True, rivals=True)
        streams.append((folder, truth, analyse_sample(str(folder), Config())))
    return streams


def order_times(folder, item: str) -> list[float]:
    records = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    return [r["t"] for r in records if r["type"] == "order" and r["item"] == item]


def ranked_per_product(analysis, strict: bool = False):
    from peakclip.pipeline.config import Config
    from peakclip.pipeline.ranking.rank import rank

    config = Config()
    return rank(analysis, dataclasses.replace(config, select=dataclasses.replace(
        config.select, per_product=True, per_product_strict=strict)))


def test_a_product_that_sold_is_clipped_where_its_buyers_bought_not_at_a_louder_moment(rival_streams):
    from peakclip.pipeline.config import Config
    from peakclip.pipeline.ranking.fuse import fuse

    config, outshone = Config(), 0
    for folder, truth, analysis in rival_streams:
        fused = fuse(analysis.signals, config.fuse, config.chat, analysis.extras)
        sales = analysis.chat.item_commerce(len(fused.score))
        reveals = {h["item"]: h for h in truth["highlights"] if "item" in h}
        rivals = {h["rival_of"]: h for h in truth["highlights"] if "rival_of" in h}
        assert set(rivals) == set(reveals)
        clips = {c.item: c for c in ranked_per_product(analysis).clips}
        assert set(clips) == {p["item"] for p in truth["products"]}
        for product in truth["products"]:
            clip = clips[product["item"]]
            assert product["start"] - 1e-6 <= clip.start < clip.end <= product["end"] + 1e-6
            reveal = reveals.get(product["item"])
            if reveal is None:        # sold nothing: the best span there was, tiered C, as documented
                assert clip.tier == "C" and clip.item_sales["on_air"]["orders"] == 0
                continue
            rival = rivals[product["item"]]

            def peak(event, score):
                return score[int(event["start"] / fused.hop):int((event["end"] + 5) / fused.hop)].max()
            bonus = buying_bonus(sales[product["item"]], len(fused.score), fused.hop, config.select)
            outshone += bool(peak(rival, fused.score) > peak(reveal, fused.score + bonus))
            bought = [t for t in order_times(folder, product["item"])
                      if reveal["start"] <= t <= reveal["start"] + config.select.buying_lag]
            inside = [t for t in bought if clip.start <= t <= clip.end]
            assert len(inside) > len(bought) / 2, (product, reveal, rival, clip.start, clip.end, bought)
            assert clip.start <= reveal["start"] + 1 and clip.end >= reveal["end"] - 1      # the pitch itself
            assert not (clip.start <= rival["start"] and rival["end"] <= clip.end)        # not the loud moment
            assert clip.item_sales["clip"]["orders"] > 0
    assert outshone >= 3     # a bonus on the fused score alone would have clipped the louder moment there


def test_strict_leaves_only_the_unsold_products_unclipped_beside_a_louder_moment(rival_streams):
    for _, truth, analysis in rival_streams:
        clipped = {c.item for c in ranked_per_product(analysis, strict=True).clips}
        assert clipped == {p["item"] for p in truth["products"] if p["orders"]}


def test_eval_counts_a_product_clipped_away_from_its_buyers_wrong():
    from peakclip.pipeline.executors.evaluate import ProductCheck

    check = ProductCheck("SKU-1", "Lamp", [(10.0, 30.0, "A")], True, True, 12, 12, (6, 12))
    assert not check.ok                                             # half its buyers: not most
    assert dataclasses.replace(check, burst=(7, 12)).ok and dataclasses.replace(check, burst=None).ok


# ---- two logs, one audience -------------------------------------------------------------------

def test_the_chat_and_the_events_log_read_as_one_chat_log(commerce_streams):
    from peakclip.detectors.chat import ChatConfig, read_chat

    folder, truth = commerce_streams[0]
    chat_only = read_chat(str(folder / "chat.json"), ChatConfig(), 0.5, DURATION)
    events_only = read_chat(str(folder / "events.jsonl"), ChatConfig(), 0.5, DURATION)
    both = read_chat(str(folder / "chat.json"), ChatConfig(events=str(folder / "events.jsonl")), 0.5, DURATION)
    assert both.format == "twitchdownloader" and both.messages == chat_only.messages + events_only.messages
    assert both.products == events_only.products and len(both.products) == len(truth["products"])
    assert both.users == len(set(chat_only.audience.last) | set(events_only.audience.last))
    assert (both.series().values >= chat_only.series().values - 1e-9).all()
    assert both.series().values.sum() > chat_only.series().values.sum()       # the buyers count too


def test_a_growing_chat_and_a_later_events_log_followed_equal_both_read_whole(tmp_path):
    from peakclip.detectors.chat import ChatConfig, read_chat
    from peakclip.detectors.chat.log import ChatFollower

    chat = [json.dumps({"t": i * 0.9, "user": f"u{i % 7}", "text": "wow" if i % 4 else "hi"}) for i in range(200)]
    events = [json.dumps({"t": 20.0 + 50 * k, "type": "product", "item": f"SKU-{k}", "title": f"Item {k}"}) for k in range(3)]
    events += [json.dumps({"t": 30.0 + 50 * k + i, "user": f"b{i}", "type": "order", "item": f"SKU-{k}", "amount": 5})
               for k in range(3) for i in range(k + 1)]
    events.sort(key=lambda line: json.loads(line)["t"])
    chat_text, events_text = "".join(r + "\n" for r in chat), "".join(r + "\n" for r in events)
    chat_path, events_path = tmp_path / "chat.jsonl", tmp_path / "events.jsonl"
    config = ChatConfig(events=str(events_path))
    follower = ChatFollower(str(chat_path), config, 0.5)
    for share in (0.2, 0.5, 0.77, 1.0):        # the events log appears at the second look, mid-line cuts
        chat_path.write_text(chat_text[:int(len(chat_text) * share)])
        if share > 0.2:
            events_path.write_text(events_text[:int(len(events_text) * share)])
        log = follower.read(180.0)
    whole = read_chat(str(chat_path), config, 0.5, 180.0)
    assert (log.messages, log.products) == (whole.messages, whole.products) and len(whole.products) == 3
    assert np.array_equal(log.series().values, whole.series().values)
    assert {k: v["orders"].sum() for k, v in log.item_commerce(360).items()} == {"SKU-0": 1, "SKU-1": 2, "SKU-2": 3}
    assert follower.offset == len(chat_text.encode())


# ---- live: a product's clip as soon as the host moves on --------------------------------------

READ_RATE = 8   # seconds of stream written per second


def test_watch_renders_a_products_clip_when_the_next_product_starts(commerce_streams, tmp_path, monkeypatch):
    """An encoder writing MPEG-TS to disk while the platform's events log grows beside it: each
    product's provisional clip is rendered once its window has closed, while still on air."""
    import subprocess
    import threading
    import time

    folder, truth = commerce_streams[2]
    monkeypatch.setenv("PEAKCLIP_RENDER_PRESET", "ultrafast")
    records = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    events = tmp_path / "events.jsonl"
    events.write_text("")
    recording, out = str(tmp_path / "show.ts"), tmp_path / "live"
    config = tmp_path / "live.toml"
    config.write_text("[live]\npoll = 0.5\nidle_end = 4.0\n")
    writer = subprocess.Popen(["ffmpeg", "-v", "error", "-readrate", str(READ_RATE), "-i", str(folder / "stream.mp4"),
                               "-c", "copy", "-f", "mpegts", recording])
    started = time.monotonic()

    def log_events():
        with open(events, "a", encoding="utf-8") as handle:
            for record in records:
                time.sleep(max(0.0, record["t"] / READ_RATE - (time.monotonic() - started)))
                handle.write(json.dumps(record) + "\n")
                handle.flush()

    logger = threading.Thread(target=log_events, daemon=True)
    logger.start()
    time.sleep(2)
    watcher = subprocess.Popen([sys.executable, "-m", "peakclip", "watch", recording, "--chat", str(folder / "chat.json"),
                                "--events", str(events), "--per-product", "--format", "source", "--out", str(out),
                                "--config", str(config), "--quiet"], cwd=REPO, stderr=subprocess.PIPE, text=True)
    on_air: dict[str, dict] = {}
    while watcher.poll() is None:    # the watch analyses a little behind the encoder
        try:
            live = json.loads((out / "manifest.json").read_text())
        except (OSError, json.JSONDecodeError):
            live = {}
        for item in live.get("provisional", []):
            if item["file"] and (out / item["file"]).exists() and live["live"]["state"] == "on air":
                on_air.setdefault(item["item"], item)
        time.sleep(0.2)
    logger.join()
    assert writer.wait() == 0
    _, stderr = watcher.communicate(timeout=300)
    assert watcher.returncode == 0, stderr
    final = json.loads((out / "manifest.json").read_text())
    closed_early = [p for p in truth["products"] if p["end"] < truth["duration"] - 60]
    assert len(closed_early) >= 3
    for product in closed_early:      # every product the host moved on from well before the end
        item = on_air.get(product["item"])
        assert item is not None, (product, sorted(on_air))
        assert product["start"] <= item["start"] < item["end"] <= product["end"] + 1e-6
        assert product["end"] <= item["decided_at"] < truth["duration"] and item["title"] == product["title"]
    assert {c["item"] for c in final["clips"]} == {p["item"] for p in truth["products"]}
    assert all(p["outcome"] != "pending" for p in final["provisional"])
    assert len({p["item"] for p in final["provisional"]}) == len(final["provisional"])   # one per product


# ---- the queue and the service ----------------------------------------------------------------

from test_queue import fleet, queue_config, redis_server  # noqa: E402,F401  (the queue's real fixtures)


@pytest.mark.integration
def test_a_queued_per_product_job_equals_the_cli(commerce_streams, fleet, queue_config, tmp_path):
    folder, truth = commerce_streams[3]
    args = [str(folder / "stream.mp4"), "--chat", str(folder / "chat.json"), "--events", str(folder / "events.jsonl"),
            "--per-product", "--no-render", "--config", queue_config]
    job_id = fleet.submit(*args, "--out", str(tmp_path / "queued"))
    done = fleet.status(job_id, wait=True)
    assert done["state"] == "success", done
    queued = json.loads(open(done["manifest"], encoding="utf-8").read())
    cli = per_product(folder, tmp_path / "cli", "--no-render", "--config", queue_config)
    assert queued["clips"] == cli["clips"] and queued["products"] == cli["products"]
    check_one_clip_per_product(queued, truth, logged_orders(folder))


@pytest.mark.integration
def test_events_posted_to_the_service_with_items_reach_the_watch(commerce_streams, tmp_path_factory):
    """on_publish starts a watch of the stream's HLS playlist on the live queue; the platform
    posts chat and commerce events (product switches, carts and orders naming their item) to
    POST /streams/shop/events as they happen; the watch clips every product. And a stream-end
    event naming the events log beside the chat log (options.events) queues the same clips."""
    import shutil
    import subprocess
    import time

    from services import Fleet, RedisServer, Service
    from test_service import SECRET, event, post_signed, wait_job

    folder, truth = commerce_streams[0]
    comments = json.loads((folder / "chat.json").read_text())["comments"]
    events = sorted([{"t": c["content_offset_seconds"], "user": c["commenter"]["name"], "text": c["message"]["body"]}
                     for c in comments] + [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()],
                    key=lambda e: e["t"])
    root, outputs = tmp_path_factory.mktemp("recordings"), tmp_path_factory.mktemp("outputs")
    (root / "hls").mkdir()
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"))
    fleet = Fleet(redis_server, 0, str(tmp_path_factory.mktemp("logs")))
    fleet.env.update(PEAKCLIP_WEBHOOK_SECRET=SECRET, PEAKCLIP_RECORDINGS_ROOT=str(root), PEAKCLIP_OUTPUT_ROOT=str(outputs),
                     PEAKCLIP_SERVICE_LIVE_PLAYLIST="hls/{name}.m3u8", PEAKCLIP_LIVE_POLL="0.5",
                     PEAKCLIP_RENDER_ENABLED="false", PEAKCLIP_SELECT_PER_PRODUCT="true")
    service = None
    try:
        fleet.start("live1", queues="live")
        fleet.start("w1", queues="analyze,render")
        service = Service(fleet.env, str(tmp_path_factory.mktemp("svc") / "service.log"))
        for name in ("stream.mp4", "chat.json", "events.jsonl"):
            shutil.copy(folder / name, root / name)
        assert post_signed(service, "/hooks/stream-end", event("e0", "stream.mp4", chat="chat.json",
                                                               options={"events": "../events.jsonl"}))[0] == 403
        status, _, body = post_signed(service, "/hooks/stream-end", event("e1", "stream.mp4", chat="chat.json",
                                                                          options={"events": "events.jsonl"}))
        assert status == 202, body
        done = wait_job(service, json.loads(body)["job_id"])
        assert done["state"] == "success", done
        check_one_clip_per_product(done["manifest"], truth, logged_orders(folder))   # the service gives the manifest
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, body = service.request("POST", f"/hooks/nginx-rtmp?token={SECRET}",
                                          b"call=publish&app=live&name=shop&clientid=1", form)
        assert status == 200, body
        push = subprocess.Popen(["ffmpeg", "-v", "error", "-readrate", str(READ_RATE), "-i", str(folder / "stream.mp4"),
                                 "-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_list_size", "0",
                                 str(root / "hls" / "shop.m3u8")])
        started, sent = time.monotonic(), 0
        while push.poll() is None or sent < len(events):
            due = [e for e in events[sent:] if e["t"] <= (time.monotonic() - started) * READ_RATE or push.poll() is not None]
            if due:
                assert post_signed(service, "/streams/shop/events", {"events": due})[0] == 202
                sent += len(due)
            time.sleep(0.3)
        assert push.returncode == 0
        service.request("POST", f"/hooks/nginx-rtmp?token={SECRET}", b"call=publish_done&app=live&name=shop", form)
        final, deadline = None, time.monotonic() + 240
        while final is None and time.monotonic() < deadline:
            for path in (outputs / "shop").glob("live-*/manifest.json"):
                data = json.loads(path.read_text())
                final = data if data["live"]["state"] == "ended" else None
            time.sleep(0.5)
        assert final, open(os.path.join(fleet.logs, "live1.log")).read()[-3000:]
        check_one_clip_per_product(final, truth, logged_orders(folder))
        assert {p["item"] for p in final["provisional"]} >= {p["item"] for p in truth["products"][:3]}
    finally:
        if service:
            service.stop()
        fleet.stop_all()
        redis_server.stop()


# ---- eval ---------------------------------------------------------------------------------------

def test_eval_judges_a_commerce_sample_product_by_product(commerce_streams, tmp_path):
    folder, truth = commerce_streams[1]
    result = run_cli("eval", str(folder))
    lines = [line for line in result.stdout.splitlines() if " product " in line]
    assert [line.split()[2] for line in lines] == [p["item"] for p in truth["products"]], result.stdout
    assert all(line.endswith(" ok") for line in lines) and f"products {len(lines)}/{len(lines)} right" in result.stdout
    sold = {p["item"] for p in truth["products"] if p["orders"]}
    assert all(("bought in clip" in line) == (line.split()[2] in sold) for line in lines)
    # A truth that counts one order more than the log: that product is wrong, and eval says so.
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for name in ("stream.mp4", "chat.json", "events.jsonl"):
        (wrong / name).symlink_to(folder / name)
    truth["products"][0]["orders"] += 1
    (wrong / "truth.json").write_text(json.dumps(truth))
    truth["products"][0]["orders"] -= 1
    result = run_cli("eval", str(wrong))
    first = next(line for line in result.stdout.splitlines() if " product " in line)
    assert first.endswith("WRONG") and result.returncode == 1
    assert f"products {len(truth['products']) - 1}/{len(truth['products'])} right" in result.stdout
