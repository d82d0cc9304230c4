"""Live mode: follow a recording while the stream is on air, and clip its highlights as they happen.

``watch`` follows a growing recording (an HLS playlist a recording server appends to, or a growing
MPEG-TS / FLV / MKV file), analyses each new chunk with the same ``analyze_chunk`` as the batch
path, and after each chunk ranks the stream so far. A highlight is *confirmed* once the reaction
window after it has passed (chat trails the moment by ``chat.lag`` + ``chat.window`` seconds, and
the clip's tail must exist): it is rendered at once as a provisional clip, tiered against the
stream so far. Decisions only use what has been recorded: baselines and stages are those of the
stream so far.

At stream end (``#EXT-X-ENDLIST``, a file that stopped growing for ``live.idle_end`` seconds, or
``stop()``) only the last chunk is left to analyse; the whole stream is re-ranked exactly as
``peakclip clip`` would rank it (the chunk results are the same, whatever the chunking), the final
clips are rendered (a final clip whose span a provisional clip already has reuses its file), and the
manifest says of each provisional clip whether it was kept, re-tiered or withdrawn.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin

from peakclip.detectors.chat import ChatLog, read_chat
from peakclip.detectors.chat.log import ChatFollower
from peakclip.detectors.chunks import Chunk
from peakclip.detectors.errors import MediaError, UserError
from peakclip.detectors.objects import check_bucket, is_object, join, upload
from peakclip.detectors.probe import Probe, is_url, probe
from peakclip.detectors.storage import write_atomic, write_json_atomic
from peakclip.detectors.transcript import Segment, Transcript
from peakclip.detectors.visual import KEYFRAME_LEAD
from peakclip.pipeline.analysis.assemble import assemble
from peakclip.pipeline.analysis.chunk import ChunkResult, analyze_chunk, media_signals
from peakclip.pipeline.analysis.plan import Plan, load_transcript
from peakclip.pipeline.config import Config
from peakclip.pipeline.executors.run import publish
from peakclip.pipeline.output.captions import captions_for, check_captions, clip_captions
from peakclip.pipeline.output.finish import check_output_dir, finish
from peakclip.pipeline.output.names import MANIFEST
from peakclip.pipeline.output.render import render_captioned, render_clips, resumed_note
from peakclip.pipeline.ranking.channel import Learned
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.rank import Ranking, rank
from peakclip.pipeline.ranking.rules import load_rules

# ---- what of the recording exists now -----------------------------------------------------------

FETCH_TIMEOUT = 10.0   # seconds to wait for a playlist or segment over HTTP before asking again next poll

@dataclass
class Playlist:
    """An HLS playlist as read so far: its segments and whether the stream has ended; or, for a
    master playlist, the variant streams it lists."""
    segments: list[tuple[str, float]]   # absolute path or URL of each segment, its length in seconds
    ended: bool                         # #EXT-X-ENDLIST: the recording server closed the stream
    variants: list[tuple[int, str]] = field(default_factory=list)   # (bandwidth in bit/s, playlist URI)

    @property
    def duration(self) -> float:
        return sum(length for _, length in self.segments)


def parse_playlist(text: str, base: str) -> Playlist:
    """An HLS media playlist's text; segment URIs are made absolute against ``base`` (the
    playlist's folder, or its URL)."""
    segments, variants, length, bandwidth, ended = [], [], None, None, False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            try:
                length = float(line[len("#EXTINF:"):].split(",")[0])
            except ValueError:
                length = None
        elif line.startswith("#EXT-X-STREAM-INF:"):
            found = re.search(r"(?<![-\w])BANDWIDTH=(\d+)", line)
            bandwidth = int(found.group(1)) if found else 0
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            if is_url(base):
                uri = urljoin(base, line)
            else:
                uri = line if "://" in line or os.path.isabs(line) else os.path.join(base, line)
            if length is not None:
                segments.append((uri, length))
            elif bandwidth is not None:
                variants.append((bandwidth, uri))
            length = bandwidth = None
    return Playlist(segments, ended, variants)


def read_playlist(path: str) -> Playlist | None:
    """The HLS media playlist at ``path`` (a file, or an http(s) URL: a recording server on another
    machine), or None while there is none to read (not written yet; the server not answering)."""
    raw = read_whole(path)
    if raw is None:
        return None
    base = path if is_url(path) else os.path.dirname(os.path.abspath(path))
    return parse_playlist(raw.decode("utf-8", "replace"), base)


def fetch(url: str) -> bytes | None:
    """The body of ``url``, or None if it could not be had whole now (not there yet, the server
    down or slow): the next poll asks again."""
    try:
        with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT) as answer:
            return answer.read()
    except (OSError, ValueError, http.client.HTTPException):   # URLError and HTTPError are OSErrors
        return None


def write_snapshot(playlist: Playlist, path: str) -> None:
    """The playlist so far as a finished (VOD) playlist: ffmpeg reads a playlist without
    ``#EXT-X-ENDLIST`` as live and starts near its end; a finished one it reads and seeks whole."""
    target = max([1] + [int(length) + 1 for _, length in playlist.segments])
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD"]
    for uri, length in playlist.segments:
        lines += [f"#EXTINF:{length:.3f},", uri]
    write_atomic(path, "\n".join(lines + ["#EXT-X-ENDLIST", ""]))


class GrowingSource:
    """A recording that is still being written. ``poll()`` says how many seconds of it exist,
    whether the stream has ended, and gives a path ffmpeg can read that far as a finished file.

    An HLS recording's MPEG-TS segments are appended, as they are listed, to one growing file
    (``DIR/recording.ts``; TS segments of one stream join byte for byte): ffmpeg seeks in a TS
    file to the sample, but in a playlist only roughly, and chunk results must not depend on
    where seams fall. Other segment kinds are read through a finished copy of the playlist."""

    def __init__(self, path: str, folder: str, idle_end: float):
        self.path = path
        self.is_playlist = path.lower().split("?")[0].endswith((".m3u8", ".m3u"))
        self.assembled = os.path.join(folder, "recording.ts")
        self.snapshot = os.path.join(folder, ".live", "recording.m3u8")
        self.appended = 0
        self.idle_end = idle_end
        self.last_size, self.last_growth = -1, time.monotonic()
        self.listed = 0                                       # segments the playlist listed at the last look
        self.last_read: tuple[float, str | None] = (0.0, None)  # what the last look at the playlist gave
        self.stopped = threading.Event()
        self.stopped_at: float | None = None

    def stop(self, grace: float) -> None:
        """The stream ended (a webhook said so): end after ``grace`` seconds, so the recording
        server's last segment, written as the stream closes, is still taken in."""
        if self.stopped_at is None:
            self.stopped_at = time.monotonic() + grace
        if time.monotonic() >= self.stopped_at:
            self.stopped.set()

    def idle(self) -> bool:
        """Nothing new for ``idle_end`` seconds: the path is wrong, the stream never came, or its
        recording server went away without closing it."""
        return time.monotonic() - self.last_growth >= self.idle_end

    def poll(self) -> tuple[float, bool, str | None]:
        if self.stopped_at is not None:
            self.stop(0)
        if self.is_playlist:
            return self.poll_playlist()
        if not os.path.exists(self.path):
            return 0.0, self.stopped.is_set() or self.idle(), None   # the recording server has not started writing yet
        size = os.path.getsize(self.path)
        now = time.monotonic()
        if size != self.last_size:
            self.last_size, self.last_growth = size, now
        ended = self.idle() or self.stopped.is_set()
        try:
            duration = probe(self.path).duration
        except MediaError:
            return 0.0, ended, None  # not enough written to read yet
        return duration, ended, self.path

    def poll_playlist(self) -> tuple[float, bool, str | None]:
        playlist = read_playlist(self.path)
        if playlist is not None and playlist.variants and not playlist.segments:
            # A master playlist (what players are given): follow its best variant from now on.
            self.path = max(playlist.variants)[1]
            playlist = read_playlist(self.path)
        if playlist is None:
            # Not written yet, or its server not answering this once: what was read stands.
            duration, readable = self.last_read
            return duration, self.stopped.is_set() or self.idle(), readable
        if len(playlist.segments) != self.listed:
            self.listed, self.last_growth = len(playlist.segments), time.monotonic()
        ended = playlist.ended or self.stopped.is_set() or self.idle()
        if not playlist.segments:
            return 0.0, ended, None
        if all(uri.lower().split("?")[0].endswith(".ts") for uri, _ in playlist.segments):
            self.append(playlist.segments)
            if self.appended < len(playlist.segments):
                # A segment could not be read now: the end waits for it (unless nothing has come for idle_end).
                ended = self.stopped.is_set() or self.idle()
            if not self.appended:
                return 0.0, ended, None
            readable = self.assembled
            duration = sum(length for _, length in playlist.segments[:self.appended])
        else:
            write_snapshot(playlist, self.snapshot)
            readable, duration = self.snapshot, playlist.duration
        # At the end, the length ffmpeg reads (as a batch run will), not the sum of the segments'
        # announced lengths, which can be off by a frame or two.
        self.last_read = (probe(readable).duration if ended else duration), readable
        return self.last_read[0], ended, readable

    def append(self, segments: list[tuple[str, float]]) -> None:
        """Join the segments not yet joined to the assembled recording, in order, each whole; stop
        at the first that cannot be read now (fetched over HTTP when the playlist lists URLs)."""
        with open(self.assembled, "ab") as out:
            for uri, _ in segments[self.appended:]:
                data = read_whole(uri)
                if data is None:
                    return
                out.write(data)
                out.flush()
                self.appended += 1


def read_whole(uri: str) -> bytes | None:
    """A playlist's or segment's bytes (a file, or fetched over HTTP), or None while they cannot
    be had."""
    if is_url(uri):
        return fetch(uri)
    try:
        with open(uri, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def refuse_objects(*inputs: str | None) -> None:
    """A watch reads its recording, chat, events and transcript from files or URLs, not objects."""
    named = next((path for path in inputs if is_object(path)), None)
    if named:
        raise UserError(f"watch does not read objects (s3://) yet, only writes to them: {named}")


# ---- the watch ---------------------------------------------------------------------------------------

@dataclass
class Provisional:
    """A clip cut while the stream was on air, and what became of it at the end."""
    clip: Clip
    decided_at: float                      # seconds of the stream analysed when it was confirmed
    outcome: str = "pending"               # kept, re-tiered, withdrawn (at stream end)
    final_id: str | None = None
    final_tier: str | None = None

    def to_dict(self) -> dict:
        return {**self.clip.to_dict(), "provisional": True, "decided_at": self.decided_at, "outcome": self.outcome,
                "final_id": self.final_id, "final_tier": self.final_tier}

    @classmethod
    def from_dict(cls, data: dict) -> "Provisional":
        own = ("provisional", "decided_at", "outcome", "final_id", "final_tier")
        clip = Clip(**{k: v for k, v in data.items() if k not in own})
        return cls(clip, data["decided_at"], data["outcome"], data["final_id"], data["final_tier"])


@dataclass
class Watch:
    """The state of one followed stream; ``run()`` follows it to the end and returns the manifest."""
    source: str
    chat_path: str | None
    out_dir: str
    config: Config
    on_clip: Callable[[Provisional], None] | None = None
    on_note: Callable[[str], None] | None = None    # what a person at the terminal should be told
    should_stop: Callable[[], bool] | None = None   # asked at every poll: has the stream ended?
    # Called before each read of the chat log: the queue fills it from the service's events in Redis.
    refresh_chat: Callable[[], None] | None = None
    # How a chunk is analysed: here by default; the queue path hands it to the analyze queue.
    analyse: Callable[[str, Chunk, list[str]], ChunkResult] | None = None
    chunks: list[Chunk] = field(default_factory=list)
    results: list[ChunkResult] = field(default_factory=list)
    provisional: list[Provisional] = field(default_factory=list)
    analysed: float = 0.0
    chat_follower: ChatFollower | None = None
    # The change across each key-frame pair decoded for a ranking so far (by the later key frame's
    # time): the stream is ranked again after every chunk, mostly about the same clip edges, and a
    # pair's pictures never change once recorded.
    judged: dict[float, float] = field(default_factory=dict)
    # --channel: what the channel has learned (pipeline.ranking.channel), read when the watch starts
    # from the store of whoever runs it (this machine's file for `peakclip watch`, Redis for the queue).
    learned: Learned | None = None

    def __post_init__(self):
        self.config = self.config.for_path("live")   # its final clips: at their pools' profiles unless told
        refuse_objects(self.source, self.chat_path, self.config.chat.events, self.config.transcript.path)
        check_captions(self.config.transcript)
        # Output to a bucket: the watch works in a scratch folder of its own (the joined recording
        # beside, not in, what is published), and each provisional clip's files and then the
        # manifest go up as they are written, so the bucket's manifest names only objects there.
        self.bucket: str | None = None
        self.uploaded: set[str] = set()
        self.scratch: str | None = None
        recording_dir = self.out_dir
        if is_object(self.out_dir):
            check_bucket(self.out_dir)
            self.bucket, self.scratch = self.out_dir, tempfile.mkdtemp(prefix="peakclip-watch-")
            recording_dir, self.out_dir = self.scratch, os.path.join(self.scratch, "out")
        check_output_dir(self.out_dir)
        self.growing = GrowingSource(self.source, recording_dir, self.config.live.idle_end)
        if self.growing.is_playlist and os.path.exists(self.growing.assembled):
            os.remove(self.growing.assembled)     # a rerun assembles the recording afresh

    def resume(self, done: list[tuple[Chunk, ChunkResult]], provisional: list[Provisional]) -> None:
        """Take over a watch another process began (its worker died): the chunks it analysed, in
        order from the first (up to the first gap), and the provisional clips it confirmed, which
        are not rendered again. Chunk results do not depend on where seams fall, so carrying on
        from there gives what one uninterrupted watch gives."""
        for expected, (chunk, result) in enumerate(sorted(done, key=lambda pair: pair[0].index)):
            if chunk.index != expected:
                break
            self.chunks.append(chunk)
            self.results.append(result)
            self.analysed = chunk.end
        self.provisional = sorted(provisional, key=lambda p: p.clip.rank)

    def stop(self) -> None:
        """End the watch from outside (the stream-end webhook): it finalises shortly after."""
        self.growing.stop(self.config.live.end_grace)

    def plan(self, path: str, duration: float) -> Plan:
        """The stream so far as a plan: named as the recording a batch run would be given (the
        assembled TS of an HLS stream, else what was followed), so clip ids are the batch path's;
        ``duration`` long, with the chunks analysed so far."""
        recording = self.source if path == self.growing.snapshot else path
        source = probe(path)
        source.path, source.duration = recording, duration
        source.audio_track = self.config.analysis.audio_track
        media, warnings = media_signals(source, self.config.analysis.signals)
        return Plan(recording, self.chat_path, source, self.chunks, media, warnings)

    def chat(self, duration: float, whole: bool = False) -> ChatLog | None:
        """The chat so far: the lines added since the last look (``ChatFollower``), or with
        ``whole`` the entire log read as a batch run reads it (at the end, for the final ranking)."""
        if self.refresh_chat:
            self.refresh_chat()
        if not self.chat_path or not os.path.exists(self.chat_path):
            return None
        try:
            if whole:
                return read_chat(self.chat_path, self.config.chat, self.config.analysis.hop, duration)
            if self.chat_follower is None:
                self.chat_follower = ChatFollower(self.chat_path, self.config.chat, self.config.analysis.hop)
            return self.chat_follower.read(duration)
        except UserError:
            return None          # a log just created and still empty of anything readable

    def transcript(self, recording: str) -> tuple[Transcript | None, list[str]]:
        """The transcript, read once at the stream's end (a live captioner writes it as the stream
        runs), and warnings: one that cannot be read then costs the final clips their sentence
        edges, not the whole watch."""
        try:
            return load_transcript(self.config.transcript, recording), []
        except UserError as err:
            return None, [f"{err}: clipped without the transcript"]

    def speech_so_far(self, recording: str) -> list[Segment] | None:
        """For a provisional clip's captions: the transcript as far as it is written now (a live
        captioner's file grows with the stream); None without one, or when it cannot be read yet."""
        if self.config.transcript.captions == "off" or not self.config.transcript.path:
            return None
        transcript, _ = self.transcript(recording)
        return transcript.segments if transcript else None

    def ready_chunks(self, available: float, ended: bool) -> list[Chunk]:
        """The chunks that can be analysed now: every one complete with the few seconds after it
        the visual detector looks at; at stream end, the rest."""
        step = max(self.config.analysis.hop, round(self.config.live.chunk_seconds / self.config.analysis.hop)
                   * self.config.analysis.hop)
        ready, start = [], self.analysed
        while True:
            end = round(start + step, 6)
            if ended:
                if start >= available - 1e-6:
                    break
                end = available if available - end < step / 4 else min(end, available)
            elif end + KEYFRAME_LEAD > available:
                break
            ready.append(Chunk(len(self.results) + len(ready), start, end))
            start = end
        return ready

    def analyse_chunks(self, path: str, chunks: list[Chunk], plan: Plan) -> None:
        for chunk in chunks:
            if self.analyse is not None:
                self.results.append(self.analyse(path, chunk, plan.media))
            else:
                self.results.append(analyze_chunk(path, chunk, plan.media, self.config.analysis))
            self.chunks.append(chunk)
            self.analysed = chunk.end

    def confirm(self, path: str, ranking: Ranking) -> None:
        """Render the highlights whose reaction window has passed and that no provisional clip covers."""
        # The audience's reaction to the end of the span arrives up to chat.lag later; a peak's
        # chat count runs on for chat.window after it.
        chat = self.config.chat
        for clip in ranking.clips:
            confirmed = max(clip.end + chat.lag, clip.peak + chat.lag + chat.window) + self.config.live.settle
            window = product_window(clip, ranking.products)
            if window is not None:
                # --per-product: a product's clip is final once the host moved on to the next
                # product (its window closed), so the seller can post it while still on air.
                confirmed = window[1] if window[1] < self.analysed else float("inf")
                if any(p.clip.item == clip.item and window[0] <= p.clip.peak < window[1] for p in self.provisional):
                    continue
            if confirmed > self.analysed or any(overlap(clip, p.clip) > 0 for p in self.provisional):
                continue
            clip.rank = len(self.provisional) + 1
            source = Probe.from_dict({**ranking.probe.to_dict(), "path": path})
            rendered = None
            if self.config.render.enabled and source.has_video:
                captions = captions_for(clip, source, self.speech_so_far(path), self.config)
                rendered = render_captioned(source, clip, os.path.join(self.out_dir, "live"), self.config.render,
                                            captions=captions)
                if rendered.heard is not None:
                    clip.text = rendered.heard
            if rendered is not None and rendered.error is None:
                clip.file, clip.files = "live/" + rendered.files[self.config.render.formats[0]], {
                    fmt: "live/" + f for fmt, f in rendered.files.items()}
                clip.thumbnail, clip.preview = "live/" + rendered.thumbnail, "live/" + rendered.preview
                clip.captions = "live/" + rendered.srt if rendered.srt else None
                self.send_up(["live/" + name for name in rendered.all()])
            item = Provisional(clip, round(self.analysed, 3))
            self.provisional.append(item)
            self.write_live_manifest(ranking.probe, ranking.warnings)
            if self.on_clip:
                self.on_clip(item)

    def write_live_manifest(self, source: Probe, warnings: list[str]) -> None:
        write_json_atomic(os.path.join(self.out_dir, MANIFEST), {
            "schema": "peakclip/manifest@1", "live": {"state": "on air", "analysed_until": round(self.analysed, 3)},
            "source": {"path": self.shown(source.path), "duration": round(self.analysed, 3),
                       "has_audio": source.has_audio, "has_video": source.has_video},
            "clips": [], "provisional": [p.to_dict() for p in self.provisional], "warnings": warnings})
        self.send_up([MANIFEST])

    def shown(self, recording: str) -> str:
        """The recording as a manifest names it: for a bucket, the stream followed (without its
        query: a token stays out), not this worker's scratch copy."""
        return self.source.split("?")[0] if self.bucket else recording

    def send_up(self, names: list[str]) -> None:
        """With a bucket output: upload these files of the output folder (relative, ``/``) whole."""
        if self.bucket:
            for name in names:
                upload(os.path.join(self.out_dir, name), join(self.bucket, name))
                self.uploaded.add(name)

    def note(self, text: str) -> None:
        if self.on_note:
            self.on_note(text)

    def run(self) -> dict:
        try:
            return self.follow()
        finally:
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)

    def follow(self) -> dict:
        poll = self.config.live.poll
        waiting_told = False
        while True:
            if self.should_stop and self.should_stop():
                self.stop()
            available, ended, path = self.growing.poll()
            if path is None:
                if ended:
                    raise MediaError(f"nothing readable appeared at {self.source} (waited {self.config.live.idle_end:g} s, "
                                     "live.idle_end): check the path, or that the stream started")
                if not waiting_told:
                    waiting_told = True
                    what = "an HLS playlist with segments" if self.growing.is_playlist else "a readable recording"
                    self.note(f"waiting for {what} at {self.source} (giving up after {self.config.live.idle_end:g} s "
                              "with nothing, live.idle_end)")
                time.sleep(poll)
                continue
            ready = self.ready_chunks(available, ended)
            if not ready and not ended:
                time.sleep(poll)      # nothing new to analyse: no need to probe the recording again
                continue
            plan = self.plan(path, available)
            self.analyse_chunks(path, ready, plan)
            if ready and not ended:
                plan.probe.duration = self.analysed
                analysis = assemble(plan, self.results, self.chat(self.analysed), self.config)
                ranking = rank(analysis, self.config, self.judged, self.learned)
                self.confirm(path, ranking)
                self.write_live_manifest(ranking.probe, ranking.warnings)   # how far the watch has got
            if ended:
                return self.finish(path, plan)
            time.sleep(poll)

    def finish(self, path: str, plan: Plan) -> dict:
        """The whole stream, ranked as the batch path ranks it; provisional clips judged against it."""
        plan.probe.duration = self.analysed
        transcript, problems = self.transcript(path)
        ranking = rank(assemble(plan, self.results, self.chat(self.analysed, whole=True), self.config, transcript),
                       self.config, self.judged, self.learned)
        ranking.warnings += problems
        if self.chat_path and not os.path.exists(self.chat_path):
            ranking.warnings.append(f"chat log {self.chat_path} never appeared: clipped without chat")
        readable = Probe.from_dict({**ranking.probe.to_dict(), "path": path})
        rendered = []
        if self.config.render.enabled and ranking.probe.has_video:
            captions = clip_captions(ranking.clips, readable, transcript, self.config)
            rules = load_rules(self.config.tag.rules)
            rendered = render_clips(readable, ranking.clips, self.out_dir, self.config.render, captions=captions,
                                    profile_of=lambda clip: rules.start_profile(clip.pool,
                                                                                self.config.render.profiles))
        kept = resumed_note(rendered, self.out_dir)
        if kept:
            self.note(kept)
        for item in self.provisional:
            best = max(ranking.clips, key=lambda c: overlap(item.clip, c), default=None)
            if best is None or overlap(item.clip, best) < 0.5 * (item.clip.end - item.clip.start):
                item.outcome = "withdrawn"
                continue
            item.final_id, item.final_tier = best.id, best.tier
            item.outcome = "kept" if best.tier == item.clip.tier else "re-tiered"
        ranking.probe.path = self.shown(ranking.probe.path)
        manifest = finish(ranking, rendered, self.out_dir, self.config,
                          extra={"live": {"state": "ended", "analysed_until": round(self.analysed, 3)},
                                 "provisional": [p.to_dict() for p in self.provisional]})
        if self.bucket:
            publish(self.out_dir, self.bucket, already=frozenset(self.uploaded - {MANIFEST}))
        return manifest


def product_window(clip: Clip, products: list[dict] | None) -> tuple[float, float] | None:
    """The on-air window (start, end) of the product a --per-product clip presents, or None."""
    for product in products or []:
        if product["item"] == clip.item:
            for start, end in product["windows"]:
                if start <= clip.peak < end:
                    return start, end
    return None


def overlap(a: Clip, b: Clip) -> float:
    """Seconds two clips share."""
    return max(0.0, min(a.end, b.end) - max(a.start, b.start))
