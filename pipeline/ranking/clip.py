"""``Clip``: a chosen span with its rank, broadcast stage, tier and pool, and (once rendered) its
files. It is what every step after ranking passes on, and what the manifest lists."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Clip:
    id: str
    rank: int
    start: float
    end: float
    score: float
    peak: float
    signals: dict[str, float]
    stage: int
    tier: str
    pool: str = ""                             # the traffic pool it starts in
    file: str | None = None                    # the clip in the first format asked for
    thumbnail: str | None = None
    preview: str | None = None                 # animated WebP around the peak
    files: dict[str, str] | None = None        # every format rendered: format -> file
    span: dict[str, float] | None = None       # with --copy: the span chosen, before key-frame alignment
    text: str | None = None                    # what is said in it: the transcript's words, or what
                                               # --captions auto recognised (None: neither)
    captions: str | None = None                # the burned-in captions as SubRip beside the clip (--captions)
    profile: str | None = None                 # the render profile of its files (rules.toml; None: not rendered)
    framing: dict[str, dict] | None = None     # --fill auto: format -> how each shot was framed (pipeline.output.framing)
    # --channel, when the channel's learning changed the weights: the clip's score and rank with the
    # default weights ({"default_score": z, "default_rank": n or None: the defaults would not pick it})
    channel: dict | None = None
    # --per-product: the product it presents, its title, the title drawn on the clip, and the
    # item's sales {"clip": during the clip and the buying lag after, "on_air": its whole windows}
    item: str | None = None
    item_title: str | None = None
    title: str | None = None
    item_sales: dict[str, dict] | None = None

    def to_dict(self) -> dict:
        found = asdict(self)
        if self.item is None:   # clips of a whole-stream run keep the fields they always had
            for name in PRODUCT_FIELDS:
                del found[name]
        if self.framing is None:
            del found["framing"]
        if self.channel is None:
            del found["channel"]
        return found


PRODUCT_FIELDS = ("item", "item_title", "title", "item_sales")
