"""Faces detector: where the people are in a span of a recording, where its scene cuts are, and
the webcam box of a streamer's layout.

Contract: every box is ``(x, y, w, h)`` as shares (0-1) of the picture's display width and height
from its top-left corner, so a box found on a small frame places a window on the full picture.

- ``FaceDetector()(frame)``: the faces in one BGR picture, ``(n, 5)``: box and score (0-1).
- ``span_faces(path, start, length, ...)``: ``SpanFaces`` of ``[start, start + length)`` seconds:
  the faces on frames sampled ``fps`` times a second at ``width`` pixels wide, the scene cuts (to
  the frame, from every frame shrunk to 64x36 grey) and where the motion is, all from one decode.
- ``find_facecam(path, duration, ...)``: the webcam box of a streamer's layout, or None.

The model is YuNet (OpenCV's ``FaceDetectorYN``, OpenCV Zoo's ``face_detection_yunet_2023mar``,
MIT, shipped in ``detectors/models/`` with its licence; nothing is downloaded). AutoFlip's
lesson: faces are found on frames scaled to ~480 px at a few frames a second; a face 4% of a
720p picture's height is still ~11 px there, which YuNet finds (at 320 px it does not).

Why only spans: a clip's framing needs its own seconds, never the whole stream, and the render
decodes those seconds anyway; the webcam box is the one stream-wide fact, read from a couple of
dozen key frames (a key frame decodes alone: no other frame is decoded to reach it).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import ffmpeg
import numpy as np

from peakclip.detectors.decode import PipeDecoder
from peakclip.detectors.errors import MediaError
from peakclip.detectors.objects import readable
from peakclip.detectors.keyframes import as_frames
from peakclip.detectors.visual import frame_changes

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models", "face_detection_yunet_2023mar.onnx")
MIN_SCORE = 0.7          # YuNet's confidence a face must reach (its own demo uses 0.9 on sharp photos)
SAMPLE_FPS = 4.0         # frames a second looked at for faces
SAMPLE_WIDTH = 480       # pixels wide they are looked at
CUT_SIZE = (64, 36)      # every frame shrunk to this for the scene cuts (as detectors.visual does)
CUT_CHANGE = 10.0        # a cut: a frame differs from the one before by this many grey levels (0-255) or more,
CUT_CONTRAST = 6.0       # and this many times the span's median change (a busy game changes a lot every frame)
FACECAM_SAMPLES = 24     # key frames read across the stream to find a webcam box
FACECAM_WIDTH = 640      # pixels wide they are read at (a webcam's face is small)


class FaceDetector:
    """YuNet over BGR pictures of any size; ``detector(frame)`` is ``(n, 5)``: ``x, y, w, h``
    (shares of the frame) and the score, largest face first. One per thread: the OpenCV object
    keeps its input size."""

    def __init__(self, min_score: float = MIN_SCORE):
        import cv2   # here: importing OpenCV costs ~0.2 s, and most processes never look for a face
        # Errors only: the DNN engine warns about targets on every model load.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        self.net = cv2.FaceDetectorYN.create(MODEL, "", (SAMPLE_WIDTH, SAMPLE_WIDTH), min_score, 0.3, 50)
        self.size = None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        if self.size != (width, height):
            self.net.setInputSize((width, height))
            self.size = (width, height)
        _, found = self.net.detect(np.ascontiguousarray(frame))
        if found is None or not len(found):
            return np.zeros((0, 5))
        boxes = np.column_stack([found[:, 0] / width, found[:, 1] / height, found[:, 2] / width,
                                 found[:, 3] / height, found[:, -1]]).astype(float)
        # YuNet's boxes may stick out of the picture by a few pixels: keep them inside.
        boxes[:, 0:2] = np.clip(boxes[:, 0:2], 0.0, 1.0)
        boxes[:, 2] = np.minimum(boxes[:, 2], 1.0 - boxes[:, 0])
        boxes[:, 3] = np.minimum(boxes[:, 3], 1.0 - boxes[:, 1])
        return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3])]


@dataclass
class SpanFaces:
    """What ``span_faces`` saw in a span; times in seconds from the span's start."""
    times: np.ndarray                                        # one per sampled frame
    faces: list[np.ndarray]                                  # per sampled frame: (n, 5) boxes (shares) + score
    cuts: list[float] = field(default_factory=list)          # scene cuts, seconds
    # Per sampled frame: the x (share of the width) around which the picture changes; NaN: still.
    motion: np.ndarray = field(default_factory=lambda: np.zeros(0))
    warnings: list[str] = field(default_factory=list)


def sample_height(display_width: int, display_height: int, width: int) -> int:
    """The even height of a ``width``-wide frame of the picture's display shape, pixels."""
    return max(2, round(width * display_height / max(1, display_width) / 2) * 2)


def span_faces(path: str, start: float, length: float, display_width: int, display_height: int, fps: float,
               sample_fps: float = SAMPLE_FPS, width: int = SAMPLE_WIDTH,
               detector: FaceDetector | None = None) -> SpanFaces:
    """Faces, scene cuts and motion in ``[start, start + length)`` seconds of ``path``, from one
    decode: ``sample_fps`` frames a second at ``width`` pixels for the faces, every frame (``fps``,
    the recording's rate) at 64x36 grey for the cuts (``CUT_CHANGE``, ``CUT_CONTRAST``: lower than
    the analysis's cut threshold, since a person jumping across a still room is a cut for the
    framing). Non-reference frames are not decoded (a B-frame changes no other frame, and the
    rate left is plenty for the cuts a window must follow)."""
    detector = detector or FaceDetector()
    height = sample_height(display_width, display_height, width)
    rate = fps or 30.0
    with tempfile.TemporaryDirectory(prefix="peakclip-faces-") as scratch:
        small_path = os.path.join(scratch, "cuts.gray")
        picture = ffmpeg.input(readable(path), ss=start, t=length, skip_frame="noref")["V:0"].split()
        small = (picture[1].filter("fps", fps=rate).filter("scale", *CUT_SIZE, flags="area")
                 .output(small_path, format="rawvideo", pix_fmt="gray"))
        sampled = (picture[0].filter("fps", fps=sample_fps).filter("scale", width, height, flags="area")
                   .output("pipe:", format="rawvideo", pix_fmt="bgr24"))
        decoder = PipeDecoder(ffmpeg.merge_outputs(sampled, small), f"video of {path}")
        frame_bytes = width * height * 3
        faces, grey = [], []
        for block in decoder.blocks(frame_bytes * 8):
            frames = np.frombuffer(block, np.uint8)
            for frame in frames[:len(frames) // frame_bytes * frame_bytes].reshape(-1, height, width, 3):
                faces.append(detector(frame))
                grey.append(frame[::3, ::3].mean(axis=2))
        tiny = as_frames(np.fromfile(small_path, np.uint8) if os.path.exists(small_path) else np.zeros(0, np.uint8),
                         *CUT_SIZE)
    changes = frame_changes(tiny) if len(tiny) > 1 else np.zeros(len(tiny))
    threshold = max(CUT_CHANGE, CUT_CONTRAST * float(np.nanmedian(changes))) if len(changes) > 1 else np.inf
    cuts = [round(i / rate, 3) for i in np.flatnonzero(np.nan_to_num(changes) >= threshold)]
    times = np.arange(len(faces)) / sample_fps
    return SpanFaces(times, faces, cuts, motion_columns(grey), decoder.warnings)


def motion_columns(frames: list[np.ndarray]) -> np.ndarray:
    """Per frame, the x (share of the width) around which it differs from the frame before, or
    NaN when too little changed to say; the first frame takes the second's."""
    if not frames:
        return np.zeros(0)
    out = np.full(len(frames), np.nan)
    width = frames[0].shape[1]
    columns = (np.arange(width) + 0.5) / width
    for i in range(1, len(frames)):
        change = np.abs(frames[i] - frames[i - 1]).sum(axis=0)
        if change.sum() > 2.0 * frames[i].shape[0]:
            out[i] = float((change * columns).sum() / change.sum())
    if len(out) > 1:
        out[0] = out[1]
    return out


def key_frames_across(path: str, duration: float, count: int, width: int, height: int) -> np.ndarray:
    """About ``count`` key frames spread over the recording (away from its first and last 5%),
    BGR at ``width`` x ``height``: ``(n, height, width, 3)``. One ffmpeg, one seek per frame."""
    times = np.linspace(0.05, 0.95, count) * duration
    inputs = [ffmpeg.input(readable(path), ss=round(float(t), 3), skip_frame="nokey", noaccurate_seek=None, threads=1)["V:0"]
              .filter("scale", width, height, flags="area").filter("trim", end_frame=1).filter("setpts", "N")
              for t in times]
    joined = ffmpeg.concat(*inputs, v=1, a=0) if len(inputs) > 1 else inputs[0]
    decoder = PipeDecoder(joined.output("pipe:", format="rawvideo", pix_fmt="bgr24", fps_mode="passthrough"),
                          f"key frames of {path}")
    data = b"".join(decoder.blocks(width * height * 3 * 4))
    frames = np.frombuffer(data, np.uint8)
    return frames[:len(frames) // (width * height * 3) * width * height * 3].reshape(-1, height, width, 3)


def find_facecam(path: str, duration: float, display_width: int, display_height: int,
                 detector: FaceDetector | None = None, samples: int = FACECAM_SAMPLES,
                 width: int = FACECAM_WIDTH) -> tuple[float, float, float, float] | None:
    """The webcam box of a streamer's layout, ``(x, y, w, h)`` shares of the picture, or None.

    A webcam box is a face that stays put across the stream (in at least half of ``samples`` key
    frames, within 3% of the width), small (under a third of the height) and off the centre,
    inside a rectangle whose sides are edges that stay where they are while the picture around
    them changes (the box's border, or where the webcam's picture meets the game's). A person
    sitting still in front of a camera is no webcam box: no such rectangle holds the face."""
    if duration <= 0:
        return None
    height = sample_height(display_width, display_height, width)
    try:
        frames = key_frames_across(path, duration, samples, width, height)
    except MediaError:
        return None
    if len(frames) < 4:
        return None
    detector = detector or FaceDetector()
    found = [detector(frame) for frame in frames]
    face = steady_face(found, len(frames))
    if face is None:
        return None
    grey = frames.mean(axis=3)
    return framed_box(np.median(grey, axis=0), grey.std(axis=0), face)


def steady_face(found: list[np.ndarray], n_frames: int) -> np.ndarray | None:
    """The median box (shares) of a small, off-centre face seen at one place in at least half of
    the frames, or None."""
    boxes = [f[:, :4] for f in found if len(f)]
    if not boxes:
        return None
    candidates = np.concatenate(boxes)
    centres = candidates[:, :2] + candidates[:, 2:] / 2
    for i in np.argsort(-candidates[:, 3]):
        near = np.all(np.abs(centres - centres[i]) < 0.03, axis=1)
        frames_with = sum(bool(len(f)) and bool(np.any(np.all(np.abs(f[:, :2] + f[:, 2:4] / 2 - centres[i]) < 0.03,
                                                                     axis=1))) for f in found)
        if frames_with * 2 >= n_frames:
            box = np.median(candidates[near], axis=0)
            centre = box[:2] + box[2:] / 2
            if box[3] < 1 / 3 and (abs(centre[0] - 0.5) > 0.15 or abs(centre[1] - 0.5) > 0.15):
                return box
    return None


def framed_box(median: np.ndarray, spread: np.ndarray, face: np.ndarray) -> tuple[float, float, float, float] | None:
    """The rectangle of steady edges around ``face`` (shares) in the ``median`` picture of the
    sampled frames (grey, pixels), where ``spread`` (their per-pixel standard deviation) says what
    moves; a side may be the picture's own edge. None when no side but the picture's edges holds it."""
    height, width = median.shape
    fx, fy, fw, fh = face[0] * width, face[1] * height, face[2] * width, face[3] * height
    # A steady edge: a strong step in the median picture, in a place that hardly changes.
    steady = spread < max(8.0, float(np.percentile(spread, 25)))
    column_step = np.abs(np.diff(median, axis=1)) * steady[:, 1:]
    row_step = np.abs(np.diff(median, axis=0)) * steady[1:, :]
    rows = slice(int(max(0, fy - fh)), int(min(height, fy + 2 * fh)))
    left = side(column_step[rows].mean(axis=0), int(fx - 0.2 * fw), -1, int(2.5 * fw))
    right = side(column_step[rows].mean(axis=0), int(fx + 1.2 * fw), +1, int(2.5 * fw))
    columns = slice(left if left is not None else 0, (right + 1) if right is not None else width)
    top = side(row_step[:, columns].mean(axis=1), int(fy - 0.3 * fh), -1, int(2.5 * fh))
    bottom = side(row_step[:, columns].mean(axis=1), int(fy + 1.3 * fh), +1, int(2.5 * fh))
    if sum(s is not None for s in (left, right, top, bottom)) < 2:
        return None
    x0 = (left + 1) if left is not None else 0
    x1 = (right + 1) if right is not None else width
    y0 = (top + 1) if top is not None else 0
    y1 = (bottom + 1) if bottom is not None else height
    # Sides not found must be the picture's edges, and close: a box that runs to a far edge is
    # not a webcam's.
    if (left is None and fx > 1.5 * fw) or (right is None and width - fx - fw > 1.5 * fw) or \
            (top is None and fy > 1.5 * fh) or (bottom is None and height - fy - fh > 1.5 * fh):
        return None
    if (x1 - x0) > 0.6 * width or (y1 - y0) > 0.7 * height:
        return None
    return (x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height)


def side(profile: np.ndarray, begin: int, step: int, reach: int) -> int | None:
    """Where, walking from ``begin`` by ``step`` at most ``reach`` places, ``profile`` (mean steady
    edge strength) peaks, if the peak is clear: at least 4 times the median and 6 grey levels."""
    end = begin + step * reach
    lo, hi = sorted((begin, end))
    lo, hi = max(0, lo), min(len(profile) - 1, hi)
    if hi <= lo:
        return None
    window = profile[lo:hi + 1]
    threshold = max(6.0, 4.0 * float(np.median(profile)))
    best = int(np.argmax(window))
    # The strongest: a border runs the whole side, a shelf behind the streamer only part of it.
    return lo + best if window[best] >= threshold else None
