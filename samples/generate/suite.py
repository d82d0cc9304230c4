"""The evaluation set: its splits (tune, heldout, votes, commerce, bitrate), each a list of
streams with seeds of their own, written by ``generate_suite``."""
from __future__ import annotations

import os

from peakclip.samples.generate.moments import SampleError
from peakclip.samples.generate.stream import generate

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

# The repository: samples/generate/ is two folders below it.
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def real_footage() -> list[str]:
    """The real camera recording in the repository's tests/media (a clone has it); the second
    camera is it mirrored, the action angles are closer crops of it."""
    path = os.path.join(REPO, "tests", "media", "man-on-green-screen.mp4")
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
