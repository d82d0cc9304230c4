"""Live mode timings: how soon a highlight becomes a clip, and how soon the stream's end becomes
the final manifest.

    python bench/live.py latency [--rate 1]     a generated stream pushed as HLS in real time
    python bench/live.py end [--hours 4]        stream end -> final manifest, 10 minutes against HOURS

``latency``: ffmpeg writes a generated 150 s stream (three planted highlights) as HLS at ``--rate``
times real time while its chat is appended as it happens, and ``peakclip watch`` follows it. For
each highlight: the wall time from the end of its reaction window (the moment's end plus the chat
lag and window; the last bit of audience reaction a decision may wait for) to its provisional clip
file existing. Target: under 30 s.

``end``: a finished recording is given to ``peakclip watch`` as a playlist without its end tag;
once the watch has caught up, the end tag is added and the time to the final manifest is measured
(rendering off: the target is "under 10 s plus the render of clips not yet rendered"), for a
10-minute and a ``--hours`` stream (small pictures, so the long one is quick to make).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from peakclip.detectors.chat import ChatConfig  # noqa: E402
from peakclip.samples.generate import generate  # noqa: E402

PEAKCLIP = os.path.join(REPO, ".venv", "bin", "peakclip")


def latency(scratch: str, rate: float) -> None:
    truth = generate(os.path.join(scratch, "sample"), seed=11, duration=150.0, highlights=["crowd", "chat", "action"],
                     size=(640, 360))
    with open(os.path.join(scratch, "sample", "chat.json"), encoding="utf-8") as handle:
        comments = sorted(json.load(handle)["comments"], key=lambda c: c["content_offset_seconds"])
    hls, chat, out = (os.path.join(scratch, n) for n in ("hls", "chat.jsonl", "out"))
    os.makedirs(hls)
    open(chat, "w").close()
    push = subprocess.Popen(["ffmpeg", "-v", "error", "-readrate", str(rate), "-i", os.path.join(scratch, "sample", "stream.mp4"),
                             "-c", "copy", "-f", "hls", "-hls_time", "2", "-hls_list_size", "0", os.path.join(hls, "s.m3u8")])
    started = time.monotonic()

    def write_chat():
        with open(chat, "a", encoding="utf-8") as handle:
            for c in comments:
                time.sleep(max(0.0, c["content_offset_seconds"] / rate - (time.monotonic() - started)))
                handle.write(json.dumps({"t": c["content_offset_seconds"], "user": c["commenter"]["name"],
                                         "text": c["message"]["body"]}) + "\n")
                handle.flush()

    threading.Thread(target=write_chat, daemon=True).start()
    watch = subprocess.Popen([PEAKCLIP, "watch", os.path.join(hls, "s.m3u8"), "--chat", chat, "--out", out,
                              "--format", "vertical", "--clips", "3"], stdout=subprocess.DEVNULL,
                             env={**os.environ, "PEAKCLIP_LIVE_POLL": "0.5"})
    appeared: dict[str, float] = {}
    manifest = os.path.join(out, "manifest.json")
    while watch.poll() is None:
        if os.path.exists(manifest):
            with open(manifest, encoding="utf-8") as handle:
                data = json.load(handle)
            for item in data.get("provisional", []):
                if item["file"] and item["id"] not in appeared and os.path.exists(os.path.join(out, item["file"])):
                    appeared[item["id"]] = time.monotonic() - started
                    appeared[item["id"] + ":span"] = (item["start"], item["end"])
        time.sleep(0.1)
    push.wait()
    chat_config = ChatConfig()
    print(f"stream: 150 s at {rate:g}x real time, HLS 2 s segments; 2 cores")
    for h in truth["highlights"]:
        reaction_end = h["end"] + chat_config.lag + chat_config.window
        found = [k for k in appeared if not k.endswith(":span") and
                 appeared[k + ":span"][0] < h["end"] and h["start"] < appeared[k + ":span"][1]]
        if not found:
            print(f"highlight {h['kind']:6} {h['start']:6.1f}-{h['end']:6.1f}s: no provisional clip (too near the "
                  "end: it went straight to the final clips)")
            continue
        wall = appeared[found[0]] - reaction_end / rate
        print(f"highlight {h['kind']:6} {h['start']:6.1f}-{h['end']:6.1f}s: provisional clip {wall:5.1f} s "
              f"after its reaction window ended")


def end_to_final(scratch: str, hours: float) -> None:
    import ffmpeg

    for label, seconds in (("10 minutes", 600.0), (f"{hours:g} hours", hours * 3600)):
        folder = os.path.join(scratch, label.replace(" ", ""))
        os.makedirs(folder)
        video = ffmpeg.input(f"testsrc2=s=160x90:r=30:d={seconds}", f="lavfi")
        audio = ffmpeg.input(f"sine=f=330:d={seconds}:sample_rate=16000", f="lavfi")
        playlist = os.path.join(folder, "s.m3u8")
        ffmpeg.output(video, audio, playlist, vcodec="libx264", preset="ultrafast", g=60, keyint_min=60,
                      sc_threshold=0, acodec="aac", audio_bitrate="32k", f="hls", hls_time=10, hls_list_size=0,
                      hls_playlist_type="event").global_args("-v", "error").run()
        with open(playlist, encoding="utf-8") as handle:
            text = handle.read()
        with open(playlist, "w", encoding="utf-8") as handle:
            handle.write(text.replace("#EXT-X-ENDLIST\n", ""))      # still on air
        out = os.path.join(folder, "out")
        env = {**os.environ, "PEAKCLIP_LIVE_POLL": "0.5", "PEAKCLIP_RENDER_ENABLED": "false",
               "PEAKCLIP_OUTPUT_REPORT": "false"}
        caught_up_from = time.monotonic()
        watch = subprocess.Popen([PEAKCLIP, "watch", playlist, "--out", out, "--quiet"], env=env)
        manifest = os.path.join(out, "manifest.json")
        while True:   # caught up: everything but the chunk the visual detector's look-ahead holds back
            if os.path.exists(manifest):
                with open(manifest, encoding="utf-8") as handle:
                    if json.load(handle)["live"]["analysed_until"] >= seconds - 30:
                        break
            time.sleep(0.5)
        caught_up = time.monotonic() - caught_up_from
        time.sleep(2)
        ended = time.monotonic()
        with open(playlist, "a", encoding="utf-8") as handle:
            handle.write("#EXT-X-ENDLIST\n")
        watch.wait()
        final = time.monotonic() - ended
        print(f"{label:10}: caught up in {caught_up:6.1f} s; stream end -> final manifest {final:5.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["latency", "end"])
    parser.add_argument("--rate", type=float, default=1.0)
    parser.add_argument("--hours", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        latency(scratch, args.rate) if args.what == "latency" else end_to_final(scratch, args.hours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
