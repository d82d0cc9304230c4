"""Audio detector: loudness and noisiness per bin, and the pauses between words.

Contract: ``audio_features(path, start, end, hop, rate, track)`` returns ``AudioFeatures`` for
``[start, end)``:
- ``loudness``: Series ``audio``, the RMS level of each ``hop`` bin in dBFS (floor -100 dB);
- ``flatness``: Series ``audio_flatness``, the median spectral flatness of the bin (0 = pure
  tones, ~0.5 = white noise). A cheering crowd is broadband noise; music is tonal; a voice is
  harmonic. Loud and flat is a crowd; loud and tonal is music or the host;
- ``pauses``: times (seconds) of the middle of each gap in the sound of at least 150 ms that is
  20 dB under the level around it, or near silence: places a clip can start or end without
  cutting a word;
- ``until``: where the decoded sound ends: ``end``, or earlier in a recording that is cut off.

Why a low rate: loudness, noisiness and pauses all show below 4 kHz, and decoding to 8 kHz mono
is several times cheaper than full-rate stereo. ffmpeg decodes and resamples; the PCM is read in
blocks of whole bins, so memory stays flat for hours of audio.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import ffmpeg
import numpy as np

from peakclip.detectors.decode import PipeDecoder
from peakclip.detectors.objects import readable
from peakclip.detectors.rolling import rolling_max
from peakclip.detectors.series import Series, bins_for

SILENCE_DB = -100.0
BLOCK_BINS = 40           # bins per block read: 20 s at 0.5 s bins (640 KB of float32 at 8 kHz), small enough
                          # that working on one overlaps decoding the next
PAUSE_FRAME = 0.05        # seconds per frame of the pause finder
PAUSE_MIN = 0.15          # shortest gap that counts as a pause
PAUSE_DROP_DB = 20.0      # how far under the surrounding level a pause must fall
PAUSE_FLOOR_DB = -50.0    # anything quieter than this is a pause anyway
PAUSE_CONTEXT = 1.0       # seconds either side that set "the surrounding level"
CONTEXT_SECONDS = 2.0     # decoded before and after a chunk (run-in, and a pause's surroundings)


@dataclass
class AudioFeatures:
    loudness: Series
    flatness: Series
    pauses: list[float] = field(default_factory=list)
    until: float = 0.0    # where the decoded sound ends (before ``end`` when the recording is cut off)


def whole_frames(samples: np.ndarray, frame: int) -> np.ndarray:
    """``samples`` as rows of ``frame``, the last one padded with silence."""
    if len(samples) % frame:
        samples = np.concatenate([samples, np.zeros(frame - len(samples) % frame, samples.dtype)])
    return samples.reshape(-1, frame)


def frame_db(samples: np.ndarray, frame: int) -> np.ndarray:
    """RMS level in dBFS of each consecutive ``frame`` samples (a partial last frame counts).

    The same as ``librosa.amplitude_to_db(librosa.feature.rms(...), amin=1e-5)`` with frames
    that do not overlap (tests check it against librosa), written in numpy: importing librosa's
    spectral code costs more than a second per process, longer than analysing a short stream."""
    frames = whole_frames(samples, frame).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return np.maximum(20.0 * np.log10(np.maximum(rms, 1e-5)), SILENCE_DB)


def bin_flatness(samples: np.ndarray, frame: int, n_fft: int = 256) -> np.ndarray:
    """Median spectral flatness of the short-time spectra inside each ``frame`` samples.

    The spectra are taken inside each bin (never across two), so a bin's value does not depend
    on where the decoded block, or the chunk, began. Flatness is the geometric over the
    arithmetic mean of the power spectrum, each bin floored at 1e-10, as
    ``librosa.feature.spectral_flatness(S=power, power=1.0)`` computes it."""
    frames = whole_frames(samples, frame)
    n_bins = len(frames)
    per_bin = frame // n_fft
    if per_bin == 0:
        return np.zeros(n_bins)
    pieces = frames[:, :per_bin * n_fft].reshape(n_bins * per_bin, n_fft)
    power = np.maximum(np.abs(np.fft.rfft(pieces * np.hanning(n_fft), axis=1)) ** 2, 1e-10)
    flat = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return np.median(flat.reshape(n_bins, per_bin), axis=1)


def find_pauses(levels_db: np.ndarray, frame_seconds: float, t0: float) -> list[float]:
    """Middles of runs of quiet frames (see the module docstring for what counts as quiet)."""
    context = max(1, int(round(2 * PAUSE_CONTEXT / frame_seconds)) | 1)
    around = rolling_max(levels_db, context, "nearest")
    quiet = (levels_db < around - PAUSE_DROP_DB) | (levels_db < PAUSE_FLOOR_DB)
    edges = np.flatnonzero(np.diff(np.r_[0, quiet.astype(np.int8), 0]))
    min_frames = int(round(PAUSE_MIN / frame_seconds))
    return [round(t0 + (a + b) / 2 * frame_seconds, 3) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_frames]


def audio_features(path: str, start: float, end: float, hop: float, rate: int = 8000,
                   track: int = 0, warnings: list[str] | None = None) -> AudioFeatures:
    n_bins = bins_for(end - start, hop)
    frame = int(round(hop * rate))
    pause_frame = int(round(PAUSE_FRAME * rate))
    # Decode a little either side of the chunk: the decoder (AAC frames overlap) and the
    # resampler need a run-in, and a pause needs its surroundings, so that a chunk gives exactly
    # what one pass over the whole recording gives, wherever the seams fall. The run-in is a whole
    # number of bins, so the bins stay on the recording's grid.
    lead = min(start, round(CONTEXT_SECONDS / hop) * hop)
    first = start - lead
    source = ffmpeg.input(readable(path), ss=first, t=end + CONTEXT_SECONDS - first)
    # flush_packets=0: into a pipe ffmpeg otherwise writes every AAC frame's ~170 samples on their
    # own (13,000 writes, and as many wake-ups of the reading thread, per 300 s chunk); buffered,
    # they go out 32 KB at a time. Decoding and reading cost ~0.2 CPU-s less a chunk, same samples.
    node = source[f"a:{track}"].output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=rate, flush_packets=0)
    decoder = PipeDecoder(node, f"audio of {path}")
    levels, flatness, quiet_levels = [], [], []
    decoded = 0
    for block in decoder.blocks(frame * BLOCK_BINS * 4):
        samples = np.frombuffer(block, dtype="<f4")
        levels.append(frame_db(samples, frame))
        flatness.append(bin_flatness(samples, frame))
        quiet_levels.append(frame_db(samples, pause_frame))   # 50 ms levels: 80 bytes a second, kept whole
        decoded += len(samples)
    if warnings is not None:
        warnings.extend(decoder.warnings)
    skip = int(round(lead / hop))
    pauses = find_pauses(np.concatenate(quiet_levels), PAUSE_FRAME, first) if quiet_levels else []

    def series(name: str, parts: list[np.ndarray], fill: float) -> Series:
        values = np.concatenate(parts)[skip:] if parts else np.zeros(0)
        return Series(name, start, hop, values).fit(n_bins, fill=fill)

    return AudioFeatures(series("audio", levels, SILENCE_DB), series("audio_flatness", flatness, 0.0),
                         [p for p in pauses if start <= p < end], max(start, min(end, first + decoded / rate)))
