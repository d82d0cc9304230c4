"""How a clip's picture fills a format: sizes, and the composition of each framing mode.

- fit: the whole picture, scaled to fit, over a blurred copy of itself (``fit_over_blur``);
- crop (``--fill crop``): a full-height window following the motion;
- auto (``--fill auto``, the default): each shot as ``pipeline.output.framing`` planned it: a
  steady or tracking window on the person, two windows stacked, the webcam over the game, or fit.

Windows are cut at source size (cheap) and scaled once, straight to the output's size. A clip whose
shots are framed in different modes composes each mode once and shows the right one in each shot
(an overlay switched on for that mode's shots): most clips have one mode and one branch.
"""
from __future__ import annotations

import ffmpeg

from peakclip.detectors.probe import Probe
from peakclip.pipeline.config import RenderConfig
from peakclip.pipeline.output.framing import Framing, Shot

SIZES = {"vertical": (1080, 1920), "portrait": (1080, 1350), "square": (1080, 1080), "horizontal": (1920, 1080)}
FRAMED_FORMATS = ("vertical", "portrait", "square")   # the formats --fill frames (taller than a 16:9 source)


def output_size(source: Probe, fmt: str, short_side: int | None = None) -> tuple[int, int]:
    """The picture size of ``fmt``; with ``short_side`` (a profile's), scaled so its shorter side
    is that long: the feed formats up or down, the source's own size only down."""
    width, height = (source.display_width, source.display_height) if fmt == "source" else SIZES[fmt]
    if short_side is None or (fmt == "source" and min(width, height) <= short_side):
        return width, height
    scale = short_side / min(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def fit_size(source: Probe, width: int, height: int) -> tuple[int, int]:
    """The largest even size with the source's display shape that fits in ``width`` x ``height``."""
    scale = min(width / source.display_width, height / source.display_height)
    return (max(2, int(source.display_width * scale) // 2 * 2), max(2, int(source.display_height * scale) // 2 * 2))


def crop_window(source: Probe, aspect: float) -> tuple[int, int]:
    """Size in coded pixels of the largest window with display shape ``aspect`` (width/height)."""
    sar = source.display_width / max(1, source.width)
    if source.display_width / source.display_height > aspect:
        return min(source.width, int(source.display_height * aspect / sar) // 2 * 2), source.height
    return source.width, min(source.height, int(source.display_width / aspect) // 2 * 2)


def compose(video, source: Probe, fmt: str, config: RenderConfig, size: tuple[int, int] | None = None,
            sendcmd_file: str | None = None, framing: Framing | None = None):
    """The picture of one clip composed for ``fmt`` at ``size`` (default: the format's full size),
    a stream of the ffmpeg-python graph, and the rectangles (x, y, w, h) of blurred fill in it,
    which the encoder may spend fewer bits on. ``framing``: the clip's for this format (``--fill
    auto``), its windows moved by the commands in ``sendcmd_file``; with ``--fill crop``, that
    file moves the window along the motion.

    Sizes are worked out here from the probe, so each branch is one scale straight from the
    source to its final size (display pixels: non-square sources come out with the right shape)."""
    width, height = size or output_size(source, fmt)
    if fmt == "source":
        return video.filter("scale", width, height).filter("setsar", 1), []
    if framing is not None and fmt != "horizontal":
        return framed(video, source, framing, (width, height), sendcmd_file, config, fmt)
    if config.fill == "crop" and sendcmd_file and fmt != "horizontal":
        # Cut the window at source size (cheap), moved along the motion track, then scale it up.
        win_w, win_h = crop_window(source, width / height)
        return (video.filter("sendcmd", f=sendcmd_file)
                .filter("crop@follow", win_w, win_h, (source.width - win_w) // 2, (source.height - win_h) // 2)
                .filter("scale", width, height).filter("setsar", 1)), []
    return fit_over_blur(video, source, (width, height), config)


def fit_over_blur(video, source: Probe, size: tuple[int, int], config: RenderConfig):
    """The whole picture fitted into ``size`` over a blurred copy of itself; the stream and the
    rectangles (x, y, w, h, output pixels) of blurred fill."""
    width, height = size
    fit_w, fit_h = fit_size(source, width, height)
    if (fit_w, fit_h) == (width, height):
        return video.filter("scale", width, height).filter("setsar", 1), []
    # The fill is made from the fitted picture (already small), shrunk to 1/blur_scale, blurred
    # there, and only the two bands the picture leaves free are stretched back up (with the
    # cheapest scaler: a blur has no detail to keep), at ``fill_fps`` frames a second and then
    # repeated: no pixel is made twice, nothing is overlaid, and the encoder sees still bands.
    fps = round(source.fps, 3) or 30
    split = video.filter("scale", fit_w, fit_h).filter("setsar", 1).split()
    foreground, fill = split[0], split[1]
    small_w, small_h = width // config.blur_scale // 2 * 2, height // config.blur_scale // 2 * 2
    cover = max(small_w / fit_w, small_h / fit_h)
    cover_w, cover_h = max(small_w, int(round(fit_w * cover / 2)) * 2), max(small_h, int(round(fit_h * cover / 2)) * 2)
    blurred = (fill.filter("fps", fps=min(config.fill_fps, fps))
               .filter("scale", cover_w, cover_h, flags="fast_bilinear")
               .filter("crop", small_w, small_h)
               .filter("boxblur", luma_radius=min(10, small_w // 4), luma_power=2)
               .split())
    vertical = fit_w == width  # bands above and below; otherwise left and right
    free = (height - fit_h) if vertical else (width - fit_w)
    first_band = free // 2 // 2 * 2
    bands = []
    for index, (offset, size) in enumerate(((0, first_band), (first_band + (fit_h if vertical else fit_w), free - first_band))):
        ratio = small_h / height if vertical else small_w / width
        cut = max(2, int(round(size * ratio)))
        start = min(int(round(offset * ratio)), (small_h if vertical else small_w) - cut)
        piece = (blurred[index].filter("crop", small_w, cut, 0, start) if vertical
                 else blurred[index].filter("crop", cut, small_h, start, 0))
        bands.append(piece.filter("scale", *((width, size) if vertical else (size, height)), flags="fast_bilinear")
                     .filter("setsar", 1).filter("fps", fps=fps))
    stacked = ffmpeg.filter([bands[0], foreground, bands[1]], "vstack" if vertical else "hstack", inputs=3)
    second = first_band + (fit_h if vertical else fit_w)
    regions = ([(0, 0, width, first_band), (0, second, width, height - second)] if vertical
               else [(0, 0, first_band, height), (second, 0, width - second, height)])
    return stacked, regions


def framed(video, source: Probe, framing: Framing, size: tuple[int, int], sendcmd_file: str | None,
           config: RenderConfig, name: str):
    """The clip's picture as ``framing`` frames each shot, at ``size``; the stream and the
    rectangles of blurred fill (only when every shot is fit). ``name``: the format, naming its
    windows for ``framing_commands`` (a ``sendcmd`` reaches every filter of the graph by name)."""
    # One branch a mode; the steady and tracking shots share one window (moved by the commands);
    # each split shot has its own two windows.
    branches: dict[str, list[Shot]] = {}
    for number, shot in enumerate(framing.shots):
        key = f"split{number}" if shot.mode == "split" else ("window" if shot.mode in ("steady", "track") else shot.mode)
        branches.setdefault(key, []).append(shot)
    pictures = video.split() if len(branches) > 1 else None
    streams, regions = [], []
    for n, (key, shots) in enumerate(branches.items()):
        picture = pictures[n] if pictures is not None else video
        if key == "fit":
            stream, regions = fit_over_blur(picture, source, size, config)
        elif key == "window":
            win_w, win_h = crop_window(source, size[0] / size[1])
            stream = (picture.filter("sendcmd", f=sendcmd_file)
                      .filter(f"crop@frame_{name}", win_w, win_h, pixels(shots[0].path[0][1], source.width, win_w), 0)
                      .filter("scale", *size).filter("setsar", 1))
        elif key == "stack":
            stream = stack(picture, source, shots[0], size, sendcmd_file, name)
        else:
            stream = split_in_two(picture, source, shots[0].rects, size)
        streams.append((stream, shots))
    if len(streams) == 1:
        return streams[0][0], regions
    out = streams[0][0]
    for stream, shots in streams[1:]:
        shown = "+".join(f"between(t,{s.start:.3f},{s.end - 0.001:.3f})" for s in shots)
        out = ffmpeg.overlay(out, stream, x=0, y=0, enable=shown)
    return out, []


def pixels(share: float, total: int, size: int) -> int:
    """An even pixel position for a window of ``size`` starting at ``share`` of ``total``, inside it."""
    return max(0, min(total - size, int(round(share * total / 2)) * 2))


def cut_rect(picture, source: Probe, rect: tuple[float, float, float, float], size: tuple[int, int]):
    """``rect`` (shares of the source) cut out and scaled to ``size``."""
    x, y, w, h = rect
    cw = max(2, min(source.width, int(round(w * source.width / 2)) * 2))
    ch = max(2, min(source.height, int(round(h * source.height / 2)) * 2))
    return (picture.filter("crop", cw, ch, pixels(x, source.width, cw), pixels(y, source.height, ch))
            .filter("scale", *size).filter("setsar", 1))


def split_in_two(picture, source: Probe, rects: list, size: tuple[int, int]):
    """Two windows (shares), each scaled to the full width and half the height, stacked."""
    width, height = size
    top = height // 2 // 2 * 2
    halves = picture.split()
    return ffmpeg.filter([cut_rect(halves[0], source, rects[0], (width, top)),
                          cut_rect(halves[1], source, rects[1], (width, height - top))], "vstack", inputs=2)


def stack(picture, source: Probe, shot: Shot, size: tuple[int, int], sendcmd_file: str | None, name: str):
    """The webcam (``shot.rects[0]``) on top, the game window (``rects[1]``, moved by the
    commands for ``crop@game_<name>``) below, at ``size``."""
    width, height = size
    cam, game = shot.rects
    top = int(round(height * cam[3] * source.display_height / (cam[2] * source.display_width) * width / height
                    / 2)) * 2
    top = max(2, min(height - 2, top))
    parts = picture.split()
    gw = max(2, min(source.width, int(round(game[2] * source.width / 2)) * 2))
    game_stream = parts[1]
    if sendcmd_file:
        game_stream = game_stream.filter("sendcmd", f=sendcmd_file)
    game_stream = (game_stream.filter(f"crop@game_{name}", gw, source.height, pixels(game[0], source.width, gw), 0)
                   .filter("scale", width, height - top).filter("setsar", 1))
    return ffmpeg.filter([cut_rect(parts[0], source, cam, (width, top)), game_stream], "vstack", inputs=2)


def framing_commands(framing: Framing, name: str) -> str:
    """An ffmpeg ``sendcmd`` script that moves the steady/track window (``crop@frame_<name>``) and
    the game window (``crop@game_<name>``) of format ``name`` as ``framing`` says: at each shot's
    start, and between a tracking path's points, linearly (the crop filter evaluates ``x`` every
    frame)."""
    lines = []
    for shot in framing.shots:
        target = {"steady": f"crop@frame_{name}", "track": f"crop@frame_{name}",
                  "stack": f"crop@game_{name}"}.get(shot.mode)
        if not target:
            continue
        points = shot.path + [(shot.end, shot.path[-1][1])]
        for (t0, x0), (t1, x1) in zip(points, points[1:]):
            if t1 - t0 < 1e-3:
                continue
            moving = f"({x0:.5f}+{x1 - x0:.5f}*(t-{t0:.3f})/{t1 - t0:.3f})" if abs(x1 - x0) > 1e-5 else f"{x0:.5f}"
            lines.append(f"{t0:.3f} {target} x 'max(0,min(iw-ow,{moving}*iw))';")
    return "\n".join(lines) + "\n"
