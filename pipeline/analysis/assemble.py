"""Assembly: the chunks' raw results merged by time into series of the whole stream, with the
chat log and the transcript, and the warnings a cut-off recording or a bad transcript earns."""
from __future__ import annotations

from dataclasses import dataclass, field

from peakclip.detectors.chat import ChatLog
from peakclip.detectors.errors import MediaError
from peakclip.detectors.probe import Probe
from peakclip.detectors.series import Series, bins_for, concat
from peakclip.detectors.transcript import Transcript
from peakclip.pipeline.analysis.chunk import ChunkResult
from peakclip.pipeline.analysis.plan import Plan
from peakclip.pipeline.config import Config


@dataclass
class Analysis:
    """The whole stream analysed: raw series on one grid, the sure events (seconds), the chat log
    and the transcript."""
    probe: Probe
    signals: dict[str, Series]                 # the fusable signals: chat, audio, visual (raw, whole stream)
    extras: dict[str, Series] = field(default_factory=dict)      # what qualifies a signal (audio_flatness)
    # pauses; keys and spots (visual_features'), and cuts when every key frame was decoded
    events: dict[str, list[float]] = field(default_factory=dict)
    chat: ChatLog | None = None
    warnings: list[str] = field(default_factory=list)
    transcript: Transcript | None = None


def merge_chunks(results: list[ChunkResult], n_bins: int) -> ChunkResult:
    """Join chunk results in time order: series end to end, events in one sorted list each."""
    merged = ChunkResult()
    if not results:
        return merged
    for name in results[0].series:
        merged.series[name] = concat([r.series[name] for r in results]).fit(n_bins)
    for name in results[0].events:
        merged.events[name] = sorted(t for r in results for t in r.events.get(name, []))
    merged.warnings = [w for r in results for w in r.warnings]
    merged.until = max(r.until for r in results)
    return merged


def transcript_warnings(transcript: Transcript, duration: float) -> list[str]:
    """What a person should know about the transcript: cues it skipped, or a clock that misses
    the recording (then the clip edges fall back to cuts and pauses)."""
    found = []
    if not any(s.end > 0 and s.start < duration for s in transcript.segments):
        found.append(f"transcript: none of its {len(transcript.segments)} segment(s) falls inside the recording "
                     f"(0 to {duration:.1f} s): is its clock right? (--transcript-offset)")
    if transcript.skipped:
        shown = ", ".join(f"line {s.line} ({s.reason})" for s in transcript.skipped_lines)
        more = ", ..." if transcript.skipped > len(transcript.skipped_lines) else ""
        found.append(f"transcript: skipped {transcript.skipped} cue(s) it could not read: {shown}{more}")
    return found


def decoded_length(plan: Plan, merged: ChunkResult, hop: float) -> tuple[Probe, list[str]]:
    """A recording cut off mid-stream (a crashed encoder) may still carry the full length in its
    header; the media then ends early. The probe comes back with the length that decodes, so
    selection and rendering stay inside it, and a warning says so."""
    if not plan.chunks or merged.until >= plan.probe.duration - max(2.0, 4 * hop):
        if plan.probe.ends_mid_packet:
            return plan.probe, [f"the recording ends part-way through a packet at {plan.probe.duration:.1f} s (cut off?): "
                                "analysed and clipped up to where it decodes"]
        return plan.probe, []
    if merged.until <= 0:
        raise MediaError(f"nothing in {plan.path} decodes (the recording is damaged or cut off at its start)")
    probe = Probe.from_dict({**plan.probe.to_dict(), "duration": round(merged.until, 3)})
    return probe, [f"the recording stops at {merged.until:.1f} s, though its header says {plan.probe.duration:.1f} s "
                   "(cut off?): analysed and clipped up to where it decodes"]


def assemble(plan: Plan, results: list[ChunkResult], chat: ChatLog | None, config: Config,
             transcript: Transcript | None = None) -> Analysis:
    """Merge chunk results (in chunk order, whatever order they finished in), the chat and the transcript."""
    a = config.analysis
    ordered = sorted(results, key=lambda r: min((s.t0 for s in r.series.values()), default=0.0))
    merged = merge_chunks(ordered, bins_for(plan.probe.duration, a.hop))
    source, cut_off = decoded_length(plan, merged, a.hop)
    warnings = (plan.warnings + cut_off + merged.warnings + (chat.warnings() if chat else [])
                + (transcript_warnings(transcript, source.duration) if transcript else []))
    n_bins = bins_for(source.duration, a.hop)
    series = {name: s.fit(n_bins) for name, s in merged.series.items()}
    if chat is not None and "chat" in a.signals:
        series["chat"] = chat.series().fit(n_bins)
    signals = {name: series.pop(name) for name in a.signals if name in series}
    # keys and spots pair up one to one, and a key frame's spot is never after it: cutting both
    # at the key frames that are inside the recording keeps the pairs.
    inside = sum(1 for t in merged.events.get("keys", []) if t < source.duration)
    events = {name: times[:inside] if name in ("keys", "spots") else [t for t in times if t < source.duration]
              for name, times in merged.events.items()}
    return Analysis(source, signals, series, events, chat, warnings, transcript)
