"""Span selection: the top N non-overlapping moments of the fused score, as clip-length spans.

Greedy, strongest peak first. A peak that only continues a chosen moment (its decaying tail, left
over once that moment's span is taken) is no moment of its own and is skipped. A moment lasts
while the score stays above ``edge`` x its peak; the
span starts ``lead`` seconds before the moment rises (viewers need the set-up, not just the
reaction) and ends ``tail`` seconds after it falls, then is stretched or cut to fit
``[min_len, max_len]`` inside the free room between spans already chosen. With a transcript, an
edge that falls inside a sentence moves to a sentence boundary (``snap_to_sentences``); cuts and
pauses place the edges outside speech (``snap_edges``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Sequence, Union

import numpy as np

from peakclip.detectors.transcript import Segment
from peakclip.pipeline.config import SelectConfig
from peakclip.pipeline.ranking.fuse import Fused

# Where a clip edge may land between two times (seconds, ``lo <= t < hi``), sorted: a fixed list of
# cut and pause times, or a lookup that finds scene cuts only when an edge asks (pipeline/ranking/cuts.py).
EdgeLookup = Callable[[float, float], np.ndarray]
Edges = Union[Sequence[float], np.ndarray, EdgeLookup, None]

# A segment whose text ends so (closing quotes and brackets aside) ends its sentence.
SENTENCE_END = re.compile(r"[.!?。！？][\"'”’)\]」』]*\s*$")


@dataclass
class Span:
    """A chosen moment: start, end and peak in seconds of the recording; score in fused z units."""
    start: float
    end: float
    score: float          # fused score at the peak
    peak: float           # time of the peak, seconds
    signals: dict[str, float] = field(default_factory=dict)  # each signal's mean z over the moment

    @property
    def length(self) -> float:
        return self.end - self.start


def _moment_edges(score: np.ndarray, peak: int, threshold: float, blocked: np.ndarray) -> tuple[int, int]:
    left = peak
    while left > 0 and score[left - 1] > threshold and not blocked[left - 1]:
        left -= 1
    right = peak
    while right < len(score) - 1 and score[right + 1] > threshold and not blocked[right + 1]:
        right += 1
    return left, right


def is_shoulder(score: np.ndarray, peak: int, share: float) -> bool:
    """True when ``peak`` (the highest bin not yet in a chosen span) only continues a higher
    moment: walking towards a higher bin on either side, the score never dips below ``share`` of
    the peak, so there is no valley between them and they are one moment."""
    floor = share * score[peak]
    for step in (-1, 1):
        i = peak + step
        while 0 <= i < len(score) and score[i] >= floor:
            if score[i] > score[peak]:
                return True
            i += step
    return False


def is_echo(fused: Fused, left: int, right: int, spans: list[Span], config: SelectConfig) -> bool:
    """Whether the moment in bins ``[left, right]`` is the audience's late reaction to a span
    already chosen: it starts at most ``echo_gap`` seconds after that span ends (or inside it),
    past its peak, and only the chat rises in it (sound and picture under ``echo_calm`` z)."""
    start = left * fused.hop
    if not any(span.peak < start <= span.end + config.echo_gap for span in spans):
        return False
    others = [z[left:right + 1] for name, z in fused.signals.items() if name != "chat"]
    # Without the chat, or with nothing but the chat, there is no telling an echo from a moment.
    if "chat" not in fused.signals or not others:
        return False
    return all(float(np.max(z)) < config.echo_calm for z in others)


def _fit(start: float, end: float, peak_t: float, room: tuple[float, float], config: SelectConfig) -> tuple[float, float] | None:
    """Stretch, cut and slide ``[start, end)`` into ``room`` within the length limits; None if no fit."""
    lo, hi = room
    if hi - lo < config.min_len - 1e-6:
        return None
    if end - start > config.max_len:
        # Keep the lead-in, unless that would cut the peak off: then centre on the peak.
        end = start + config.max_len
        if peak_t > end - config.tail:
            start = peak_t - config.max_len / 2
            end = start + config.max_len
    if end - start < config.min_len:
        missing = config.min_len - (end - start)
        start -= missing * 0.3
        end += missing * 0.7
    if start < lo:
        end, start = min(hi, end + (lo - start)), lo
    if end > hi:
        start, end = max(lo, start - (end - hi)), hi
    if end - start < config.min_len - 1e-6:
        return None
    return start, end


def edge_lookup(edges: Edges) -> EdgeLookup:
    """``edges`` as a lookup: a lookup stays one; sorted times are searched."""
    if callable(edges):
        return edges
    times = np.sort(np.asarray(edges if edges is not None else [], dtype=float))

    def between(lo: float, hi: float) -> np.ndarray:
        a, b = np.searchsorted(times, [lo, hi])
        return times[a:b]
    return between


def snap_edges(start: float, end: float, edges: Edges, room: tuple[float, float],
               config: SelectConfig, fixed: tuple[bool, bool] = (False, False)) -> tuple[float, float]:
    """Move each end of the span to the nearest cut or pause within ``snap`` seconds, so a clip
    does not open or close mid-word or mid-shot, as long as it stays in its room and length.
    A ``fixed`` end (start, end) stays where it is. Only the edges within ``snap`` of the span's
    two ends are ever looked up."""
    lookup = edge_lookup(edges)

    def nearest(t: float) -> float | None:
        near = lookup(t - config.snap, t + config.snap + 1e-9)
        if len(near) == 0:
            return None
        return float(near[np.argmin(np.abs(near - t))])

    for which, stays in zip(("start", "end"), fixed):
        target = None if stays else nearest(start if which == "start" else end)
        if target is None:
            continue
        new_start, new_end = (target, end) if which == "start" else (start, target)
        if (room[0] <= new_start and new_end <= room[1]
                and config.min_len - 1e-6 <= new_end - new_start <= config.max_len + 1e-6):
            start, end = new_start, new_end
    return start, end


class Speech(NamedTuple):
    """A transcript's segments as arrays: ``starts``, ``ends`` (sorted, not overlapping) and
    ``sentence``, the number of the sentence each segment belongs to (counting up from 0)."""
    starts: np.ndarray
    ends: np.ndarray
    sentence: np.ndarray


def sentence_edges(segments: Sequence[Segment], gap: float) -> Speech:
    """Group segments into sentences: a segment ends one when its text ends with . ! ? 。！？ or
    when ``gap`` seconds or more of silence follow it (auto-captions carry no full stops)."""
    starts = np.array([s.start for s in segments], dtype=float)
    ends = np.array([s.end for s in segments], dtype=float)
    closes = np.array([bool(SENTENCE_END.search(s.text)) for s in segments], dtype=bool)
    closes[:-1] |= starts[1:] - ends[:-1] >= gap
    return Speech(starts, ends, np.r_[0, np.cumsum(closes[:-1])][:len(segments)].astype(int))


def sentence_spans(speech: Speech) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the sentences."""
    first = np.searchsorted(speech.sentence, np.arange(speech.sentence[-1] + 1 if len(speech.sentence) else 0))
    last = np.r_[first[1:], len(speech.sentence)] - 1
    return speech.starts[first], speech.ends[last]


def inside_sentences(times: np.ndarray, speech: Speech) -> np.ndarray:
    """Which ``times`` fall strictly inside a sentence (a clip edge there cuts it)."""
    starts, ends = sentence_spans(speech)
    if not len(starts):
        return np.zeros(len(times), bool)
    k = np.searchsorted(starts, times, side="left") - 1      # the last sentence starting before each time
    return (k >= 0) & (times < ends[np.maximum(k, 0)])


# How good a place an edge moves to is, best first. A start edge inside a sentence prefers that
# sentence's start (outward: the clip gets longer), then a segment start between it and the edge;
# then, inward, the next sentence's start, then a segment start before it. CUT leaves the edge
# inside a segment: only when no boundary keeps the clip within its room and length.
OUT_SENTENCE, OUT_SEGMENT, IN_SENTENCE, IN_SEGMENT, CUT = range(5)


def start_options(t: float, speech: Speech) -> list[tuple[int, float]]:
    """Where a clip starting at ``t`` may start instead, as (rank, time). An edge outside every
    sentence stays: the transcript has nothing to say about it."""
    starts, ends, sentence = speech
    i = int(np.searchsorted(starts, t, side="left")) - 1          # the last segment starting before t
    if i < 0:
        return [(OUT_SENTENCE, t)]
    first = int(np.searchsorted(sentence, sentence[i], side="left"))
    last = int(np.searchsorted(sentence, sentence[i], side="right")) - 1
    if t >= ends[last]:
        return [(OUT_SENTENCE, t)]
    cuts_segment = t < ends[i]
    options = [(OUT_SENTENCE, starts[first])] + [(OUT_SEGMENT, starts[j]) for j in range(first + 1, i + 1)]
    if not cuts_segment:
        options.append((OUT_SEGMENT, t))                          # between two segments of one sentence
    if last + 1 < len(starts):
        options.append((IN_SENTENCE, starts[last + 1]))
    options += [(IN_SEGMENT, starts[j]) for j in range(i + 1, last + 1)]
    return options + ([(CUT, t)] if cuts_segment else [])


def end_options(t: float, speech: Speech) -> list[tuple[int, float]]:
    """``start_options`` on the timeline turned around: where a clip ending at ``t`` may end."""
    mirrored = Speech(-speech.ends[::-1], -speech.starts[::-1], speech.sentence[-1] - speech.sentence[::-1])
    return [(rank, -time) for rank, time in start_options(-t, mirrored)]


def snap_to_sentences(start: float, end: float, peak: float, speech: Speech, room: tuple[float, float],
                      config: SelectConfig) -> tuple[float, float]:
    """Move each edge of the span that falls inside a sentence to a sentence boundary, so a clip
    opens where a sentence begins and closes where one ends; failing that, to a segment boundary
    (never into a segment), whichever keeps the clip in its room, within ``[min_len, max_len]``
    and around its ``peak``. Of the pairs of edges that fit, the one cutting fewest segments
    wins, then the best-ranked, then the one moving the edges least; edges outside speech stay."""
    if not len(speech.starts):
        return start, end

    def fits(s: float, e: float) -> bool:
        return room[0] <= s <= peak <= e <= room[1] and config.min_len - 1e-6 <= e - s <= config.max_len + 1e-6

    def preference(pair: tuple[int, float, int, float]) -> tuple:
        rank_s, s, rank_e, e = pair
        return (rank_s == CUT) + (rank_e == CUT), rank_s + rank_e, abs(s - start) + abs(e - end)

    def within_reach(options: list[tuple[int, float]], t: float) -> list[tuple[int, float]]:
        # A caption file without full stops or pauses is one long "sentence": of its thousands of
        # boundaries only those a clip's length away can fit.
        return [(rank, time) for rank, time in options if abs(time - t) <= config.max_len]

    ends = within_reach(end_options(end, speech), end)
    pairs = [(rank_s, s, rank_e, e) for rank_s, s in within_reach(start_options(start, speech), start)
             for rank_e, e in ends if fits(s, e)]
    if not pairs:
        return start, end
    _, s, _, e = min(pairs, key=preference)
    return float(s), float(e)


def snap_span(start: float, end: float, peak: float, edges: EdgeLookup, speech: Speech | None,
              room: tuple[float, float], config: SelectConfig) -> tuple[float, float]:
    """The span's edges placed: on sentence boundaries where the transcript covers them, else on
    the nearest cut or pause outside speech (a pause inside a sentence is a breath, not an end)."""
    if speech is None:
        return snap_edges(start, end, edges, room, config)
    start, end = snap_to_sentences(start, end, peak, speech, room, config)
    sentence_starts, sentence_ends = sentence_spans(speech)
    covered = tuple(bool(np.any((sentence_starts <= t) & (t <= sentence_ends))) for t in (start, end))

    def outside_speech(lo: float, hi: float) -> np.ndarray:
        times = edges(lo, hi)
        return times[~inside_sentences(times, speech)]
    return snap_edges(start, end, outside_speech, room, config, covered)


def select_spans(fused: Fused, duration: float, config: SelectConfig, edges: Edges = None,
                 quotas: list[tuple[float, float, int]] | None = None,
                 segments: Sequence[Segment] | None = None, within: tuple[float, float] | None = None) -> list[Span]:
    """Pick spans (start, end and peak in seconds of the recording; score in the fused score's z
    units) around the peaks of ``fused.score`` (bins of ``fused.hop`` seconds), each between
    ``config.min_len`` and ``config.max_len`` seconds long, none overlapping, at most
    ``config.clips`` of them, strongest first. ``duration``: the recording's, seconds;
    ``edges``, the times of scene cuts and speech pauses to snap to (or a lookup);
    ``quotas`` are (start, end, n): each such window first gets its n best spans (if they score
    at least ``min_score``), then the strongest peaks anywhere fill the rest; ``segments``, a
    transcript's, put the edges on sentence boundaries; ``within`` (start, end) keeps every
    span, peak and edges, inside that part of the recording (a product's time on air)."""
    lo, hi = within or (0.0, duration)
    lookup = edge_lookup(edges)
    speech = sentence_edges(segments, config.sentence_gap) if segments else None
    score, hop = fused.score, fused.hop
    n = len(score)
    blocked = np.zeros(n, bool)      # bins inside chosen spans
    rejected = np.zeros(n, bool)     # peaks that found no room
    spans: list[Span] = []

    def pick(limit: int, allowed: np.ndarray) -> None:
        taken = 0
        for _ in range(max(1, limit) * 50):
            if taken >= limit or len(spans) >= config.clips:
                return
            candidates = np.where(blocked | rejected | ~allowed, -np.inf, score)
            peak = int(np.argmax(candidates))
            if candidates[peak] < config.min_score:
                return
            left, right = _moment_edges(score, peak, score[peak] * config.edge, blocked)
            if is_shoulder(score, peak, config.shoulder):
                # Never the higher moment itself: it may lie outside this pick's window (another
                # stage) and still be chosen there.
                rejected[left:right + 1] |= score[left:right + 1] <= score[peak]
                continue
            if is_echo(fused, left, right, spans, config):
                rejected[left:right + 1] = True
                continue
            peak_t = (peak + 0.5) * hop
            before = [s.end for s in spans if s.end <= peak_t]
            after = [s.start for s in spans if s.start >= peak_t]
            room = (max(before, default=lo), min(after, default=hi))
            start, end = left * hop - config.lead, (right + 1) * hop + config.tail
            if config.length_scale != 1.0:
                start, end = peak_t - (peak_t - start) * config.length_scale, peak_t + (end - peak_t) * config.length_scale
            fitted = _fit(start, end, peak_t, room, config)
            if fitted is None:
                rejected[left:right + 1] = True
                continue
            start, end = snap_span(*fitted, peak_t, lookup, speech, room, config)
            spans.append(Span(round(start, 3), round(end, 3), round(float(score[peak]), 3), round(peak_t, 3),
                              {name: round(float(z[left:right + 1].mean()), 3) for name, z in fused.signals.items()}))
            blocked[int(start / hop):int(np.ceil(end / hop))] = True
            taken += 1

    times = (np.arange(n) + 0.5) * hop
    inside = (times >= lo) & (times < hi)
    for window_start, window_end, count in quotas or []:
        pick(count, inside & (times >= window_start) & (times < window_end))
    pick(config.clips, inside)
    return spans
