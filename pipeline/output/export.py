"""Timeline exports: the chosen spans as an edit against the source recording, for an editor.

``--export edl,otio,fcpxml`` writes ``DIR/timeline.edl`` (CMX 3600), ``DIR/timeline.otio``
(OpenTimelineIO JSON) and ``DIR/timeline.fcpxml`` (Final Cut Pro X XML). Each holds the clips in
rank order, back to back, each one referring to its span of the source (not to the rendered clip),
so an editor can widen or trim a pick with the whole recording behind it. The formats are written
by OpenTimelineIO's own adapters; times are whole frames at the source's frame rate.
"""
from __future__ import annotations

import os
import pathlib

from peakclip.detectors.storage import partial_name

# format name (config.EXPORT_FORMATS) -> (file name, OpenTimelineIO adapter)
EXPORTS = {"edl": ("timeline.edl", "cmx_3600"), "otio": ("timeline.otio", "otio_json"),
           "fcpxml": ("timeline.fcpxml", "fcpx_xml")}


def build_timeline(manifest: dict, fps: float):
    """An OpenTimelineIO timeline of the manifest's clips, a video track and (when the source
    has sound) an audio track, each clip cut from the source recording."""
    import opentimelineio as otio

    ot = otio.opentime
    rate = round(fps, 3) or 30.0
    source = manifest["source"]
    url = source["path"] if "://" in source["path"] else pathlib.Path(os.path.abspath(source["path"])).as_uri()
    length = ot.RationalTime(round(source["duration"] * rate), rate)
    name = os.path.basename(source["path"])
    timeline = otio.schema.Timeline(name=f"peakclip {name}", global_start_time=ot.RationalTime(0, rate))
    kinds = [otio.schema.TrackKind.Video] + ([otio.schema.TrackKind.Audio] if source["has_audio"] else [])
    for kind in kinds:
        track = otio.schema.Track(name=f"{kind[0]}1", kind=kind)
        for clip in sorted(manifest["clips"], key=lambda c: c["rank"]):
            first = round(clip["start"] * rate)
            frames = max(1, round(clip["end"] * rate) - first)
            reference = otio.schema.ExternalReference(target_url=url,
                                                      available_range=ot.TimeRange(ot.RationalTime(0, rate), length))
            track.append(otio.schema.Clip(
                name=f"#{clip['rank']} {clip['tier']} stage {clip['stage']}", media_reference=reference,
                source_range=ot.TimeRange(ot.RationalTime(first, rate), ot.RationalTime(frames, rate)),
                metadata={"peakclip": {k: clip[k] for k in ("id", "rank", "tier", "pool", "stage", "score")}}))
        timeline.tracks.append(track)
    return timeline


def write_exports(manifest: dict, fps: float, out_dir: str, names: list[str]) -> dict[str, str]:
    """Write each asked-for format atomically into ``out_dir``; returns format -> file name."""
    if not names:
        return {}
    import opentimelineio as otio

    timeline = build_timeline(manifest, fps)
    written = {}
    for name in names:
        filename, adapter = EXPORTS[name]
        partial = partial_name(os.path.join(out_dir, filename))
        try:
            otio.adapters.write_to_file(timeline, partial, adapter_name=adapter)
            os.replace(partial, os.path.join(out_dir, filename))
        finally:
            if os.path.exists(partial):
                os.remove(partial)
        written[name] = filename
    return written
