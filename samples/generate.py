"""Synthesise live streams with planted highlights and distractors, their chat logs, and the truth.

Seeded: the same arguments give the same files. ``generate`` writes into OUT_DIR:
  stream.mp4   H.264/AAC, fixed 2 s GOP like a live encoder
  chat.json    the chat in TwitchDownloader JSON (a Chinese room: chat.xml, Bilibili danmaku XML, or
               chat.jsonl, a Douyin listener's webcast messages)
  truth.json   the planted highlights and distractors (windows and kinds)
  events.jsonl with ``commerce``: the live-commerce events (product switches, carts, orders) in the
               generic JSON Lines format

What real streams do, and the generator imitates:
- a host talks (voiced, pitched speech with pauses) over a calm picture; the microphone level
  drifts over minutes; the audience grows or shrinks between the stages of the broadcast;
- highlights of three kinds: ``crowd`` (the room roars, the picture gets busy, many people type),
  ``chat`` (a crowd-pleasing moment with modest sound: many people type, some motion), and
  ``action`` (loud fast action with only a small chat); chat reacts 3-10 s after the moment;
- each kind planted in one of several independent ways (``WAYS``; ``"chat:price-drop"`` picks one),
  so detection tuned on one way of making a moment can be scored on another: a roar or applause
  or a chant; a burst of reactions, a slow wave of ordinary buying talk or a wave of emoji; a
  roar with objects flying, a rumbling fast pan, or strobing cuts with shots;
- the picture is drawn, or real camera footage (``footage``: recordings played back and forth, cut and panned);
  the host's voice is synthetic, or a real speaker (``speech``: a recording's sound, looped);
- the chat is an English room, or a Chinese one (``room="zh"``: a Bilibili stream's danmaku, its
  reactions 哈哈哈, 666, 233333, ？？？, its hellos 来了, 主播好 and goodbyes 晚安, 88; or with
  ``chat_format="douyin"`` the same chat as a Douyin room listener's log of webcast messages);
- distractors that one signal alone mistakes for a highlight: ``music`` (an ad or music break:
  loud, tonal, a still picture, quiet chat), ``shout`` (the host shouting alone), ``bots`` (a bot
  flood), ``giveaway`` (a flood of ``!enter`` commands), ``votes`` (the host asks for a number,
  "type 1 if you want it" or a poll: a flood of 1, 11, 1111, +1, in a Chinese room 扣1), ``spam``
  (one viewer pasting a line), ``camera`` (a camera switch) and ``cuts`` (a product montage: scene
  cuts and motion with nothing else happening);
- a live-commerce stream (``commerce``): the host presents 6-10 items one after another, 60-150 s
  each; each item but 1-3 that sell nothing has a price reveal (a ``chat:price-drop`` highlight
  naming its ``item``) with a burst of carts and orders for that item 2-15 s after it, and a few
  stray orders later while it is on show; truth lists the ``products`` and each one's orders.
  With ``rivals``, the window of each item that sells also holds, where it fits, a loud crowd or
  action moment unrelated to the item (``rival_of`` names it): louder than the price reveal,
  and no burst of buying follows it.

Usage:
  python -m peakclip.samples.generate OUT_DIR [--seed N] [--duration S] [--highlights N] [--size WxH]
                                     [--bitrate RATE] [--distractors LIST] [--room en|zh [--chat-format bilibili|douyin]]
                                     [--edges] [--commerce [--rivals]]
                                     [--footage FILE ...] [--speech FILE]
  python -m peakclip.samples.generate --suite DIR [--split tune|heldout|votes|commerce|bitrate] [--count N]
                                                       the evaluation set (DIR/stream-01 ...)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import wave
import zlib
from xml.sax.saxutils import escape

import cv2
import ffmpeg
import numpy as np
from scipy.ndimage import uniform_filter1d

WORK_W, WORK_H = 160, 90     # frames are drawn this small; ffmpeg scales them up while encoding
AUDIO_RATE = 16000
HIGHLIGHT_KINDS = ("crowd", "chat", "action")
# The ways each kind can be planted; the first is the default. Picture, sound and chat differ per
# way (see ``frames``, ``audio`` and ``chat``), so that no one way's habits can be tuned to.
WAYS = {"crowd": ("roar", "applause", "chant"),
        "chat": ("reactions", "price-drop", "emoji-wave"),
        "action": ("roar", "rumble-pan", "strobe")}
DISTRACTOR_KINDS = ("music", "shout", "bots", "giveaway", "votes", "spam", "camera", "cuts")
LENGTHS = {"crowd": (6, 10), "chat": (6, 10), "action": (6, 10), "music": (15, 25), "shout": (4, 6),
           "bots": (10, 10), "giveaway": (15, 15), "votes": (10, 20), "spam": (10, 10), "camera": (0.5, 0.5),
           "cuts": (6, 10)}
REACTIONS = ["LUL", "KEKW", "PogChamp", "OMG", "666", "哈哈哈", "!!!", "no way", "WOW", "Pog", "clip it"]
EMOTES = {"LUL", "KEKW", "PogChamp", "Pog"}
# A real stream's edges: a "starting soon" card with a jingle while people arrive and greet, and
# an outro card while they say goodbye (seconds; ``generate(edges=True)``).
INTRO, OUTRO = 20.0, 15.0
HELLOS = ["hi", "hello", "hey chat", "hi all", "hello from Berlin", "hey everyone", "大家好", "yo", "hiii", "good evening"]
BYES = ["bye", "gg", "GG WP", "see you tomorrow", "bye everyone", "o7", "晚安", "cya", "gn chat", "bye bye"]
BUYING = ["want", "+1", "how much now?", "buying two", "link pls", "sold out?", "in cart", "still in stock?",
          "ordered", "what colour is left", "me too", "that price tho", "take my money", "got one", "买了", "上链接"]
APPLAUSE = ["👏👏👏", "bravo", "WOW", "insane", "🔥🔥", "clap clap", "unreal"]
CHANT = ["LETS GO", "LETS GOOO", "GO GO GO", "加油", "加油加油"]
EMOJI = ["😂😂", "哈哈哈哈", "www", "🔥🔥🔥", "😮", "👏👏", "草", "😂", "🤣🤣", "💀"]
# A live-commerce stream's shelf: what a host might present, one item after another.
PRODUCTS = ["Down jacket, navy", "Wool scarf", "Ceramic mug set", "Wireless earbuds", "Lip tint, coral",
            "Running shoes", "Cast-iron pan", "Silk pillowcase", "Desk lamp", "Phone tripod", "Linen shirt",
            "Face serum", "Rain boots", "Tea sampler"]
PRICES = [9.9, 19.9, 29.9, 49.9, 59.9, 99.0, 129.0, 199.0]
ITEMS = (6, 10)                  # how many items a commerce stream presents
PRESENTATION = (60.0, 150.0)     # how long the host shows each one, seconds
UNSOLD = (1, 3)                  # how many of them sell nothing (no price reveal, no orders)
BUYING_AFTER = (2.0, 15.0)       # buyers cart and order this many seconds after the price is revealed
# ``rivals``: the loud moments that may share a selling item's window, unrelated to it, and how far
# (seconds) one keeps from the reveal and the buying (``margin``) and from the window's edges
# (before it: the host settles in; after it: its chat reaction stays inside the window).
RIVALS = ("crowd:roar", "crowd:applause", "crowd:chant", "action:roar", "action:rumble-pan", "action:strobe")
RIVAL_ROOM = {"margin": 15.0, "after_start": 5.0, "before_end": 10.0}
TALK = ["hi", "hello from Berlin", "what game is this", "how much is it", "nice", "ok", "is shipping free?",
        "first time here", "love the stream", "what size is that", "does it come in blue", "back again"]
# A poll, or the host asking "type 1 if you want it": people answer with a number.
VOTES = ["1", "2", "1", "11", "2", "1", "111", "+1", "1", "2"]
VOTERS = (50, 80)                # people who answer (times the audience), each 1-3 times

# What people type in each room: the English lists above, and a Chinese room's (a Bilibili stream,
# its chat in danmaku XML). Each Chinese list is as long as its English one and says the same
# kind of thing at each place (a reaction where the English has one, a hello, a vote, talk), so
# a seed makes the same moments, people and times in either room, and the same chat signal.
ROOMS = {
    "en": {"talk": TALK, "reactions": REACTIONS, "hellos": HELLOS, "byes": BYES, "buying": BUYING,
           "applause": APPLAUSE, "chant": CHANT, "emoji": EMOJI, "votes": VOTES,
           "spam": "BUY NOW BUY NOW", "bots": ("Follow the shop for the giveaway!", "cheap followers at example"),
           "giveaway": "!enter"},
    "zh": {"talk": ["主播好", "晚上好", "这是什么游戏", "多少钱", "不错", "好的", "包邮吗？", "第一次来", "喜欢这个直播间",
                    "这个什么尺码", "有蓝色的吗", "又来了"],
           "reactions": ["哈哈哈", "666", "卧槽", "？？？", "233333", "牛", "awsl", "草", "绝了", "哈哈哈哈哈", "名场面"],
           "hellos": ["来了", "签到", "主播好", "大家好", "晚上好", "主播晚上好", "来了来了", "打卡", "我来了", "哈喽"],
           "byes": ["晚安", "拜拜", "下播了", "88", "主播晚安", "拜拜主播", "886", "明天见", "主播辛苦了", "再见"],
           "buying": ["想要", "扣1", "现在多少钱？", "拍两件", "上链接", "卖完了吗？", "加购了", "还有货吗？", "已拍",
                      "还剩什么颜色", "我也要", "这价格可以", "冲了", "抢到了", "买了", "链接呢"],
           "applause": ["👏👏👏", "精彩", "卧槽", "厉害", "🔥🔥", "鼓掌鼓掌", "太厉害了"],
           "chant": ["冲冲冲", "加油", "加油加油", "冲啊", "好耶"],
           "emoji": ["哈哈哈哈", "233333", "？？？", "[笑哭]", "草", "awsl", "😂😂", "xswl", "hhhh", "[doge]"],
           "votes": ["1", "11", "扣1", "1111", "111", "扣1", "1", "11111", "扣11", "１"],   # "想要的扣1"
           "spam": "加V看福利 加V看福利", "bots": ("关注主播参加抽奖！", "低价涨粉 私信我"),
           "giveaway": "！抽奖"},    # a command typed with a Chinese input method's fullwidth ！
}
CHAT_FILES = {"en": "chat.json", "zh": "chat.xml"}   # TwitchDownloader JSON; Bilibili danmaku XML
# How a Chinese room's chat may be saved instead of danmaku XML: a Douyin room listener's log,
# webcast messages a line (``douyin_jsonl``), in wall-clock time (truth's ``stream_start``).
CHAT_FORMATS = {"bilibili": "chat.xml", "douyin": "chat.jsonl"}   # named as the chat reader names them


# ---- the plan -------------------------------------------------------------------------------

def plan(rng: np.random.Generator, duration: float, highlights: list[str], distractors: list[str],
         margin: float = 15.0, edges: bool = False, fixed: list[dict] | None = None) -> dict:
    """Place every event at random, never closer than ``margin`` seconds to another; with
    ``edges``, an intro and an outro (distractors) hold the stream's first and last seconds;
    ``fixed`` events (each with its ``group``) are already placed (a commerce stream's price reveals)."""
    for spec in highlights:
        kind, _, way = spec.partition(":")
        if kind not in WAYS or (way and way not in WAYS[kind]):
            raise SampleError(f"unknown highlight {spec!r}: kinds are " + ", ".join(
                f"{k} ({' | '.join(w)})" for k, w in WAYS.items()))
    events = [(spec, "highlights") for spec in highlights] + [(kind, "distractors") for kind in distractors]
    edge_cards = [{"start": 0.0, "end": INTRO, "kind": "intro", "group": "distractors"},
                  {"start": round(duration - OUTRO, 2), "end": duration, "kind": "outro", "group": "distractors"}] if edges else []
    fixed = edge_cards + list(fixed or [])
    for _ in range(200):
        placed: list[dict] = [dict(e) for e in fixed]
        order = rng.permutation(len(events))
        for index in order:
            spec, group = events[index]
            kind, _, way = spec.partition(":")
            low, high = LENGTHS[kind]
            length = round(float(rng.uniform(low, high)), 2)
            latest = duration - length - 8        # an event starts and ends at least 8 s inside the stream
            for _ in range(200 if latest >= 8 else 0):
                start = round(float(rng.uniform(8, latest)), 2)
                if all(start + length + margin <= e["start"] or start >= e["end"] + margin for e in placed):
                    event = {"start": start, "end": round(start + length, 2), "kind": kind, "group": group}
                    if group == "highlights":
                        event["way"] = way or WAYS[kind][0]
                    placed.append(event)
                    break
            else:
                break
        if len(placed) == len(events) + len(fixed):
            truth = {"duration": duration, "highlights": [], "distractors": []}
            for event in sorted(placed, key=lambda e: e["start"]):
                truth[event.pop("group")].append(event)
            # The audience grows or shrinks between the stages of the broadcast.
            truth["audience"] = [round(float(x), 2) for x in rng.choice([0.5, 0.8, 1.0, 1.4, 1.8], size=3)]
            return truth
    raise SampleError(f"cannot fit {len(events)} highlights and distractors into {duration:g} s: "
                      "make the stream longer (--duration) or plant fewer (--highlights)")


def windows(truth: dict, *kinds: str) -> list[dict]:
    return [e for e in truth["highlights"] + truth["distractors"] if not kinds or e["kind"] in kinds]


def active(t: float, events: list[dict]) -> dict | None:
    for event in events:
        if event["start"] <= t < event["end"]:
            return event
    return None


def audience_at(truth: dict, t: float) -> float:
    stage = min(2, int(3 * t / truth["duration"]))
    return truth["audience"][stage]


def viewer_names(viewers: int) -> list[str]:
    return [f"viewer{i:03d}" for i in range(viewers)]


# ---- live commerce: the shelf, the price reveals, the sales -----------------------------------

def plan_products(rng: np.random.Generator, duration: float, edges: bool = False) -> list[dict]:
    """The host presents 6-10 items one after another, 60-150 s each, talking in the gaps between
    them: ``[{"item", "title", "price", "start", "end"}]`` in time order."""
    lead = (INTRO if edges else 0.0) + 5.0
    room = duration - lead - (OUTRO if edges else 0.0) - 5.0
    shortest, longest = PRESENTATION
    fits = int(room // shortest)
    if fits < ITEMS[0]:
        raise SampleError(f"a commerce stream presents at least {ITEMS[0]} items of {shortest:g} s each: "
                          f"make it at least {ITEMS[0] * shortest + duration - room:g} s long (--duration)")
    count = int(rng.integers(ITEMS[0], min(ITEMS[1], fits) + 1))
    lengths = np.round(rng.uniform(shortest, min(longest, room / count), count), 2)
    gaps = rng.dirichlet(np.ones(count + 1)) * (room - lengths.sum())   # the last share follows the last item
    skus = rng.choice(np.arange(1000, 10000), size=count, replace=False)
    titles = rng.choice(len(PRODUCTS), size=count, replace=False)
    products, at = [], lead
    for index in range(count):
        start = round(at + float(gaps[index]), 2)
        at = round(start + float(lengths[index]), 2)
        products.append({"item": f"SKU-{skus[index]}", "title": PRODUCTS[titles[index]],
                         "price": float(rng.choice(PRICES)), "start": start, "end": at})
    return products


def price_reveals(rng: np.random.Generator, products: list[dict]) -> list[dict]:
    """A price reveal for every item but 1-3 that sell nothing: a ``chat:price-drop`` highlight
    naming its item, inside the item's window and early enough that its buyers (2-15 s later)
    still see the item on show."""
    unsold = set(rng.choice(len(products), size=int(rng.integers(UNSOLD[0], UNSOLD[1] + 1)), replace=False).tolist())
    reveals = []
    for index, product in enumerate(products):
        if index in unsold:
            continue
        length = round(float(rng.uniform(*LENGTHS["chat"])), 2)
        latest = product["end"] - max(length, BUYING_AFTER[1])
        start = round(float(rng.uniform(product["start"] + 10, latest)), 2)
        reveals.append({"start": start, "end": round(start + length, 2), "kind": "chat", "way": "price-drop",
                        "item": product["item"], "group": "highlights"})
    return reveals


def rival_moments(rng: np.random.Generator, products: list[dict], reveals: list[dict]) -> list[dict]:
    """For each item with a price reveal, where its window has room, a loud moment unrelated to
    the item (a highlight of a way in ``RIVALS``, its ``rival_of`` naming the item): before the
    reveal or after its buyers (``RIVAL_ROOM["margin"]`` seconds or more from the reveal, so past
    the last of them), inside the window. It is louder than the reveal, and no burst of buying
    follows it (a few stray orders may, as anywhere after the buyers)."""
    on_show = {product["item"]: product for product in products}
    rivals = []
    for reveal in reveals:
        product = on_show[reveal["item"]]
        spec = str(rng.choice(RIVALS))
        kind, _, way = spec.partition(":")
        length = round(float(rng.uniform(*LENGTHS[kind])), 2)
        sides = [(product["start"] + RIVAL_ROOM["after_start"], reveal["start"] - RIVAL_ROOM["margin"] - length),
                 (reveal["end"] + RIVAL_ROOM["margin"], product["end"] - RIVAL_ROOM["before_end"] - length)]
        sides = [(low, high) for low, high in sides if high > low]
        if not sides:
            continue
        low, high = sides[int(rng.integers(len(sides)))]
        start = round(float(rng.uniform(low, high)), 2)
        rivals.append({"start": start, "end": round(start + length, 2), "kind": kind, "way": way,
                       "rival_of": reveal["item"], "group": "highlights"})
    return rivals


def sale(t: float, user: str, kind: str, product: dict) -> dict:
    """A cart or order record in the generic JSON Lines format."""
    record = {"t": round(t, 3), "user": user, "type": kind, "item": product["item"]}
    if kind == "order":
        record["amount"] = product["price"]
    return record


def sales(rng: np.random.Generator, truth: dict, viewers: int = 150) -> list[dict]:
    """Carts and orders for each item with a price reveal: buyers (more in a bigger audience) put
    it in their cart 2-12 s after the price and a share of them order 0.5-3 s later; a few more
    order while the item is still on show after that."""
    users = viewer_names(viewers)
    on_show = {product["item"]: product for product in truth["products"]}
    records = []
    for reveal in (h for h in truth["highlights"] if "item" in h):
        product = on_show[reveal["item"]]
        crowd = min(viewers, max(3, int(rng.integers(10, 25) * audience_at(truth, reveal["start"]))))
        buyers = rng.choice(viewers, size=crowd, replace=False)
        ordering = int(rng.integers(max(1, crowd // 3), crowd + 1))
        for rank, who in enumerate(buyers):
            carted = reveal["start"] + float(rng.uniform(BUYING_AFTER[0], BUYING_AFTER[1] - 3))
            records.append(sale(carted, users[who], "cart", product))
            if rank < ordering:
                records.append(sale(carted + float(rng.uniform(0.5, 3)), users[who], "order", product))
        later = (reveal["start"] + BUYING_AFTER[1], product["end"])
        if later[1] > later[0]:
            for who in rng.choice(viewers, size=min(viewers, int(rng.integers(0, 4))), replace=False):
                records.append(sale(float(rng.uniform(*later)), users[who], "order", product))
    return records


def product_switches(products: list[dict], duration: float) -> list[dict]:
    """What the platform records of the host: a product event as each item comes on, and a
    product_end where the host goes back to talking before the next (or after the last)."""
    records = []
    for index, product in enumerate(products):
        records.append({"t": product["start"], "type": "product", "item": product["item"], "title": product["title"]})
        next_start = products[index + 1]["start"] if index + 1 < len(products) else duration
        if next_start > product["end"]:
            records.append({"t": product["end"], "type": "product_end"})
    return records


def commerce_events(rng: np.random.Generator, truth: dict, viewers: int) -> list[dict]:
    """The events log of a commerce stream, in time order; counts each item's orders into truth."""
    records = sorted(product_switches(truth["products"], truth["duration"]) + sales(rng, truth, viewers),
                     key=lambda r: r["t"])
    for product in truth["products"]:
        product["orders"] = sum(1 for r in records if r["type"] == "order" and r["item"] == product["item"])
    return records


# ---- picture --------------------------------------------------------------------------------

def make_textures(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Smooth random colour fields: stand-ins for camera angles and an ad card."""
    textures = []
    for _ in range(count):
        coarse = rng.uniform(30, 200, size=(6, 9, 3)).astype(np.float32)
        big = np.kron(coarse, np.ones((WORK_H // 6 + 1, WORK_W // 9 + 1, 1), np.float32))[:WORK_H, :WORK_W]
        for axis in (0, 1):
            for shift in (3, 6):
                big = (big + np.roll(big, shift, axis)) / 2
        textures.append(big)
    return textures


def load_footage(paths: list[str], fps: int) -> list[np.ndarray]:
    """Real camera recordings decoded at the working size and frame rate (frames x H x W x 3)."""
    clips = []
    for path in paths:
        try:
            raw, _ = (ffmpeg.input(path).video.filter("scale", WORK_W, WORK_H).filter("fps", fps)
                      .output("pipe:", format="rawvideo", pix_fmt="rgb24")
                      .global_args("-nostdin", "-hide_banner", "-loglevel", "error").run(capture_stdout=True))
        except ffmpeg.Error:
            raise SampleError(f"cannot read footage {path}: not a video ffmpeg can decode") from None
        if not raw:
            raise SampleError(f"footage {path} has no picture")
        clips.append(np.frombuffer(raw, np.uint8).reshape(-1, WORK_H, WORK_W, 3).astype(np.float32))
    return clips


def back_and_forth(n: int, length: int) -> int:
    """Frame ``n`` of a recording of ``length`` frames played forwards, then backwards, and again:
    looped that way the picture never jumps from the last frame to the first (a jump a real camera
    never makes, and one that every signal reading the picture would take for a cut)."""
    if length < 2:
        return 0
    step = n % (2 * length - 2)
    return step if step < length else 2 * length - 2 - step


def shifted(frame: np.ndarray, dx: float, dy: float = 0.0) -> np.ndarray:
    return np.roll(frame, (int(round(dy)), int(round(dx))), axis=(0, 1))


def zoomed(frame: np.ndarray, zoom: float) -> np.ndarray:
    """The centre of the picture, enlarged ``zoom`` times (a camera zooming in)."""
    h, w = int(WORK_H / zoom), int(WORK_W / zoom)
    top, left = (WORK_H - h) // 2, (WORK_W - w) // 2
    return cv2.resize(frame[top:top + h, left:left + w], (WORK_W, WORK_H), interpolation=cv2.INTER_LINEAR)


def jitter(t: float, seed: float) -> float:
    """A deterministic shake in [-1, 1] that changes every frame (no draws from the generator,
    so the default ways' streams stay what they were)."""
    return float(np.sin(t * 91.7 + seed) * np.cos(t * 37.3 + 2 * seed))


def frames(rng: np.random.Generator, truth: dict, fps: int, footage: list[np.ndarray] | None = None):
    """Yield RGB frames (uint8, WORK_H x WORK_W x 3). With ``footage``, the cameras and the action
    angles are real recordings (played back and forth; the second camera is the second recording,
    or the first mirrored) instead of drawn colour fields with a drawn host."""
    textures = make_textures(rng, 8)   # 0-1 cameras, 2-5 action angles, 6 ad card, 7 spare
    yy, xx = np.mgrid[0:WORK_H, 0:WORK_W].astype(np.float32)
    events = windows(truth)
    camera = 0
    was_in_camera_switch = False

    def shot(index: int, t: float) -> np.ndarray:
        """Camera 0-1 or action angle 2-5 at time t."""
        if not footage:
            return textures[index].copy()
        clip = footage[index % len(footage)]
        picture = clip[back_and_forth(int(t * fps + 311 * index), len(clip))].copy()
        if index == 1 and len(footage) == 1:
            picture = picture[:, ::-1].copy()
        if index >= 2:   # another angle: closer in, from the side
            picture = shifted(zoomed(picture, 1.2 + 0.15 * (index - 2)), 9 * (index - 3.5))
        return picture

    def host(t: float, sway: float, speed: float) -> np.ndarray:
        """The host on the current camera, moving ``sway`` pixels at ``speed``."""
        dx = sway * np.sin(t * speed)
        if footage:
            return shifted(shot(camera, t), dx * 0.5)
        frame = shot(camera, t)
        cx, cy = WORK_W / 2 + dx, WORK_H / 2 + 3 * np.sin(t * 1.3)
        frame[(xx - cx) ** 2 / 0.5 + (yy - cy) ** 2 < 18 ** 2] = [200, 160, 140]
        return frame

    for i in range(int(truth["duration"] * fps)):
        t = i / fps
        event = active(t, events)
        kind = event["kind"] if event else None
        way = event.get("way") if event else None
        in_switch = kind == "camera"
        if in_switch and not was_in_camera_switch:
            camera = 1 - camera
        was_in_camera_switch = in_switch
        if way == "roar":
            frame = shot(2 + int(t / 0.4) % 4, t)   # cuts every 0.4 s and objects flying across
            for k in range(3):
                cx = (t * (90 + 40 * k) + 37 * k) % WORK_W
                cy = WORK_H / 2 + 30 * np.sin(t * (5 + k))
                frame[(xx - cx) ** 2 + (yy - cy) ** 2 < (10 + 3 * k) ** 2] = [255, 230 - 60 * k, 40 * k]
        elif way == "applause":                       # the camera shakes in the cheering, lights flash
            frame = shifted(host(t, 6, 0.7), 7 * jitter(t, 1.0), 5 * jitter(t, 2.0))
            frame *= 1.0 + 0.35 * (int(t * 6) % 3 == 0)
        elif way == "chant":                          # the camera zooms in and out with the chant
            frame = zoomed(host(t, 6, 0.7), 1.25 + 0.2 * np.sin(2 * np.pi * 2 * t))
        elif way == "rumble-pan":                     # a fast pan across the scene, a cut every second
            frame = shifted(shot(2 + int(t) % 4, t), (t * 240) % WORK_W, 4 * jitter(t, 3.0))
        elif way == "strobe":                         # hard cuts four times a second, every other inverted
            frame = shot(2 + int(t * 4) % 4, t)
            if int(t * 4) % 2:
                frame = 255.0 - frame
        elif kind == "cuts":
            frame = textures[2 + int(t / 0.5) % 4].copy()   # a product montage: cuts, a product gliding by
            px = (t * 70) % WORK_W
            frame[np.abs(xx - px) + np.abs(yy - WORK_H / 2) < 14] = [250, 250, 90]
        elif kind == "music":
            frame = textures[6].copy()                       # a still ad card
        elif kind in ("intro", "outro"):
            frame = textures[7].copy()                       # "starting soon" / "thanks for watching"
        else:
            # The host shows the product off (reactions), or a price card comes up (price-drop);
            # an emoji wave is the audience alone.
            frame = host(t, *((12, 2.0) if way == "reactions" else (6, 0.7)))
            if way == "reactions":
                frame[np.abs(xx - WORK_W * 0.75) + np.abs(yy - 25) < 12] = [250, 250, 90]
            elif way == "price-drop":
                frame[int(WORK_H * 0.7):int(WORK_H * 0.9), int(WORK_W * 0.1):int(WORK_W * 0.6)] = [230, 40, 40]
        frame += rng.normal(0, 2.0, size=frame.shape).astype(np.float32)  # sensor noise
        yield np.clip(frame, 0, 255).astype(np.uint8)


# ---- sound ----------------------------------------------------------------------------------

def speech_mask(rng: np.random.Generator, n: int) -> np.ndarray:
    """1 while the host speaks a phrase, 0 in the pauses between phrases, with 20 ms ramps."""
    mask = np.zeros(n)
    i = 0
    while i < n:
        talk = int(rng.uniform(1.5, 4.0) * AUDIO_RATE)
        mask[i:i + talk] = 1
        i += talk + int(rng.uniform(0.3, 0.9) * AUDIO_RATE)
    ramp = np.ones(int(0.02 * AUDIO_RATE)) / int(0.02 * AUDIO_RATE)
    return np.convolve(mask, ramp, mode="same")


def voice(t: np.ndarray, f0: float, rng: np.random.Generator) -> np.ndarray:
    """A voiced, pitched voice: harmonics of a wandering f0, in syllables, unit RMS."""
    pitch = f0 * (1 + 0.12 * np.sin(2 * np.pi * 0.35 * t + rng.uniform(0, 6)) + 0.05 * np.sin(2 * np.pi * 2.1 * t))
    phase = 2 * np.pi * np.cumsum(pitch) / AUDIO_RATE
    wave_ = sum(np.sin(k * phase) / k for k in range(1, 16))
    syllables = 0.25 + 0.75 * np.clip(np.sin(2 * np.pi * 4.3 * t), 0, None)
    out = wave_ * syllables
    return out / (np.sqrt(np.mean(out ** 2)) + 1e-9)


def music(t: np.ndarray) -> np.ndarray:
    """Steady tonal music: triads changing every 2 s, unit RMS."""
    roots = np.array([220.0, 174.6, 261.6, 196.0])
    root = roots[(t // 2).astype(int) % 4]
    out = sum(np.sin(2 * np.pi * root * ratio * t) for ratio in (1.0, 1.26, 1.5, 2.0))
    return out / (np.sqrt(np.mean(out ** 2)) + 1e-9)


def db(level: float) -> float:
    return 10 ** (level / 20)


def bursts(rng: np.random.Generator, t: np.ndarray, rate: float, decay: float, jitter: float) -> np.ndarray:
    """Noise bursts (claps, impacts, shots) about ``rate`` a second, each dying away in ``decay`` s."""
    out = np.zeros(len(t))
    at = 0.0
    span = t[-1] - t[0] if len(t) else 0.0
    while at < span:
        i = int(at * AUDIO_RATE)
        n = min(len(t) - i, int(6 * decay * AUDIO_RATE))
        out[i:i + n] += rng.normal(0, 1, n) * np.exp(-np.arange(n) / (decay * AUDIO_RATE)) * rng.uniform(0.5, 1)
        at += (1 / rate) * (1 + jitter * rng.uniform(-1, 1))
    return out / (np.sqrt(np.mean(out ** 2)) + 1e-9)


def planted_sound(rng: np.random.Generator, way: str, t: np.ndarray) -> np.ndarray:
    """The sound of a highlight planted in a way other than the first of its kind."""
    if way == "applause":      # many hands clapping, a cheer under it
        return db(-10) * bursts(rng, t, 40, 0.01, 0.9) + rng.normal(0, db(-22), len(t))
    if way == "chant":         # a crowd chanting twice a second: voiced, rising and falling
        beat = 0.55 + 0.45 * np.sin(2 * np.pi * 2 * t)
        return (rng.normal(0, db(-13), len(t)) + db(-16) * voice(t, 190.0, rng)) * beat
    if way == "price-drop":    # the host, excited, louder and higher: a voice, not a crowd
        return db(-24) * voice(t, 175.0, rng)
    if way == "emoji-wave":    # the audience alone: nothing to hear
        return np.zeros(len(t))
    if way == "rumble-pan":    # an engine's low rumble and impacts
        rumble = uniform_filter1d(rng.normal(0, 1, len(t)), 40)
        return db(-10) * rumble / (np.std(rumble) + 1e-9) + db(-12) * bursts(rng, t, 2, 0.08, 0.4)
    if way == "strobe":        # shots: sharp bursts six times a second
        return db(-7) * bursts(rng, t, 6, 0.03, 0.3)
    raise ValueError(way)


def load_speech(path: str) -> np.ndarray:
    """A real recording's first audio track as mono samples at ``AUDIO_RATE``, unit RMS."""
    try:
        raw, _ = (ffmpeg.input(path)["a:0"].output("pipe:", format="f32le", ac=1, ar=AUDIO_RATE)
                  .global_args("-nostdin", "-hide_banner", "-loglevel", "error").run(capture_stdout=True))
    except ffmpeg.Error:
        raise SampleError(f"cannot read speech {path}: no audio ffmpeg can decode") from None
    samples = np.frombuffer(raw, np.float32).astype(np.float64)
    if not len(samples) or not np.any(samples):
        raise SampleError(f"speech {path} has no sound")
    return samples / np.sqrt(np.mean(samples ** 2))


def audio(rng: np.random.Generator, truth: dict, speech: np.ndarray | None = None) -> np.ndarray:
    """The stream's sound; ``speech`` (``load_speech``), looped, is the host's voice instead of
    the synthetic one."""
    n = int(truth["duration"] * AUDIO_RATE)
    t = np.arange(n) / AUDIO_RATE
    signal = rng.normal(0, db(-55), n)                                  # room tone
    host = db(-30) * voice(t, 140.0, rng) * speech_mask(rng, n)       # the host
    # Made (and drawn from the generator) even when a real voice replaces it, so that a stream
    # with speech has the same highlights, chat and picture as the stream without.
    if speech is not None:
        host = db(-30) * np.resize(speech, n)
    signal += host
    for event in windows(truth):
        a, b = int(event["start"] * AUDIO_RATE), int(event["end"] * AUDIO_RATE)
        ramp = np.minimum(1, np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / (0.5 * AUDIO_RATE))
        kind, way = event["kind"], event.get("way")
        if way == "roar":
            signal[a:b] += rng.normal(0, db(-10), b - a) * ramp       # the room roars
        elif way == "reactions":
            signal[a:b] += rng.normal(0, db(-30), b - a) * ramp       # a few people laugh
        elif way is not None:
            signal[a:b] += planted_sound(rng, way, t[a:b]) * ramp
        elif kind == "music":
            signal[a:b] = db(-14) * music(t[a:b]) * ramp + rng.normal(0, db(-55), b - a)
        elif kind in ("intro", "outro"):
            signal[a:b] = db(-20) * music(t[a:b]) + rng.normal(0, db(-55), b - a)   # the jingle, no host
        elif kind == "shout":
            signal[a:b] += db(-14) * voice(t[a:b], 230.0, rng) * ramp
    drift = 5.0 * np.sin(2 * np.pi * t / (0.7 * truth["duration"]) + rng.uniform(0, 6))  # mic level, dB
    return np.clip(signal * 10 ** (drift / 20), -1, 1).astype(np.float32)


# ---- chat -----------------------------------------------------------------------------------

def reaction_messages(rng: np.random.Generator, moment: dict, delay: float, people: list[str],
                      room: str = "en") -> list[tuple]:
    """How the audience reacts to a planted moment, by the way it was planted: a quick burst of
    reactions (most ways), a slow wave of ordinary buying talk (price-drop), a wave of emoji
    (emoji-wave), or a chant typed again and again (chant); in the ``room``'s language."""
    way, start, length = moment.get("way"), moment["start"], moment["end"] - moment["start"]
    say = ROOMS[room]
    if way == "price-drop":
        return [(start + delay / 2 + float(rng.triangular(0, 0.4 * length, length + 8)), who,
                 str(rng.choice(say["buying"]))) for who in people]
    if way == "emoji-wave":
        return [(start + delay + float(rng.uniform(0, 10)), who, str(rng.choice(say["emoji"]))) for who in people]
    if way == "chant":
        return [(start + delay / 2 + float(rng.uniform(0, length + 6)), who, str(rng.choice(say["chant"])))
                for who in people for _ in range(int(rng.integers(1, 4)))]
    texts = say["applause"] if way == "applause" else say["reactions"]
    return [(start + delay + float(rng.gamma(2.0, 1.5)), who, str(rng.choice(texts))) for who in people]


def chat(rng: np.random.Generator, truth: dict, viewers: int = 150, room: str = "en") -> list[tuple]:
    """(time in seconds, user, text) messages: background talk scaled by the audience, reactions,
    floods, in the ``room``'s language (``ROOMS``). A small streamer (few ``viewers``) has a slower
    chat and smaller reactions."""
    duration = truth["duration"]
    say = ROOMS[room]
    quiet = (150 / viewers) ** 0.5
    users = viewer_names(viewers)
    messages = []
    t = 0.0
    while True:
        t += float(rng.exponential(2.0 * quiet / audience_at(truth, t)))
        if t >= duration:
            break
        event = active(t, windows(truth, "music"))
        if event and rng.random() < 0.7:
            continue  # people go quiet during an ad break
        messages.append((t, users[rng.integers(viewers)], str(rng.choice(say["talk"]))))
    for h in truth["highlights"]:
        delay = float(rng.uniform(3, 10))
        scale = audience_at(truth, h["start"])
        size = {"crowd": (25, 40), "chat": (30, 45), "action": (6, 10)}[h["kind"]]
        count = min(viewers, int(rng.integers(*size) * (scale if h["kind"] != "action" else 1)))
        messages += reaction_messages(rng, h, delay, [users[u] for u in rng.choice(viewers, size=count, replace=False)],
                                      room)
    for d in truth["distractors"]:
        span = d["end"] - d["start"]
        if d["kind"] == "spam":
            spammer = users[rng.integers(viewers)]
            messages += [(d["start"] + k * span / 40, spammer, say["spam"]) for k in range(40)]
        elif d["kind"] == "bots":
            messages += [(d["start"] + k * span / 50, "Nightbot", say["bots"][0]) for k in range(50)]
            messages += [(d["start"] + k * span / 50, "shopbot_9000", say["bots"][1]) for k in range(50)]
        elif d["kind"] in ("intro", "outro"):
            # People arriving say hello; people leaving say goodbye: more of them than react later.
            words = say["hellos"] if d["kind"] == "intro" else say["byes"]
            window = (0.0, d["end"] + 10) if d["kind"] == "intro" else (d["start"] - 5, duration)
            for u in rng.choice(viewers, size=min(viewers, int(rng.integers(40, 60))), replace=False):
                messages.append((float(rng.uniform(*window)), users[u], str(rng.choice(words))))
        elif d["kind"] == "giveaway":
            for u in rng.choice(viewers, size=min(viewers, int(rng.integers(35, 50))), replace=False):
                messages.append((d["start"] + float(rng.uniform(0, span)), users[u], say["giveaway"]))
        elif d["kind"] == "votes":
            # The host asks for a number ("type 1 if you want it", a poll): many answer, some
            # again and again, none of them reacting to anything.
            voters = min(viewers, int(rng.integers(*VOTERS) * audience_at(truth, d["start"])))
            for u in rng.choice(viewers, size=voters, replace=False):
                for _ in range(int(rng.integers(1, 4))):
                    messages.append((d["start"] + float(rng.uniform(0, span)), users[u], str(rng.choice(say["votes"]))))
    return sorted((m for m in messages if m[0] < duration), key=lambda m: m[0])


def twitchdownloader_json(messages: list[tuple], duration: float) -> dict:
    comments = []
    for i, (t, user, text) in enumerate(messages):
        comments.append({
            "_id": f"c{i:06d}", "content_offset_seconds": round(t, 3), "content_type": "video",
            "commenter": {"display_name": user, "_id": f"u-{user}", "name": user.lower()},
            "message": {"body": text, "bits_spent": 0,
                        "fragments": [{"text": text, "emoticon": {"emoticon_id": "1"} if text in EMOTES else None}],
                        "user_badges": [], "user_color": None, "emoticons": []},
        })
    return {"FileInfo": {"Version": {"Major": 1, "Minor": 2, "Patch": 2}},
            "streamer": {"name": "peakclip_sample", "id": 1},
            "video": {"title": "peakclip sample stream", "id": "1", "start": 0, "end": int(duration), "length": int(duration)},
            "comments": comments}


SENT_AT = 1_763_900_000   # the UNIX time a sample stream starts, for logs that note when each message was sent
ROOM_ID = "7311993800000000001"   # the Douyin room a sample's webcast messages name


def douyin_jsonl(messages: list[tuple]) -> list[dict]:
    """A Douyin room listener's log: each message a ``WebcastChatMessage`` as protobuf's JSON
    mapping writes it (64-bit numbers as strings, ``common.createTime`` in UNIX milliseconds from
    ``SENT_AT``), and before each person's first message the ``WebcastMemberMessage`` of their
    coming into the room (2-12 s earlier, never before the start; entering weighs nothing, so the
    chat signal is the danmaku room's). Ids are CRC32s of the names, as stable as Douyin's."""
    def user(name: str) -> dict:
        uid = zlib.crc32(name.encode())
        return {"id": str(70_000_000_000 + uid), "shortId": str(uid), "nickName": name,
                "secUid": f"MS4wLjABAAAA{uid:08x}", "displayId": f"dy{uid}"}

    def record(method: str, t: float, msg_id: int, name: str, **fields) -> tuple[float, int, dict]:
        common = {"method": method, "msgId": str(7_400_000_000_000_000_000 + msg_id), "roomId": ROOM_ID,
                  "createTime": str(int(round((SENT_AT + t) * 1000)))}
        return t, msg_id, {"common": common, "user": user(name), **fields}

    records, seen = [], set()
    for index, (t, name, text) in enumerate(messages):
        if name not in seen:
            seen.add(name)
            early = 2.0 + (zlib.crc32(name.encode()) % 1000) / 100.0
            records.append(record("WebcastMemberMessage", max(0.0, t - early), 2 * index, name,
                                  memberCount=str(len(seen)), action="1"))
        records.append(record("WebcastChatMessage", t, 2 * index + 1, name, content=text))
    return [body for _, _, body in sorted(records, key=lambda r: (r[0], r[1]))]


def danmaku_xml(messages: list[tuple]) -> str:
    """Bilibili danmaku XML: ``<d p="offset,mode,size,colour,sent,pool,sender hash,id">text</d>``,
    the offset in seconds, the sender a CRC32 of the user's name as Bilibili hashes its user ids."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             "<i><chatserver>chat.bilibili.com</chatserver><chatid>0</chatid><mission>0</mission>"
             f"<maxlimit>{max(1000, len(messages))}</maxlimit><state>0</state><real_name>0</real_name><source>k-v</source>"]
    for i, (t, user, text) in enumerate(messages):
        sender = format(zlib.crc32(user.encode()), "x")
        lines.append(f'<d p="{t:.5f},1,25,16777215,{SENT_AT + int(t)},0,{sender},{i + 1}">{escape(text)}</d>')
    return "\n".join(lines + ["</i>"]) + "\n"


# ---- files ----------------------------------------------------------------------------------

def write_wav(path: str, samples: np.ndarray) -> None:
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())


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


# The evaluation set, in two splits with seeds of their own. "tune": what detection was tuned
# against (varied lengths, every highlight kind, every distractor kind more than once, the second
# way of planting each kind, real footage, constant-bitrate encodes, a 20-minute stream whose
# audience grows six-fold with the host shouting twice). "heldout": looked at only to report;
# streams made differently (real stream edges, small streamers' chat, more constant-bitrate
# encodes, 20-60 minute streams whose audience grows several-fold, and a third way of planting
# each kind that the tune split never has).
REAL_FOOTAGE = "real"   # in a suite: the real camera recordings the tests carry (tests/media)
CBR = "600k"   # a constant bit rate for the small test picture, as OBS streams at 6 Mbit/s in 1080p
SUITE = [
    (240, ["crowd", "chat", "action"], ["music", "spam", "camera"]),
    (240, ["chat", "action", "crowd"], ["shout", "bots", "cuts"]),
    (300, ["action", "crowd", "chat", "crowd"], ["giveaway", "music", "camera"]),
    (240, ["crowd", "chat", "action"], ["cuts", "shout", "spam"]),
    (300, ["chat", "chat", "action", "crowd"], ["bots", "giveaway", "music"]),
    (240, ["action", "crowd", "chat"], ["music", "shout", "camera"]),
    (300, ["crowd", "action", "chat"], ["spam", "cuts", "bots", "giveaway"]),
    (360, ["chat", "crowd", "action", "action"], ["music", "shout", "cuts", "camera"]),
    (300, ["crowd:applause", "chat:price-drop", "action:rumble-pan"], ["music", "bots", "cuts"], {"footage": REAL_FOOTAGE}),
    (300, ["chat:price-drop", "crowd:applause", "action", "chat"], ["shout", "giveaway", "camera"]),
    (360, ["action:rumble-pan", "chat:price-drop", "crowd", "crowd:applause"], ["spam", "music", "cuts"],
     {"footage": REAL_FOOTAGE, "edges": True}),
    (240, ["chat", "action:rumble-pan", "crowd:applause"], ["bots", "shout", "camera"], {"viewers": 20, "footage": REAL_FOOTAGE}),
    (300, ["action", "chat", "crowd"], ["music", "camera", "spam"], {"bitrate": CBR}),
    (300, ["crowd:applause", "action:rumble-pan", "chat:price-drop"], ["cuts", "bots", "shout"],
     {"footage": REAL_FOOTAGE, "bitrate": CBR}),
    (1200, ["crowd", "chat", "action", "crowd"], ["shout", "music", "bots", "shout", "camera"],
     {"audience": [0.5, 1.5, 3.0]}),
    # Chinese rooms: a Bilibili stream's danmaku, and a Douyin room's listener log (webcast messages,
    # wall-clock times), each with the host's 扣1 answered by a vote flood.
    (300, ["crowd", "chat:price-drop", "action"], ["votes", "music", "spam"], {"room": "zh"}),
    (300, ["chat", "crowd:applause", "action:rumble-pan"], ["votes", "bots", "giveaway", "camera"],
     {"room": "zh", "chat_format": "douyin"}),
]
HELDOUT = [
    (300, ["crowd", "chat", "action"], ["music", "bots", "camera"], {"edges": True}),
    (300, ["chat", "crowd", "action"], ["spam", "cuts", "giveaway"], {"viewers": 12}),
    (360, ["action", "chat", "crowd"], ["shout", "music", "cuts"], {"bitrate": CBR}),
    (1200, ["crowd", "chat", "action", "chat"], ["music", "bots", "giveaway", "camera", "cuts"],
     {"audience": [0.5, 1.5, 3.0], "edges": True}),
    (300, ["crowd", "chat", "action"], ["shout", "spam", "camera"], {"edges": True, "viewers": 20}),
    (360, ["chat", "chat", "crowd", "action"], ["music", "giveaway", "cuts"], {"bitrate": CBR}),
    (300, ["action", "crowd", "chat"], ["bots", "shout", "music"], {"edges": True, "bitrate": CBR}),
    (1500, ["crowd", "action", "chat", "crowd", "chat"], ["music", "spam", "bots", "giveaway", "cuts", "shout"],
     {"audience": [0.4, 1.2, 2.5], "edges": True}),
    (240, ["crowd", "chat", "action"], ["camera", "cuts", "spam"], {"viewers": 10}),
    (300, ["chat", "action", "crowd"], ["music", "shout", "bots"], {"edges": True, "viewers": 15}),
    (360, ["crowd", "chat", "action", "action"], ["giveaway", "cuts", "camera", "music"], {"bitrate": CBR, "edges": True}),
    (300, ["chat", "crowd", "action"], ["spam", "shout", "giveaway"], {"audience": [0.5, 1.0, 2.0]}),
    (360, ["crowd:chant", "chat:emoji-wave", "action:strobe"], ["music", "bots", "cuts"],
     {"footage": REAL_FOOTAGE, "edges": True}),
    (300, ["chat:emoji-wave", "crowd:applause", "action:strobe", "chat:price-drop"], ["shout", "giveaway", "camera", "spam"],
     {"footage": REAL_FOOTAGE, "bitrate": CBR}),
    (360, ["action:strobe", "chat:price-drop", "crowd:chant"], ["music", "cuts", "spam"], {"viewers": 15, "footage": REAL_FOOTAGE}),
    (300, ["crowd:chant", "chat:emoji-wave", "action:rumble-pan"], ["bots", "shout", "giveaway"],
     {"audience": [0.5, 1.0, 2.0], "footage": REAL_FOOTAGE}),
    (3600, ["crowd", "chat:price-drop", "action:strobe", "chat:emoji-wave", "crowd:chant", "action", "chat", "crowd:applause"],
     ["music", "spam", "bots", "giveaway", "cuts", "shout", "camera", "music", "bots"],
     {"audience": [0.5, 1.5, 3.0], "edges": True, "footage": REAL_FOOTAGE, "bitrate": CBR}),
    # Chinese rooms, danmaku XML and a Douyin listener's log: greeted (来了, 主播好) and waved off
    # (晚安, 88) at the edges, vote floods (扣1), emoji waves and chants in Chinese, the held-out ways.
    (300, ["crowd:chant", "chat:emoji-wave", "action"], ["votes", "shout", "cuts"], {"room": "zh", "edges": True, "bitrate": CBR}),
    (360, ["chat", "action:strobe", "crowd", "chat:emoji-wave"], ["votes", "music", "giveaway", "spam"],
     {"room": "zh", "chat_format": "douyin", "edges": True}),
    (300, ["crowd", "chat:price-drop", "action:strobe"], ["votes", "bots", "camera"],
     {"room": "zh", "chat_format": "douyin", "viewers": 15, "bitrate": CBR}),
]
# "votes": the host's calls for a number answered by a flood of 1, 11, 扣1 (or a poll's 1 and 2),
# mostly in Chinese rooms, beside the usual highlights and distractors; made to check that votes
# are no reaction, never tuned on.
VOTE_STREAMS = [
    (240, ["crowd", "chat", "action"], ["votes", "spam", "camera"], {"room": "zh"}),
    (300, ["chat", "action", "crowd"], ["votes", "music", "bots"]),
    (300, ["chat:price-drop", "crowd", "action"], ["votes", "giveaway", "cuts"], {"room": "zh", "edges": True}),
    (300, ["chat:emoji-wave", "crowd:applause", "action"], ["votes", "votes", "shout"], {"room": "zh", "viewers": 20}),
    (360, ["crowd:chant", "chat", "action:strobe"], ["votes", "spam", "music"], {"room": "zh", "audience": [0.5, 1.0, 2.0]}),
    (240, ["chat:price-drop", "action", "crowd"], ["votes", "camera", "cuts"]),
    (300, ["chat", "crowd", "action"], ["votes", "bots", "giveaway"], {"room": "zh", "bitrate": CBR}),
    (360, ["crowd", "chat:emoji-wave", "action:rumble-pan", "chat"], ["votes", "music", "spam", "camera"],
     {"room": "zh", "footage": REAL_FOOTAGE}),
]
SPLITS = {"tune": (SUITE, 100), "heldout": (HELDOUT, 900), "votes": (VOTE_STREAMS, 1700)}
# The commerce evaluation (``--split commerce``, judged product by product by ``peakclip eval``):
# live-commerce streams of 420 s named by their seed, stream-NN as the plain ``--commerce`` of that
# seed makes it, rivals-NN with ``rivals`` (a louder moment unrelated to the item in each selling
# item's window where it fits; these three have one in every such window).
COMMERCE = [(3, False), (5, False), (8, False), (9, True), (10, True), (13, True)]
COMMERCE_DURATION = 420.0
# The bit-rate pairs (``--split bitrate``): the same stream (seed, plan, chat) encoded twice,
# vbr-NN at a quality (packet sizes carry motion) and cbr-NN at the constant bit rate a live
# encoder sends (they do not), so the visual signal alone can be compared on the two; never tuned
# on. 600 s with 6 highlights drawn by the seed; the last pair has the real camera recording as
# its picture.
BITRATE_PAIRS = [(11, {}), (12, {}), (13, {}), (14, {"footage": REAL_FOOTAGE})]
BITRATE_DURATION = 600.0


def real_footage() -> list[str]:
    """The real camera recording in the repository's tests/media (a clone has it); the second
    camera is it mirrored, the action angles are closer crops of it."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "media",
                        "man-on-green-screen.mp4")
    if not os.path.exists(path):
        raise SampleError(f"real footage not found: {path} (the suite needs a clone of the repository)")
    return [path]


def generate_suite(folder: str, count: int | None = None, size: tuple[int, int] = (320, 180),
                   split: str = "tune") -> list[str]:
    """Write a split of the evaluation set into ``folder`` (stream-01 ...; the commerce split:
    stream-NN and rivals-NN by seed, ``COMMERCE``; the bitrate split: vbr-NN and cbr-NN by seed,
    ``BITRATE_PAIRS``); returns the folders."""
    if split == "commerce":
        dirs = []
        for seed, rivals in COMMERCE[:count]:
            out = os.path.join(folder, f"{'rivals' if rivals else 'stream'}-{seed:02d}")
            if not os.path.exists(os.path.join(out, "truth.json")):
                generate(out, seed=seed, duration=COMMERCE_DURATION, size=size, commerce=True, rivals=rivals)
            dirs.append(out)
        return dirs
    if split == "bitrate":
        dirs = []
        for seed, options in BITRATE_PAIRS[:count]:
            extra = {"footage": real_footage()} if options.get("footage") == REAL_FOOTAGE else {}
            for mode, bitrate in (("vbr", None), ("cbr", CBR)):
                out = os.path.join(folder, f"{mode}-{seed:02d}")
                if not os.path.exists(os.path.join(out, "truth.json")):
                    generate(out, seed=seed, duration=BITRATE_DURATION, highlights=6, size=size, bitrate=bitrate, **extra)
                dirs.append(out)
        return dirs
    streams, first_seed = SPLITS[split]
    dirs = []
    for index in range(len(streams) if count is None else count):
        duration, planted, distractors, *options = streams[index % len(streams)]
        out = os.path.join(folder, f"stream-{index + 1:02d}")
        if not os.path.exists(os.path.join(out, "truth.json")):
            extra = dict(options[0]) if options else {}
            if extra.get("footage") == REAL_FOOTAGE:
                extra["footage"] = real_footage()
            generate(out, seed=first_seed + index, duration=duration, highlights=planted, distractors=distractors,
                     size=size, **extra)
        dirs.append(out)
    return dirs


class SampleError(ValueError):
    """A stream that cannot be made as asked: the user's numbers, told in one line."""


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"peakclip.samples.generate: error: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    try:
        return generate_from_args(argv)
    except SampleError as err:
        print(f"peakclip.samples.generate: error: {err}", file=sys.stderr)
        return 2


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"WxH, e.g. 640x360, got {text!r}") from None
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"even width and height of at least 16 pixels, got {text!r}")
    return width, height


parse_size.__name__ = "size"


def distractor_list(text: str) -> list[str]:
    kinds = [kind.strip() for kind in text.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in DISTRACTOR_KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown distractor {unknown[0]!r} (choose from {', '.join(DISTRACTOR_KINDS)})")
    return kinds


distractor_list.__name__ = "distractors"


def generate_from_args(argv: list[str] | None) -> int:
    parser = OneLineParser(prog="python -m peakclip.samples.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", nargs="?")
    parser.add_argument("--suite", metavar="DIR", help="write the evaluation set into DIR")
    parser.add_argument("--split", choices=sorted([*SPLITS, "commerce", "bitrate"]), default="tune",
                        help="with --suite: the set detection is tuned on (default), the held-out one, vote "
                             "floods in English and Chinese rooms, the live-commerce streams --per-product is "
                             "judged on, or the same streams at a quality and at a constant bit rate")
    parser.add_argument("--count", type=int, help="with --suite: only the first N streams")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--highlights", type=int, help="how many to plant (default 3; with --commerce, none beside "
                                                              "the price reveals)")
    parser.add_argument("--size", type=parse_size, default=(640, 360), help="WxH of the encoded picture")
    parser.add_argument("--footage", action="append", metavar="FILE",
                        help="a real recording to use as the picture (played back and forth; give it twice for two cameras)")
    parser.add_argument("--speech", metavar="FILE",
                        help="a real recording whose voice (looped) is the host's, instead of the synthetic one")
    parser.add_argument("--bitrate", metavar="RATE",
                        help="encode at a constant bit rate (e.g. 600k, 6M), as a live encoder would, instead of a "
                             "quality; the rest of the stream is what the same seed gives without it")
    parser.add_argument("--edges", action="store_true",
                        help="open with an intro card and close with an outro, greeted and waved off in chat")
    parser.add_argument("--distractors", type=distractor_list, metavar="LIST",
                        help=f"distractors to plant, comma-separated ({', '.join(DISTRACTOR_KINDS)}; default: a spammer, "
                             "a camera switch and one more at random)")
    parser.add_argument("--room", choices=sorted(ROOMS), default="en",
                        help="the chat's language: en (TwitchDownloader JSON, chat.json) or zh (a Bilibili room, "
                             "danmaku XML, chat.xml)")
    parser.add_argument("--chat-format", choices=sorted(CHAT_FORMATS),
                        help="with --room zh: how the chat is saved, bilibili (Bilibili danmaku XML, chat.xml; the "
                             "default) or douyin (a Douyin room listener's webcast messages, chat.jsonl)")
    parser.add_argument("--commerce", action="store_true",
                        help="a live-commerce stream: the host presents 6-10 items, each with a price reveal and "
                             "its buyers (events.jsonl); needs at least 370 s")
    parser.add_argument("--rivals", action="store_true",
                        help="with --commerce: a loud crowd or action moment unrelated to the item shares each selling "
                             "item's window where it fits")
    args = parser.parse_args(argv)
    if args.suite:
        for folder in generate_suite(args.suite, args.count, split=args.split):
            print(folder)
        return 0
    if not args.out_dir:
        parser.error("give OUT_DIR or --suite DIR")
    if args.duration <= 0 or (args.highlights or 0) < 0:
        raise SampleError("--duration must be positive and --highlights at least 0")
    truth = generate(args.out_dir, args.seed, args.duration, args.highlights, distractors=args.distractors,
                     size=args.size, edges=args.edges, bitrate=args.bitrate, footage=args.footage, commerce=args.commerce, speech=args.speech,
                     room=args.room, rivals=args.rivals, chat_format=args.chat_format)
    planted = ", ".join(f"{h['kind']} {h['start']:.1f}-{h['end']:.1f} s" for h in truth["highlights"])
    beside = ((CHAT_FORMATS[args.chat_format] if args.chat_format else CHAT_FILES[args.room])
              + (", events.jsonl" if args.commerce else ""))
    shelf = f"; {len(truth['products'])} products presented" if args.commerce else ""
    print(f"sample stream: {os.path.join(args.out_dir, 'stream.mp4')} ({args.duration:g} s), {beside} and "
          f"truth.json beside it; planted highlights: {planted or 'none'}{shelf}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
