"""``channel``: what a channel's audience has taught the ranking; and the feedback hook that teaches it."""
from __future__ import annotations

import argparse
import json
import os
from typing import Mapping


def channel_feedback(target: str, clip_id: str, numbers: Mapping[str, float], config, tier_store) -> str | None:
    """After the promotion store has recorded a clip's feedback: the same numbers teach the
    channel the clip's job was ranked for (this machine's file for an output folder, Redis for a
    queued job). Returns the line that says what the channel has learned now, or None."""
    from peakclip.pipeline.promotion.channels import describe

    if os.path.isdir(target):
        from peakclip.pipeline.promotion.channels import learn_from_output

        learned = learn_from_output(target, clip_id, numbers, config)
    else:
        from peakclip.workers.channelstate import learn_from_job

        learned = learn_from_job(tier_store.r, target, clip_id, numbers, config)
    return describe(learned) if learned is not None else None


def cmd_channel(args: argparse.Namespace) -> int:
    from peakclip.pipeline.config import check_channel_name, load_config
    from peakclip.pipeline.promotion.channels import ChannelFile, describe, store_folder

    config = load_config(args.config)
    name = check_channel_name(args.name)
    if args.queue:
        from peakclip.workers.channelstate import RedisChannelState
        from peakclip.workers.jobs import connect

        learned = RedisChannelState(connect(config.queue.result_backend, check=True)).learned(name, config.channel)
    else:
        learned = ChannelFile(store_folder(config.channel)).learned(name, config.channel)
    if args.json:
        print(json.dumps(learned.to_dict()))
        return 0
    print(describe(learned))
    if learned.clips:
        effects = learned.effects
        print("  effect on reward (log, per unit of a signal's share of the clip): "
              + ", ".join(f"{k} {v:+.2f}" for k, v in effects.items() if k != "length"))
        print(f"  per doubling of a clip's length: {effects['length']:+.2f} "
              f"(clips made x{learned.factors['length']:.2f} as long, within --min-len and --max-len)")
    return 0


def add_commands(commands) -> None:
    """channel."""
    channel = commands.add_parser("channel", help="what a channel's audience has taught the ranking, from how many clips")
    channel.add_argument("name", metavar="NAME", help="the channel's name, as given to --channel")
    channel.add_argument("--json", action="store_true")
    channel.add_argument("--queue", action="store_true",
                         help="the queue's learning (Redis at queue.result_backend) instead of this machine's")
    channel.add_argument("--config", metavar="TOML", help="configuration file")
    channel.set_defaults(handler=cmd_channel)
