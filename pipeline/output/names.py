"""The names of what a job writes into its output folder ``DIR``: the one place they are spelled.

In ``DIR/clips``, a clip's files:

``NN-<id>`` (rank and clip id), then ``.<profile>`` for a profile other than full (a clip
rendered again at another profile gets new names, so a file's name never changes its content),
then ``.<format>`` when several formats are rendered: ``.mp4`` the clip, ``.jpg`` its thumbnail,
``.webp`` its preview, ``.srt`` its captions. ``.NN-<id>.done.json`` is the hidden record that
lets a rerun keep a finished clip (one per clip, whatever its profile), and a file being written
carries ``.<pid>-<random>.partial`` after its name (``detectors.storage.partial_name``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from peakclip.pipeline.ranking.rules import FULL

MANIFEST = "manifest.json"    # DIR/manifest.json: written last, its presence says the job is done
REPORT = "report.html"        # DIR/report.html: the review page
CLIPS_FOLDER = "clips"        # DIR/clips: every clip's files

# Every name above and nothing else, so that clearing out an earlier run's clips never touches
# a file peakclip did not write.
OWN_FILE = re.compile(r"^\.{0,2}\d{2,}-[0-9a-f]{10}(\.[a-z][a-z0-9-]*){0,2}\.(mp4|jpg|webp|srt|done\.json|"
                      r"(mp4|jpg|webp|srt|done\.json)\.\d+-[0-9a-f]{8}\.partial)$")


@dataclass
class ClipFiles:
    """A clip's files, as paths relative to the output folder."""
    videos: dict[str, str]      # format -> the clip in that format
    thumbnail: str
    preview: str
    srt: str | None             # None: no captions

    def all(self) -> list[str]:
        return [*self.videos.values(), self.thumbnail, self.preview, *([self.srt] if self.srt else [])]


def clip_name(rank: int, clip_id: str) -> str:
    """``NN-<id>``: rank and clip id, the start of every file name of the clip."""
    return f"{rank:02d}-{clip_id}"


def clip_files(rank: int, clip_id: str, profile: str, formats: list[str], captions: bool) -> ClipFiles:
    """The files of a clip rendered at ``profile`` (a name in rules.toml) in ``formats``."""
    stem = f"{CLIPS_FOLDER}/{clip_name(rank, clip_id)}" + ("" if profile == FULL else f".{profile}")
    videos = {fmt: f"{stem}.mp4" if len(formats) == 1 else f"{stem}.{fmt}.mp4" for fmt in formats}
    return ClipFiles(videos, f"{stem}.jpg", f"{stem}.webp", f"{stem}.srt" if captions else None)


def done_record_name(rank: int, clip_id: str) -> str:
    """The hidden record beside a finished clip (in ``CLIPS_FOLDER``)."""
    return f".{clip_name(rank, clip_id)}.done.json"
