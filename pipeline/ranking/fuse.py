"""Fusion: judge each signal against its own local baseline, line them up, combine.

A stream gets busier over hours (the audience grows, the host warms up), so a global threshold
would find only the last hour. Each signal is instead turned into a robust z-score against a
rolling median and median absolute deviation over ``baseline_window`` seconds around it, softly
capped so no one signal can dominate. Then:
- the audio z-score is scaled by how noisy the sound is: a crowd is broadband noise, music and a
  voice are tonal (``tonal_weight``, ``tonal_flatness``, ``crowd_flatness``);
- chat is shifted back in time, because people type after they see the moment;
- the fused score mixes the weighted mean of the z-scores with the second-strongest of them
  (``agreement``): independent signals rising together beat one signal rising alone; the chat,
  being the audience itself, is its own witness where it rises far above its baseline
  (``audience_floor``) or stays well above it for seconds (``audience_sustained_floor`` over
  ``audience_sustain``: a slow wave of buying talk in a small room);
- the result is smoothed over ``smooth`` seconds, so a lone spike in one bin weighs less than a
  moment that lasts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peakclip.detectors.chat import ChatConfig
from peakclip.detectors.rolling import rolling_mean, rolling_median
from peakclip.detectors.series import Series
from peakclip.pipeline.config import FuseConfig


@dataclass
class Fused:
    """The fused highlight score and each signal's part in it, per bin of ``hop`` seconds."""
    hop: float
    score: np.ndarray                 # the fused, smoothed score per bin
    signals: dict[str, np.ndarray]    # each signal's weighted, capped z-score per bin, lag-corrected


def robust_z(values: np.ndarray, window_bins: int, min_spread: float) -> np.ndarray:
    """How many robust deviations each value stands above its local median."""
    window_bins = max(3, window_bins | 1)
    # At the recording's edges the window is filled by mirroring the stream, not by repeating its
    # first (or last) value: repeated, that one value would be the median and shrink the spread to
    # the floor, so ordinary noise in the first and last minute looked like highlights.
    median = rolling_median(values, window_bins, "reflect")
    spread = 1.4826 * rolling_median(np.abs(values - median), window_bins, "reflect")
    return (values - median) / np.maximum(spread, min_spread)


def soft_cap(z: np.ndarray, cap: float) -> np.ndarray:
    """Limit how much one signal can add, smoothly, so two strong moments still rank apart."""
    return cap * np.tanh(z / cap)


def shift_back(values: np.ndarray, bins: int) -> np.ndarray:
    """Move a series ``bins`` earlier in time (the end is padded with zeros)."""
    if bins <= 0:
        return values
    return np.concatenate([values[bins:], np.zeros(min(bins, len(values)))])


def chat_shift_seconds(chat: ChatConfig) -> float:
    """How far back (seconds) the chat series is moved to sit on the moment the audience reacted to."""
    # The chat series counts a trailing window, so its rise also trails by about half a window.
    return chat.lag + chat.window / 2


def crowd_factor(flatness: np.ndarray, config: FuseConfig) -> np.ndarray:
    """1 for crowd-like noise, ``tonal_weight`` for tonal sound, log-scaled in between."""
    position = np.log(np.maximum(flatness, 1e-6) / config.tonal_flatness) / np.log(config.crowd_flatness / config.tonal_flatness)
    return config.tonal_weight + (1 - config.tonal_weight) * np.clip(position, 0.0, 1.0)


def combine(weighted: list[np.ndarray], agreement: float, audience_witness: np.ndarray | None = None) -> np.ndarray:
    """Mean of the signals, mixed with the second-strongest where there are two or more (or, where
    it is stronger, ``audience_witness``: what the chat witnesses of itself, see ``audience_witness``)."""
    stack = np.vstack(weighted)
    mean = stack.mean(axis=0)
    if len(weighted) < 2:
        return mean
    second = np.sort(stack, axis=0)[-2]
    if audience_witness is not None:
        second = np.maximum(second, audience_witness)
    return (1 - agreement) * mean + agreement * second


def audience_witness(chat: np.ndarray, config: FuseConfig, hop: float) -> np.ndarray:
    """How much the chat (its weighted, lag-corrected z-score per bin of ``hop`` seconds) witnesses
    itself: its excess over ``audience_floor`` (a burst), or ``audience_sustained_floor`` where its
    mean over ``audience_sustain`` seconds stands at that floor or more (a wave), whichever is
    more. Ordinary chatter reaches neither."""
    witness = np.maximum(chat - config.audience_floor, 0.0)
    if config.audience_sustain <= 0:
        return witness
    sustained = rolling_mean(chat, max(1, round(config.audience_sustain / hop)), "nearest")
    wave = np.where(sustained >= config.audience_sustained_floor, config.audience_sustained_floor, 0.0)
    return np.maximum(witness, wave)


def fuse(signals: dict[str, Series], config: FuseConfig, chat: ChatConfig,
         extras: dict[str, Series] | None = None) -> Fused:
    """One highlight score per bin from the raw series of the whole stream (all on one grid of
    ``hop`` seconds): each signal as robust z-scores against its own local baseline
    (``config.baseline_window`` seconds), capped, the audio damped where it sounds like music
    (``extras["audio_flatness"]``), the chat shifted back by the audience's reaction lag
    (seconds), weighted, combined with a bonus where signals agree, and smoothed over
    ``config.smooth`` seconds. The score is in z units (2.0 is ``select.min_score``'s default)."""
    hop = next(iter(signals.values())).hop
    extras = extras or {}
    window_bins = int(round(config.baseline_window / hop))
    mean_weight = np.mean([config.weight(name) for name in signals]) or 1.0
    weighted: dict[str, np.ndarray] = {}
    for name, series in signals.items():
        z = soft_cap(np.maximum(robust_z(series.values, window_bins, config.min_spread(name)), 0.0), config.z_cap)
        if name == "audio" and "audio_flatness" in extras:
            z = z * crowd_factor(extras["audio_flatness"].values, config)
        if name == "chat":
            z = shift_back(z, int(round(chat_shift_seconds(chat) / hop)))
        weighted[name] = z * config.weight(name) / mean_weight
    smooth_bins = max(1, int(round(config.smooth / hop)))
    witness = audience_witness(weighted["chat"], config, hop) if "chat" in weighted else None
    combined = combine(list(weighted.values()), config.agreement, witness)
    return Fused(hop, rolling_mean(combined, smooth_bins, "nearest"), weighted)
