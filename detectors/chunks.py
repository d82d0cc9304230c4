"""Chunk plan: split a recording into time ranges that can be analysed independently.

Chunk edges fall on the bin grid, so the series of consecutive chunks join without a seam. Each
detector takes care of the context it needs before a chunk starts (the visual detector decodes a
little before ``start`` to have a previous frame to compare with).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Chunk:
    index: int
    start: float
    end: float

    def to_dict(self) -> dict:
        return asdict(self)


def plan_chunks(duration: float, chunk_seconds: float, hop: float) -> list[Chunk]:
    """Consecutive chunks of about ``chunk_seconds`` covering ``[0, duration)``, edges on the grid."""
    step = max(hop, round(chunk_seconds / hop) * hop)
    chunks: list[Chunk] = []
    start = 0.0
    while start < duration - 1e-9:
        end = min(duration, start + step)
        # A tail shorter than a quarter chunk joins the previous chunk instead of standing alone.
        if duration - end < step / 4:
            end = duration
        chunks.append(Chunk(len(chunks), round(start, 6), round(end, 6)))
        start = end
    return chunks
