"""What each channel has learned, kept for ``peakclip clip``, ``watch`` and ``feedback``: one JSON
file per channel in a per-user data folder (``channel.store``; default
``$XDG_DATA_HOME/peakclip/channels``, that is ``~/.local/share/peakclip/channels``).

The file holds the channel's evidence (each clip's features and summed feedback counts,
``pipeline.ranking.channel.add_evidence``); the factors are learned from it when a job starts.
Each feedback reads, adds and writes the file under an exclusive lock (``fcntl.flock`` on a lock
file beside it), writing to a temporary name and renaming, so feedback from many processes adds
up and a reader never sees half a file. The queue and the service keep the same evidence in Redis
(``workers/channelstate.py``).
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from typing import Iterator, Mapping

from peakclip.detectors.errors import UserError
from peakclip.detectors.storage import read_json, write_json_atomic
from peakclip.pipeline.config import ChannelConfig, Config, check_channel_name
from peakclip.pipeline.output.names import MANIFEST
from peakclip.pipeline.ranking.channel import Learned, add_evidence, clip_features, learn

SCHEMA = "peakclip/channel@1"


def store_folder(config: ChannelConfig, environ: Mapping[str, str] | None = None) -> str:
    """Where the channels' files are: ``channel.store``, else the user's data folder."""
    if config.store:
        return config.store
    environ = os.environ if environ is None else environ
    data = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "peakclip", "channels")


class ChannelFile:
    """Each channel's evidence, one JSON file per channel in ``folder``."""

    def __init__(self, folder: str):
        self.folder = folder

    def path(self, name: str) -> str:
        return os.path.join(self.folder, check_channel_name(name) + ".json")

    def evidence(self, name: str) -> dict[str, dict]:
        path = self.path(name)
        if not os.path.exists(path):
            return {}
        data = read_json(path, f"channel file {path} is gone")
        if data.get("schema") != SCHEMA or not isinstance(data.get("clips"), dict):
            raise UserError(f"{path} is not a peakclip channel file ({SCHEMA})")
        return data["clips"]

    def learned(self, name: str, config: ChannelConfig) -> Learned:
        return learn(name, self.evidence(name), config)

    @contextmanager
    def locked(self, name: str) -> Iterator[None]:
        os.makedirs(self.folder, exist_ok=True)
        with open(os.path.join(self.folder, f".{check_channel_name(name)}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, name: str, clip_id: str, features: dict, numbers: Mapping[str, float],
            config: ChannelConfig) -> Learned:
        """One clip's feedback added to the channel's evidence; what it has learned now. Bad
        numbers are a one-line UserError and leave the file as it was."""
        with self.locked(name):
            evidence = add_evidence(self.evidence(name), clip_id, features, numbers, config.max_clips)
            write_json_atomic(self.path(name), {"schema": SCHEMA, "name": name, "clips": evidence})
        return learn(name, evidence, config)


def channel_learning(config: Config) -> Learned | None:
    """What the job's channel (``channel.name``) has learned, from this machine's store; None
    without a channel."""
    if not config.channel.name:
        return None
    return ChannelFile(store_folder(config.channel)).learned(config.channel.name, config.channel)


def manifest_clip(manifest: dict, clip_id: str) -> tuple[str, dict] | None:
    """(channel name, the clip's features) for a clip of a job ranked for a channel; None when
    the job had no channel or the clip is not in it."""
    channel = manifest.get("channel")
    clip = next((c for c in manifest.get("clips", []) if c["id"] == clip_id), None)
    if not channel or clip is None:
        return None
    return channel["name"], clip_features(clip, channel.get("factors"))


def describe(learned: Learned) -> str:
    """One line: what the channel has learned, from how many clips."""
    if not learned.clips:
        return f"channel {learned.name}: no feedback yet (ranked with the default weights)"
    factors = ", ".join(f"{name} x{factor:.2f}" for name, factor in learned.factors.items())
    return (f"channel {learned.name}: learned from {learned.clips} clips ({learned.weight:g} after the exposure "
            f"correction, {learned.impressions} impressions): {factors}")


def learn_from_output(out_dir: str, clip_id: str, numbers: Mapping[str, float], config: Config) -> Learned | None:
    """Feedback on a clip of the job in ``out_dir`` teaches its channel (this machine's store);
    None when the job was ranked for no channel."""
    found = manifest_clip(read_json(os.path.join(out_dir, MANIFEST), f"no manifest.json in {out_dir}"), clip_id)
    if found is None:
        return None
    name, features = found
    return ChannelFile(store_folder(config.channel)).add(name, clip_id, features, numbers, config.channel)
