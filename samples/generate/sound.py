"""A sample stream's sound: the host's voice (synthetic or a real speaker), music, and each
planted moment's roar, applause or rumble, as samples at ``AUDIO_RATE``."""
from __future__ import annotations

import wave

import ffmpeg
import numpy as np
from scipy.ndimage import uniform_filter1d

from peakclip.samples.generate.moments import SampleError, windows

AUDIO_RATE = 16000


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


def write_wav(path: str, samples: np.ndarray) -> None:
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
