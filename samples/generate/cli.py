"""The command line of ``python -m peakclip.samples.generate``: one sample stream, or a split of
the evaluation set; its usage is the package's docstring."""
from __future__ import annotations

import argparse
import os
import sys

import peakclip.samples.generate as package
from peakclip.samples.generate.moments import DISTRACTOR_KINDS, SampleError
from peakclip.samples.generate.room import CHAT_FILES, CHAT_FORMATS, ROOMS
from peakclip.samples.generate.stream import generate
from peakclip.samples.generate.suite import SPLITS, generate_suite


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
    parser = OneLineParser(prog="python -m peakclip.samples.generate", description=package.__doc__.split("\n\n")[0])
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

