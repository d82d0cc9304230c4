"""Audio detector: loudness per bin.

Contract: ``audio_loudness(path, start, end, hop, rate)`` returns a Series named ``audio`` with one
value per ``hop`` seconds of ``[start, end)``: the RMS level of that bin in dBFS (floor -100 dB).

Why low rate: loudness and the character of a crowd live well below 4 kHz, and decoding to 8 kHz
mono is several times cheaper than full-rate stereo. ffmpeg decodes and resamples; we read the
PCM in blocks of whole bins, so memory stays flat for hours of audio.
"""
from __future__ import annotations

import ffmpeg
import numpy as np

from detectors.decode import PipeDecoder
from detectors.series import Series, bins_for

SILENCE_DB = -100.0
BLOCK_BINS = 240  # bins decoded per read: 2 minutes at 0.5 s bins, ~1 MB of float32 at 8 kHz


def rms_db(samples: np.ndarray, frame: int) -> np.ndarray:
    """RMS level in dBFS of each consecutive ``frame`` samples (a partial last frame counts)."""
    import librosa  # imported here: it is slow to import and only this function needs it

    if len(samples) % frame:
        samples = np.concatenate([samples, np.zeros(frame - len(samples) % frame, samples.dtype)])
    rms = librosa.feature.rms(y=samples, frame_length=frame, hop_length=frame, center=False)[0]
    return np.maximum(librosa.amplitude_to_db(rms, ref=1.0, amin=1e-5, top_db=None), SILENCE_DB)


def audio_loudness(path: str, start: float, end: float, hop: float, rate: int = 8000,
                   track: int = 0, warnings: list[str] | None = None) -> Series:
    n_bins = bins_for(end - start, hop)
    frame = int(round(hop * rate))
    source = ffmpeg.input(path, ss=start, t=end - start)
    node = source[f"a:{track}"].output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=rate)
    decoder = PipeDecoder(node, f"audio of {path}")
    levels = []
    for block in decoder.blocks(frame * BLOCK_BINS * 4):
        levels.append(rms_db(np.frombuffer(block, dtype="<f4"), frame))
    if warnings is not None:
        warnings.extend(decoder.warnings)
    values = np.concatenate(levels) if levels else np.zeros(0)
    return Series("audio", start, hop, values).fit(n_bins, fill=SILENCE_DB)
