"""The framing planner (pipeline/output/framing.py) on what a face detector could have seen: its
rules, one at a time. The renders of real faces are in tests/test_framing_faces.py."""
import numpy as np
import pytest

from peakclip.detectors.faces import SpanFaces
from peakclip.pipeline.output.framing import (MAX_SPEED, Framing, Shot, bounded, crop_width, plan_framing, shots_of,
                                              thinned)
from peakclip.pipeline.output.render.compose import framing_commands

SIXTEEN_NINE, NINE_SIXTEEN = 16 / 9, 9 / 16
WINDOW = crop_width(SIXTEEN_NINE, NINE_SIXTEEN)


def seen(boxes_at, length=10.0, fps=4.0, cuts=()):
    """SpanFaces with the faces ``boxes_at(t)`` gives (a list of (x, y, w, h) shares) at each sample."""
    times = np.arange(0, length, 1 / fps)
    faces = [np.array([[*box, 0.9] for box in boxes_at(t)]).reshape(-1, 5) for t in times]
    return SpanFaces(times, faces, list(cuts), np.full(len(times), np.nan))


def face_at(cx, size=0.1):
    return (cx - size * 9 / 16 / 2, 0.3, size * 9 / 16, size)


def inside(box, left, width=WINDOW):
    return box[0] >= left - 1e-6 and box[0] + box[2] <= left + width + 1e-6


def window_at(shot: Shot, t: float) -> float:
    times = [p[0] for p in shot.path] + [shot.end]
    xs = [p[1] for p in shot.path] + [shot.path[-1][1]]
    return float(np.interp(t, times, xs))


def test_a_still_person_gets_one_window_that_does_not_move():
    framing = plan_framing(seen(lambda t: [face_at(0.2)]), 10.0, SIXTEEN_NINE, NINE_SIXTEEN)
    [shot] = framing.shots
    assert shot.mode == "steady" and len(shot.path) == 1
    assert inside(face_at(0.2), shot.path[0][1])


def test_a_face_that_jitters_a_little_stays_steady():
    wobble = lambda t: [face_at(0.5 + 0.01 * np.sin(7 * t))]   # noqa: E731
    assert [s.mode for s in plan_framing(seen(wobble), 10.0, SIXTEEN_NINE, NINE_SIXTEEN).shots] == ["steady"]


def test_a_person_crossing_the_picture_is_tracked_smoothly_and_kept_inside():
    moving = lambda t: [face_at(0.1 + 0.8 * t / 10)]   # noqa: E731
    [shot] = plan_framing(seen(moving), 10.0, SIXTEEN_NINE, NINE_SIXTEEN).shots
    assert shot.mode == "track"
    for t in np.arange(0, 10, 0.25):
        assert inside(face_at(0.1 + 0.8 * t / 10), window_at(shot, t)), t
    steps = np.diff([window_at(shot, t) for t in np.arange(0, 10, 0.25)]) / 0.25
    assert np.max(np.abs(steps)) <= MAX_SPEED + 1e-6


def test_the_window_moves_at_a_cut_and_not_before():
    jump = lambda t: [face_at(0.2 if t < 5 else 0.8)]   # noqa: E731
    framing = plan_framing(seen(jump, cuts=[5.0]), 10.0, SIXTEEN_NINE, NINE_SIXTEEN)
    assert [(s.start, s.end, s.mode) for s in framing.shots] == [(0.0, 5.0, "steady"), (5.0, 10.0, "steady")]
    assert inside(face_at(0.2), framing.shots[0].path[0][1])
    assert inside(face_at(0.8), framing.shots[1].path[0][1])


def test_two_people_at_opposite_sides_are_split_never_cut_in_half():
    two = lambda t: [face_at(0.15), face_at(0.85)]   # noqa: E731
    [shot] = plan_framing(seen(two), 10.0, SIXTEEN_NINE, NINE_SIXTEEN).shots
    assert shot.mode == "split"
    for rect, face in zip(shot.rects, (face_at(0.15), face_at(0.85))):
        assert rect[0] <= face[0] and face[0] + face[2] <= rect[0] + rect[2]


def test_two_people_close_together_share_one_window():
    pair = lambda t: [face_at(0.45), face_at(0.55)]   # noqa: E731
    [shot] = plan_framing(seen(pair), 10.0, SIXTEEN_NINE, NINE_SIXTEEN).shots
    assert shot.mode == "steady"
    assert inside(face_at(0.45), shot.path[0][1]) and inside(face_at(0.55), shot.path[0][1])


def test_no_face_or_a_crowd_falls_back_to_the_whole_picture():
    assert plan_framing(seen(lambda t: []), 10.0, SIXTEEN_NINE, NINE_SIXTEEN).shots[0].mode == "fit"
    crowd = lambda t: [face_at(0.1), face_at(0.5), face_at(0.9)]   # noqa: E731
    assert plan_framing(seen(crowd), 10.0, SIXTEEN_NINE, NINE_SIXTEEN).shots[0].mode == "fit"


def test_a_source_narrower_than_the_format_is_never_cropped():
    framing = plan_framing(seen(lambda t: [face_at(0.5)]), 10.0, 9 / 16, 1.0)
    assert [s.mode for s in framing.shots] == ["fit"]


def test_a_webcam_box_gives_the_stacked_layout_in_every_shot():
    box = (0.72, 0.62, 0.25, 0.33)
    framing = plan_framing(seen(lambda t: [], cuts=[4.0]), 10.0, SIXTEEN_NINE, NINE_SIXTEEN, facecam=box)
    assert [s.mode for s in framing.shots] == ["stack", "stack"]
    cam, game = framing.shots[0].rects
    assert box[0] <= cam[0] and cam[0] + cam[2] <= box[0] + box[2] + 1e-9
    assert game[3] == 1.0 and 0 <= game[0] <= 1 - game[2]


def test_shots_drop_flashes_shorter_than_half_a_second():
    assert shots_of(10.0, [0.2, 3.0, 3.3, 9.8]) == [(0.0, 3.0), (3.0, 10.0)]


def test_bounded_never_moves_faster_than_asked():
    times = np.arange(0, 5, 0.25)
    path = bounded(np.where(times < 2.5, 0.0, 0.6), times, 0.2)
    assert np.max(np.abs(np.diff(path)) / 0.25) <= 0.2 + 1e-9


def test_thinning_keeps_the_movement():
    points = [(t, 0.1 + 0.05 * t) for t in np.arange(0, 4, 0.25)] + [(t, 0.3) for t in np.arange(4, 8, 0.25)]
    kept = thinned(points)
    assert len(kept) < len(points) / 4
    for t, x in points:
        assert abs(np.interp(t, [p[0] for p in kept], [p[1] for p in kept]) - x) <= 0.002 + 1e-9


def test_commands_name_each_formats_own_window():
    framing = Framing((WINDOW, 1.0), [Shot(0, 5, "steady", [(0.0, 0.1)]), Shot(5, 9, "track", [(5.0, 0.2), (7.0, 0.4)]),
                                      Shot(9, 10, "fit")])
    script = framing_commands(framing, "vertical")
    lines = script.strip().splitlines()
    assert all("crop@frame_vertical x" in line for line in lines)
    assert [line.split()[0] for line in lines] == ["0.000", "5.000", "7.000"]


@pytest.mark.parametrize("mode", ["steady", "track", "split", "fit", "stack"])
def test_the_framing_round_trips_through_json(mode):
    import json
    framing = Framing((WINDOW, 1.0), [Shot(0.0, 3.0, mode, [(0.0, 0.123456)], [(0.1, 0.2, 0.3, 0.4)])])
    data = json.loads(json.dumps(framing.to_dict()))
    assert data["shots"][0]["mode"] == mode and data["shots"][0]["path"] == [[0.0, 0.1235]]


def test_the_webcam_box_can_be_named_or_turned_off():
    from peakclip.detectors.errors import UserError
    from peakclip.detectors.probe import Probe
    from peakclip.pipeline.config import Config, RenderConfig
    from peakclip.pipeline.output.render.measure import facecam_of
    source = Probe("show.mp4", 60.0, True, True, 1280, 720, 1280, 720, 30.0)
    assert facecam_of(source, RenderConfig(facecam="960,540,320,180")) == (0.75, 0.75, 0.25, 0.25)
    assert facecam_of(source, RenderConfig(facecam="off")) is None
    with pytest.raises(UserError, match="--facecam takes X,Y,W,H"):
        Config.from_dict({"render": {"facecam": "960,540,320"}})
