"""Chat parse throughput: messages per second and peak memory for a generated large log.

    python bench/chat_parse.py [--messages 1000000] [--formats twitchdownloader,jsonl,chat-text,douyin]

Each format is written once (seeded), then parsed in a fresh child process so its peak RSS is its
own. Prints one row per format. The log covers a 6-hour stream, as a big live stream would.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HOURS = 6
START = 1_763_900_000   # UNIX seconds the stream starts, for wall-clock logs (douyin)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_log(path: str, fmt: str, n: int) -> None:
    rng = np.random.default_rng(1)
    times = np.sort(rng.uniform(0, HOURS * 3600, n))
    users = rng.integers(0, 50_000, n)
    words = ["hi", "LUL", "how much", "nice", "!points", "666", "where is the link", "KEKW"]
    texts = rng.integers(0, len(words), n)
    with open(path, "w", encoding="utf-8") as out:
        if fmt == "twitchdownloader":
            out.write('{"FileInfo": {"Version": {"Major": 1, "Minor": 2, "Patch": 2}}, "streamer": {"name": "b", "id": 1}, "comments": [')
            for i in range(n):
                word = words[texts[i]]
                out.write(("," if i else "") + json.dumps({
                    "_id": str(i), "content_offset_seconds": round(float(times[i]), 3),
                    "commenter": {"display_name": f"U{users[i]}", "_id": str(users[i]), "name": f"u{users[i]}"},
                    "message": {"body": word, "fragments": [{"text": word, "emoticon": None}]}}))
            out.write("]}")
        elif fmt == "jsonl":
            for i in range(n):
                out.write(json.dumps({"t": round(float(times[i]), 3), "user": f"u{users[i]}", "text": words[texts[i]]}) + "\n")
        elif fmt == "douyin":   # a Douyin room listener's log: webcast messages a line, wall-clock ms
            for i in range(n):
                uid = str(70_000_000_000 + int(users[i]))
                out.write(json.dumps({
                    "common": {"method": "WebcastChatMessage", "msgId": str(7_400_000_000_000_000_000 + i),
                               "roomId": "7311993800000000001", "createTime": str(int((START + times[i]) * 1000))},
                    "user": {"id": uid, "nickName": f"u{users[i]}", "secUid": f"MS4wLjABAAAA{uid}"},
                    "content": words[texts[i]]}) + "\n")
        elif fmt == "chat-text":
            for i in range(n):
                s = int(times[i])
                out.write(f"[{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}] u{users[i]}: {words[texts[i]]}\n")
        else:
            raise SystemExit(f"no writer for {fmt}")


def parse_once(path: str) -> None:
    """Child process: parse, print messages, seconds and peak RSS as JSON."""
    sys.path.insert(0, REPO)
    from peakclip.detectors.chat import ChatConfig, read_chat

    started = time.perf_counter()
    config = ChatConfig(stream_start=str(START)) if path.endswith(".douyin") else ChatConfig()
    log = read_chat(path, config, 0.5, HOURS * 3600.0)
    elapsed = time.perf_counter() - started
    print(json.dumps({"messages": log.messages, "seconds": elapsed,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--formats", default="twitchdownloader,jsonl,chat-text")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        parse_once(args.child)
        return 0
    print(f"{'format':18} {'messages':>10} {'seconds':>8} {'msg/s':>10} {'peak MB':>8} {'file MB':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        for fmt in args.formats.split(","):
            path = os.path.join(scratch, f"chat.{fmt}")
            write_log(path, fmt, args.messages)
            out = subprocess.run([sys.executable, __file__, "--child", path], capture_output=True, text=True, check=True)
            result = json.loads(out.stdout)
            print(f"{fmt:18} {result['messages']:>10} {result['seconds']:>8.2f} "
                  f"{result['messages'] / result['seconds']:>10,.0f} {result['rss_mb']:>8.0f} "
                  f"{os.path.getsize(path) / 1e6:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
