"""A sample stream's picture: drawn camera angles, or real footage played back and forth, with
each planted moment's motion, frame by frame."""
from __future__ import annotations

import cv2
import ffmpeg
import numpy as np

from peakclip.samples.generate.moments import SampleError, active, windows

WORK_W, WORK_H = 160, 90     # frames are drawn this small; ffmpeg scales them up while encoding


def make_textures(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Smooth random colour fields: stand-ins for camera angles and an ad card."""
    textures = []
    for _ in range(count):
        coarse = rng.uniform(30, 200, size=(6, 9, 3)).astype(np.float32)
        big = np.kron(coarse, np.ones((WORK_H // 6 + 1, WORK_W // 9 + 1, 1), np.float32))[:WORK_H, :WORK_W]
        for axis in (0, 1):
            for shift in (3, 6):
                big = (big + np.roll(big, shift, axis)) / 2
        textures.append(big)
    return textures


def load_footage(paths: list[str], fps: int) -> list[np.ndarray]:
    """Real camera recordings decoded at the working size and frame rate (frames x H x W x 3)."""
    clips = []
    for path in paths:
        try:
            raw, _ = (ffmpeg.input(path).video.filter("scale", WORK_W, WORK_H).filter("fps", fps)
                      .output("pipe:", format="rawvideo", pix_fmt="rgb24")
                      .global_args("-nostdin", "-hide_banner", "-loglevel", "error").run(capture_stdout=True))
        except ffmpeg.Error:
            raise SampleError(f"cannot read footage {path}: not a video ffmpeg can decode") from None
        if not raw:
            raise SampleError(f"footage {path} has no picture")
        clips.append(np.frombuffer(raw, np.uint8).reshape(-1, WORK_H, WORK_W, 3).astype(np.float32))
    return clips


def back_and_forth(n: int, length: int) -> int:
    """Frame ``n`` of a recording of ``length`` frames played forwards, then backwards, and again:
    looped that way the picture never jumps from the last frame to the first (a jump a real camera
    never makes, and one that every signal reading the picture would take for a cut)."""
    if length < 2:
        return 0
    step = n % (2 * length - 2)
    return step if step < length else 2 * length - 2 - step


def shifted(frame: np.ndarray, dx: float, dy: float = 0.0) -> np.ndarray:
    return np.roll(frame, (int(round(dy)), int(round(dx))), axis=(0, 1))


def zoomed(frame: np.ndarray, zoom: float) -> np.ndarray:
    """The centre of the picture, enlarged ``zoom`` times (a camera zooming in)."""
    h, w = int(WORK_H / zoom), int(WORK_W / zoom)
    top, left = (WORK_H - h) // 2, (WORK_W - w) // 2
    return cv2.resize(frame[top:top + h, left:left + w], (WORK_W, WORK_H), interpolation=cv2.INTER_LINEAR)


def jitter(t: float, seed: float) -> float:
    """A deterministic shake in [-1, 1] that changes every frame (no draws from the generator,
    so the default ways' streams stay what they were)."""
    return float(np.sin(t * 91.7 + seed) * np.cos(t * 37.3 + 2 * seed))


def frames(rng: np.random.Generator, truth: dict, fps: int, footage: list[np.ndarray] | None = None):
    """Yield RGB frames (uint8, WORK_H x WORK_W x 3). With ``footage``, the cameras and the action
    angles are real recordings (played back and forth; the second camera is the second recording,
    or the first mirrored) instead of drawn colour fields with a drawn host."""
    textures = make_textures(rng, 8)   # 0-1 cameras, 2-5 action angles, 6 ad card, 7 spare
    yy, xx = np.mgrid[0:WORK_H, 0:WORK_W].astype(np.float32)
    events = windows(truth)
    camera = 0
    was_in_camera_switch = False

    def shot(index: int, t: float) -> np.ndarray:
        """Camera 0-1 or action angle 2-5 at time t."""
        if not footage:
            return textures[index].copy()
        clip = footage[index % len(footage)]
        picture = clip[back_and_forth(int(t * fps + 311 * index), len(clip))].copy()
        if index == 1 and len(footage) == 1:
            picture = picture[:, ::-1].copy()
        if index >= 2:   # another angle: closer in, from the side
            picture = shifted(zoomed(picture, 1.2 + 0.15 * (index - 2)), 9 * (index - 3.5))
        return picture

    def host(t: float, sway: float, speed: float) -> np.ndarray:
        """The host on the current camera, moving ``sway`` pixels at ``speed``."""
        dx = sway * np.sin(t * speed)
        if footage:
            return shifted(shot(camera, t), dx * 0.5)
        frame = shot(camera, t)
        cx, cy = WORK_W / 2 + dx, WORK_H / 2 + 3 * np.sin(t * 1.3)
        frame[(xx - cx) ** 2 / 0.5 + (yy - cy) ** 2 < 18 ** 2] = [200, 160, 140]
        return frame

    for i in range(int(truth["duration"] * fps)):
        t = i / fps
        event = active(t, events)
        kind = event["kind"] if event else None
        way = event.get("way") if event else None
        in_switch = kind == "camera"
        if in_switch and not was_in_camera_switch:
            camera = 1 - camera
        was_in_camera_switch = in_switch
        if way == "roar":
            frame = shot(2 + int(t / 0.4) % 4, t)   # cuts every 0.4 s and objects flying across
            for k in range(3):
                cx = (t * (90 + 40 * k) + 37 * k) % WORK_W
                cy = WORK_H / 2 + 30 * np.sin(t * (5 + k))
                frame[(xx - cx) ** 2 + (yy - cy) ** 2 < (10 + 3 * k) ** 2] = [255, 230 - 60 * k, 40 * k]
        elif way == "applause":                       # the camera shakes in the cheering, lights flash
            frame = shifted(host(t, 6, 0.7), 7 * jitter(t, 1.0), 5 * jitter(t, 2.0))
            frame *= 1.0 + 0.35 * (int(t * 6) % 3 == 0)
        elif way == "chant":                          # the camera zooms in and out with the chant
            frame = zoomed(host(t, 6, 0.7), 1.25 + 0.2 * np.sin(2 * np.pi * 2 * t))
        elif way == "rumble-pan":                     # a fast pan across the scene, a cut every second
            frame = shifted(shot(2 + int(t) % 4, t), (t * 240) % WORK_W, 4 * jitter(t, 3.0))
        elif way == "strobe":                         # hard cuts four times a second, every other inverted
            frame = shot(2 + int(t * 4) % 4, t)
            if int(t * 4) % 2:
                frame = 255.0 - frame
        elif kind == "cuts":
            frame = textures[2 + int(t / 0.5) % 4].copy()   # a product montage: cuts, a product gliding by
            px = (t * 70) % WORK_W
            frame[np.abs(xx - px) + np.abs(yy - WORK_H / 2) < 14] = [250, 250, 90]
        elif kind == "music":
            frame = textures[6].copy()                       # a still ad card
        elif kind in ("intro", "outro"):
            frame = textures[7].copy()                       # "starting soon" / "thanks for watching"
        else:
            # The host shows the product off (reactions), or a price card comes up (price-drop);
            # an emoji wave is the audience alone.
            frame = host(t, *((12, 2.0) if way == "reactions" else (6, 0.7)))
            if way == "reactions":
                frame[np.abs(xx - WORK_W * 0.75) + np.abs(yy - 25) < 12] = [250, 250, 90]
            elif way == "price-drop":
                frame[int(WORK_H * 0.7):int(WORK_H * 0.9), int(WORK_W * 0.1):int(WORK_W * 0.6)] = [230, 40, 40]
        frame += rng.normal(0, 2.0, size=frame.shape).astype(np.float32)  # sensor noise
        yield np.clip(frame, 0, 255).astype(np.uint8)
