"""Property tests: every chat parser, fed arbitrary bytes or a valid log with bytes changed, ends
in parsed messages plus a skipped count, or the documented one-line ChatError. Nothing else."""
import gzip
import os
import tempfile

import pytest
import test_chat
import test_products
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peakclip.detectors.chat import ChatConfig, Message, ProductBook, read_chat
from peakclip.detectors.chat.log import FORMATS
from peakclip.detectors.errors import ChatError

HOP = 0.5
# The valid logs the chat tests build, by name: one of each format, and live-commerce event logs
# (product switches, carts and orders naming items) in both generic formats.
BUILDERS = {name: getattr(test_chat, name) for name in
            ("twitchdownloader", "ytdlp", "chatdownloader", "irc", "textlog", "bilibili", "douyin", "taobao", "jsonl",
             "csvlog")}
BUILDERS |= {"commerce_jsonl": test_products.commerce_jsonl, "commerce_csv": test_products.commerce_csv}
SEEDS = tuple(BUILDERS)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """The valid logs the chat tests build, one of each format, as bytes."""
    found = {}
    for name in SEEDS:
        path = BUILDERS[name](tmp_path_factory.mktemp(name))
        with open(path, "rb") as handle:
            found[name] = handle.read()
    return found


def outcome(data: bytes, **config) -> None:
    """Read ``data`` as a chat log; only a ChatLog or a one-line ChatError may come out."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "chat.log")
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            log = read_chat(path, ChatConfig(**config), HOP, 600.0)
        except ChatError as err:
            assert str(err) and "\n" not in str(err)
            return
    assert log.messages >= 0 and log.skipped >= 0 and log.before >= 0 and log.after >= 0
    assert len(log.series().values) == 1200 and (log.series().values >= 0).all()
    assert all("\n" not in w for w in log.warnings())
    assert_windows_hold(log.products, 600.0)
    for columns in log.item_commerce(1200).values():
        assert all(len(values) == 1200 and (values >= 0).all() for values in columns.values())


def assert_windows_hold(windows, end: float) -> None:
    """Presentations in time order, none overlapping another, each of some length, all inside the recording."""
    assert all(0 <= w.start < w.end <= end and w.item for w in windows)
    assert all(a.end <= b.start for a, b in zip(windows, windows[1:]))


def mutate(data: bytes, edits: list[tuple[float, int, bytes]]) -> bytes:
    """Apply (where, what, bytes) edits: 0 deletes a run, 1 inserts, 2 overwrites, 3 cuts the rest."""
    out = bytearray(data)
    for where, what, payload in edits:
        at = int(where * len(out))
        if what == 0:
            del out[at:at + max(1, len(payload))]
        elif what == 1:
            out[at:at] = payload
        elif what == 2:
            out[at:at + len(payload)] = payload
        else:
            del out[at:]
    return bytes(out)


EDITS = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), st.binary(min_size=1, max_size=12)),
                 min_size=1, max_size=6)


@FUZZ
@given(data=st.binary(max_size=2048), forced=st.sampled_from([None, *FORMATS]))
def test_arbitrary_bytes(data, forced):
    outcome(data, format=forced)


@FUZZ
@given(name=st.sampled_from(SEEDS), edits=EDITS, gz=st.booleans())
def test_mutated_valid_logs(seeds, name, edits, gz):
    data = mutate(seeds[name], edits)
    outcome(gzip.compress(data) if gz else data, stream_start="2025-11-23T12:13:00Z")


@FUZZ
@given(name=st.sampled_from(SEEDS), edits=EDITS)
def test_mutated_compressed_logs(seeds, name, edits):
    """A gzip file broken in the middle (a download cut off) is read as far as it goes."""
    outcome(mutate(gzip.compress(seeds[name]), edits), stream_start="2025-11-23T12:13:00Z")


SWITCHES = st.lists(st.tuples(st.floats(-5, 130, allow_nan=False), st.sampled_from(["A", "B", "C", ""])), max_size=30)
SALES = st.lists(st.tuples(st.floats(0, 130, allow_nan=False), st.sampled_from(["A", "B", "D"])), max_size=60)


@FUZZ
@given(switches=SWITCHES, orders=SALES, end=st.floats(1, 120, allow_nan=False))
def test_product_book_in_any_order(switches, orders, end):
    """Switches and orders in any order and at any time: windows stay ordered and apart, every
    item order on the grid is counted once for its item, and only never-shown items are unknown."""
    book = ProductBook(HOP)
    for t, item in switches:
        book.add(Message(t=max(0.0, t), user="", kind="product" if item else "product_end", item=item))
    for t, item in orders:
        book.add(Message(t=t, user="u", kind="order", item=item, amount=1.5))
    windows = book.windows(end)
    assert_windows_hold(windows, end)
    sales = book.commerce(261)   # 130.5 s: every order is on the grid
    for item in {item for _, item in orders}:
        assert sales[item]["orders"].sum() == sum(1 for _, i in orders if i == item)
        assert sales[item]["paid"].sum() == pytest.approx(1.5 * sales[item]["orders"].sum())
    shown = {w.item for w in windows}
    assert set(book.unknown_items(end)) == {item for _, item in orders} - shown
