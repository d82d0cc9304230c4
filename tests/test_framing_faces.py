"""Vertical clips of real faces (scikit-image's public-domain astronaut photograph, placed into
16:9 streams by peakclip.samples.faces), rendered with the default framing and checked two ways
the framing itself never uses: scikit-image's LBP face cascade (not YuNet) finds the face in the
output, and the window really cut (found by matching the output frame against the source frame
at the same moment) holds the face where it was planted."""
import os
import subprocess

import numpy as np
import pytest

from peakclip.detectors.probe import probe
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.render import render_clip
from peakclip.pipeline.ranking.clip import Clip
from peakclip.samples.faces import facecam_box, faces_at, make_stream

pytestmark = pytest.mark.integration

SECONDS = 8.0
SIZE = (1280, 720)
OUT = (1080, 1920)
TIMES = [round(t, 2) for t in np.arange(0.5, SECONDS - 0.4, 0.5)]   # clear of the fades at the ends


def decoded(path: str, size: tuple[int, int], times: list[float]) -> list[np.ndarray]:
    """The frames at ``times`` seconds (BGR, ``size``)."""
    frames = []
    for t in times:
        raw = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-ss", str(t), "-i", path, "-frames:v", "1",
                              "-f", "rawvideo", "-pix_fmt", "bgr24", "-"], capture_output=True, check=True).stdout
        frames.append(np.frombuffer(raw, np.uint8).reshape(size[1], size[0], 3))
    return frames


def cascade_faces(frame: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Faces scikit-image's LBP cascade finds, (x, y, w, h) in the frame's pixels (looked for at
    half size)."""
    import cv2
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade
    half = cv2.cvtColor(cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2RGB)
    found = Cascade(lbp_frontal_face_cascade_filename()).detect_multi_scale(
        img=half, scale_factor=1.15, step_ratio=1, min_size=(40, 40), max_size=(400, 400), min_neighbor_number=6)
    boxes = sorted(((2 * f["c"], 2 * f["r"], 2 * f["width"], 2 * f["height"]) for f in found), key=lambda b: -b[2])
    # The cascade may report one face twice at two scales: a box centred inside a larger one is that face.
    kept = []
    for x, y, w, h in boxes:
        if not any(kx <= x + w / 2 <= kx + kw and ky <= y + h / 2 <= ky + kh for kx, ky, kw, kh in kept):
            kept.append((x, y, w, h))
    return kept


def window_left(output: np.ndarray, source: np.ndarray) -> int:
    """Where (source pixels) the full-height window shown in ``output`` sits in ``source``: the
    best match of the output, shrunk to the window's size, along the source (at quarter size)."""
    import cv2
    scale = 4
    small = cv2.resize(source, (SIZE[0] // scale, SIZE[1] // scale), interpolation=cv2.INTER_AREA).astype(np.float32)
    width = round(SIZE[1] * OUT[0] / OUT[1] / scale)
    shown = cv2.resize(output, (width, SIZE[1] // scale), interpolation=cv2.INTER_AREA).astype(np.float32)
    errors = [np.abs(small[:, x:x + width] - shown).mean() for x in range(small.shape[1] - width + 1)]
    return int(np.argmin(errors)) * scale


def holds(left: int, face: tuple[int, int, int, int], slack: int = 4) -> bool:
    """Whether a full-height window from ``left`` holds the whole face (source pixels)."""
    width = SIZE[1] * OUT[0] / OUT[1]
    return face[0] >= left - slack and face[0] + face[2] <= left + width + slack


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """kind -> (source path, rendered vertical file, the clip's framing), rendered once."""
    made = {}

    def get(kind: str):
        if kind not in made:
            folder = tmp_path_factory.mktemp(kind)
            source = probe(make_stream(str(folder / f"{kind}.mp4"), kind, SECONDS, SIZE))
            clip = Clip(id=kind, rank=1, start=0.0, end=SECONDS, score=5.0, peak=4.0, signals={}, stage=1, tier="A")
            result = render_clip(source, clip, str(folder / "out"), RenderConfig())
            assert result.error is None, result.error
            made[kind] = (source.path, os.path.join(folder, "out", result.files["vertical"]), result.framing["vertical"])
        return made[kind]
    return get


def large_whole_faces(frame: np.ndarray, top: int = 0, bottom: int = OUT[1]) -> list:
    """Faces the cascade finds between rows ``top`` and ``bottom``, whole (clear of the frame's
    sides) and at least 10% of the output's height."""
    return [f for f in cascade_faces(frame[top:bottom])
            if f[3] >= 0.10 * OUT[1] and f[0] > 2 and f[0] + f[2] < OUT[0] - 2 and f[1] > 2 and f[1] + f[3] < bottom - top - 2]


def test_a_still_person_off_centre_is_large_whole_and_the_window_never_moves(clips):
    source, output, framing = clips("still")
    outs, ins = decoded(output, OUT, TIMES), decoded(source, SIZE, TIMES)
    found = sum(bool(large_whole_faces(frame)) for frame in outs)
    assert found >= 0.95 * len(TIMES), f"a large whole face in {found} of {len(TIMES)} frames"
    lefts = [window_left(o, i) for o, i in zip(outs, ins)]
    assert max(lefts) - min(lefts) <= 4, lefts
    assert all(holds(left, faces_at("still", t, SIZE, SECONDS)[0]) for left, t in zip(lefts, TIMES))
    assert [s["mode"] for s in framing["shots"]] == ["steady"]


def test_a_person_walking_across_stays_whole_in_a_gliding_window(clips):
    source, output, framing = clips("moving")
    outs, ins = decoded(output, OUT, TIMES), decoded(source, SIZE, TIMES)
    found = sum(bool(large_whole_faces(frame)) for frame in outs)
    assert found >= 0.95 * len(TIMES), f"a large whole face in {found} of {len(TIMES)} frames"
    lefts = [window_left(o, i) for o, i in zip(outs, ins)]
    inside = sum(holds(left, faces_at("moving", t, SIZE, SECONDS)[0]) for left, t in zip(lefts, TIMES))
    assert inside >= 0.95 * len(TIMES), list(zip(TIMES, lefts))
    assert lefts[-1] - lefts[0] > 400    # it followed her across
    assert max(np.abs(np.diff(lefts))) <= 0.35 * SIZE[0] * 0.5 + 8   # no jumps: at most the pan speed
    assert "track" in [s["mode"] for s in framing["shots"]]


def test_a_hard_cut_moves_the_window_at_the_cut(clips):
    source, output, framing = clips("cut")
    cut = SECONDS / 2
    times = [cut - 1.5, cut - 0.5, cut - 0.08, cut + 0.08, cut + 0.5, cut + 1.5]
    lefts = [window_left(o, i) for o, i in zip(decoded(output, OUT, times), decoded(source, SIZE, times))]
    for left, t in zip(lefts, times):
        assert holds(left, faces_at("cut", t, SIZE, SECONDS)[0]), (t, left)
    assert lefts[0] == lefts[1] == lefts[2] and lefts[3] == lefts[4] == lefts[5], lefts
    assert [(s["start"], s["mode"]) for s in framing["shots"]] == [(0.0, "steady"), (pytest.approx(cut, abs=0.05), "steady")]


def test_two_people_at_opposite_sides_are_never_half_a_face(clips):
    _, output, framing = clips("two")
    half = OUT[1] // 2
    for frame in decoded(output, OUT, TIMES):
        # Each in a window of their own: one whole face in the top half, one in the bottom.
        assert len(large_whole_faces(frame, 0, half)) == 1
        assert len(large_whole_faces(frame, half, OUT[1])) == 1
    assert [s["mode"] for s in framing["shots"]] == ["split"]


def test_a_webcam_box_gives_the_stacked_layout_with_the_face_large_on_top(clips):
    _, output, framing = clips("facecam")
    [shot] = framing["shots"]
    assert shot["mode"] == "stack"
    x, y, w, h = facecam_box(SIZE)
    cam = shot["rects"][0]
    # The webcam part is cut from inside the planted box (found, not given).
    assert cam[0] >= x / SIZE[0] - 0.01 and cam[0] + cam[2] <= (x + w) / SIZE[0] + 0.01
    assert cam[1] >= y / SIZE[1] - 0.01 and cam[1] + cam[3] <= (y + h) / SIZE[1] + 0.01
    top = round(OUT[0] * cam[3] * SIZE[1] / (cam[2] * SIZE[0]))
    frames = decoded(output, OUT, TIMES)
    found = sum(bool(large_whole_faces(frame, 0, top)) for frame in frames)
    assert found >= 0.95 * len(TIMES), f"a large face on top in {found} of {len(TIMES)} frames"


def test_nobody_in_the_picture_falls_back_to_the_whole_picture(clips):
    _, output, framing = clips("empty")
    assert [s["mode"] for s in framing["shots"]] == ["fit"]
    frame = decoded(output, OUT, [4.0])[0]
    assert frame.shape == (OUT[1], OUT[0], 3)
    assert cascade_faces(frame) == []
