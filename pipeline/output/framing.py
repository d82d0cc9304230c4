"""Framing: where the picture of each shot of a clip sits in a vertical, portrait or square frame.

In: what ``detectors.faces.span_faces`` saw in the clip's span (faces, scene cuts, motion), the
shapes of the source and of the format, and the stream's webcam box if it has one. Out: a
``Framing``, a list of shots (the span cut at its scene cuts), each framed one way:

- ``steady``: one crop window, full height, for the whole shot: every face of the shot stays
  inside it with a margin (AutoFlip's "stationary" dead zone), so a still person gives a window
  that does not move at all;
- ``track``: a full-height window moving along a path that keeps the face inside, smoothed
  (median, then mean over ``SMOOTH`` seconds) and speed-bounded, so it glides instead of jittering;
- ``split``: two people too far apart for one window: a window around each, stacked;
- ``fit``: no face, or more people than two windows hold: the whole picture over a blurred fill;
- ``stack``: a streamer's layout: the webcam box on top, the game below, its window on the action.

The window moves at a scene cut, never across one: each shot is framed on its own. Every box and
window is in shares of the source's display picture (x, y, w, h from the top-left), so the same
framing renders any profile's size. Why per shot and not per frame: a cut is where a viewer
accepts a jump; inside a shot only smooth, bounded movement looks like a camera operator.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from peakclip.detectors.faces import SpanFaces
from peakclip.detectors.rolling import rolling_mean, rolling_median

MODES = ("steady", "track", "split", "fit", "stack")
MARGIN = 0.25        # space kept around a face inside the window, in face widths
SMOOTH = 1.0         # seconds the tracking path is averaged over
MAX_SPEED = 0.35     # fastest the window pans, shares of the source's width a second
MIN_PRESENCE = 0.3   # share of a shot's sampled frames that must show a face to frame on it
MIN_FACE = 0.3       # faces smaller than this share of the shot's largest are background
SAME_PERSON = 0.12   # faces whose centres are this close (share of the width) are one person
ZOOM = 3.5           # split windows: face heights per window height
STACK_TOP = 0.42     # stack: most of the output's height the webcam may take


@dataclass
class Shot:
    """One shot of a clip and how it is framed; times in seconds from the clip's start."""
    start: float
    end: float
    mode: str
    # steady/track/stack: (seconds, the window's left edge as a share of the width)
    path: list[tuple[float, float]] = field(default_factory=list)
    # split: a window a person; stack: the webcam, the game window (x, y, w, h shares)
    rects: list[tuple[float, float, float, float]] = field(default_factory=list)


@dataclass
class Framing:
    """A clip's framing for one output shape: ``window`` is the size (w, h, shares of the source)
    of the steady/track crop window; ``shots`` cover the clip in order."""
    window: tuple[float, float]
    shots: list[Shot]

    @property
    def modes(self) -> list[str]:
        return sorted({s.mode for s in self.shots})

    def to_dict(self) -> dict:
        def rounded(value):
            if isinstance(value, float):
                return round(value, 4)
            if isinstance(value, (list, tuple)):
                return [rounded(v) for v in value]
            if isinstance(value, dict):
                return {k: rounded(v) for k, v in value.items()}
            return value
        return rounded({"window": list(self.window), "shots": [asdict(s) for s in self.shots]})


def crop_width(source_aspect: float, output_aspect: float) -> float:
    """Width (share of the source's) of a full-height window of ``output_aspect`` (w/h) on a
    picture of ``source_aspect`` (display w/h)."""
    return output_aspect / source_aspect


def shots_of(length: float, cuts: list[float], shortest: float = 0.5) -> list[tuple[float, float]]:
    """``[0, length)`` seconds cut at ``cuts``; a cut closer than ``shortest`` s to another (or to
    an end) is dropped: a flash is not a shot."""
    edges = [0.0]
    for cut in sorted(cuts):
        if cut - edges[-1] >= shortest and length - cut >= shortest:
            edges.append(cut)
    return list(zip(edges, edges[1:] + [length]))


def plan_framing(seen: SpanFaces, length: float, source_aspect: float, output_aspect: float,
                 facecam: tuple[float, float, float, float] | None = None) -> Framing:
    """The framing of a ``length``-second clip for an output of ``output_aspect`` (w/h) from a
    source of ``source_aspect`` (display w/h), from what ``span_faces`` saw in its span; with
    ``facecam`` (the webcam box, shares), the stacked layout."""
    width = crop_width(source_aspect, output_aspect)
    if width >= 1.0:
        return Framing((1.0, 1.0), [Shot(0.0, length, "fit")])
    if facecam is not None:
        return Framing((width, 1.0), [stacked(seen, a, b, facecam, source_aspect, output_aspect)
                                      for a, b in shots_of(length, seen.cuts)])
    return Framing((width, 1.0), [frame_shot(seen, a, b, width, source_aspect, output_aspect)
                                  for a, b in shots_of(length, seen.cuts)])


def samples_in(seen: SpanFaces, start: float, end: float) -> np.ndarray:
    """Indices of the sampled frames in ``[start, end)``; a shot too short to hold one takes the
    one nearest its middle."""
    inside = np.flatnonzero((seen.times >= start) & (seen.times < end))
    if len(inside) or not len(seen.times):
        return inside
    return np.array([int(np.argmin(np.abs(seen.times - (start + end) / 2)))])


def people(seen: SpanFaces, index: np.ndarray) -> list[np.ndarray]:
    """The people of a shot: its faces grouped by where their centres are, each group ``(m, 6)``
    (sample index, box, score), kept if seen in at least ``MIN_PRESENCE`` of the shot's frames;
    faces far smaller than the shot's largest (a poster, a passer-by at the back) left out."""
    rows = [np.concatenate([[i], face]) for i in index for face in seen.faces[i]]
    if not rows:
        return []
    faces = np.array(rows)
    faces = faces[faces[:, 4] >= MIN_FACE * faces[:, 4].max()]
    faces = faces[np.argsort(faces[:, 1] + faces[:, 3] / 2)]
    centres = faces[:, 1] + faces[:, 3] / 2
    groups = np.split(faces, np.flatnonzero(np.diff(centres) > SAME_PERSON) + 1)
    return [g for g in groups if len(set(g[:, 0])) >= MIN_PRESENCE * len(index)]


def frame_shot(seen: SpanFaces, start: float, end: float, width: float, source_aspect: float,
               output_aspect: float) -> Shot:
    """One shot framed: steady or track on the person (or the people one window holds), split
    for two who do not fit, fit otherwise."""
    index = samples_in(seen, start, end)
    found = people(seen, index)
    if not found:
        return Shot(start, end, "fit")
    everyone = np.concatenate(found)
    # One window holds them if, at every moment, their faces (and margins) fit its width.
    widest = max(np.subtract(*extent(everyone[everyone[:, 0] == i])[::-1]) for i in set(everyone[:, 0]))
    if widest <= width:
        return follow(seen, start, end, index, everyone, width)
    if len(found) == 2:
        rects = [around(group, source_aspect, output_aspect / 0.5) for group in found]
        if not any(cuts_a_face(rect, everyone) for rect in rects):
            return Shot(start, end, "split", rects=rects)
    return Shot(start, end, "fit")


def extent(faces: np.ndarray) -> tuple[float, float]:
    """Leftmost and rightmost x (shares) the faces (rows: sample, box, score) and their margins reach."""
    margin = MARGIN * faces[:, 3]
    return float(np.min(faces[:, 1] - margin)), float(np.max(faces[:, 1] + faces[:, 3] + margin))


def follow(seen: SpanFaces, start: float, end: float, index: np.ndarray, faces: np.ndarray, width: float) -> Shot:
    """A full-height window ``width`` wide over the faces of one shot: steady when one position
    holds them all, else a smoothed, speed-bounded path that keeps each sample's faces inside."""
    left, right = extent(faces)
    if right - left <= width * 0.9:
        return Shot(start, end, "steady", path=[(start, clamp((left + right - width) / 2, width))])
    times = seen.times[index]
    # Each sample's room: the window's left edge may lie between hi - width and lo.
    lows, highs = np.full(len(index), np.nan), np.full(len(index), np.nan)
    for n, i in enumerate(index):
        mine = faces[faces[:, 0] == i]
        if len(mine):
            lows[n], highs[n] = extent(mine)
    seen_at = ~np.isnan(lows)
    centre = np.interp(times, times[seen_at], (lows[seen_at] + highs[seen_at]) / 2)
    want = rolling_median(centre - width / 2, 5, "nearest")
    want = rolling_mean(want, max(1, round(SMOOTH / max(1e-6, sample_step(seen)))), "nearest")
    low = np.interp(times, times[seen_at], highs[seen_at] - width)
    high = np.interp(times, times[seen_at], lows[seen_at])
    path = bounded(want, times, MAX_SPEED)
    path = np.array([clamp(min(max(x, lo), hi), width) for x, lo, hi in zip(path, low, high)])
    points = [(start, float(path[0]))] + [(float(t), float(x)) for t, x in zip(times, path) if t > start]
    return Shot(start, end, "track", path=thinned(points))


def thinned(points: list[tuple[float, float]], tolerance: float = 0.002) -> list[tuple[float, float]]:
    """The path's points without those the straight lines between the kept ones pass within
    ``tolerance`` (share of the width) of (Ramer-Douglas-Peucker over time): the same movement,
    fewer commands and manifest lines."""
    if len(points) < 3:
        return list(points)
    (t0, x0), (t1, x1) = points[0], points[-1]
    errors = [abs(x0 + (x1 - x0) * (t - t0) / max(1e-9, t1 - t0) - x) for t, x in points[1:-1]]
    worst = int(np.argmax(errors)) + 1
    if errors[worst - 1] <= tolerance:
        return [points[0], points[-1]]
    return thinned(points[:worst + 1], tolerance)[:-1] + thinned(points[worst:], tolerance)


def sample_step(seen: SpanFaces) -> float:
    """Seconds between sampled frames."""
    return float(np.median(np.diff(seen.times))) if len(seen.times) > 1 else 0.25


def bounded(path: np.ndarray, times: np.ndarray, speed: float) -> np.ndarray:
    """``path`` with no step faster than ``speed`` shares a second (forward, then backward, so
    the slowed moves start early instead of arriving late)."""
    out = np.array(path, dtype=float)
    for order in (range(1, len(out)), range(len(out) - 2, -1, -1)):
        for i in order:
            j = i - 1 if order.step == 1 else i + 1
            limit = speed * abs(times[i] - times[j])
            out[i] = min(max(out[i], out[j] - limit), out[j] + limit)
    return out


def clamp(x: float, width: float) -> float:
    """A window's left edge kept inside the picture."""
    return min(max(0.0, x), 1.0 - width)


def around(group: np.ndarray, source_aspect: float, aspect: float) -> tuple[float, float, float, float]:
    """A window of ``aspect`` (w/h, output pixels) around one person's median face, ``ZOOM`` face
    heights tall (at most the picture), the face a little above the middle; shares of the source."""
    x, y, w, h = np.median(group[:, 1:5], axis=0)
    height = min(1.0, ZOOM * h)
    width = height * aspect / source_aspect
    if width > 1.0:
        width, height = 1.0, source_aspect / aspect
    left = min(max(0.0, x + w / 2 - width / 2), 1.0 - width)
    top = min(max(0.0, y + h / 2 - 0.4 * height), 1.0 - height)
    return (float(left), float(top), float(width), float(height))


def cuts_a_face(rect: tuple[float, float, float, float], faces: np.ndarray) -> bool:
    """Whether ``rect`` holds part of a face but not all of it."""
    x, y, w, h = rect
    for face in faces[:, 1:5]:
        over_x = min(x + w, face[0] + face[2]) - max(x, face[0])
        over_y = min(y + h, face[1] + face[3]) - max(y, face[1])
        inside = max(0.0, over_x) * max(0.0, over_y) / max(1e-9, face[2] * face[3])
        if 0.05 < inside < 0.95:
            return True
    return False


def stacked(seen: SpanFaces, start: float, end: float, facecam: tuple[float, float, float, float],
            source_aspect: float, output_aspect: float) -> Shot:
    """A shot of a streamer's layout: the webcam box (cut to the top part's shape around its
    middle) over a full-height window on the game, placed where the game moves (away from the box
    when nothing moves)."""
    top_share = min(STACK_TOP, output_aspect / (facecam[2] * source_aspect / facecam[3]))
    top_aspect = output_aspect / top_share
    cam = fit_inside(facecam, top_aspect, source_aspect)
    game_width = crop_width(source_aspect, output_aspect / (1.0 - top_share))
    index = samples_in(seen, start, end)
    motion = seen.motion[index] if len(seen.motion) else np.zeros(0)
    motion = motion[~np.isnan(motion)]
    centre = float(np.median(motion)) if len(motion) else (0.25 if facecam[0] + facecam[2] / 2 > 0.5 else 0.75)
    game = (clamp(centre - game_width / 2, game_width), 0.0, game_width, 1.0)
    return Shot(start, end, "stack", path=[(start, game[0])], rects=[cam, game])


def fit_inside(box: tuple[float, float, float, float], aspect: float, source_aspect: float
               ) -> tuple[float, float, float, float]:
    """The largest rectangle of ``aspect`` (w/h, output pixels) inside ``box`` (shares), centred."""
    x, y, w, h = box
    box_aspect = w * source_aspect / h
    if box_aspect > aspect:
        new_w = h * aspect / source_aspect
        return (x + (w - new_w) / 2, y, new_w, h)
    new_h = w * source_aspect / aspect
    return (x, y + (h - new_h) / 2, w, new_h)
