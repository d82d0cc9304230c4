"""The review report: ``DIR/report.html``, one page a seller opens from disk to see the clips side
by side and why each was picked.

- a timeline of the whole stream drawn as SVG: each signal against its own baseline (the robust
  z-scores fusion combines, chat already moved back by its lag), the fused score, the stage
  boundaries, and the chosen spans shaded and numbered by rank;
- a card per clip: thumbnail, a playable ``<video>``, rank, tier, pool, stage, start/end, the
  render profile, the score broken down by signal as bars, what is said in it (with captions:
  the transcript's words) and links to every format and the ``.srt``;
- the warnings, in plain words.

Self-contained: the SVG and the thumbnails are inline, the clips are linked relatively (they sit
beside the page), and there is no script, so the page opens the same from a folder, a zip or the
webhook service (``GET /jobs/{id}/report``).
"""
from __future__ import annotations

import base64
import html
import os

import numpy as np

from peakclip.pipeline.ranking.channel import rank_note
from peakclip.pipeline.ranking.rules import TIERS, Rules
from peakclip.pipeline.ranking.timeline import clock

COLOURS = {"chat": "#2f7ed8", "audio": "#e4572e", "visual": "#4caf50", "score": "#222222"}
WIDTH, LANE, GAP, AXIS = 1100, 56, 10, 28   # SVG geometry (px): plot width, lane height, gap, time axis


def tick_step(duration: float) -> float:
    """A round time step giving 6 to 15 ticks."""
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if duration / step <= 15:
            return step
    return 14400


def timeline_svg(timeline: dict, duration: float, stages: list[dict], clips: list[dict]) -> str:
    """The timeline as an SVG: each signal and the score over the stream (seconds), stages and clips
    marked."""
    series = timeline["series"]
    names = [n for n in ("chat", "audio", "visual") if n in series] + ["score"]
    step = timeline["step"]
    height = len(names) * (LANE + GAP) + AXIS
    x = lambda t: 60 + (WIDTH - 100) * min(max(t, 0.0), duration) / max(duration, 1e-9)  # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
             f'role="img" aria-label="signals, fused score and chosen spans over the stream">']
    for clip in clips:   # spans first, under everything
        x0, x1 = x(clip["start"]), x(clip["end"])
        # A border on each span: two spans that touch stay two blocks, not one.
        parts.append(f'<rect class="span" x="{x0:.1f}" y="0" width="{max(x1 - x0, 1):.1f}" height="{height - AXIS}" '
                     f'fill="#f5c542" fill-opacity="0.35" stroke="#a07800" stroke-width="1"><title>#{clip["rank"]} {clock(clip["start"])}-'
                     f'{clock(clip["end"])} tier {clip["tier"]}</title></rect>')
        parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="11" font-size="11" text-anchor="middle" '
                     f'font-weight="bold">{clip["rank"]}</text>')
    for lane, name in enumerate(names):
        values = np.asarray(series[name], dtype=float)
        top = lane * (LANE + GAP) + 14
        peak = max(float(values.max()) if len(values) else 0.0, 1e-9)
        # x() and the lane's y over whole arrays: a stream-hour has thousands of points per series.
        xs = 60 + (WIDTH - 100) * np.clip((np.arange(len(values)) + 0.5) * step, 0.0, duration) / max(duration, 1e-9)
        ys = top + LANE - 14 - (LANE - 14) * np.maximum(values, 0.0) / peak
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs.tolist(), ys.tolist()))
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
    """A file of the output folder as a data: URL, so the report is one self-contained page."""
    if not relative:
        return None
    try:
        with open(os.path.join(out_dir, relative), "rb") as handle:
            return f"data:{mime};base64,{base64.b64encode(handle.read()).decode('ascii')}"
    except OSError:
        return None


def bar_scale(clips: list[dict]) -> float:
    """One scale for every card's bars: the strongest signal of any clip on the page, so equal
    values are equal bars whichever card they are on."""
    return max([abs(v) for c in clips for k, v in (c.get("signals") or {}).items() if k in COLOURS] + [1e-9])


def signal_bars(signals: dict[str, float], top: float) -> str:
    """Each signal's strength in the moment (z-scores), as bars on the page's one scale ``top``."""
    shown = {k: v for k, v in signals.items() if k in COLOURS}
    rows = [f'<div class="bar" data-signal="{name}"><span class="name">{name}</span>'
            f'<span class="track"><span class="fill" style="width:{100 * max(value, 0) / top:.0f}%;'
            f'background:{COLOURS[name]}"></span></span><span class="value">{value:.1f}</span></div>'
            for name, value in shown.items()]
    extra = [f"{name}: {signals[name]:g}" for name in ("orders", "paid") if signals.get(name)]
    if extra:
        rows.append(f'<div class="commerce">{html.escape(", ".join(extra))}</div>')
    return "\n".join(rows)


def clip_card(clip: dict, out_dir: str, bar_top: float, elsewhere: frozenset[str] = frozenset()) -> str:
    """One clip's card: thumbnail and preview, times, tier and pool, signal bars, what is said."""
    e = html.escape
    poster = inline_image(out_dir, clip.get("thumbnail"))
    if clip.get("file") and (clip["file"] in elsewhere or os.path.exists(os.path.join(out_dir, clip["file"]))):
        media = (f'<video controls preload="metadata" src="{e(clip["file"])}"'
                 + (f' poster="{poster}"' if poster else "") + "></video>")
    elif poster:
        media = f'<img src="{poster}" alt="thumbnail of clip {clip["rank"]}">'
    else:
        media = '<div class="nomedia">not rendered</div>'
    links = list((clip.get("files") or {}).items())
    if clip.get("captions"):
        links.append(("captions (.srt)", clip["captions"]))
    formats = " ".join(f'<a href="{e(path)}">{e(name)}</a>' for name, path in links)
    # What is said in the clip (transcript or recognised), so a seller can judge it without playing it.
    said = f'<p class="said">“{e(clip["text"])}”</p>' if clip.get("text") else ""
    return f"""<article class="card" id="clip-{e(clip['id'])}" data-rank="{clip['rank']}">
<h2>#{clip['rank']} <span class="tier tier-{e(clip['tier'])}">{e(clip['tier'])}</span></h2>
{media}
<dl>
<dt>time</dt><dd class="time">{clock(clip['start'])} – {clock(clip['end'])} ({clip['end'] - clip['start']:.1f}&nbsp;s)</dd>
<dt>stage</dt><dd>{clip['stage']}</dd><dt>pool</dt><dd>{e(clip.get('pool') or '-')}</dd>
{f"<dt>render</dt><dd>{e(clip['profile'])}</dd>" if clip.get('profile') else ''}
{framing_rows(clip)}
<dt>score</dt><dd>{clip['score']:.2f} (peak at {clock(clip['peak'])})</dd>{channel_row(clip)}
{product_rows(clip)}
</dl>
<div class="bars">{signal_bars(clip.get('signals') or {}, bar_top)}</div>
{said}
{f'<p class="formats">{formats}</p>' if formats else ''}
</article>"""


def channel_row(clip: dict) -> str:
    """With --channel: what the channel's learning did to the clip's rank (nothing when it kept it)."""
    note = rank_note(clip["rank"], clip["channel"]["default_rank"]) if clip.get("channel") else None
    return f'<dt>channel</dt><dd class="channel">{html.escape(note)}</dd>' if note else ""


def framing_rows(clip: dict) -> str:
    """How each format of the clip was framed (``--fill auto``): every shot's time and mode, and
    for a window that moves, how far (shares of the source's width)."""
    rows = []
    for fmt, framing in (clip.get("framing") or {}).items():
        shots = []
        for shot in framing["shots"]:
            xs = [x for _, x in shot.get("path") or []]
            moved = f" ({max(xs) - min(xs):.0%} of the width)" if shot["mode"] == "track" and xs else ""
            shots.append(f'<span class="shot" data-mode="{html.escape(shot["mode"])}">{clock(clip["start"] + shot["start"])}'
                         f' {html.escape(shot["mode"])}{moved}</span>')
        rows.append(f"<dt>framing</dt><dd class=\"framing\" data-format=\"{html.escape(fmt)}\">{html.escape(fmt)}: "
                    f"{', '.join(shots)}</dd>")
    return "".join(rows)


def product_rows(clip: dict) -> str:
    """A --per-product clip's item, title and the item's sales during the clip and on air."""
    if not clip.get("item"):
        return ""
    e = html.escape
    sales = clip.get("item_sales") or {}
    during, on_air = sales.get("clip") or {}, sales.get("on_air") or {}
    return (f'<dt>product</dt><dd class="product">{e(clip["item"])} · {e(clip.get("item_title") or "")}</dd>'
            f'<dt>sold</dt><dd class="sold">{during.get("orders", 0)} orders ({during.get("paid", 0):g} paid) in the clip '
            f'and after; {on_air.get("orders", 0)} ({on_air.get("paid", 0):g}) on air</dd>')


def products_strip(products: list[dict], duration: float) -> str:
    """The products along the stream, on the timeline's time axis: each window a block whose
    height is the item's orders (the best seller full height), labelled with the item."""
    e = html.escape
    height, top = 56, max([p["orders"] for p in products] + [1])
    x = lambda t: 60 + (WIDTH - 100) * min(max(t, 0.0), duration) / max(duration, 1e-9)  # noqa: E731
    parts = [f'<svg class="strip" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
             'role="img" aria-label="products on air and their orders along the stream">',
             f'<text x="4" y="{height - 18}" font-size="12" fill="#2e7d32">orders</text>']
    for product in products:
        bar = (height - 16) * product["orders"] / top
        for start, end in product["windows"]:
            x0, x1 = x(start), x(end)
            parts.append(f'<rect x="{x0:.1f}" y="0" width="{max(x1 - x0, 1):.1f}" height="{height - 14}" fill="#eef5ee" '
                         f'stroke="#9ab89a"><title>{e(product["item"])} {e(product["title"])} {clock(start)}-{clock(end)}: '
                         f'{product["orders"]} orders</title></rect>'
                         f'<rect x="{x0:.1f}" y="{height - 14 - bar:.1f}" width="{max(x1 - x0, 1):.1f}" height="{bar:.1f}" '
                         f'fill="#2e7d32" fill-opacity="0.6"/>'
                         f'<text x="{(x0 + x1) / 2:.1f}" y="{height - 3}" font-size="10" text-anchor="middle">'
                         f'{e(product["item"])}</text>')
    return "\n".join(parts + ["</svg>"])


def products_table(products: list[dict], clips: list[dict], duration: float) -> str:
    """Every presented product in the order the host showed them: when it was on air, what it
    sold (orders as bars on one scale) and its clip(s), linked to their cards."""
    e = html.escape
    by_id = {c["id"]: c for c in clips}
    top = max([p["orders"] for p in products] + [1])
    rows = []
    for product in products:
        shown = ", ".join(f"{clock(a)}–{clock(b)}" for a, b in product["windows"])
        links = " ".join(f'<a href="#clip-{e(i)}">#{by_id[i]["rank"]} {e(by_id[i]["tier"])}</a>'
                         for i in product.get("clips") or ([product["clip"]] if product.get("clip") else []) if i in by_id)
        rows.append(f'<tr data-item="{e(product["item"])}"><td>{e(product["item"])}</td><td>{e(product["title"])}</td>'
                    f'<td>{shown}</td><td class="n">{product["carts"]}</td><td class="n">{product["orders"]}</td>'
                    f'<td><span class="track"><span class="fill" style="width:{100 * product["orders"] / top:.0f}%">'
                    f'</span></span></td><td class="n">{product["paid"]:g}</td><td>{links or "no clip"}</td></tr>')
    return ('<section class="products"><h2 style="font-size:1em">Products</h2>' + products_strip(products, duration)
            + '<table><tr><th>item</th><th>title</th>'
            '<th>on air</th><th>carts</th><th>orders</th><th></th><th>paid</th><th>clip</th></tr>'
            + "".join(rows) + "</table></section>")


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em} .meta{color:#555;margin:0 0 1em}
.timeline{background:#fff;border:1px solid #ddd;padding:.5em;margin-bottom:1.5em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:1em}
.card{background:#fff;border:1px solid #ddd;padding:.8em} .card h2{font-size:1.1em;margin:0 0 .4em}
.card video,.card img{width:100%;max-height:420px;background:#000}
.card .said{font-style:italic;color:#333;font-size:.9em}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1em .6em;font-size:.9em} dt{color:#666} dd{margin:0}
dd.time{white-space:nowrap}
.legend{font-size:.85em;color:#444;margin:0 0 1.2em;max-width:70em} .legend dl{font-size:1em}
.tier{padding:0 .4em;border-radius:3px;background:#ddd} .tier-S{background:#f5c542} .tier-A{background:#9fd49f}
.bar{display:flex;align-items:center;gap:.4em;font-size:.85em} .bar .name{width:3.5em}
.bar .track{flex:1;background:#eee;height:.7em} .bar .fill{display:block;height:100%}
.warnings li{color:#8a4b00}
.products table{border-collapse:collapse;font-size:.9em;margin-bottom:1.5em} .products td,.products th{padding:.2em .6em;
text-align:left;border-bottom:1px solid #ddd} .products td.n{text-align:right}
.products .track{display:inline-block;width:8em;background:#eee;height:.7em} .products .fill{display:block;height:100%;background:#2e7d32}
"""


def legend(rules: Rules) -> str:
    """What tiers and pools mean, in the words of the rules that tagged the clips."""
    thresholds = [f"{t} from {rules.tiers[t]:g}" for t in TIERS[:3]]
    starts = ", ".join(f"{t}: {rules.start[t]}" for t in TIERS)
    ladder = " → ".join(f"{p.name} ({p.viewers:,} viewers)" if p.viewers else p.name for p in rules.pools)
    lift = (" A stage's best clip is lifted one tier, never to S: only the whole stream makes a clip S."
            if rules.lift else "")
    return f"""<section class="legend"><dl>
<dt>tier</dt><dd>How strongly the audience reacted, against the whole stream: the fused peak score
({", ".join(thresholds)}; C below).{lift}</dd>
<dt>pool</dt><dd>The traffic pool a clip starts in ({starts}). Pools grow step by step, {ladder}: a clip
moves up when its completion, click-through and conversion reach the pool's bars, and is retired when they
fall short.</dd>
<dt>bars</dt><dd>Each signal's strength in the moment, in deviations above its own baseline, on one scale
for the whole page.</dd>
</dl></section>"""


def build_report(manifest: dict, timeline: dict | None, out_dir: str, rules: Rules,
                 elsewhere: frozenset[str] = frozenset()) -> str:
    """The review page (HTML) of a finished job: its timeline and a card per clip (``elsewhere``:
    clip files, relative, that are where the report is published though not in ``out_dir``)."""
    e = html.escape
    source = manifest["source"]
    chat = manifest.get("chat") or {}
    name = os.path.basename(source["path"])
    meta = [f"{clock(source['duration'])} long", f"signals: {', '.join(manifest['signals']) or 'none'}",
            f"rules {manifest['rules']['version']}", f"{len(manifest['clips'])} clips"]
    if chat:
        meta.append(f"chat: {chat.get('messages', 0)} messages, {chat.get('skipped', 0)} lines skipped")
    channel = manifest.get("channel")
    if channel:
        factors = ", ".join(f"{k} x{v:g}" for k, v in channel["factors"].items())
        meta.append(f"channel {channel['name']}: ranked with what {channel['clips']} clips' feedback taught ({factors})"
                    if channel["clips"] else f"channel {channel['name']}: no feedback yet, default weights")
    plot = (timeline_svg(timeline, source["duration"], manifest["stages"], manifest["clips"])
            if timeline and timeline.get("series") else "<p>No signal to plot.</p>")
    top = bar_scale(manifest["clips"])
    products = manifest.get("products")
    # --per-product: cards grouped by product, in the order the host presented them
    order = {p["item"]: i for i, p in enumerate(products or [])}
    cards = "\n".join(clip_card(c, out_dir, top, elsewhere) for c in sorted(
        manifest["clips"], key=lambda c: (order.get(c.get("item"), -1), c["rank"])))
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
{products_table(products, manifest["clips"], source["duration"]) if products else ''}
{legend(rules) if manifest["clips"] else ''}
<section class="cards">
{cards or '<p>No clip was chosen.</p>'}
</section>
</body></html>
"""
