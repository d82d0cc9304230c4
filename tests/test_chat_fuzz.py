"""Property tests: every chat parser, fed arbitrary bytes or a valid log with bytes changed, ends
in parsed messages plus a skipped count, or the documented one-line ChatError. Nothing else."""
import gzip
import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_chat
from detectors.chat import ChatConfig, read_chat
from detectors.chat.log import FORMATS
from detectors.errors import ChatError

HOP = 0.5
SEEDS = ("twitchdownloader", "ytdlp", "chatdownloader", "irc", "textlog", "bilibili", "jsonl", "csvlog")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """The valid logs the chat tests build, one of each format, as bytes."""
    found = {}
    for name in SEEDS:
        path = getattr(test_chat, name)(tmp_path_factory.mktemp(name))
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
