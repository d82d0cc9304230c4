"""One typed configuration for every step, with each default documented beside it.

Precedence, lowest first: built-in defaults < TOML file (``--config``) < environment
(``PEAKCLIP_<SECTION>_<FIELD>``, e.g. ``PEAKCLIP_RENDER_PRESET=ultrafast``) < CLI flags.
Steps receive the section they need; nothing deeper reads the environment.
"""
from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Mapping

from peakclip.detectors.chat import ChatConfig  # defined beside the code that reads it
from peakclip.detectors.errors import UserError
from peakclip.detectors.objects import is_object
from peakclip.detectors.transcript import FORMATS as TRANSCRIPT_FORMATS

SIGNALS = ("chat", "audio", "visual")
CUTS = ("edges", "all")
FORMATS = ("vertical", "portrait", "square", "horizontal", "source")
FILLS = ("auto", "blur", "crop")
EXPORT_FORMATS = ("edl", "otio", "fcpxml")
CAPTIONS = ("off", "auto")
CHANNEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# render.profiles: every clip at the full render profile (rules.toml), or each at the profile of
# the traffic pool it starts in.
PROFILES = ("full", "pools")
# service.store_recordings: what an object's name ends with when it is a recording.
RECORDING_SUFFIXES = (".mp4", ".mkv", ".mov", ".flv", ".ts", ".webm", ".m4v")
# render.profiles unset: what each way of running a job renders at. Clips the queue, the service's
# stream-end events and live mode make go to a platform that promotes them on feedback, so they
# start at their pools' profiles (a cheap preview in the trial pools) and earn the full render;
# `peakclip clip` and peakclip.clip() make clips for whoever ran them, who sends no feedback: full.
PROFILES_BY_PATH = {"clip": "full", "queue": "pools", "live": "pools"}


@dataclass
class AnalysisConfig:
    """How the recording is read: the time grid (seconds a bin), chunks, which signals, decoding
    sizes."""
    hop: float = 0.5               # seconds per bin of every series
    chunk_seconds: float = 300.0   # longest independently analysed chunk
    # A short stream is cut into chunks of at least this length so the CLI can use every core.
    # Not shorter: a chunk's audio and packet scan already run side by side, and each costs an
    # ffmpeg start (~0.1 CPU-s with a distribution's ffmpeg), more than 150 s of either takes.
    min_chunk_seconds: float = 150.0
    workers: int = 0               # chunks analysed side by side by `peakclip clip` (0: one per core)
    audio_rate: int = 8000         # Hz of the mono PCM ffmpeg decodes for the audio detector
    audio_track: int = 0           # which audio stream (0 = first)
    visual_width: int = 64         # size of the grey key frames the visual detector compares
    visual_height: int = 36
    cut_threshold: float = 20.0    # grey-level difference (0-255) between sampled frames that is a scene cut
    # Scene cuts only move clip edges: "edges" decodes the key frames near the chosen clips' edges
    # only (pipeline/ranking/cuts.py); "all" decodes every key frame, so the manifest lists every cut.
    cuts: str = "edges"
    signals: list[str] = field(default_factory=lambda: list(SIGNALS))


@dataclass
class TranscriptConfig:
    """What was said: a transcript file or the recording's own subtitles, and burned-in captions."""
    # What was said, when: an SRT, WebVTT or Whisper JSON file, or "embedded" (the recording's own
    # subtitle stream). With one, clip edges fall on sentence boundaries and clips carry their text.
    path: str | None = None
    format: str | None = None      # force srt, webvtt or whisper-json instead of detecting it
    offset: float = 0.0            # seconds added to every time in the file (a transcript whose clock is off)
    stream: int = 0                # with "embedded": which subtitle stream, counted from 0
    # Burned-in captions (the one switch; `--captions FILE` sets `path` and this to "auto"):
    # "off", or "auto": from the transcript when there is one, else recognised from each chosen
    # clip's own span (never the whole stream) by `recogniser` in `language`.
    captions: str = "off"
    recogniser: str = "pocketsphinx"   # a registered name, or "package.module:ClassName"
    language: str = "en"           # what is spoken, for the recogniser ("en", "en-US", "zh", ...)


@dataclass
class FuseConfig:
    """How the signals become one score: baselines (seconds), caps (z units), weights, agreement."""
    baseline_window: float = 120.0  # seconds of the rolling median/MAD each signal is judged against
    smooth: float = 3.0            # seconds of the moving average applied to the fused score
    z_cap: float = 12.0            # one signal can add at most this many robust deviations
    weight_chat: float = 1.0
    weight_audio: float = 1.0
    weight_visual: float = 0.7
    # One signal alone rising is rarely a highlight (a music break is loud, a camera switch moves,
    # a bot floods the chat); several rising together usually is. This share of the fused score
    # comes from the second-strongest signal instead of the mean.
    agreement: float = 0.5
    # ... except the audience itself: the chat is people reacting, already counted person by person
    # with bots, commands, votes, spam and greetings left out. Where it rises more than this many
    # robust deviations above its baseline, the excess is a witness of its own, so a moment the
    # whole chat reacts to while sound and picture stay calm (a price reveal, a joke) is not
    # ranked below loud action nobody reacted to; ordinary chatter never gets that far.
    audience_floor: float = 5.0
    # ... and a wave: where the chat's mean over `audience_sustain` seconds stays at
    # `audience_sustained_floor` or more, it witnesses itself as a second signal at that floor
    # would. A slow wave of buying talk in a small room never rises past `audience_floor` in one
    # burst, yet stands out over its length more than ordinary chatter does: on the evaluation's
    # tune split, the chat's 10 s means away from any highlight reach 2.5 at most. 0 s: off.
    audience_sustain: float = 10.0
    audience_sustained_floor: float = 3.0
    # Loud and noisy (a crowd) counts fully; loud and tonal (music, the host) only this much.
    tonal_weight: float = 0.4
    tonal_flatness: float = 0.01   # spectral flatness at or below which a sound is tonal
    crowd_flatness: float = 0.2    # spectral flatness at or above which a sound is crowd-like noise
    # Smallest spread a baseline may have, in each signal's own unit, so that a flat stretch
    # (an empty chat, a still picture) does not turn one extra chatter or pixel into a huge jump.
    min_spread_chat: float = 1.0    # chatters
    min_spread_audio: float = 1.5   # dB
    min_spread_visual: float = 0.3  # log2 bytes per predicted frame (CBR: key frames' grey change); 0.3: 23% more

    def weight(self, signal: str) -> float:
        return getattr(self, f"weight_{signal}")

    def min_spread(self, signal: str) -> float:
        return getattr(self, f"min_spread_{signal}")


@dataclass
class SelectConfig:
    """How spans are chosen from the score: how many, their lengths (seconds), the floor (z units)."""
    clips: int = 5                 # how many clips at most
    min_len: float = 15.0          # seconds
    max_len: float = 60.0
    lead: float = 4.0              # seconds a clip starts before the moment rises
    tail: float = 3.0              # seconds it runs on after the moment falls
    # A clip's lead-in, moment and run-on, scaled about its peak (then held to min_len-max_len): a
    # channel whose audience prefers longer or shorter clips ranks with its learned factor here.
    length_scale: float = 1.0
    edge: float = 0.35             # the moment lasts while the score stays above this share of its peak
    min_score: float = 2.0         # peaks with a fused score below this are not highlights
    snap: float = 2.0              # span edges move to a scene cut or speech pause this close
    # With a transcript: a segment followed by this much silence ends a sentence, even without a
    # full stop (auto-captions have none), so a clip may open after it or close on it.
    sentence_gap: float = 0.6
    # A peak next to a chosen moment whose score never falls below this share of itself on the
    # way up to that moment is its decaying shoulder, not a moment of its own.
    shoulder: float = 0.75
    # The audience's delayed reaction to a moment already chosen is part of that moment, not a
    # clip of its own: a moment that starts within this many seconds of a chosen span's end and
    # that the chat alone carries (sound and picture each under `echo_calm` z) is skipped.
    echo_gap: float = 8.0
    echo_calm: float = 1.0
    # Live commerce (--per-product): instead of the best moments of the whole stream, the best
    # `clips_per_product` moments inside each presented product's on-air window(s), for every
    # product on air at least min_len in total. A product whose window holds no moment reaching
    # min_score still gets its best span, tiered C, unless `per_product_strict`.
    per_product: bool = False
    clips_per_product: int = 1
    per_product_strict: bool = False
    # Buyers act seconds after a price is revealed, so a moment inside a product's window scores
    # its fused score plus a bonus for that item's orders and carts in the `buying_lag` seconds
    # after it: weight x log(1 + count), so a burst of 20 orders adds ~3 deviations, not 20.
    buying_lag: float = 15.0
    weight_item_orders: float = 1.0
    weight_item_carts: float = 0.3
    # A bonus that size cannot outweigh a crowd roar (up to 9 where a quiet reveal scores 2), so where
    # the item sold in its window, its clip is chosen among the moments its buyers answered first:
    # those whose bonus is at least this share (0-1) of the largest in its windows (the burst after
    # the reveal, not a stray order). When none reaches min_score the clip is still the best of
    # them, tiered C (per_product_strict: no clip).
    buying_share: float = 0.5


@dataclass
class TagConfig:
    """Broadcast stages and the tier rules (rules.toml) that tag each clip."""
    stages: str = "3"              # N equal stages, or "auto": where the audience level shifts
    stage_at: list[str] = field(default_factory=list)  # explicit stage boundaries (01:20:00,...), instead
    auto_min_stage: float = 300.0  # auto: shortest stage, seconds
    auto_max_stages: int = 5       # auto: most stages
    auto_min_ratio: float = 2.0    # auto: how many times busier (or quieter) a new stage must be
    rules: str | None = None       # tier and promotion rules (TOML); default: pipeline/ranking/rules.toml


@dataclass
class ChannelConfig:
    """A channel whose audience teaches the ranking (docs/channels.md): its name, where the CLI keeps
    what it learned, and how far the learning may go."""
    name: str | None = None        # --channel: rank with what feedback on this channel's clips taught (None: the defaults)
    # Where `peakclip clip`, `watch` and `feedback` keep each channel's learning (one JSON file per
    # channel); default: $XDG_DATA_HOME/peakclip/channels (~/.local/share/peakclip/channels). The
    # queue and the service keep theirs in Redis (queue.result_backend).
    store: str | None = None
    prior_clips: float = 10.0      # shrinkage: the learning starts as if this many clips had shown no effect
    # How far a clear effect moves a weight: factor exp(gain x effect). The effect is log reward per
    # unit of a signal's share; at 1 a weight moves too little to overturn the default ranking's
    # larger score gaps (bench/channels.py, tuned on seeds 1-3, reported on 11-13).
    gain: float = 2.0
    max_factor: float = 3.0        # a signal's weight moves at most this many times up or down
    exposure: float = 300.0        # impressions at which a clip counts fully (the test pool's worth); more add no weight
    max_clips: int = 500           # clips remembered per channel; past it the earliest seen is forgotten


@dataclass
class RenderConfig:
    """How clips are encoded: formats, fill, x264 settings, loudness (LUFS, dBTP, LU), titles,
    captions."""
    enabled: bool = True
    formats: list[str] = field(default_factory=lambda: ["vertical"])  # rendered from one decode
    fill: str = "auto"             # vertical/portrait/square: "auto" (framed on the people, per shot: docs/framing.md),
                                   # "blur" (fit over a blurred copy) or "crop" (follow the motion)
    facecam: str = "auto"          # with fill auto: a streamer's webcam box "x,y,w,h" (pixels), "off", or "auto" (found)
    copy: bool = False             # with format source: cut on key frames without re-encoding
    # "full": every clip at the full profile (1080x1920 vertical, preset and crf below); "pools":
    # each at the profile of the pool its tier starts in (bundled rules: the trial pools' preview,
    # 720x1280), rendered again at full when feedback promotes it. Unset: full for `peakclip clip`
    # and peakclip.clip(), pools for the queue (submit, stream-end events) and live mode.
    profiles: str | None = None
    preset: str = "veryfast"       # libx264 preset
    crf: int = 21                  # libx264 quality
    audio_bitrate: str = "128k"
    loudness: float = -14.0        # integrated loudness target, LUFS (two-pass loudnorm)
    true_peak: float = -1.0        # dBTP ceiling
    loudness_range: float = 11.0   # LU
    fade: float = 0.3              # seconds of fade in and out, picture and sound
    blur_scale: int = 8            # the blurred fill is made at 1/N size, then scaled up (cheap)
    fill_fps: float = 10.0         # how often the blurred fill changes; repeated frames cost the encoder ~nothing
    fill_qoffset: float = 0.4      # x264 quantiser offset (0-1, ROI) for the blurred fill: fewer bits, faster
    crop_smooth: float = 1.5       # seconds over which the crop window's path is smoothed
    title: str | None = None       # text drawn near the top of every clip
    font: str | None = None        # font file for the title; default: a system font that covers CJK
    watermark: str | None = None   # PNG drawn in the top-right corner, 15% of the picture's width
    caption_max_chars: int = 20    # burned-in captions: width of a line in Latin characters (a CJK one counts two)
    caption_size: float = 0.071    # caption font size as a share of the picture's shorter side (77 px on 1080x1920)
    caption_bottom: float = 0.27   # tall pictures: share of the height below the captions, clear of the feed's UI
    caption_margin: float = 0.08   # other pictures: the same; every picture: share of the width free either side
    jobs: int = 0                  # clips rendered at once; 0 = from the core count
    thumbnail_width: int = 540
    preview_seconds: float = 3.0   # animated WebP preview around the peak
    preview_width: int = 320
    preview_fps: float = 10.0


def facecam_box(text: str) -> tuple[int, int, int, int] | None:
    """``render.facecam`` as a box (x, y, w, h, pixels of the recording), or None when it names none."""
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        return None
    x, y, w, h = (int(p) for p in parts)
    return (x, y, w, h) if w > 0 and h > 0 else None


@dataclass
class OutputConfig:
    """What a job writes beside its clips: the review report and editor timelines."""
    report: bool = True            # DIR/report.html: the review page (timeline, a card per clip)
    exports: list[str] = field(default_factory=list)  # timelines for an editor: edl, otio, fcpxml


@dataclass
class LiveConfig:
    """Live mode: how a growing recording is followed (chunks, polling, when it has ended) and when
    a highlight is confirmed; all in seconds."""
    chunk_seconds: float = 10.0    # `peakclip watch`: analyse the growing recording in chunks this long
    poll: float = 2.0              # seconds between looks at the recording
    idle_end: float = 30.0         # a growing file that has not grown for this long has ended
    settle: float = 2.0            # seconds past the chat's reaction window before a highlight is confirmed
    end_grace: float = 3.0         # after a stream-end webhook, seconds to wait for the last segment
    analyze_wait: float = 60.0     # queued watch: how long a chunk may wait for an analyze worker before it is done in place


@dataclass
class QueueConfig:
    """The worker fleet: broker and job store URLs, queue kind, heartbeats and time limits
    (seconds)."""
    broker_url: str = "redis://127.0.0.1:6379/0"      # also PEAKCLIP_BROKER_URL
    result_backend: str = "redis://127.0.0.1:6379/1"  # also PEAKCLIP_RESULT_BACKEND; job records live here too
    visibility_timeout: float = 3600.0  # seconds before a task a dead worker held is handed to another
    restore_interval: float = 10.0      # how often workers look for such tasks
    retries: int = 5                    # attempts on transient errors (lost connections, I/O), with backoff
    analyze_time_limit: float = 1800.0  # seconds one chunk analysis may take before it is killed
    render_time_limit: float = 3600.0   # seconds one clip render may take
    callback_url: str | None = None     # POSTed the manifest summary when a job ends (signed with service.secret)
    # Every job ends: each worker beats every `heartbeat` seconds; one silent for `worker_gone`
    # is taken as dead. Every `reconcile_interval` one worker (a lock in Redis picks it) compares
    # each open job's record with what is running: a step whose worker is gone, or whose message a
    # free worker of its queue has not taken within `stall_timeout`, is sent again; a step sent
    # again `max_attempts` times fails its job with the reason.
    heartbeat: float = 2.0
    worker_gone: float = 10.0
    reconcile_interval: float = 5.0
    stall_timeout: float = 60.0
    max_attempts: int = 5
    # RabbitMQ (amqp:// broker URLs): durable queues of this type ("quorum", replicated and
    # crash-safe, RabbitMQ 3.8 and later; or "classic"), with publisher confirms.
    queue_type: str = "quorum"


@dataclass
class ServiceConfig:
    """The webhook service: where it listens, its secrets, and the folder events may name files in."""
    host: str = "127.0.0.1"
    port: int = 8080
    secret: str | None = None           # PEAKCLIP_WEBHOOK_SECRET: HMAC key of signed hooks and of the completion callback
    token: str | None = None            # nginx-rtmp / SRS callbacks: ?token=...; default: the secret
    twitch_secret: str | None = None    # the EventSub subscription's secret; default: the secret
    recordings_root: str | None = None  # PEAKCLIP_RECORDINGS_ROOT: every recording and chat path must be inside it
    output_root: str | None = None      # PEAKCLIP_OUTPUT_ROOT: each job writes under it
    max_body: int = 65536               # bytes; larger requests are refused (413)
    tolerance: float = 300.0            # seconds a signed request's timestamp may be off (stale: 401)
    twitch_tolerance: float = 600.0     # Twitch messages older than this are refused
    twitch_recording: str = "{broadcaster_user_login}.mp4"  # where a broadcaster's recording is, under the root
    twitch_chat: str | None = None      # likewise for its chat log, if any
    # Live mode: where the recording server writes a stream's HLS playlist, under the root
    # (nginx-rtmp `hls_path`), or its URL where the server serves it over HTTP
    # ("http://ingest:8080/hls/{name}.m3u8"); set, an on_publish callback starts a watch of it.
    live_playlist: str | None = None    # e.g. "hls/{name}.m3u8"
    # Stream end from an object store (POST /hooks/store): a recording created under this bucket
    # and prefix queues a job, e.g. "s3://recordings/shows/".
    store_watch: str | None = None
    # Where those jobs write: each under <store_output>/<its key below the prefix, without the
    # suffix>, e.g. "s3://clips/" (or a folder every worker mounts).
    store_output: str | None = None
    # What an object's name ends with when it is a recording (in any case).
    store_recordings: list[str] = field(default_factory=lambda: list(RECORDING_SUFFIXES))
    # The chat log beside a recording, by name: {stem} is the recording's name without its
    # suffix, {name} its whole name; "" for none. A log that is not there is left out of the job.
    store_chat: str | None = "{stem}.chat.json"
    # Likewise the events log (commerce events, --events) beside it.
    store_events: str | None = "{stem}.events.jsonl"


@dataclass
class Config:
    """Every setting, by section: built-in defaults < TOML file (--config) < PEAKCLIP_* environment
    < flags."""
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    transcript: TranscriptConfig = field(default_factory=TranscriptConfig)
    fuse: FuseConfig = field(default_factory=FuseConfig)
    select: SelectConfig = field(default_factory=SelectConfig)
    tag: TagConfig = field(default_factory=TagConfig)
    channel: ChannelConfig = field(default_factory=ChannelConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Config":
        config = cls()
        config.update(data, origin="config")
        return config

    def for_path(self, path: str) -> "Config":
        """The configuration a job run on ``path`` renders with ("clip": ``peakclip clip`` and
        peakclip.clip(); "queue"; "live"): a copy whose ``render.profiles``, where unset, is that
        path's default (``PROFILES_BY_PATH``)."""
        profiles = self.render.profiles or PROFILES_BY_PATH[path]
        return dataclasses.replace(self, render=dataclasses.replace(self.render, profiles=profiles))

    def update(self, data: Mapping[str, Any], origin: str) -> None:
        """Apply ``{section: {field: value}}``, converting and checking each value."""
        for section_name, values in data.items():
            section = getattr(self, section_name, None)
            if section is None or not dataclasses.is_dataclass(section) or not isinstance(values, Mapping):
                raise UserError(f"{origin}: unknown config section [{section_name}]")
            types = {f.name: f for f in dataclasses.fields(section)}
            for key, value in values.items():
                if key not in types:
                    raise UserError(f"{origin}: unknown setting {section_name}.{key}")
                setattr(section, key, _convert(getattr(section, key), value, f"{section_name}.{key}", origin))
        self.validate()

    def validate(self) -> None:
        s, a = self.select, self.analysis
        if s.clips < 1:
            raise UserError("--clips must be at least 1")
        if s.min_len <= 0 or s.max_len <= 0:
            raise UserError("--min-len and --max-len must be positive")
        if s.clips_per_product < 1:
            raise UserError("--clips-per-product must be at least 1")
        if s.buying_lag < 0 or s.weight_item_orders < 0 or s.weight_item_carts < 0:
            raise UserError("select.buying_lag, weight_item_orders and weight_item_carts must be 0 or more")
        if not 0 < s.buying_share <= 1:
            raise UserError("select.buying_share is a share of the largest buying bonus: more than 0, at most 1")
        if not s.length_scale > 0:
            raise UserError(f"select.length_scale must be positive (got {s.length_scale:g})")
        if s.min_len > s.max_len:
            raise UserError(f"--min-len ({s.min_len:g}) is longer than --max-len ({s.max_len:g})")
        if a.audio_track < 0:
            raise UserError("--audio-track counts from 0 (the first track)")
        if a.hop <= 0 or a.chunk_seconds <= 0 or a.min_chunk_seconds <= 0 or a.workers < 0:
            raise UserError("analysis.hop, analysis.chunk_seconds and analysis.min_chunk_seconds must be positive, "
                            "analysis.workers 0 or more")
        if a.cuts not in CUTS:
            raise UserError(f"analysis.cuts is one of {', '.join(CUTS)} (got {a.cuts!r})")
        unknown = [x for x in a.signals if x not in SIGNALS]
        if unknown or not a.signals:
            raise UserError(f"--signals takes a comma list of {', '.join(SIGNALS)} (got {','.join(a.signals) or 'nothing'})")
        t = self.transcript
        if t.format and t.format not in TRANSCRIPT_FORMATS:
            raise UserError(f"transcript.format must be one of {', '.join(TRANSCRIPT_FORMATS)} (got {t.format!r})")
        if t.stream < 0:
            raise UserError("transcript.stream counts from 0 (the first subtitle stream)")
        if t.captions not in CAPTIONS:
            raise UserError(f"transcript.captions must be off or auto (got {t.captions!r}); captions from a file: "
                            f"--captions FILE, or transcript.path = FILE with captions = \"auto\"")
        if self.tag.stages != "auto" and not (self.tag.stages.isdigit() and int(self.tag.stages) >= 1):
            raise UserError(f"--stages takes a number of stages or 'auto' (got {self.tag.stages!r})")
        c = self.channel
        if c.name is not None:
            check_channel_name(c.name)
        if c.prior_clips <= 0 or c.max_factor < 1 or c.exposure <= 0 or c.max_clips < 1 or c.gain < 0:
            raise UserError("channel.prior_clips and channel.exposure must be positive, channel.max_factor at least 1, "
                            "channel.max_clips at least 1, channel.gain not negative")
        r = self.render
        bad = [f for f in r.formats if f not in FORMATS]
        if bad or not r.formats or len(set(r.formats)) != len(r.formats):
            raise UserError(f"--format takes a comma list of {', '.join(FORMATS)} (got {','.join(r.formats) or 'nothing'})")
        if r.fill not in FILLS:
            raise UserError(f"--fill must be one of {', '.join(FILLS)} (got {r.fill!r})")
        if r.facecam not in ("auto", "off") and facecam_box(r.facecam) is None:
            raise UserError(f"--facecam takes X,Y,W,H in pixels of the recording, auto or off (got {r.facecam!r})")
        if r.profiles is not None and r.profiles not in PROFILES:
            raise UserError(f"render.profiles (--profiles) must be {' or '.join(PROFILES)} (got {r.profiles!r})")
        if r.copy and r.formats != ["source"]:
            raise UserError("--copy cuts without re-encoding, so it needs --format source alone")
        if r.watermark and not is_object(r.watermark) and not os.path.isfile(r.watermark):
            raise UserError(f"watermark image not found: {r.watermark}")
        if r.font and not os.path.isfile(r.font):
            raise UserError(f"font file not found: {r.font}")
        if r.jobs < 0:
            raise UserError("--jobs must be 0 (automatic) or more")
        if (r.caption_max_chars < 2 or r.caption_size <= 0 or not 0 <= r.caption_bottom < 1
                or not 0 <= r.caption_margin < 0.5):
            raise UserError("render.caption_max_chars must be at least 2 (a CJK character), caption_size positive, "
                            "caption_bottom and caption_margin shares of the picture")
        q = self.queue
        if q.queue_type not in ("quorum", "classic"):
            raise UserError(f"queue.queue_type must be quorum or classic (got {q.queue_type!r})")
        if min(q.heartbeat, q.reconcile_interval, q.stall_timeout) <= 0 or q.worker_gone <= 2 * q.heartbeat \
                or q.max_attempts < 1:
            raise UserError("queue.heartbeat, reconcile_interval and stall_timeout must be positive, worker_gone more "
                            "than two heartbeats, max_attempts at least 1")
        v = self.service
        if v.store_watch and not is_object(v.store_watch):
            raise UserError(f"service.store_watch is a bucket and prefix, s3://bucket/prefix/ (got {v.store_watch!r})")
        if v.store_watch and is_object(v.store_output) and (v.store_output.startswith(v.store_watch)
                                                            or v.store_watch.startswith(v.store_output)):
            # Else every clip uploaded would be a recording created under the watch, and queue a job of its own.
            raise UserError(f"service.store_output ({v.store_output}) and service.store_watch ({v.store_watch}) "
                            "overlap: put the clips outside the watched prefix")
        for name in ("store_chat", "store_events"):
            rule = getattr(v, name)
            try:
                rule and rule.format(stem="x", name="x.mp4")
            except (KeyError, IndexError, ValueError):
                raise UserError(f"service.{name} may name {{stem}} and {{name}} only (got {rule!r})") from None
            if rule and "/" in rule:
                raise UserError(f"service.{name} names a file beside the recording, without a folder (got {rule!r})")
        bad = [x for x in self.output.exports if x not in EXPORT_FORMATS]
        if bad:
            raise UserError(f"--export takes a comma list of {', '.join(EXPORT_FORMATS)} (got {','.join(bad)})")


def check_channel_name(name: str) -> str:
    """A channel's name as given (letters, digits, ``_.-``, at most 64: it names a file and a
    Redis key); a one-line UserError else."""
    if not isinstance(name, str) or not CHANNEL_NAME.fullmatch(name):
        raise UserError(f"channel name {name!r}: use letters, digits, '_', '.' and '-' (at most 64, "
                        "starting with a letter or digit)")
    return name


def captions_overrides(value: str, transcript: str | None = None) -> dict:
    """``--captions off|auto|FILE`` (and the service's ``options.captions``) as config overrides:
    FILE is ``--transcript FILE`` with captions on, so the transcript has one setting, its path.
    ``transcript``: the ``--transcript`` given beside it, which must then be the same file."""
    if not value.strip():
        raise UserError("--captions takes off, auto or a transcript FILE (got nothing)")
    if value in CAPTIONS:
        return {"transcript": {"captions": value}}
    if transcript and transcript != value:
        raise UserError(f"--captions {value} and --transcript {transcript}: give the transcript once "
                        "(--captions FILE reads FILE as the transcript and captions the clips from it)")
    return {"transcript": {"captions": "auto", "path": value}}


def _convert(default: Any, value: Any, name: str, origin: str) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes")
            return bool(value)
        if isinstance(default, list):
            return [x.strip() for x in value.split(",") if x.strip()] if isinstance(value, str) else list(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return None if value in (None, "") else str(value)
    except (TypeError, ValueError):
        raise UserError(f"{origin}: {name} has a bad value {value!r}") from None


# Environment names that operators expect, besides the PEAKCLIP_SECTION_FIELD pattern.
ENV_ALIASES = {
    "PEAKCLIP_BROKER_URL": ("queue", "broker_url"),
    "PEAKCLIP_RESULT_BACKEND": ("queue", "result_backend"),
    "PEAKCLIP_WEBHOOK_SECRET": ("service", "secret"),
    "PEAKCLIP_RECORDINGS_ROOT": ("service", "recordings_root"),
    "PEAKCLIP_OUTPUT_ROOT": ("service", "output_root"),
}


def env_overrides(environ: Mapping[str, str]) -> dict:
    """``PEAKCLIP_SECTION_FIELD=value`` variables (and the aliases) as ``{section: {field: value}}``."""
    sections = {f.name for f in dataclasses.fields(Config)}
    found: dict[str, dict] = {}
    for key, (section, name) in ENV_ALIASES.items():
        if environ.get(key):
            found.setdefault(section, {})[name] = environ[key]
    for key, value in environ.items():
        if not key.startswith("PEAKCLIP_") or key in ENV_ALIASES:
            continue
        section, _, name = key[len("PEAKCLIP_"):].lower().partition("_")
        if section in sections and name:
            found.setdefault(section, {})[name] = value
    return found


def load_config(path: str | None = None, environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Config:
    """The configuration from the defaults, the TOML file at ``path``, the environment
    (``PEAKCLIP_SECTION_FIELD``) and ``overrides`` (``{section: {field: value}}``), each over the
    one before; a bad value is a one-line UserError."""
    config = Config()
    if path:
        try:
            with open(path, "rb") as handle:
                config.update(tomllib.load(handle), origin=path)
        except FileNotFoundError:
            raise UserError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise UserError(f"config file {path} is not valid TOML: {err}") from None
    config.update(env_overrides(os.environ if environ is None else environ), origin="environment")
    if overrides:
        config.update(overrides, origin="command line")
    return config
