"""The review report: ``DIR/report.html``, one page a seller opens from disk to see the clips side
by side and why each was picked.

- a timeline of the whole stream drawn as SVG: each signal against its own baseline (the robust
  z-scores fusion combines, chat already moved back by its lag), the fused score, the stage
  boundaries, and the chosen spans shaded and numbered by rank;
- a card per clip: thumbnail, a playable ``<video>``, rank, tier, pool, stage, start/end, and the
  score broken down by signal as bars;
- the warnings, in plain words.

Self-contained: the SVG and the thumbnails are inline, the clips are linked relatively (they sit
beside the page), and there is no script, so the page opens the same from a folder, a zip or the
webhook service (``GET /jobs/{id}/report``).
"""
from __future__ import annotations

import base64
import html
import math
import os

import numpy as np

from pipeline.fuse import Fused

MAX_POINTS = 1200          # points per plotted series, whatever the stream's length (peaks kept)
COLOURS = {"chat": "#2f7ed8", "audio": "#e4572e", "visual": "#4caf50", "score": "#222222"}
WIDTH, LANE, GAP, AXIS = 1100, 56, 10, 28   # SVG geometry (px): plot width, lane height, gap, time axis


def timeline_of(fused: Fused, max_points: int = MAX_POINTS) -> dict:
    """The series the report plots, reduced to at most ``max_points`` each by taking the largest
    value of each run of bins (a peak must not vanish between two points)."""
    n = len(fused.score)
    group = max(1, math.ceil(n / max_points))

    def reduce(values: np.ndarray) -> list[float]:
        padded = np.concatenate([values, np.full(-len(values) % group, -np.inf)])
        return [round(float(v), 2) for v in padded.reshape(-1, group).max(axis=1)]

    series = {name: reduce(values) for name, values in fused.signals.items()}
    series["score"] = reduce(fused.score)
    return {"step": fused.hop * group, "series": series}


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def tick_step(duration: float) -> float:
    """A round time step giving 6 to 15 ticks."""
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if duration / step <= 15:
            return step
    return 14400


def timeline_svg(timeline: dict, duration: float, stages: list[dict], clips: list[dict]) -> str:
    series = timeline["series"]
    names = [n for n in ("chat", "audio", "visual") if n in series] + ["score"]
    step = timeline["step"]
    height = len(names) * (LANE + GAP) + AXIS
    x = lambda t: 60 + (WIDTH - 100) * min(max(t, 0.0), duration) / max(duration, 1e-9)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
             f'role="img" aria-label="signals, fused score and chosen spans over the stream">']
    for clip in clips:   # spans first, under everything
        x0, x1 = x(clip["start"]), x(clip["end"])
        parts.append(f'<rect class="span" x="{x0:.1f}" y="0" width="{max(x1 - x0, 1):.1f}" height="{height - AXIS}" '
                     f'fill="#f5c542" fill-opacity="0.35"><title>#{clip["rank"]} {clock(clip["start"])}-'
                     f'{clock(clip["end"])} tier {clip["tier"]}</title></rect>')
        parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="11" font-size="11" text-anchor="middle" '
                     f'font-weight="bold">{clip["rank"]}</text>')
    for lane, name in enumerate(names):
        values = np.asarray(series[name], dtype=float)
        top = lane * (LANE + GAP) + 14
        peak = max(float(values.max()) if len(values) else 0.0, 1e-9)
        points = " ".join(f"{x((i + 0.5) * step):.1f},{top + LANE - 14 - (LANE - 14) * max(v, 0.0) / peak:.1f}"
                          for i, v in enumerate(values))
        label = "fused score" if name == "score" else name
        parts.append(f'<text x="4" y="{top + LANE / 2:.0f}" font-size="12" fill="{COLOURS[name]}">{label}</text>')
        parts.append(f'<line x1="60" x2="{WIDTH - 40}" y1="{top + LANE - 14}" y2="{top + LANE - 14}" stroke="#ddd"/>')
        parts.append(f'<polyline class="series" data-signal="{name}" fill="none" stroke="{COLOURS[name]}" '
                     f'stroke-width="1.2" points="{points}"/>')
    for stage in stages[1:]:
        xs = x(stage["start"])
        parts.append(f'<line class="stage" x1="{xs:.1f}" x2="{xs:.1f}" y1="0" y2="{height - AXIS}" stroke="#7a4dbf" '
                     f'stroke-dasharray="4 3"/>')
    for stage in stages:
        parts.append(f'<text x="{x(stage["start"]) + 3:.1f}" y="{height - AXIS - 2}" font-size="10" '
                     f'fill="#7a4dbf">stage {stage["index"]}</text>')
    tick = tick_step(duration)
    for k in range(int(duration // tick) + 1):
        xt = x(k * tick)
        parts.append(f'<line x1="{xt:.1f}" x2="{xt:.1f}" y1="{height - AXIS}" y2="{height - AXIS + 4}" stroke="#555"/>'
                     f'<text x="{xt:.1f}" y="{height - 8}" font-size="10" text-anchor="middle">{clock(k * tick)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def inline_image(out_dir: str, relative: str | None, mime: str = "image/jpeg") -> str | None:
    if not relative:
        return None
    try:
        with open(os.path.join(out_dir, relative), "rb") as handle:
            return f"data:{mime};base64,{base64.b64encode(handle.read()).decode('ascii')}"
    except OSError:
        return None


def signal_bars(signals: dict[str, float]) -> str:
    """Each signal's share of the moment, as bars against the strongest (z-scores)."""
    shown = {k: v for k, v in signals.items() if k in COLOURS}
    top = max([abs(v) for v in shown.values()] + [1e-9])
    rows = [f'<div class="bar" data-signal="{name}"><span class="name">{name}</span>'
            f'<span class="track"><span class="fill" style="width:{100 * max(value, 0) / top:.0f}%;'
            f'background:{COLOURS[name]}"></span></span><span class="value">{value:.1f}</span></div>'
            for name, value in shown.items()]
    extra = [f"{name}: {signals[name]:g}" for name in ("orders", "paid") if signals.get(name)]
    if extra:
        rows.append(f'<div class="commerce">{html.escape(", ".join(extra))}</div>')
    return "\n".join(rows)


def clip_card(clip: dict, out_dir: str) -> str:
    e = html.escape
    poster = inline_image(out_dir, clip.get("thumbnail"))
    if clip.get("file") and os.path.exists(os.path.join(out_dir, clip["file"])):
        media = (f'<video controls preload="metadata" src="{e(clip["file"])}"'
                 + (f' poster="{poster}"' if poster else "") + "></video>")
    elif poster:
        media = f'<img src="{poster}" alt="thumbnail of clip {clip["rank"]}">'
    else:
        media = '<div class="nomedia">not rendered</div>'
    formats = " ".join(f'<a href="{e(path)}">{e(name)}</a>' for name, path in (clip.get("files") or {}).items())
    return f"""<article class="card" id="clip-{e(clip['id'])}" data-rank="{clip['rank']}">
<h2>#{clip['rank']} <span class="tier tier-{e(clip['tier'])}">{e(clip['tier'])}</span></h2>
{media}
<dl>
<dt>time</dt><dd>{clock(clip['start'])} – {clock(clip['end'])} ({clip['end'] - clip['start']:.1f} s)</dd>
<dt>stage</dt><dd>{clip['stage']}</dd><dt>pool</dt><dd>{e(clip.get('pool') or '-')}</dd>
<dt>score</dt><dd>{clip['score']:.2f} (peak at {clock(clip['peak'])})</dd>
</dl>
<div class="bars">{signal_bars(clip.get('signals') or {})}</div>
{f'<p class="formats">{formats}</p>' if formats else ''}
</article>"""


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em} .meta{color:#555;margin:0 0 1em}
.timeline{background:#fff;border:1px solid #ddd;padding:.5em;margin-bottom:1.5em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:1em}
.card{background:#fff;border:1px solid #ddd;padding:.8em} .card h2{font-size:1.1em;margin:0 0 .4em}
.card video,.card img{width:100%;max-height:420px;background:#000}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1em .6em;font-size:.9em} dt{color:#666}
.tier{padding:0 .4em;border-radius:3px;background:#ddd} .tier-S{background:#f5c542} .tier-A{background:#9fd49f}
.bar{display:flex;align-items:center;gap:.4em;font-size:.85em} .bar .name{width:3.5em}
.bar .track{flex:1;background:#eee;height:.7em} .bar .fill{display:block;height:100%}
.warnings li{color:#8a4b00}
"""


def build_report(manifest: dict, timeline: dict | None, out_dir: str) -> str:
    e = html.escape
    source = manifest["source"]
    chat = manifest.get("chat") or {}
    name = os.path.basename(source["path"])
    meta = [f"{clock(source['duration'])} long", f"signals: {', '.join(manifest['signals']) or 'none'}",
            f"rules {manifest['rules']['version']}", f"{len(manifest['clips'])} clips"]
    if chat:
        meta.append(f"chat: {chat.get('messages', 0)} messages, {chat.get('skipped', 0)} lines skipped")
    plot = (timeline_svg(timeline, source["duration"], manifest["stages"], manifest["clips"])
            if timeline and timeline.get("series") else "<p>No signal to plot.</p>")
    cards = "\n".join(clip_card(c, out_dir) for c in sorted(manifest["clips"], key=lambda c: c["rank"]))
    warnings = "".join(f"<li>{e(w)}</li>" for w in manifest["warnings"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>peakclip: {e(name)}</title>
<link rel="icon" href="data:,"><meta name="viewport" content="width=device-width,initial-scale=1">
<style>{STYLE}</style></head>
<body>
<h1>{e(name)}</h1>
<p class="meta">{e(' · '.join(meta))}</p>
<section class="timeline"><h2 style="font-size:1em;margin:0">Why these moments</h2>
<p style="font-size:.85em;color:#555;margin:.2em 0">Each signal against its own recent baseline (chat moved back
by its typing lag), the fused score they add up to, stage boundaries (dashed) and the chosen spans (numbered by rank).</p>
{plot}</section>
{f'<section class="warnings"><h2 style="font-size:1em">Warnings</h2><ul>{warnings}</ul></section>' if warnings else ''}
<section class="cards">
{cards or '<p>No clip was chosen.</p>'}
</section>
</body></html>
"""
