"""The webhook service's parts that need no server: the route list and its description, and how an
event's options are checked and kept inside the recordings root."""
import os
import re

import pytest

from peakclip.workers import service
from peakclip.workers.service import ROUTES
from peakclip.workers.service.parts import Event, Refused, event_options, files_inside_root


def test_the_module_docstring_describes_every_route():
    described = {(method, re.sub(r"\{[a-z_]+(:path)?\}", "{}", path))
                 for method, path in re.findall(r"^  (GET|POST) +(/\S+)", service.__doc__, re.M)}
    routed = {(method, re.sub(r"\{[a-z_]+(:path)?\}", "{}", route.path))
              for route in ROUTES for method in route.methods - {"HEAD"}}
    assert described == routed


@pytest.fixture()
def root(tmp_path):
    (tmp_path / "show.json").write_text("{}")
    os.symlink("/etc", tmp_path / "escape")
    return tmp_path


def test_event_options_are_checked_and_their_files_resolved_inside_the_root(root):
    options = event_options(Event("stream-end", "e1", "s", "show.mp4", "show.json",
                                  {"clips": "3", "transcript": "embedded", "captions": "auto", "events": "sub/e.csv"}),
                            str(root))
    assert options == {"chat": str(root / "show.json"), "events": str(root / "sub" / "e.csv"),
                       "transcript": "embedded", "captions": "auto", "clips": 3}


@pytest.mark.parametrize("options, status", [
    ({"watermark": "escape/passwd"}, 403), ({"transcript": "../x.srt"}, 403), ({"captions": "/etc/passwd"}, 403),
    ({"chat": ""}, 400), ({"events": 7}, 400), ({"min_len": 0}, 400), ({"surprise": 1}, 400),
])
def test_event_options_refused(root, options, status):
    with pytest.raises(Refused) as caught:
        event_options(Event("stream-end", "e1", "s", "show.mp4", None, options), str(root))
    assert caught.value.status == status and "\n" not in caught.value.reason


def test_files_inside_root_leaves_words_that_name_no_file(root):
    assert files_inside_root({"transcript": "embedded", "captions": "off"}, str(root)) == \
        {"transcript": "embedded", "captions": "off"}
