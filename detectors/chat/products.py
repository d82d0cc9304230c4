"""Live commerce per item: which product the host presented when, and what sold of each.

Contract: a ``ProductBook`` receives messages one at a time (``add``, each ``t`` already on the
recording's clock) and keeps the host's product switches (a few per stream) and, per item, one
``ItemLedger`` of per-bin carts, orders and paid money on the chat series' bin grid (``hop``).
A ledger spans only the bins from its item's first record to its last, grown on demand, so memory
is the items times the stretch each one sold in, never the whole stream per item. From them:

- ``windows(end)``: one ``ProductWindow(item, title, start, end)`` per presentation, in time
  order. A presentation lasts until the next ``product`` record or a ``product_end``; the last one
  until ``end`` (the recording's duration). An item presented again later has a window for each
  time; the same item announced again while on show (a platform repeating its switch) stays one
  window; a window of no length is dropped.
- ``commerce(n_bins)``: item -> {"carts", "orders", "paid"} arrays of ``n_bins`` bins, for every
  item a cart, order or paid record named (presented or not).
- ``unknown_items(end)``: item -> orders, for items orders name that were never presented in the
  recording: a wrong id or a product switch the log lacks. Counted and warned, never fatal.

Records without an ``item`` are not attributed to the item on show: which product a platform's
item-less order was for is a guess this module leaves to its callers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from peakclip.detectors.chat.records import MONEY_KINDS, Message

COLUMNS = ("carts", "orders", "paid")
CARTS, ORDERS, PAID = range(len(COLUMNS))
INITIAL_BINS = 64


@dataclass(frozen=True)
class ProductWindow:
    item: str
    title: str
    start: float   # seconds on the recording's clock
    end: float


class ItemLedger:
    """One item's carts, orders and paid money per bin, for bins ``origin`` onwards."""

    def __init__(self, first_bin: int):
        self.origin = first_bin
        self.values = np.zeros((len(COLUMNS), INITIAL_BINS))

    def add(self, b: int, column: int, amount: float) -> None:
        size = self.values.shape[1]
        if b < self.origin:   # a record out of order, before any other of this item: grow backwards
            new_origin = max(0, min(b, self.origin - size))
            self.values = np.concatenate([np.zeros((len(COLUMNS), self.origin - new_origin)), self.values], axis=1)
            self.origin, size = new_origin, self.values.shape[1]
        at = b - self.origin
        if at >= size:
            self.values = np.concatenate([self.values, np.zeros((len(COLUMNS), max(at + 1, 2 * size) - size))], axis=1)
        self.values[column, at] += amount

    def on_grid(self, n_bins: int) -> dict[str, np.ndarray]:
        grid = np.zeros((len(COLUMNS), n_bins))
        stop = min(n_bins, self.origin + self.values.shape[1])
        if stop > self.origin:
            grid[:, self.origin:stop] = self.values[:, :stop - self.origin]
        return dict(zip(COLUMNS, grid))

    def total(self, column: int) -> float:
        return float(self.values[column].sum())


class ProductBook:
    """The host's product switches and each item's sales, fed one message at a time."""

    def __init__(self, hop: float):
        self.hop = hop
        self.switches: list[tuple[float, int, str, str]] = []   # (t, arrival, item or "" for an end, title)
        self.ledgers: dict[str, ItemLedger] = {}

    def add(self, message: Message) -> None:
        if message.kind in ("product", "product_end"):
            item = message.item if message.kind == "product" else ""
            self.switches.append((message.t, len(self.switches), item, message.title))
            return
        if not message.item:
            return
        b = int(message.t // self.hop)
        if message.kind == "cart":
            self._ledger(message.item, b).add(b, CARTS, 1)
        if message.kind == "order":
            self._ledger(message.item, b).add(b, ORDERS, 1)
        if message.kind in MONEY_KINDS and message.amount:
            self._ledger(message.item, b).add(b, PAID, message.amount)

    def _ledger(self, item: str, b: int) -> ItemLedger:
        if item not in self.ledgers:
            self.ledgers[item] = ItemLedger(b)
        return self.ledgers[item]

    def windows(self, end: float) -> list[ProductWindow]:
        # Records can arrive out of order; at equal times the log's order holds (the later switch wins).
        switches = sorted(self.switches)
        known_titles = {item: title for _, _, item, title in switches if item and title}
        found: list[ProductWindow] = []
        for index, (start, _, item, title) in enumerate(switches):
            stop = min(switches[index + 1][0], end) if index + 1 < len(switches) else end
            if not item or stop <= start:
                continue
            if found and found[-1].item == item and found[-1].end == start:   # announced again while on show
                found[-1] = ProductWindow(item, found[-1].title, found[-1].start, stop)
            else:
                found.append(ProductWindow(item, title or known_titles.get(item, ""), start, stop))
        return found

    def commerce(self, n_bins: int) -> dict[str, dict[str, np.ndarray]]:
        return {item: ledger.on_grid(n_bins) for item, ledger in sorted(self.ledgers.items())}

    def unknown_items(self, end: float) -> dict[str, int]:
        presented = {window.item for window in self.windows(end)}
        return {item: int(ledger.total(ORDERS)) for item, ledger in sorted(self.ledgers.items())
                if item not in presented and ledger.total(ORDERS)}
