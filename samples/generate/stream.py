"""One sample stream's files: the recording, its chat log, its commerce events and the truth."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

import ffmpeg
import numpy as np

from peakclip.samples.generate.commerce import commerce_events, plan_products, price_reveals, rival_moments
from peakclip.samples.generate.moments import HIGHLIGHT_KINDS, SampleError, plan
from peakclip.samples.generate.picture import WORK_H, WORK_W, frames, load_footage
from peakclip.samples.generate.room import (CHAT_FILES, CHAT_FORMATS, ROOMS, SENT_AT, chat, danmaku_xml,
                                             douyin_jsonl, twitchdownloader_json)
from peakclip.samples.generate.sound import audio, load_speech, write_wav


def default_kinds(rng: np.random.Generator, highlights: int) -> tuple[list[str], list[str]]:
    """Highlights cycle through the kinds; distractors: a spammer, a camera switch, one more."""
    planted = [HIGHLIGHT_KINDS[i % len(HIGHLIGHT_KINDS)] for i in range(highlights)]
    return planted, ["spam", "camera", str(rng.choice(["music", "shout", "bots", "giveaway", "cuts"]))]


def generate(out_dir: str, seed: int = 7, duration: float = 180.0, highlights: int | list[str] | None = None,
             distractors: list[str] | None = None, size: tuple[int, int] = (640, 360), fps: int = 30,
             audience: list[float] | None = None, bitrate: str | None = None, edges: bool = False,
             viewers: int = 150, footage: list[str] | None = None, commerce: bool = False,
             speech: str | None = None, room: str = "en", rivals: bool = False, chat_format: str | None = None) -> dict:
    """Write stream.mp4, the chat log (``CHAT_FILES``: chat.json, or a Chinese room's chat.xml)
    and truth.json into ``out_dir``; returns the truth.
    ``highlights``: how many (kinds in turn; default 3, or none beside a commerce stream's price
    reveals), or their kinds, each optionally with its way (``"chat:price-drop"``; ``WAYS``);
    ``commerce``: a live-commerce stream (see the module's notes) with its events in events.jsonl
    and ``products`` in truth;
    ``rivals`` (with ``commerce``): a loud moment unrelated to the item shares each selling item's
    window where it fits (``rival_moments``); without it the same seed gives the same files as before;
    ``footage``: real recordings to use as the cameras and action angles instead of drawn pictures;
    ``speech``: a real recording whose voice (looped) is the host's instead of the synthetic buzz,
    so the stream has words to recognise (``--captions auto``);
    ``audience``: how busy each third of the stream is (default: drawn at random);
    ``edges``: open with an intro card and close with an outro, greeted and waved off in chat;
    ``viewers``: how many people can chat (a small streamer: a dozen);
    ``room``: the chat's language, ``"en"`` (TwitchDownloader JSON) or ``"zh"`` (a Bilibili room,
    danmaku XML): the same moments, people and times, other words (``ROOMS``);
    ``chat_format`` (a Chinese room's): ``"bilibili"`` (danmaku XML, chat.xml: the default) or ``"douyin"``, a
    Douyin room listener's log of webcast messages (chat.jsonl, ``douyin_jsonl``) in wall-clock
    time: truth's ``stream_start`` is when the recording started;
    ``bitrate``: encode at this bit rate (e.g. "6M", as a live encoder would) instead of a quality."""
    if room not in ROOMS:
        raise SampleError(f"unknown room {room!r}: rooms are {', '.join(ROOMS)}")
    if chat_format is not None and (room != "zh" or chat_format not in CHAT_FORMATS):
        raise SampleError(f"--chat-format {chat_format} is a Chinese room's ({', '.join(CHAT_FORMATS)}, "
                          "with --room zh)")
    rng = np.random.default_rng(seed)
    if highlights is None:
        highlights = 0 if commerce else 3
    if isinstance(highlights, int):
        planted, extra = default_kinds(rng, highlights)
    else:
        planted, extra = list(highlights), []
    if rivals and not commerce:
        raise SampleError("rivals share a product's window: they need a commerce stream (--commerce)")
    # Only a commerce stream draws its shelf, and only rivals draw theirs: a default stream's (and a
    # plain commerce stream's) draws stay what they were.
    products = plan_products(rng, duration, edges) if commerce else []
    fixed = price_reveals(rng, products) if commerce else None
    if rivals:
        fixed += rival_moments(rng, products, fixed)
    truth = plan(rng, duration, planted, extra if distractors is None else distractors, edges=edges, fixed=fixed)
    truth["seed"] = seed
    if commerce:
        truth["products"] = products
    if viewers != 150:
        truth["viewers"] = viewers
    if room != "en":
        truth["room"] = room
    if chat_format == "douyin":   # a wall-clock log: where the recording starts on its clock
        truth["chat_format"], truth["stream_start"] = chat_format, SENT_AT
    if audience is not None:
        truth["audience"] = list(audience)
    pictures = load_footage(footage, fps) if footage else None
    if footage:
        truth["footage"] = [os.path.basename(path) for path in footage]
    voice_samples = load_speech(speech) if speech else None
    if speech:
        truth["speech"] = os.path.basename(speech)
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir) as scratch:
        wav = os.path.join(scratch, "audio.wav")
        write_wav(wav, audio(rng, truth, voice_samples))
        partial = os.path.join(scratch, "stream.mp4")
        video_in = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{WORK_W}x{WORK_H}", framerate=fps)
        graph = ffmpeg.output(
            video_in.video.filter("scale", size[0], size[1], flags="bilinear"), ffmpeg.input(wav).audio, partial,
            vcodec="libx264", preset="veryfast", pix_fmt="yuv420p",
            **({"b:v": bitrate, "maxrate": bitrate, "bufsize": bitrate} if bitrate else {"crf": 23}),
            g=2 * fps, keyint_min=2 * fps, sc_threshold=0,  # a fixed 2 s GOP, as live encoders use
            acodec="aac", audio_bitrate="96k", ar=44100, shortest=None, movflags="+faststart",
        ).global_args("-nostdin", "-hide_banner", "-loglevel", "error").overwrite_output()
        proc = subprocess.Popen(graph.compile(), stdin=subprocess.PIPE)
        try:
            for frame in frames(rng, truth, fps, pictures):
                proc.stdin.write(frame.tobytes())
        finally:
            proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError("ffmpeg failed while encoding the sample stream")
        os.replace(partial, os.path.join(out_dir, "stream.mp4"))
    messages = chat(rng, truth, viewers, room)
    with open(os.path.join(out_dir, CHAT_FORMATS[chat_format] if chat_format else CHAT_FILES[room]), "w",
              encoding="utf-8") as out:
        if chat_format == "douyin":
            out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in douyin_jsonl(messages))
        elif room == "zh":
            out.write(danmaku_xml(messages))
        else:
            json.dump(twitchdownloader_json(messages, duration), out, ensure_ascii=False)
    if commerce:
        with open(os.path.join(out_dir, "events.jsonl"), "w", encoding="utf-8") as out:
            out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in commerce_events(rng, truth, viewers))
    with open(os.path.join(out_dir, "truth.json"), "w", encoding="utf-8") as out:
        json.dump(truth, out, indent=2)
    return truth
