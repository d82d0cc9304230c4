"""Streams with a real face, to test and measure the framing: the public-domain photograph of
astronaut Eileen Collins (NASA) that scikit-image's wheel carries (``skimage.data.astronaut()``,
read from the installed package, nothing downloaded), placed into 16:9 recordings where the
framing has something to get right.

    python -m peakclip.samples.faces KIND OUT.mp4 [--seconds 10]

Kinds (``KINDS``):

- ``still``: one person standing still off-centre (face centre at 20% of the width);
- ``moving``: one person walking across the picture, from 15% to 85% of the width;
- ``cut``: one person on the left, then a hard cut to the same person on the right;
- ``two``: two people at opposite sides (15% and 85%) the whole time;
- ``facecam``: a streamer's layout: a busy game over the whole picture and a webcam box with a
  border in the bottom-right corner, the person inside it;
- ``empty``: the room alone, nobody in it.

``faces_at(kind, t, size, seconds)`` is where the faces were planted at ``t`` seconds: boxes in
pixels ``(x, y, w, h)``. Needs scikit-image (the ``test`` extra).
"""
from __future__ import annotations

import argparse
import functools
import subprocess
import sys

import numpy as np

KINDS = ("still", "moving", "cut", "two", "facecam", "empty")
# The photograph's head and shoulders (rows, columns of the 512x512 picture), and the face in that
# cutout (x, y, w, h): YuNet finds it at (88, 43, 90, 113), scikit-image's LBP cascade at (84, 46, 96, 96).
CUTOUT = (slice(20, 400), slice(90, 350))
FACE_IN_CUTOUT = (86, 44, 94, 112)
PERSON_HEIGHT = 0.58        # of the picture: the face is then about 17% of its height
FACECAM = (0.72, 0.6, 0.25, 0.333)   # the webcam box (x, y, w, h shares); its border is 4% of its height
FPS = 25


def cutout() -> np.ndarray:
    """The head-and-shoulders cutout, BGR."""
    from skimage.data import astronaut
    return np.ascontiguousarray(astronaut()[CUTOUT][:, :, ::-1])


def centre_x(kind: str, t: float, seconds: float) -> list[float]:
    """Where each person's face centre is at ``t`` (shares of the width); mirrored second person in ``two``."""
    if kind == "still":
        return [0.2]
    if kind == "moving":
        return [0.15 + 0.7 * min(1.0, max(0.0, (t - 1.0) / max(1.0, seconds - 2.0)))]
    if kind == "cut":
        return [0.2 if t < seconds / 2 else 0.8]
    if kind == "two":
        return [0.15, 0.85]
    return []


def person_size(height: int) -> tuple[int, int, float]:
    """The pasted cutout's width and height in pixels, and its scale against the photograph."""
    rows, cols = CUTOUT[0].stop - CUTOUT[0].start, CUTOUT[1].stop - CUTOUT[1].start
    tall = int(round(PERSON_HEIGHT * height))
    return int(round(cols * tall / rows)), tall, tall / rows


def faces_at(kind: str, t: float, size: tuple[int, int] = (1280, 720), seconds: float = 10.0
             ) -> list[tuple[int, int, int, int]]:
    """The face boxes planted at ``t`` seconds, pixels of the picture."""
    width, height = size
    if kind == "facecam":
        x, y, w, h = facecam_box(size)
        pw, ph, scale = webcam_person(h)
        fx, fy, fw, fh = FACE_IN_CUTOUT
        return [(x + (w - pw) // 2 + int(fx * scale), y + int(fy * scale), int(fw * scale), int(fh * scale))]
    pw, ph, scale = person_size(height)
    fx, fy, fw, fh = FACE_IN_CUTOUT
    boxes = []
    for n, cx in enumerate(centre_x(kind, t, seconds)):
        left = person_left(cx, width, pw, scale)
        face_x = left + int(fx * scale) if n == 0 else left + pw - int((fx + fw) * scale)
        boxes.append((face_x, height - ph + int(fy * scale), int(fw * scale), int(fh * scale)))
    return boxes


def webcam_person(box_height: int) -> tuple[int, int, float]:
    """The cutout's size and scale in a webcam box ``box_height`` tall: its top at the box's top,
    the shoulders cut off by the box's bottom (a webcam frames the face close)."""
    return person_size(int(round(box_height * 1.15 / PERSON_HEIGHT)))


def person_left(cx: float, width: int, pw: int, scale: float) -> int:
    """The cutout's left edge that puts the face centre at ``cx`` (share), inside the picture."""
    fx, _, fw, _ = FACE_IN_CUTOUT
    return max(0, min(width - pw, int(round(cx * width - (fx + fw / 2) * scale))))


def facecam_box(size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The webcam box inside its border, pixels."""
    width, height = size
    x, y, w, h = FACECAM
    return int(x * width), int(y * height), int(w * width) // 2 * 2, int(h * height) // 2 * 2


@functools.lru_cache(maxsize=4)
def grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column coordinates, and a few fields of grain to cycle through."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return yy, xx, np.random.default_rng(7).normal(0, 2.0, (5, height, width)).astype(np.float32)


def room(t: float, width: int, height: int) -> np.ndarray:
    """A wall with a soft light sweeping slowly over it and a little grain: no face, some motion."""
    yy, xx, grain = grid(width, height)
    wall = 60 + 60 * xx / width + 30 * yy / height + 30 * np.sin(xx / (0.3 * width) + 0.4 * t)
    wall += grain[int(t * FPS) % len(grain)]
    return np.dstack([wall * 0.9, wall, wall * 0.8]).clip(0, 255).astype(np.uint8)


def game(t: float, width: int, height: int) -> np.ndarray:
    """A busy game: a scrolling coloured pattern with bright shapes racing over it."""
    yy, xx, _ = grid(width, height)
    base = np.dstack([128 + 100 * np.sin((xx + 240 * t) / 31.0), 128 + 100 * np.sin((yy + 160 * t) / 23.0),
                      128 + 100 * np.sin((xx + yy - 300 * t) / 41.0)])
    frame = base.clip(0, 255).astype(np.uint8)
    for n in range(6):
        cx = int((0.1 + 0.15 * n + 0.3 * t * (1 + n % 3)) % 1.0 * width)
        cy = int((0.5 + 0.4 * np.sin(t * (1 + n) + n)) * height)
        frame[max(0, cy - 30):cy + 30, max(0, cx - 30):cx + 30] = (255 * (n % 2), 255, 255 * (n % 3 == 0))
    return frame


def frame_at(kind: str, t: float, size: tuple[int, int], seconds: float, person: np.ndarray) -> np.ndarray:
    """The picture at ``t`` seconds, BGR."""
    import cv2
    width, height = size
    if kind == "facecam":
        frame = game(t, width, height)
        x, y, w, h = facecam_box(size)
        border = max(4, h // 25)
        frame[y - border:y + h + border, x - border:x + w + border] = 235
        cam = room(0.0, w, h)
        pw, ph, _ = webcam_person(h)
        small = cv2.resize(person, (pw, ph), interpolation=cv2.INTER_AREA)[:h]
        left = (w - pw) // 2
        cam[:len(small), left:left + pw] = small
        frame[y:y + h, x:x + w] = cam
        return frame
    frame = room(t, width, height)
    pw, ph, scale = person_size(height)
    small = cv2.resize(person, (pw, ph), interpolation=cv2.INTER_AREA)
    for n, cx in enumerate(centre_x(kind, t, seconds)):
        left = person_left(cx, width, pw, scale)
        frame[height - ph:, left:left + pw] = small if n == 0 else small[:, ::-1]
    return frame


def make_stream(path: str, kind: str, seconds: float = 10.0, size: tuple[int, int] = (1280, 720)) -> str:
    """Write a ``kind`` recording of ``seconds`` to ``path``: H.264 at 25 fps with a key frame
    every 2 s (as a live encoder sends), AAC sound (a quiet tone). Returns ``path``."""
    if kind not in KINDS:
        raise ValueError(f"kind is one of {', '.join(KINDS)}")
    width, height = size
    person = cutout()
    command = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
               "-s", f"{width}x{height}", "-r", str(FPS), "-i", "-",
               "-f", "lavfi", "-i", f"sine=frequency=220:duration={seconds}", "-shortest",
               "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-g", str(2 * FPS), "-pix_fmt", "yuv420p",
               "-c:a", "aac", "-b:a", "64k", path]
    encoder = subprocess.Popen(command, stdin=subprocess.PIPE)
    try:
        for n in range(int(round(seconds * FPS))):
            encoder.stdin.write(frame_at(kind, n / FPS, size, seconds, person).tobytes())
    finally:
        encoder.stdin.close()
        if encoder.wait() != 0:
            raise RuntimeError(f"ffmpeg could not write {path}")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("out")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    make_stream(args.out, args.kind, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
