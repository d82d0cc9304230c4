"""Render cost: peakclip's clips against plain ffmpeg encodes of the same spans, in one run.

    python bench/render.py [--clips 5] [--length 15] [--rounds 3] [--source FILE | --size WxH] [--captions]
                           [--profiles [--tiers S,A,B,C,C]] [--framing [--kind moving]]

Plain ffmpeg only fits each span into 1080x1920 and encodes it (same preset and quality), one
clip after another. peakclip renders the same spans as it would for a user: blurred fill,
two-pass loudness, fades, tags, thumbnail and WebP preview, clips in parallel. The two
alternate for ``--rounds`` rounds; the ratio of the medians is printed (below 1.0: peakclip is
faster). Without ``--source`` a 30 fps sample (``--size``, default 1920x1080) with a 2 s GOP is
generated first.

``--captions`` compares peakclip with itself instead: the same clips rendered with burned-in
captions and without, alternating. The captions come from a made-up transcript that talks
through every clip (two full lines on screen most of the time), cut into cues before the clock
starts: what is timed is the drawing (libass) and its cost to the encoder, not recognition.

``--profiles`` compares the default rules with rendering every clip at the full profile (as
before render profiles): the same clips, tiered by ``--tiers`` (one a clip, in rank order), each
rendered at the profile of the pool its tier starts in (bundled rules: S in small, full; A, B, C
in test, preview), against all of them at full, alternating. A broadcast gets its clips once, so
the ratio is also that of render CPU per stream-hour (before any promoted clip's second render).

``--framing`` compares the default ``--fill auto`` (faces found in each clip's span, the window
planned per shot) with ``--fill blur`` on the same clips, alternating, and then times the
framing's own work alone (the span's decode for faces and cuts, YuNet, the plan) for the same
clips. Without ``--source`` the stream is ``peakclip.samples.faces``' ``--kind`` (default
``moving``: a real face walking across the picture, so every clip is tracked) at ``--size``
1280x720. CPU counts this process too (YuNet runs in it), not only ffmpeg.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from peakclip.detectors.probe import probe  # noqa: E402
from peakclip.detectors.transcript import Segment  # noqa: E402
from peakclip.pipeline.config import RenderConfig  # noqa: E402
from peakclip.pipeline.output.captions import ClipCaptions, caption_cues  # noqa: E402
from peakclip.pipeline.output.render import plan_framings, render_clips  # noqa: E402
from peakclip.pipeline.ranking.clip import Clip
from peakclip.pipeline.ranking.rules import Profile, load_rules  # noqa: E402
from peakclip.samples.generate import generate  # noqa: E402
from peakclip.samples.generate.cli import parse_size  # noqa: E402


def plain_ffmpeg(source: str, spans: list[tuple[float, float]], out_dir: str, config: RenderConfig) -> None:
    for i, (start, end) in enumerate(spans):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(start), "-t", str(end - start), "-i", source,
                        "-vf", "scale=1080:1920:force_original_aspect_ratio=decrease,pad=1080:1920:(ow-iw)/2:(oh-ih)/2",
                        "-c:v", "libx264", "-preset", config.preset, "-crf", str(config.crf), "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", config.audio_bitrate, os.path.join(out_dir, f"plain-{i}.mp4")], check=True)


TALK = ("so the price drops today for everyone who is watching right now and the link is in the bio as always "
        "thanks for coming and stay for the next round").split()


def talking_through(start: float, end: float) -> list[Segment]:
    """A made-up host talking from ``start`` to ``end``: 3 s sentences of 8 words, 0.3 s apart."""
    segments, t, at = [], start, 0
    while t < end:
        words = [TALK[(at + i) % len(TALK)] for i in range(8)]
        segments.append(Segment(round(t, 3), round(min(end, t + 3.0), 3), " ".join(words)))
        t, at = t + 3.3, at + 8
    return segments


def children_cpu() -> float:
    """CPU seconds used so far by the finished child processes (ffmpeg) and by this process."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_CHILDREN),
                                                 resource.getrusage(resource.RUSAGE_SELF)))


def timed_renders(scratch: str, rounds: int, contenders: dict) -> tuple[dict, dict]:
    """Wall-clock and CPU seconds (of the ffmpeg processes and this one) each contender (name -> function(out_dir))
    took per round, the contenders alternating. On a machine others share, the wall clock follows
    their load; the CPU seconds much less."""
    times = {name: [] for name in contenders}
    cpu = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            out = os.path.join(scratch, "out")
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
            started, used = time.perf_counter(), children_cpu()
            run(out)
            times[name].append(time.perf_counter() - started)
            cpu[name].append(children_cpu() - used)
    return times, cpu


def peakclip_renders(source, clips, config: RenderConfig, captions=None, profile_of=None):
    def run(out: str) -> None:
        results = render_clips(source, clips, out, config, captions=captions, profile_of=profile_of)
        if any(r.error for r in results):
            raise SystemExit(f"render failed: {[r.error for r in results if r.error]}")
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=5, help="as many as peakclip clip renders by default")
    parser.add_argument("--length", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source")
    parser.add_argument("--size", type=parse_size, default=(1920, 1080), help="WxH of the generated source")
    parser.add_argument("--captions", action="store_true", help="captioned against uncaptioned peakclip renders")
    parser.add_argument("--profiles", action="store_true",
                        help="the default rules' render profiles against every clip at full")
    parser.add_argument("--tiers", default="S,A,B,C,C", help="with --profiles: the clips' tiers, in rank order")
    parser.add_argument("--framing", action="store_true", help="--fill auto against --fill blur on the same clips")
    parser.add_argument("--kind", default="moving", help="with --framing: the face stream (peakclip.samples.faces)")
    args = parser.parse_args()
    # The comparisons other than --framing were measured with the blurred fill (the default before
    # framing), and say so in bench/README.md.
    config = RenderConfig(fill="auto" if args.framing else "blur")
    with tempfile.TemporaryDirectory() as scratch:
        source_path = args.source
        if not source_path and args.framing:
            from peakclip.samples.faces import make_stream
            size = (1280, 720) if args.size == (1920, 1080) else args.size
            source_path = make_stream(os.path.join(scratch, "faces.mp4"), args.kind,
                                      max(60.0, args.clips * (args.length + 10) + 20), size)
        if not source_path:
            generate(os.path.join(scratch, "src"), seed=3, duration=max(60.0, args.clips * (args.length + 10) + 20),
                     highlights=2, distractors=[], size=args.size)
            source_path = os.path.join(scratch, "src", "stream.mp4")
        source = probe(source_path)
        step = (source.duration - args.length) / args.clips
        spans = [(round(5 + i * step, 2), round(5 + i * step + args.length, 2)) for i in range(args.clips)]
        rules = load_rules()
        tiers = (args.tiers.split(",") * args.clips)[:args.clips]
        clips = [Clip(id=f"bench{i}", rank=i + 1, start=s, end=e, score=1.0, peak=(s + e) / 2, signals={}, stage=1,
                      tier=tiers[i], pool=rules.start[tiers[i]]) for i, (s, e) in enumerate(spans)]
        if args.framing:
            contenders = {"framed (auto)": peakclip_renders(source, clips, config),
                          "blur fill": peakclip_renders(source, clips, dataclasses.replace(config, fill="blur"))}
        elif args.profiles:
            print("profiles: " + ", ".join(f"#{c.rank} {c.tier} {c.pool} {rules.profile_of(c.pool).name}" for c in clips))
            contenders = {"default rules": peakclip_renders(source, clips, config,
                                                            profile_of=lambda c: rules.profile_of(c.pool)),
                          "all full": peakclip_renders(source, clips, config, profile_of=lambda c: Profile())}
        elif args.captions:
            speech = [s for start, end in spans for s in talking_through(start, end)]
            captions = {c.id: ClipCaptions(caption_cues(speech, c.start, c.end, config.caption_max_chars))
                        for c in clips}
            contenders = {"captioned": peakclip_renders(source, clips, config, captions),
                          "uncaptioned": peakclip_renders(source, clips, config)}
        else:
            contenders = {"peakclip": peakclip_renders(source, clips, config),
                          "plain ffmpeg": lambda out: plain_ffmpeg(source_path, spans, out, config)}
        times, cpu = timed_renders(scratch, args.rounds, contenders)
        if args.framing:
            framing_cpu = []
            for _ in range(args.rounds):
                used = children_cpu()
                modes = [sorted(f.modes) for c in clips for f in plan_framings(source, c, config.formats, config).values()]
                framing_cpu.append(children_cpu() - used)
            print(f"framing alone (faces, cuts, plan) for the {args.clips} clips: cpu median "
                  f"{statistics.median(framing_cpu):.2f} s ({', '.join(f'{t:.2f}' for t in framing_cpu)}); modes {modes}")
            print(f"framing alone / blur-fill render (cpu): "
                  f"{statistics.median(framing_cpu) / statistics.median(cpu['blur fill']):.2f}")
    print(f"source: {source.width}x{source.height} {source.fps:g} fps; {args.clips} clips of {args.length:g} s; "
          f"preset {config.preset}; {os.cpu_count()} cores; {args.rounds} rounds")
    first, second = contenders
    for label, measured in (("wall", times), ("cpu", cpu)):
        medians = {name: statistics.median(values) for name, values in measured.items()}
        for name, value in medians.items():
            print(f"{name:14} {label} median {value:7.2f} s   ({', '.join(f'{t:.2f}' for t in measured[name])})")
        print(f"ratio {first} / {second} ({label}): {medians[first] / medians[second]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
