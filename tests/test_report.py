"""The review report opened in a real headless Chromium, and the editor exports read back."""
import json
import os
import pathlib

import pytest
from conftest import REPO, VERTICAL, run_cli

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.environ.get("PEAKCLIP_TEST_ARTIFACTS", os.path.join(REPO, "test-artifacts"))


@pytest.fixture(scope="module")
def job(sample, fast_config, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = run_cli("clip", sample["video"], "--chat", sample["chat"], "--out", str(out), "--config", fast_config,
                     "--clips", "3", "--export", "edl,otio,fcpxml")
    assert result.returncode == 0, result.stderr
    with open(out / "manifest.json", encoding="utf-8") as handle:
        return {"out": out, "manifest": json.load(handle)}


def open_in_chromium(url: str, screenshot: str) -> dict:
    """Load ``url`` in headless Chromium; what the page holds, and every console error."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_load_state("load")
        # Every clip's video must load its metadata (a playable H.264 file at the linked path).
        page.wait_for_function("""() => [...document.querySelectorAll('article.card video')]
                                    .every(v => v.readyState >= 1 || v.error)""", timeout=30000)
        found = page.evaluate("""() => ({
            cards: [...document.querySelectorAll('article.card')].map(card => {
                const v = card.querySelector('video');
                return {rank: +card.dataset.rank, video: v ? {ready: v.readyState, error: v.error && v.error.code,
                        duration: v.duration, width: v.videoWidth, height: v.videoHeight} : null,
                        bars: [...card.querySelectorAll('.bar')].map(b => b.dataset.signal), text: card.innerText};
            }),
            series: [...document.querySelectorAll('svg polyline.series')].map(p => p.dataset.signal),
            spans: document.querySelectorAll('svg rect.span').length,
            spanBorders: [...document.querySelectorAll('svg rect.span')].map(r => {
                const style = getComputedStyle(r);
                return style.stroke !== 'none' && parseFloat(style.strokeWidth) > 0; }),
            // every bar as drawn: the share of its track it fills, and the value printed beside it
            bars: [...document.querySelectorAll('article.card .bar')].map(b => ({
                fill: b.querySelector('.fill').getBoundingClientRect().width
                      / b.querySelector('.track').getBoundingClientRect().width,
                value: parseFloat(b.querySelector('.value').textContent)})),
            legend: (document.querySelector('.legend') || {}).innerText || '',
            stages: document.querySelectorAll('svg line.stage').length,
        })""")
        # How many lines each card's time takes, on a wide page and with cards at their narrowest.
        lines = """() => [...document.querySelectorAll('article.card dd.time')].map(dd => {
            const range = document.createRange(); range.selectNodeContents(dd);
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size; })"""
        found["time_lines"] = page.evaluate(lines)
        page.set_viewport_size({"width": 590, "height": 900})   # two cards of the 260 px minimum
        found["time_lines"] += page.evaluate(lines)
        page.set_viewport_size({"width": 1280, "height": 900})
        # Play the first clip: it must actually advance (however long a busy machine takes to start it).
        page.evaluate("""async () => { const v = document.querySelector('article.card video');
                                      v.muted = true; await v.play(); }""")
        try:
            page.wait_for_function("() => document.querySelector('article.card video').currentTime > 0.2",
                                   timeout=60000)
        except PlaywrightTimeout:
            pass                       # the assertion below says how far it got
        found["played"] = page.evaluate("""() => { const v = document.querySelector('article.card video');
                                                   v.pause(); return v.currentTime; }""")
        os.makedirs(os.path.dirname(screenshot), exist_ok=True)
        page.screenshot(path=screenshot, full_page=True)
        browser.close()
    found["errors"] = errors
    return found


def test_report_opens_from_disk_with_a_playable_card_per_clip(job):
    manifest, out = job["manifest"], job["out"]
    assert manifest["report"] == "report.html"
    shot = os.path.join(ARTIFACTS, "report.png")
    page = open_in_chromium((out / "report.html").as_uri(), shot)
    assert page["errors"] == []
    assert sorted(c["rank"] for c in page["cards"]) == [c["rank"] for c in manifest["clips"]]
    for card, clip in zip(sorted(page["cards"], key=lambda c: c["rank"]), manifest["clips"]):
        video = card["video"]
        assert video and video["error"] is None and video["ready"] >= 1
        assert video["duration"] == pytest.approx(clip["end"] - clip["start"], abs=0.5)
        assert (video["width"], video["height"]) == VERTICAL[clip["profile"]]
        assert {"chat", "audio", "visual"} <= set(card["bars"])
        assert f"stage\n{clip['stage']}" in card["text"].replace("\t", "\n") or f"stage {clip['stage']}" in card["text"]
        assert clip["tier"] in card["text"] and clip["pool"] in card["text"]
    assert page["played"] > 0.2
    assert page["series"] == ["chat", "audio", "visual", "score"]
    assert page["spans"] == len(manifest["clips"]) and all(page["spanBorders"])   # touching spans stay apart
    assert page["time_lines"] and set(page["time_lines"]) == {1}                   # "(15.5 s)" never wraps
    top = max(bar["value"] for bar in page["bars"])                                # one scale for the page
    for bar in page["bars"]:
        assert bar["fill"] == pytest.approx(max(bar["value"], 0) / top, abs=0.02), page["bars"]
    for words in ("tier", "pool", "S from 7", "test (500 viewers)", "large (500,000 viewers)"):
        assert words in page["legend"], page["legend"]
    assert page["stages"] == len(manifest["stages"]) - 1
    assert os.path.getsize(shot) > 10000


def test_report_is_self_contained(job):
    text = (job["out"] / "report.html").read_text(encoding="utf-8")
    fetched = text.replace('xmlns="http://www.w3.org/2000/svg"', "")   # a name, not a link
    assert "<script" not in text and "http://" not in fetched and "https://" not in fetched
    assert text.count("data:image/jpeg;base64,") == len(job["manifest"]["clips"])   # thumbnails inline
    for clip in job["manifest"]["clips"]:
        assert f'src="{clip["file"]}"' in text                                       # clips linked relatively


def test_exports_read_back_with_the_same_spans(job):
    import opentimelineio as otio

    manifest, out = job["manifest"], job["out"]
    assert manifest["exports"] == {"edl": "timeline.edl", "otio": "timeline.otio", "fcpxml": "timeline.fcpxml"}
    expected = [(c["start"], c["end"]) for c in manifest["clips"]]
    source_url = pathlib.Path(os.path.abspath(manifest["source"]["path"])).as_uri()
    for name, adapter, options in (("timeline.edl", "cmx_3600", {"rate": 30}), ("timeline.otio", "otio_json", {}),
                                   ("timeline.fcpxml", "fcpx_xml", {})):
        timeline = otio.adapters.read_from_file(str(out / name), adapter_name=adapter, **options)
        video = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
        assert len(video) == 1, name
        clips = list(video[0].find_clips())
        got = [(c.source_range.start_time.to_seconds(), c.source_range.end_time_exclusive().to_seconds()) for c in clips]
        assert len(got) == len(expected), name
        for (a, b), (x, y) in zip(got, expected):
            assert a == pytest.approx(x, abs=1 / 30 + 1e-6) and b == pytest.approx(y, abs=1 / 30 + 1e-6), name
        assert all(c.media_reference.target_url == source_url for c in clips), name
        if adapter != "cmx_3600":   # EDL carries pictures only; the others carry the sound too
            assert any(t.kind == otio.schema.TrackKind.Audio for t in timeline.tracks), name


def test_no_report_and_a_bad_export_name(sample, tmp_path):
    result = run_cli("clip", sample["video"], "--out", str(tmp_path / "a"), "--no-render", "--no-report", "--quiet")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "a" / "report.html").exists()
    assert "report" not in json.loads((tmp_path / "a" / "manifest.json").read_text())
    result = run_cli("clip", sample["video"], "--out", str(tmp_path / "b"), "--export", "edl,avid")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "avid" in result.stderr


def test_a_card_says_what_is_said_and_links_the_captions(tmp_path):
    """A captioned clip's card shows its words (escaped) and links its .srt beside the formats;
    the render profile it was made at is listed."""
    from peakclip.pipeline.output.report import clip_card

    clip = {"id": "abc", "rank": 1, "tier": "A", "pool": "test", "stage": 1, "start": 10.0, "end": 25.0,
            "peak": 18.0, "score": 4.2, "signals": {"chat": 2.0}, "profile": "preview",
            "files": {"vertical": "clips/01-abc.preview.mp4"}, "captions": "clips/01-abc.preview.srt",
            "text": "two for <one> & free shipping"}
    card = clip_card(clip, str(tmp_path), 2.0)
    assert "two for &lt;one&gt; &amp; free shipping" in card and "<one>" not in card
    assert 'href="clips/01-abc.preview.srt"' in card and 'href="clips/01-abc.preview.mp4"' in card
    assert "<dt>render</dt><dd>preview</dd>" in card
    plain = clip_card({**clip, "text": None, "captions": None, "profile": None}, str(tmp_path), 2.0)
    assert 'class="said"' not in plain and ".srt" not in plain and "<dt>render</dt>" not in plain


def test_a_card_lists_how_each_shot_was_framed(tmp_path):
    """--fill auto: each format's shots, with their start on the stream's clock, mode and how far a
    tracking window moved."""
    from peakclip.pipeline.output.report import clip_card

    clip = {"id": "abc", "rank": 1, "tier": "A", "pool": "test", "stage": 1, "start": 10.0, "end": 25.0,
            "peak": 18.0, "score": 4.2, "signals": {"chat": 2.0},
            "framing": {"vertical": {"window": [0.3164, 1.0], "shots": [
                {"start": 0.0, "end": 5.0, "mode": "steady", "path": [[0.0, 0.1]], "rects": []},
                {"start": 5.0, "end": 15.0, "mode": "track", "path": [[5.0, 0.2], [15.0, 0.5]], "rects": []}]}}}
    card = clip_card(clip, str(tmp_path), 2.0)
    assert 'data-format="vertical"' in card
    assert 'data-mode="steady">0:00:10 steady' in card and 'data-mode="track">0:00:15 track (30% of the width)' in card
    assert 'class="framing"' not in clip_card({**clip, "framing": None}, str(tmp_path), 2.0)
