"""Live commerce per item: product events and item-tagged carts and orders read from the generic
logs, presentation windows, per-item sales, and generated commerce streams checked against truth."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from peakclip.detectors.chat import ChatConfig, Message, ProductBook, ProductWindow, read_chat
from peakclip.detectors.chat.audience import Audience

HOP = 0.5
REPO = Path(__file__).resolve().parents[1]


def write_jsonl(path, records, tail=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail)
    return str(path)


def write_csv(path, header, rows):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return str(path)


# A host presents a jacket, then a scarf, stops to chat, then shows the jacket again.
SHOW = [
    {"t": 10.0, "type": "product", "item": "SKU-1", "title": "Down jacket, navy"},
    {"t": 12.0, "user": "ann", "type": "cart", "item": "SKU-1"},
    {"t": 14.0, "user": "ann", "type": "order", "item": "SKU-1", "amount": 59.9},
    {"t": 14.2, "user": "bob", "type": "order", "item": "SKU-1", "amount": "$59.90"},
    {"t": 15.0, "user": "cat", "text": "that price tho"},
    {"t": 40.0, "type": "product", "item": "SKU-2", "title": "Wool scarf"},
    {"t": 45.0, "user": "dan", "type": "order", "item": "SKU-2", "amount": 12},
    {"t": 70.0, "type": "product_end"},
    {"t": 80.0, "type": "product", "item": "SKU-1"},            # shown again: no title this time
    {"t": 85.0, "user": "eve", "type": "order", "item": "SKU-1", "amount": 59.9},
    {"t": 90.0, "type": "product", "item": None},               # an item of null ends it too
    {"t": 100.0, "type": "product", "item": "SKU-3", "title": "Mug"},   # the last: until the recording ends
    {"t": 101.0, "user": "fay", "type": "paid", "item": "SKU-3", "amount": 5},
]


def commerce_jsonl(tmp_path):
    """The show as a JSON Lines events log (also a seed of the chat fuzz tests)."""
    return write_jsonl(tmp_path / "events.jsonl", SHOW)


def commerce_csv(tmp_path):
    """The show as a CSV events log."""
    header = ["t", "user", "type", "item", "title", "amount", "text"]
    return write_csv(tmp_path / "events.csv", header, [[r.get(k, "") for k in header] for r in SHOW])


def test_product_events_windows_and_per_item_sales_from_jsonl(tmp_path):
    log = read_chat(commerce_jsonl(tmp_path), ChatConfig(), HOP, 120.0)
    assert log.format == "jsonl" and (log.messages, log.skipped) == (len(SHOW), 0)
    assert log.products == [ProductWindow("SKU-1", "Down jacket, navy", 10.0, 40.0),
                            ProductWindow("SKU-2", "Wool scarf", 40.0, 70.0),
                            ProductWindow("SKU-1", "Down jacket, navy", 80.0, 90.0),
                            ProductWindow("SKU-3", "Mug", 100.0, 120.0)]
    sales = log.item_commerce(log.n_bins)
    assert sorted(sales) == ["SKU-1", "SKU-2", "SKU-3"]
    assert all(len(values) == 240 for columns in sales.values() for values in columns.values())
    jacket = sales["SKU-1"]
    assert (jacket["carts"].sum(), jacket["orders"].sum()) == (1, 3)
    assert jacket["orders"][28] == 2 and jacket["orders"][170] == 1          # 14.0 and 14.2 s; 85 s
    assert jacket["paid"].sum() == pytest.approx(3 * 59.9)
    assert sales["SKU-2"]["orders"].sum() == 1 and sales["SKU-3"]["orders"].sum() == 0
    assert sales["SKU-3"]["paid"][202] == 5
    # product switches are context, not people: the signal holds the six viewers only
    assert log.users == 6 and log.summary()["kinds"]["product"] == 4 and log.summary()["products"] == 3
    assert log.warnings() == []


def test_product_events_carry_no_weight_in_the_audience_signal(tmp_path):
    switches = [{"t": 5.0 + i, "type": "product", "item": f"SKU-{i}", "user": "Nightbot"} for i in range(20)]
    log = read_chat(write_jsonl(tmp_path / "switches.jsonl", switches), ChatConfig(), HOP, 60.0)
    assert log.messages == 20 and not log.series().values.any()
    assert log.users == 0 and log.audience.counts["bots"] == 0   # not even weighed as a bot
    assert len(log.products) == 20


def test_the_same_show_from_csv_reads_the_same(tmp_path):
    from_jsonl = read_chat(commerce_jsonl(tmp_path), ChatConfig(), HOP, 120.0)
    from_csv = read_chat(commerce_csv(tmp_path), ChatConfig(), HOP, 120.0)
    assert from_csv.format == "csv" and from_csv.skipped == 0
    assert from_csv.products == from_jsonl.products
    assert {**from_csv.summary(), "format": "jsonl"} == from_jsonl.summary()
    for item, columns in from_jsonl.item_commerce(240).items():
        for name, values in columns.items():
            assert np.allclose(from_csv.item_commerce(240)[item][name], values), (item, name)


def test_product_events_from_csv(tmp_path):
    path = write_csv(tmp_path / "events.csv", ["t", "user", "type", "item", "title", "amount"], [
        [5, "", "product", "SKU-7", "Lip tint, coral", ""],
        [9, "ann", "cart", "SKU-7", "", ""],
        [11, "ann", "order", "SKU-7", "", "9,90"],
        [30, "", "product", "", "", ""],          # an empty item ends the presentation
        [31, "bob", "order", "", "", "3"],        # an order with no item is no item's
        ["soon", "", "product", "SKU-8", "", ""],  # a bad time: skipped and counted
    ])
    log = read_chat(path, ChatConfig(), HOP, 60.0)
    assert log.format == "csv" and (log.messages, log.skipped) == (5, 1)
    assert log.products == [ProductWindow("SKU-7", "Lip tint, coral", 5.0, 30.0)]
    sales = log.item_commerce(log.n_bins)
    assert list(sales) == ["SKU-7"] and sales["SKU-7"]["orders"][22] == 1 and sales["SKU-7"]["paid"][22] == pytest.approx(9.9)
    assert log.audience.orders.sum() == 2   # the item-less order still counts for the clip's commerce


def test_a_csv_events_log_without_a_user_column_is_recognised(tmp_path):
    path = write_csv(tmp_path / "switches.csv", ["t", "type", "item"], [[3, "product", "SKU-1"], [20, "product_end", ""]])
    log = read_chat(path, ChatConfig(), HOP, 60.0)
    assert log.format == "csv" and log.products == [ProductWindow("SKU-1", "", 3.0, 20.0)]


def test_bad_product_records_are_skipped_and_counted(tmp_path):
    records = [{"t": 1.0, "type": "product", "item": {"id": "SKU-1"}},    # an item that is no id
               {"type": "product", "item": "SKU-2"},                        # no time
               {"t": 3.0, "type": "product", "item": "SKU-3", "title": ["a"]},
               {"t": 4.0, "user": "ann", "type": "order", "item": [1, 2]},
               {"t": 5.0, "user": "bob", "type": "order"},                  # no item is fine
               {"t": 6.0, "type": "cart", "item": "SKU-4"},                 # a cart needs a person
               {"t": 7.0, "type": "product", "item": 4711, "title": "Numbered"}]   # a number is an id
    log = read_chat(write_jsonl(tmp_path / "bad.jsonl", records, tail='{"t": 9, "type": "prod'), ChatConfig(), HOP, 60.0)
    assert (log.messages, log.skipped) == (2, 6)
    assert [s.line for s in log.skipped_lines] == [1, 2, 3, 4, 6]
    assert "item is a JSON dict" in log.skipped_lines[0].reason and "title is a JSON list" in log.skipped_lines[2].reason
    assert log.products == [ProductWindow("4711", "Numbered", 7.0, 60.0)]
    assert any("skipped 6 record(s)" in w for w in log.warnings())


def test_orders_for_items_never_presented_are_counted_and_warned(tmp_path):
    records = [{"t": 1.0, "type": "product", "item": "SKU-1"}]
    records += [{"t": 2.0 + i, "user": f"u{i}", "type": "order", "item": "SKU-9"} for i in range(3)]
    records += [{"t": 6.0, "user": "v", "type": "order", "item": "SKU-8"}, {"t": 7.0, "user": "w", "type": "cart", "item": "SKU-7"},
                {"t": 8.0, "user": "x", "type": "order", "item": "SKU-1"},
                {"t": 70.0, "type": "product", "item": "SKU-6"}, {"t": 9.0, "user": "y", "type": "order", "item": "SKU-6"}]
    log = read_chat(write_jsonl(tmp_path / "unknown.jsonl", records), ChatConfig(), HOP, 60.0)
    assert log.book.unknown_items(log.end) == {"SKU-6": 1, "SKU-8": 1, "SKU-9": 3}   # SKU-6 shown only after the end
    assert "chat: 5 order(s) name items never presented: SKU-6, SKU-8, SKU-9" in log.warnings()
    assert log.after == 1 and log.products == [ProductWindow("SKU-1", "", 1.0, 60.0)]


def test_windows_in_time_order_repeats_and_edges():
    book = ProductBook(HOP)
    for t, kind, item, title in [(50, "product", "B", "Bee"), (10, "product", "A", "Ay"),   # out of order
                                 (30, "product", "A", ""),     # announced again while on show: one window
                                 (50, "product", "C", "Sea"),  # same time as B, later in the log: C wins
                                 (70, "product_end", "", ""), (70, "product_end", "", ""),
                                 (90, "product", "A", "")]:
        book.add(Message(t=t, user="", kind=kind, item=item, title=title))
    assert book.windows(100.0) == [ProductWindow("A", "Ay", 10, 50), ProductWindow("C", "Sea", 50, 70),
                                   ProductWindow("A", "Ay", 90, 100)]
    assert book.windows(80.0)[-1] == ProductWindow("C", "Sea", 50, 70)   # a switch at the end adds nothing
    assert book.windows(60.0)[-1] == ProductWindow("C", "Sea", 50, 60)   # the recording ends mid-window


def test_a_product_on_show_before_the_recording_started_is_on_show_from_its_start(tmp_path):
    records = [{"ts": "2025-11-23T12:10:00Z", "type": "product", "item": "SKU-1"},
               {"ts": "2025-11-23T12:13:30Z", "user": "ann", "type": "order", "item": "SKU-1"},
               {"ts": "2025-11-23T12:12:00Z", "user": "bob", "text": "pre-show chat"}]
    log = read_chat(write_jsonl(tmp_path / "wall.jsonl", records), ChatConfig(stream_start="2025-11-23T12:13:20Z"), HOP, 60.0)
    assert log.products == [ProductWindow("SKU-1", "", 0.0, 60.0)] and log.before == 1
    assert log.item_commerce(log.n_bins)["SKU-1"]["orders"][20] == 1 and log.warnings()[0].startswith("chat: 1 records")


def test_per_item_ledgers_grow_both_ways_and_fit_the_grid():
    book = ProductBook(HOP)
    times = [500.0, 20.0, 2000.0, 0.0, 499.9, 3000.0]   # out of order, far apart
    for t in times:
        book.add(Message(t=t, user="u", kind="order", item="SKU-1", amount=2.0))
    ledger = book.ledgers["SKU-1"]
    assert ledger.origin == 0 and ledger.values.shape[1] >= 6001
    on_grid = book.commerce(5000)["SKU-1"]   # the grid ends before the last order
    expected = np.zeros(5000)
    for t in times[:-1]:
        expected[int(t // HOP)] += 1
    assert np.array_equal(on_grid["orders"], expected) and on_grid["paid"].sum() == pytest.approx(10.0)
    late = ProductBook(HOP)
    late.add(Message(t=1000.0, user="u", kind="cart", item="SKU-2"))
    assert late.ledgers["SKU-2"].origin == 2000 and late.ledgers["SKU-2"].values.shape[1] < 100   # no bins before its first


def test_summary_without_products_is_unchanged(tmp_path):
    log = read_chat(write_jsonl(tmp_path / "chat.jsonl", [{"t": 1.0, "user": "ann", "text": "hi"}]), ChatConfig(), HOP, 10.0)
    assert "products" not in log.summary() and log.products == [] and log.item_commerce(log.n_bins) == {}


def test_the_audience_ignores_product_switches_whoever_sends_them():
    audience = Audience(HOP, ChatConfig())
    assert audience.add(Message(t=1.0, user="host", kind="product", item="SKU-1")) is False
    assert audience.add(Message(t=1.0, user="host", kind="product_end")) is False
    assert audience.kinds == {"product": 1, "product_end": 1} and audience.last == {}


# ---- generated commerce streams -------------------------------------------------------------

@pytest.fixture(scope="module")
def commerce_stream(tmp_path_factory):
    from peakclip.samples.generate import generate

    folder = tmp_path_factory.mktemp("commerce")
    truth = generate(str(folder), seed=21, duration=480.0, size=(160, 90), fps=10, commerce=True)
    return folder, truth


def test_a_commerce_stream_presents_items_and_plants_a_price_reveal_in_each_one_that_sells(commerce_stream):
    from peakclip.samples.generate.commerce import BUYING_AFTER, ITEMS, PRESENTATION, UNSOLD

    folder, truth = commerce_stream
    products = truth["products"]
    assert ITEMS[0] <= len(products) <= ITEMS[1] and len({p["item"] for p in products}) == len(products)
    assert all(PRESENTATION[0] - 0.01 <= p["end"] - p["start"] <= PRESENTATION[1] + 0.01 and p["title"] for p in products)
    assert all(a["end"] <= b["start"] for a, b in zip(products, products[1:])) and products[-1]["end"] <= 480.0
    reveals = {h["item"]: h for h in truth["highlights"] if "item" in h}
    assert len(reveals) == len(truth["highlights"])            # no highlights beside the reveals by default
    unsold = [p for p in products if p["item"] not in reveals]
    assert UNSOLD[0] <= len(unsold) <= UNSOLD[1] and all(p["orders"] == 0 for p in unsold)
    for product in products:
        reveal = reveals.get(product["item"])
        if reveal:
            assert (reveal["kind"], reveal["way"]) == ("chat", "price-drop")
            assert product["start"] <= reveal["start"] < reveal["end"] <= product["end"] and product["orders"] > 0
    # buyers act 2-15 s after the price, or later while the item is still on show; never before it
    records = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    window = {p["item"]: p for p in products}
    for record in records:
        if record["type"] in ("cart", "order"):
            reveal, product = reveals[record["item"]], window[record["item"]]
            assert reveal["start"] + BUYING_AFTER[0] <= record["t"] <= product["end"] and record["user"]
            if record["type"] == "cart":
                assert record["t"] <= reveal["start"] + BUYING_AFTER[1]
    bursts = sum(1 for r in records if r["type"] == "order" and r["t"] <= reveals[r["item"]]["start"] + BUYING_AFTER[1])
    assert bursts > 0.7 * sum(p["orders"] for p in products)   # most orders come in the bursts


def test_a_commerce_streams_events_read_back_as_its_truth(commerce_stream):
    folder, truth = commerce_stream
    log = read_chat(str(folder / "events.jsonl"), ChatConfig(), HOP, truth["duration"])
    assert log.format == "jsonl" and log.skipped == 0 and log.warnings() == []
    assert [(w.item, w.title, w.start, w.end) for w in log.products] == [
        (p["item"], p["title"], p["start"], p["end"]) for p in truth["products"]]
    orders = {item: int(columns["orders"].sum()) for item, columns in log.item_commerce(log.n_bins).items()}
    assert orders == {p["item"]: p["orders"] for p in truth["products"] if p["orders"]}
    assert log.summary()["products"] == len(truth["products"]) and log.summary()["kinds"]["order"] == sum(orders.values())
    paid = {item: columns["paid"].sum() for item, columns in log.item_commerce(log.n_bins).items()}
    assert all(paid[p["item"]] == pytest.approx(p["orders"] * p["price"]) for p in truth["products"] if p["orders"])


def test_a_commerce_streams_chat_still_reads_and_reacts_at_the_reveals(commerce_stream):
    folder, truth = commerce_stream
    chat = read_chat(str(folder / "chat.json"), ChatConfig(), HOP, truth["duration"])
    assert chat.format == "twitchdownloader" and "products" not in chat.summary()
    values = chat.series().values
    for reveal in truth["highlights"]:
        reaction = values[int(reveal["start"] / HOP):int((reveal["end"] + 20) / HOP)].max()
        assert reaction >= 3 * np.median(values) + 1, reveal


def test_rivals_share_a_selling_items_window_clear_of_its_reveal_and_buyers(tmp_path):
    from peakclip.samples.generate import SampleError, generate
    from peakclip.samples.generate.commerce import (BUYING_AFTER, RIVAL_ROOM, RIVALS, plan_products, price_reveals,
                                                    rival_moments)
    from peakclip.samples.generate.moments import plan

    placed = 0
    for seed in range(1, 13):
        rng = np.random.default_rng(seed)
        products = plan_products(rng, 420.0)
        reveals = price_reveals(rng, products)
        rivals = rival_moments(rng, products, reveals)
        on_show, by_item = {p["item"]: p for p in products}, {r["item"]: r for r in reveals}
        assert len({r["rival_of"] for r in rivals}) == len(rivals) and {r["rival_of"] for r in rivals} <= set(by_item)
        for rival in rivals:
            product, reveal = on_show[rival["rival_of"]], by_item[rival["rival_of"]]
            assert f"{rival['kind']}:{rival['way']}" in RIVALS and "item" not in rival
            assert product["start"] + RIVAL_ROOM["after_start"] <= rival["start"]
            assert rival["end"] <= product["end"] - RIVAL_ROOM["before_end"]
            before = rival["end"] + RIVAL_ROOM["margin"] <= reveal["start"] + 1e-6
            after = rival["start"] >= reveal["end"] + RIVAL_ROOM["margin"] - 1e-6
            assert before or after and rival["start"] > reveal["start"] + BUYING_AFTER[1]   # after the last buyer
        truth = plan(rng, 420.0, [], ["spam", "camera"], fixed=reveals + rivals)   # the rest still fits around them
        assert len(truth["highlights"]) == len(reveals) + len(rivals)
        placed += len(rivals)
    assert placed > 30          # most selling windows have room for one
    with pytest.raises(SampleError, match="--commerce"):
        generate(str(tmp_path / "s"), rivals=True)
    assert not (tmp_path / "s").exists()


def test_a_commerce_stream_too_short_for_six_items_is_refused_in_one_line(tmp_path):
    refused = subprocess.run([sys.executable, "-m", "peakclip.samples.generate", str(tmp_path / "s"), "--commerce",
                              "--duration", "300", "--size", "160x90"], capture_output=True, text=True, cwd=REPO,
                             timeout=120)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "at least 6 items" in refused.stderr and "370 s" in refused.stderr and not (tmp_path / "s").exists()
