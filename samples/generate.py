"""Synthesise a short live stream with planted highlights, its chat log, and the truth.

Seeded: the same arguments give the same files. Writes into OUT_DIR:
  stream.mp4   H.264/AAC, fixed 2 s GOP like a live encoder
  chat.json    the chat in TwitchDownloader JSON
  truth.json   the planted highlight windows (and distractors) for tests and evaluation

A highlight is what an audience reacts to: the picture gets busy (fast motion, camera cuts), the
room gets loud (broadband crowd noise), and a few seconds later many different people type
reactions. Between highlights a host talks over a calm picture, now and then the camera switches
(a lone visual change), and one viewer spams the same line (a lone burst of messages).

Usage: python -m samples.generate OUT_DIR [--seed N] [--duration S] [--highlights N] [--size WxH]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave

import ffmpeg
import numpy as np

WORK_W, WORK_H = 160, 90     # frames are drawn this small; ffmpeg scales them up while encoding
AUDIO_RATE = 16000
REACTIONS = ["LUL", "KEKW", "PogChamp", "OMG", "666", "哈哈哈", "!!!", "no way", "WOW", "Pog", "clip it"]
TALK = ["hi", "hello from Berlin", "what game is this", "how much is it", "nice", "lol", "ok",
        "is shipping free?", "gg", "first time here", "love the stream", "what size is that"]


def plan(rng: np.random.Generator, duration: float, n_highlights: int) -> dict:
    """Where highlights and distractors go: spread out, never overlapping."""
    slot = duration / n_highlights
    highlights = []
    for i in range(n_highlights):
        length = float(rng.uniform(6, 10))
        start = float(i * slot + rng.uniform(0.3, 0.6) * (slot - length))
        highlights.append({"start": round(start, 2), "end": round(start + length, 2), "kind": "crowd"})

    def free_time(length: float, margin: float = 12.0) -> float:
        """A start time at least ``margin`` seconds clear of every highlight."""
        for _ in range(1000):
            t = float(rng.uniform(5, duration - length - 5))
            if all(t + length + margin < h["start"] or t > h["end"] + margin for h in highlights):
                return round(t, 2)
        raise ValueError(f"no room for a {length:g}s distractor: make the stream longer or plant fewer highlights")

    distractors = [{"start": (t := free_time(0.5)), "end": t + 0.5, "kind": "camera-switch"}
                   for _ in range(2)]
    distractors.append({"start": (t := free_time(10)), "end": t + 10, "kind": "spam"})
    return {"duration": duration, "highlights": highlights, "distractors": distractors}


def inside(t: float, windows: list[dict], kind: str | None = None) -> bool:
    return any(w["start"] <= t < w["end"] and (kind is None or w["kind"] == kind) for w in windows)


def make_textures(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Smooth random colour fields: stand-ins for camera angles."""
    textures = []
    for _ in range(count):
        coarse = rng.uniform(30, 200, size=(6, 9, 3)).astype(np.float32)
        big = np.kron(coarse, np.ones((WORK_H // 6 + 1, WORK_W // 9 + 1, 1), np.float32))[:WORK_H, :WORK_W]
        # Cheap blur: average with shifted copies so the blocks become gradients.
        for axis in (0, 1):
            for shift in (3, 6):
                big = (big + np.roll(big, shift, axis)) / 2
        textures.append(big)
    return textures


def frames(rng: np.random.Generator, truth: dict, fps: int):
    """Yield RGB frames (uint8, WORK_H x WORK_W x 3)."""
    textures = make_textures(rng, 6)
    yy, xx = np.mgrid[0:WORK_H, 0:WORK_W].astype(np.float32)
    camera = 0
    n_frames = int(truth["duration"] * fps)
    for i in range(n_frames):
        t = i / fps
        if inside(t, truth["distractors"], "camera-switch") and not inside(t - 1 / fps, truth["distractors"], "camera-switch"):
            camera = (camera + 1) % 2
        hot = inside(t, truth["highlights"])
        if hot:
            # Cuts between angles every ~0.4 s and objects flying across.
            base = textures[2 + int(t / 0.4) % 4]
            frame = base.copy()
            for k in range(3):
                cx = (t * (90 + 40 * k) + 37 * k) % WORK_W
                cy = WORK_H / 2 + 30 * np.sin(t * (5 + k))
                mask = (xx - cx) ** 2 + (yy - cy) ** 2 < (10 + 3 * k) ** 2
                frame[mask] = [255, 230 - 60 * k, 40 * k]
        else:
            frame = textures[camera].copy()
            # The host: a blob swaying slowly in the middle.
            cx = WORK_W / 2 + 6 * np.sin(t * 0.7)
            cy = WORK_H / 2 + 3 * np.sin(t * 1.3)
            mask = (xx - cx) ** 2 / 0.5 + (yy - cy) ** 2 < 18 ** 2
            frame[mask] = [200, 160, 140]
        frame += rng.normal(0, 2.0, size=frame.shape).astype(np.float32)  # sensor noise
        yield np.clip(frame, 0, 255).astype(np.uint8)


def audio(rng: np.random.Generator, truth: dict) -> np.ndarray:
    """Mono float audio: a talking host, room tone, and crowd noise during highlights."""
    n = int(truth["duration"] * AUDIO_RATE)
    t = np.arange(n) / AUDIO_RATE
    room = rng.normal(0, 10 ** (-50 / 20), n)
    # Speech stand-in: noise shaped into syllables (~4 per second) with pauses between phrases.
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    phrases = (np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6)) > -0.3).astype(float)
    voice = np.convolve(rng.normal(0, 1, n), np.ones(8) / 8, mode="same")  # darker than white noise
    voice *= 10 ** (-26 / 20) * syllables * phrases / (np.std(voice) + 1e-9)
    signal = room + voice
    for h in truth["highlights"]:
        a, b = int(h["start"] * AUDIO_RATE), int(h["end"] * AUDIO_RATE)
        envelope = np.minimum(1, np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / (0.8 * AUDIO_RATE))
        signal[a:b] += rng.normal(0, 10 ** (-12 / 20), b - a) * envelope  # a cheering crowd
    return np.clip(signal, -1, 1).astype(np.float32)


def chat(rng: np.random.Generator, truth: dict, viewers: int = 80) -> list[dict]:
    """Messages as (time, user, text): background talk, reactions after highlights, one spammer."""
    duration = truth["duration"]
    users = [f"viewer{i:03d}" for i in range(viewers)]
    messages = []
    t = 0.0
    while True:
        t += float(rng.exponential(2.0))  # one message every ~2 s from a random viewer
        if t >= duration:
            break
        messages.append((t, users[rng.integers(viewers)], str(rng.choice(TALK))))
    for h in truth["highlights"]:
        delay = float(rng.uniform(3, 6))
        reacting = rng.choice(viewers, size=int(rng.integers(25, 40)), replace=False)
        for u in reacting:
            messages.append((h["start"] + delay + float(rng.gamma(2.0, 2.0)), users[u], str(rng.choice(REACTIONS))))
    for d in truth["distractors"]:
        if d["kind"] == "spam":
            spammer = users[rng.integers(viewers)]
            for k in range(40):
                messages.append((d["start"] + k * (d["end"] - d["start"]) / 40, spammer, "BUY NOW BUY NOW"))
    return sorted((m for m in messages if m[0] < duration), key=lambda m: m[0])


def twitchdownloader_json(messages: list[dict], duration: float) -> dict:
    comments = []
    for i, (t, user, text) in enumerate(messages):
        emote = text in ("LUL", "KEKW", "PogChamp", "Pog")
        comments.append({
            "_id": f"c{i:06d}", "content_offset_seconds": round(t, 3), "content_type": "video",
            "commenter": {"display_name": user, "_id": f"u-{user}", "name": user.lower()},
            "message": {"body": text, "bits_spent": 0,
                        "fragments": [{"text": text, "emoticon": {"emoticon_id": "1"} if emote else None}],
                        "user_badges": [], "user_color": None, "emoticons": []},
        })
    return {"FileInfo": {"Version": {"Major": 1, "Minor": 2, "Patch": 2}},
            "streamer": {"name": "peakclip_sample", "id": 1},
            "video": {"title": "peakclip sample stream", "id": "1", "start": 0, "end": int(duration), "length": int(duration)},
            "comments": comments}


def write_wav(path: str, samples: np.ndarray) -> None:
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())


def generate(out_dir: str, seed: int = 7, duration: float = 180.0, highlights: int = 3,
             size: tuple[int, int] = (640, 360), fps: int = 30) -> dict:
    """Write stream.mp4, chat.json and truth.json into ``out_dir``; returns the truth."""
    rng = np.random.default_rng(seed)
    truth = plan(rng, duration, highlights)
    truth["seed"] = seed
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        wav = os.path.join(scratch, "audio.wav")
        write_wav(wav, audio(rng, truth))
        partial = os.path.join(scratch, "stream.mp4")
        video_in = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{WORK_W}x{WORK_H}", framerate=fps)
        graph = ffmpeg.output(
            video_in.video.filter("scale", size[0], size[1], flags="bilinear"), ffmpeg.input(wav).audio, partial,
            vcodec="libx264", preset="veryfast", crf=23, pix_fmt="yuv420p",
            g=2 * fps, keyint_min=2 * fps, sc_threshold=0,  # a fixed 2 s GOP, as live encoders use
            acodec="aac", audio_bitrate="96k", ar=44100, shortest=None, movflags="+faststart",
        ).global_args("-nostdin", "-hide_banner", "-loglevel", "error").overwrite_output()
        proc = subprocess.Popen(graph.compile(), stdin=subprocess.PIPE)
        try:
            for frame in frames(rng, truth, fps):
                proc.stdin.write(frame.tobytes())
        finally:
            proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError("ffmpeg failed while encoding the sample stream")
        os.replace(partial, os.path.join(out_dir, "stream.mp4"))
    with open(os.path.join(out_dir, "chat.json"), "w", encoding="utf-8") as out:
        json.dump(twitchdownloader_json(chat(rng, truth), duration), out, ensure_ascii=False)
    with open(os.path.join(out_dir, "truth.json"), "w", encoding="utf-8") as out:
        json.dump(truth, out, indent=2)
    return truth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m samples.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--highlights", type=int, default=3)
    parser.add_argument("--size", default="640x360", help="WxH of the encoded picture")
    args = parser.parse_args(argv)
    width, height = (int(x) for x in args.size.lower().split("x"))
    truth = generate(args.out_dir, args.seed, args.duration, args.highlights, (width, height))
    print(json.dumps(truth["highlights"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
