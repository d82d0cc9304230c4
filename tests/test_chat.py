import gzip
import json

import numpy as np
import pytest

from detectors.chat import chat_activity, read_chat
from detectors.chat.activity import distinct_users_per_window
from detectors.errors import ChatError


def twitch_doc(comments):
    return {"FileInfo": {"Version": {"Major": 1, "Minor": 2, "Patch": 2}}, "streamer": {"name": "s", "id": 1},
            "comments": comments}


def comment(t, user, text):
    return {"_id": "x", "content_offset_seconds": t,
            "commenter": {"display_name": user.title(), "_id": f"id-{user}", "name": user},
            "message": {"body": text, "fragments": [{"text": text, "emoticon": None}]}}


def test_twitchdownloader_json_counts_times_users_and_skips_bad_records(tmp_path):
    comments = [comment(1.5, "ann", "hi"), comment(2.0, "bob", "LUL"), {"content_offset_seconds": "x"},
                comment(3.25, "ann", "again"), {"commenter": {"name": "nobody"}}, comment(99.0, "cat", "late")]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(twitch_doc(comments)))
    log = read_chat(str(path), duration=60.0)
    assert log.format == "twitchdownloader"
    assert log.messages == 3 and log.users == 2
    assert log.t.tolist() == [1.5, 2.0, 3.25]
    assert log.user.tolist() == [0, 1, 0]
    assert log.skipped == 3
    assert [s.line for s in log.skipped_lines] == [3, 5, 6]
    assert "skipped 3" in log.warnings()[0]


def test_gzip_and_bom_and_offset(tmp_path):
    path = tmp_path / "chat.json.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + json.dumps(twitch_doc([comment(10.0, "a", "x")])).encode()))
    log = read_chat(str(path), offset=-4.0)
    assert log.t.tolist() == [6.0]


def test_not_a_chat_log_is_one_clear_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("shopping list: eggs, milk\n")
    with pytest.raises(ChatError, match="not a chat log"):
        read_chat(str(path))
    with pytest.raises(ChatError, match="not found"):
        read_chat(str(tmp_path / "missing.json"))


def test_distinct_users_count_people_not_messages():
    # one spammer posting in 10 consecutive bins vs. 5 people posting once in the same bin
    spam = distinct_users_per_window(np.arange(10), np.zeros(10, int), 20, window_bins=4)
    crowd = distinct_users_per_window(np.full(5, 10), np.arange(5), 20, window_bins=4)
    assert spam.max() == 1
    assert crowd.max() == 5
    assert crowd[10:14].tolist() == [5, 5, 5, 5] and crowd[14] == 0 and crowd[9] == 0


def test_chat_activity_is_a_series_on_the_grid(tmp_path):
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(twitch_doc([comment(1.2, "a", "x"), comment(1.4, "b", "y"), comment(8.0, "a", "z")])))
    series = chat_activity(read_chat(str(path)), 0.0, 10.0, 0.5, window=2.0)
    assert len(series) == 20 and series.name == "chat"
    assert series.values[2] == 2 and series.values[5] == 2 and series.values[6] == 0
    assert series.values[16] == 1
