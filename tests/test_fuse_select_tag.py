import numpy as np
import pytest

from peakclip.detectors.series import Series
from peakclip.detectors.transcript import Segment
from peakclip.pipeline.config import ChatConfig, FuseConfig, SelectConfig
from peakclip.pipeline.ranking.fuse import Fused, chat_shift_seconds, fuse, robust_z
from peakclip.pipeline.ranking.select import select_spans, sentence_edges, snap_edges, snap_to_sentences

HOP = 0.5


def test_local_baseline_ignores_a_stream_getting_busier():
    # The level doubles halfway (audience grows) and a short burst sits in each half.
    values = np.r_[np.full(400, 10.0), np.full(400, 20.0)] + np.random.default_rng(0).normal(0, 1, 800)
    values[100:106] += 8
    values[600:606] += 8
    z = robust_z(values, window_bins=120, min_spread=1.0)
    assert z[100:106].mean() > 4 and z[600:606].mean() > 4
    # the step itself is not a highlight once the window has moved past it
    assert z[450:550].max() < 4


def test_the_stream_edges_are_judged_as_fairly_as_the_middle():
    # Plain noise with a quiet first frame (a "starting soon" card): nothing stands out anywhere,
    # least of all in the first or last minute, where the baseline window meets the edges.
    values = np.random.default_rng(1).normal(-30, 3, 1800)
    values[:4] = -45
    z = robust_z(values, window_bins=240, min_spread=1.5)
    middle = z[600:1200].max()
    assert z[:120].max() <= middle and z[-120:].max() <= middle


def test_chat_is_shifted_back_by_its_lag():
    n = 200
    chat = np.zeros(n)
    chat[100:110] = 10
    fused = fuse({"chat": Series("chat", 0, HOP, chat)}, FuseConfig(smooth=HOP), ChatConfig(lag=5.0, window=2.0))
    shift_bins = int(chat_shift_seconds(ChatConfig(lag=5.0, window=2.0)) / HOP)
    assert int(np.argmax(fused.signals["chat"])) == 100 - shift_bins


def test_agreeing_signals_beat_one_loud_signal():
    n = 400
    quiet = np.zeros(n)
    both_chat, both_audio = quiet.copy(), quiet.copy()
    both_chat[100 + 15:130 + 15] = 6    # chat reacts after the moment
    both_audio[100:130] = 6
    only_audio = quiet.copy()
    only_audio[300:330] = 9
    fused = fuse({"chat": Series("chat", 0, HOP, both_chat),
                  "audio": Series("audio", 0, HOP, both_audio + only_audio)},
                 FuseConfig(), ChatConfig(lag=5.0, window=5.0))
    assert fused.score[100:130].max() > fused.score[300:330].max()


def audience_stream(seed=0, n=1200):
    """Three signals of plain noise around their baselines, as fuse receives them (raw units)."""
    rng = np.random.default_rng(seed)
    return {"chat": rng.normal(6, 1.2, n), "audio": rng.normal(-30, 1.2, n), "visual": rng.normal(10, 0.25, n)}


def fused_peak(signals, at):
    fused = fuse({name: Series(name, 0, HOP, values) for name, values in signals.items()},
                 FuseConfig(), ChatConfig(lag=5.0, window=5.0))
    return fused.score[at[0]:at[1]].max(), fused.score


def test_the_whole_chat_reacting_outranks_loud_action_nobody_reacted_to():
    # A price reveal: forty more people in chat, the host a little louder, the picture as calm as
    # before. Loud action: a roar and a busy picture, and three more people in chat.
    signals = audience_stream()
    lag = int(round(chat_shift_seconds(ChatConfig(lag=5.0, window=5.0)) / HOP))
    signals["chat"][300 + lag:320 + lag] += 40
    signals["audio"][300:320] += 1.0
    signals["visual"][300:320] += 0.3
    signals["chat"][800 + lag:820 + lag] += 3
    signals["audio"][800:820] += 10
    signals["visual"][800:820] += 2.5
    reveal, _ = fused_peak(signals, (300, 320))
    action, _ = fused_peak(signals, (800, 820))
    assert reveal >= action


def test_ordinary_chatter_alone_is_no_highlight():
    # Chat a few people busier than usual, nothing else: under the floor, no witness of its own.
    signals = audience_stream(seed=3)
    lag = int(round(chat_shift_seconds(ChatConfig(lag=5.0, window=5.0)) / HOP))
    signals["chat"][500 + lag:510 + lag] += 6
    peak, score = fused_peak(signals, (500, 510))
    assert peak < SelectConfig().min_score


def test_a_slow_wave_of_buying_talk_in_a_small_room_is_a_highlight():
    # A price drop: five more people than usual typing for 15 s, sound and picture calm. It never
    # rises past the audience floor in one burst, but it stays above ordinary chatter for longer
    # than chatter ever does: a witness of its own.
    for seed in (1, 2, 3):
        signals = audience_stream(seed=seed)
        lag = round(chat_shift_seconds(ChatConfig(lag=5.0, window=5.0)) / HOP)
        signals["chat"][500 + lag:530 + lag] += 5
        peak, _ = fused_peak(signals, (500, 530))
        assert peak >= SelectConfig().min_score


def fused_with_peaks(n, peaks):
    score = np.zeros(n)
    for centre, height, width in peaks:
        score[centre - width:centre + width] = height
    return Fused(HOP, score, {"audio": score})


def test_spans_are_non_overlapping_within_length_limits_and_start_before_the_moment():
    fused = fused_with_peaks(1200, [(200, 9, 6), (230, 7, 4), (800, 5, 10), (1190, 4, 4)])
    config = SelectConfig(clips=5, min_len=15, max_len=60, lead=4.0)
    spans = select_spans(fused, 600.0, config)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    for s in spans:
        assert 15 - 1e-6 <= s.length <= 60 + 1e-6
        assert 0 <= s.start and s.end <= 600.0
    ordered = sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in zip(ordered, ordered[1:]))
    first = spans[0]
    assert first.start <= (200 - 6) * HOP - 4.0 + 1e-6   # starts before the moment rises
    # the peak at the very end still gets a full-length clip, slid back inside the recording
    assert any(s.end == 600.0 and s.length >= 15 - 1e-6 for s in spans)


def test_long_moment_is_cut_to_max_len_keeping_its_peak():
    score = np.zeros(1000)
    score[100:400] = 3.0
    score[380] = 8.0
    spans = select_spans(Fused(HOP, score, {"audio": score}), 500.0, SelectConfig(clips=1, max_len=60, edge=0.3))
    assert len(spans) == 1 and spans[0].length == pytest.approx(60)
    assert spans[0].start <= spans[0].peak <= spans[0].end


def test_weak_peaks_are_not_clipped():
    spans = select_spans(fused_with_peaks(400, [(100, 0.5, 4)]), 200.0, SelectConfig(min_score=1.0))
    assert spans == []


def test_one_signal_alone_rising_scores_below_two_rising_together():
    n = 400
    alone = np.zeros(n)
    alone[100:120] = 12                      # visual alone: a montage
    a, b = np.zeros(n), np.zeros(n)
    a[300:320], b[300:320] = 6, 6           # two signals half as high
    fused = fuse({"visual": Series("visual", 0, HOP, alone + a), "audio": Series("audio", 0, HOP, b)},
                 FuseConfig(weight_visual=1.0), ChatConfig())
    assert fused.score[300:320].max() > fused.score[100:120].max()


def test_loud_tonal_sound_counts_less_than_a_crowd():
    n = 400
    loud = np.zeros(n) - 40
    loud[100:120] = -15
    loud[300:320] = -15
    flatness = np.full(n, 0.005)
    flatness[300:320] = 0.3                  # the second loud stretch is noise: a crowd
    fused = fuse({"audio": Series("audio", 0, HOP, loud)}, FuseConfig(min_spread_audio=1.0), ChatConfig(),
                 {"audio_flatness": Series("audio_flatness", 0, HOP, flatness)})
    assert fused.score[300:320].max() > 2 * fused.score[100:120].max()


def test_span_edges_snap_to_cuts_and_pauses_within_reach():
    config = SelectConfig(min_len=15, max_len=60, snap=2.0)
    edges = np.array([8.6, 30.0, 41.5])
    assert snap_edges(10.0, 40.0, edges, (0, 100), config) == (8.6, 41.5)
    assert snap_edges(20.0, 36.0, edges, (0, 100), config) == (20.0, 36.0)       # nothing within 2 s
    assert snap_edges(10.0, 40.0, edges, (9.0, 100), config) == (10.0, 41.5)    # not out of its room


def test_the_decaying_tail_of_a_chosen_moment_is_not_a_clip_of_its_own():
    # One moment: a sharp rise, a peak at 60 s, then a slow decay that stays above min_score for
    # 40 s, far past where the clip of the moment ends (max_len). The tail is the same moment.
    t = (np.arange(400) + 0.5) * HOP
    score = np.where(t < 60, 9.0 * np.exp(-((t - 60) / 3) ** 2), 9.0 * np.exp(-(t - 60) / 25))
    fused = Fused(HOP, score, {"audio": score})
    spans = select_spans(fused, 200.0, SelectConfig(clips=3, min_len=15, max_len=25))
    assert len(spans) == 1 and spans[0].peak == pytest.approx(60, abs=1)


def test_a_second_moment_right_after_a_chosen_one_still_counts():
    # Two moments of their own (each rises to its own peak) close together: both are clips.
    t = (np.arange(400) + 0.5) * HOP
    score = 9.0 * np.exp(-((t - 60) / 4) ** 2) + 6.0 * np.exp(-((t - 95) / 4) ** 2)
    fused = Fused(HOP, score, {"audio": score})
    spans = select_spans(fused, 200.0, SelectConfig(clips=3, min_len=15, max_len=25))
    assert sorted(round(s.peak) for s in spans) == [60, 95]


# Sentences: "Hello there | my friends." (1-8 s), "This is long | yes." (8.3-20 s), "Next" (21-25 s);
# the last ends its sentence by the silence after it, not by a full stop.
SEGMENTS = [Segment(1, 4, "Hello there"), Segment(4.3, 8, "my friends."), Segment(8.3, 12, "This is long"),
            Segment(12.3, 20, "yes."), Segment(21, 25, "Next"), Segment(26, 30, "and then")]


def test_segments_group_into_sentences_by_full_stops_and_silences():
    speech = sentence_edges(SEGMENTS + [Segment(30.2, 31, "「好！」"), Segment(31.1, 33, "Fine")], gap=0.6)
    assert speech.sentence.tolist() == [0, 0, 1, 1, 2, 3, 3, 4]
    assert sentence_edges([], gap=0.6).sentence.tolist() == []


@pytest.mark.parametrize("span, peak, room, max_len, expected", [
    ((5, 13), 9, (0, 100), 60, (1, 20)),          # both edges out to their sentences' boundaries
    ((5, 13), 9, (0, 100), 15, (8.3, 20)),        # 1-20 is too long: the start moves in, to the next sentence
    ((5, 13), 6, (0, 100), 10, (1, 8)),           # ... or the end moves in, whichever keeps the peak
    ((2, 13), 7, (3, 100), 25, (4.3, 20)),        # its sentence starts before its room: the next segment
    ((14, 19), 16, (0, 100), 60, (8.3, 20)),      # inside one long segment: out to its sentence
    ((20.4, 35), 25, (0, 100), 60, (20.4, 35)),   # both edges in silence: nothing to move
])
def test_span_edges_move_to_sentence_boundaries_within_room_and_length(span, peak, room, max_len, expected):
    config = SelectConfig(min_len=5, max_len=max_len)
    assert snap_to_sentences(*span, peak, sentence_edges(SEGMENTS, 0.6), room, config) == pytest.approx(expected)


def test_an_edge_in_a_segment_longer_than_the_clip_stays_rather_than_break_the_limits():
    config = SelectConfig(min_len=5, max_len=10)
    speech = sentence_edges([Segment(0, 100, "an endless monologue")], 0.6)
    assert snap_to_sentences(40, 50, 45, speech, (0, 200), config) == (40, 50)


def test_in_speech_without_sentence_ends_an_edge_goes_to_the_segment_it_cuts():
    # Auto-captions of a talker who never pauses: one "sentence" of 3 s segments for three hours.
    # The clip keeps its length: each edge moves to the nearest segment boundary outward.
    segments = [Segment(3.2 * i, 3.2 * i + 3, "and so on") for i in range(3400)]
    speech = sentence_edges(segments, 0.6)
    assert len(set(speech.sentence.tolist())) == 1
    assert snap_to_sentences(100.5, 120.5, 110, speech, (0, 11000), SelectConfig()) == pytest.approx((99.2, 121.4))


def random_segments(rng, duration):
    """Segments tiling ``duration``: 3-7 s each with 0.3 s gaps, every other one ending a sentence."""
    segments, t = [], rng.uniform(0, 2)
    while t < duration:
        length = rng.uniform(3, 7)
        segments.append(Segment(round(t, 3), round(t + length, 3), "so." if rng.random() < 0.5 else "and"))
        t += length + 0.3
    return segments


def test_no_span_edge_falls_inside_a_segment():
    rng = np.random.default_rng(5)
    for _ in range(20):
        fused = fused_with_peaks(1200, [(int(rng.integers(20, 1180)), rng.uniform(3, 9), int(rng.integers(2, 20)))
                                        for _ in range(6)])
        segments = random_segments(rng, 600.0)
        spans = select_spans(fused, 600.0, SelectConfig(clips=6), sorted(rng.uniform(0, 600, 40)), segments=segments)
        assert spans
        for span in spans:
            assert 15 - 1e-6 <= span.length <= 60 + 1e-6 and span.start <= span.peak <= span.end
            for edge in (span.start, span.end):
                assert not any(s.start + 1e-3 < edge < s.end - 1e-3 for s in segments), (edge, span)


def test_without_a_transcript_spans_are_as_before():
    rng = np.random.default_rng(6)
    for _ in range(10):
        fused = fused_with_peaks(1200, [(int(rng.integers(20, 1180)), rng.uniform(3, 9), int(rng.integers(2, 20)))
                                        for _ in range(6)])
        edges = sorted(rng.uniform(0, 600, 40))
        before = select_spans(fused, 600.0, SelectConfig(clips=6), edges)
        assert before == select_spans(fused, 600.0, SelectConfig(clips=6), edges, segments=[])
        # speech only after the recording's end has nothing to say about its clips
        assert before == select_spans(fused, 600.0, SelectConfig(clips=6), edges,
                                      segments=[Segment(700 + 5 * i, 704 + 5 * i, "later.") for i in range(10)])


def test_the_audiences_late_reaction_is_no_clip_of_its_own():
    # A crowd moment at 60 s (sound and chat; its clip ends at ~67 s), and the chat's late wave
    # after it (chat alone, rising at ~72 s): the wave belongs to the moment. The same wave far from any
    # chosen moment is a moment of its own (a joke the chat laughs at).
    t = (np.arange(400) + 0.5) * HOP
    moment = 9.0 * np.exp(-((t - 60) / 3) ** 2)
    echo = 5.0 * np.exp(-((t - 74) / 2) ** 2)
    far = 5.0 * np.exp(-((t - 170) / 2) ** 2)
    fused = Fused(HOP, moment + echo + far, {"chat": moment + echo + far, "audio": moment, "visual": np.zeros(400)})
    spans = select_spans(fused, 200.0, SelectConfig(clips=5, min_len=15, max_len=25))
    assert sorted(round(s.peak) for s in spans) == [60, 170]
    # A moment of its own right after one (its sound rises too) is still a clip.
    loud = Fused(HOP, moment + echo, {"chat": moment + echo, "audio": moment + echo, "visual": np.zeros(400)})
    assert sorted(round(s.peak) for s in select_spans(loud, 200.0, SelectConfig(clips=5, min_len=15, max_len=25))) \
        == [60, 74]


def test_a_moment_nobody_in_chat_reacted_to_stays_tier_c():
    from peakclip.pipeline.ranking.broadcast import Stage
    from peakclip.pipeline.ranking.rules import load_rules
    from peakclip.pipeline.ranking.select import Span
    from peakclip.pipeline.ranking.tag import tag_spans
    rules = load_rules()
    shout = Span(10, 30, 6.0, 20, {"chat": 0.1, "audio": 8.0, "visual": 0.2})      # the host alone, loud
    action = Span(40, 60, 5.0, 50, {"chat": 0.3, "audio": 6.0, "visual": 5.0})     # sound and picture together
    crowd = Span(70, 90, 5.0, 80, {"chat": 6.0, "audio": 6.0, "visual": 0.0})
    no_chat = Span(100, 120, 6.0, 110, {"audio": 8.0, "visual": 0.2})              # a stream without a chat log
    # The host shouting while a busy room chats on as ever: a few seconds of ordinary chatter reach
    # a mean z of 1.5 by chance, no reaction; a picture moving a little with the sound still counts.
    chatter = Span(130, 150, 6.0, 140, {"chat": 1.5, "audio": 8.0, "visual": 0.2})
    applause = Span(160, 180, 3.5, 170, {"chat": 2.2, "audio": 3.5, "visual": 1.5})
    # Ordinary chatter over a shout can reach 3 by chance in a long stream: still no reaction.
    busy = Span(190, 210, 3.0, 200, {"chat": 3.0, "audio": 4.0, "visual": 0.1})
    # A wave of buying talk that sound and picture leave alone rose with the chat alone: it is
    # the audience's own moment, tiered by its score, however long the wave spreads its mean.
    wave = Span(220, 240, 3.0, 230, {"chat": 3.2, "audio": 0.6, "visual": 0.2})
    # Ranked on the chat alone, nothing says sound and picture stayed calm: the bar holds.
    chat_only = Span(250, 270, 3.0, 260, {"chat": 3.2})
    clips = tag_spans([shout, action, crowd, no_chat, chatter, applause, busy, wave, chat_only], [Stage(1, 0, 280)],
                      "show.mp4", rules)
    tiers = {c.start: c.tier for c in clips}
    assert tiers[10] == "C" and tiers[130] == "C" and tiers[190] == "C" and tiers[250] == "C"   # not lifted either
    assert tiers[40] == "A" and tiers[70] == "A" and tiers[100] == "A" and tiers[160] == "B" and tiers[220] == "B"
