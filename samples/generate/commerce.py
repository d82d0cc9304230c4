"""A live-commerce sample stream's shelf: the items shown one after another, their price
reveals, and the carts and orders that follow them (seconds)."""
from __future__ import annotations

import numpy as np

from peakclip.samples.generate.moments import INTRO, LENGTHS, OUTRO, SampleError, audience_at, viewer_names

# A live-commerce stream's shelf: what a host might present, one item after another.
PRODUCTS = ["Down jacket, navy", "Wool scarf", "Ceramic mug set", "Wireless earbuds", "Lip tint, coral",
            "Running shoes", "Cast-iron pan", "Silk pillowcase", "Desk lamp", "Phone tripod", "Linen shirt",
            "Face serum", "Rain boots", "Tea sampler"]
PRICES = [9.9, 19.9, 29.9, 49.9, 59.9, 99.0, 129.0, 199.0]
ITEMS = (6, 10)                  # how many items a commerce stream presents
PRESENTATION = (60.0, 150.0)     # how long the host shows each one, seconds
UNSOLD = (1, 3)                  # how many of them sell nothing (no price reveal, no orders)
BUYING_AFTER = (2.0, 15.0)       # buyers cart and order this many seconds after the price is revealed
# ``rivals``: the loud moments that may share a selling item's window, unrelated to it, and how far
# (seconds) one keeps from the reveal and the buying (``margin``) and from the window's edges
# (before it: the host settles in; after it: its chat reaction stays inside the window).
RIVALS = ("crowd:roar", "crowd:applause", "crowd:chant", "action:roar", "action:rumble-pan", "action:strobe")
RIVAL_ROOM = {"margin": 15.0, "after_start": 5.0, "before_end": 10.0}


def plan_products(rng: np.random.Generator, duration: float, edges: bool = False) -> list[dict]:
    """The host presents 6-10 items one after another, 60-150 s each, talking in the gaps between
    them: ``[{"item", "title", "price", "start", "end"}]`` in time order."""
    lead = (INTRO if edges else 0.0) + 5.0
    room = duration - lead - (OUTRO if edges else 0.0) - 5.0
    shortest, longest = PRESENTATION
    fits = int(room // shortest)
    if fits < ITEMS[0]:
        raise SampleError(f"a commerce stream presents at least {ITEMS[0]} items of {shortest:g} s each: "
                          f"make it at least {ITEMS[0] * shortest + duration - room:g} s long (--duration)")
    count = int(rng.integers(ITEMS[0], min(ITEMS[1], fits) + 1))
    lengths = np.round(rng.uniform(shortest, min(longest, room / count), count), 2)
    gaps = rng.dirichlet(np.ones(count + 1)) * (room - lengths.sum())   # the last share follows the last item
    skus = rng.choice(np.arange(1000, 10000), size=count, replace=False)
    titles = rng.choice(len(PRODUCTS), size=count, replace=False)
    products, at = [], lead
    for index in range(count):
        start = round(at + float(gaps[index]), 2)
        at = round(start + float(lengths[index]), 2)
        products.append({"item": f"SKU-{skus[index]}", "title": PRODUCTS[titles[index]],
                         "price": float(rng.choice(PRICES)), "start": start, "end": at})
    return products


def price_reveals(rng: np.random.Generator, products: list[dict]) -> list[dict]:
    """A price reveal for every item but 1-3 that sell nothing: a ``chat:price-drop`` highlight
    naming its item, inside the item's window and early enough that its buyers (2-15 s later)
    still see the item on show."""
    unsold = set(rng.choice(len(products), size=int(rng.integers(UNSOLD[0], UNSOLD[1] + 1)), replace=False).tolist())
    reveals = []
    for index, product in enumerate(products):
        if index in unsold:
            continue
        length = round(float(rng.uniform(*LENGTHS["chat"])), 2)
        latest = product["end"] - max(length, BUYING_AFTER[1])
        start = round(float(rng.uniform(product["start"] + 10, latest)), 2)
        reveals.append({"start": start, "end": round(start + length, 2), "kind": "chat", "way": "price-drop",
                        "item": product["item"], "group": "highlights"})
    return reveals


def rival_moments(rng: np.random.Generator, products: list[dict], reveals: list[dict]) -> list[dict]:
    """For each item with a price reveal, where its window has room, a loud moment unrelated to
    the item (a highlight of a way in ``RIVALS``, its ``rival_of`` naming the item): before the
    reveal or after its buyers (``RIVAL_ROOM["margin"]`` seconds or more from the reveal, so past
    the last of them), inside the window. It is louder than the reveal, and no burst of buying
    follows it (a few stray orders may, as anywhere after the buyers)."""
    on_show = {product["item"]: product for product in products}
    rivals = []
    for reveal in reveals:
        product = on_show[reveal["item"]]
        spec = str(rng.choice(RIVALS))
        kind, _, way = spec.partition(":")
        length = round(float(rng.uniform(*LENGTHS[kind])), 2)
        sides = [(product["start"] + RIVAL_ROOM["after_start"], reveal["start"] - RIVAL_ROOM["margin"] - length),
                 (reveal["end"] + RIVAL_ROOM["margin"], product["end"] - RIVAL_ROOM["before_end"] - length)]
        sides = [(low, high) for low, high in sides if high > low]
        if not sides:
            continue
        low, high = sides[int(rng.integers(len(sides)))]
        start = round(float(rng.uniform(low, high)), 2)
        rivals.append({"start": start, "end": round(start + length, 2), "kind": kind, "way": way,
                       "rival_of": reveal["item"], "group": "highlights"})
    return rivals


def sale(t: float, user: str, kind: str, product: dict) -> dict:
    """A cart or order record in the generic JSON Lines format."""
    record = {"t": round(t, 3), "user": user, "type": kind, "item": product["item"]}
    if kind == "order":
        record["amount"] = product["price"]
    return record


def sales(rng: np.random.Generator, truth: dict, viewers: int = 150) -> list[dict]:
    """Carts and orders for each item with a price reveal: buyers (more in a bigger audience) put
    it in their cart 2-12 s after the price and a share of them order 0.5-3 s later; a few more
    order while the item is still on show after that."""
    users = viewer_names(viewers)
    on_show = {product["item"]: product for product in truth["products"]}
    records = []
    for reveal in (h for h in truth["highlights"] if "item" in h):
        product = on_show[reveal["item"]]
        crowd = min(viewers, max(3, int(rng.integers(10, 25) * audience_at(truth, reveal["start"]))))
        buyers = rng.choice(viewers, size=crowd, replace=False)
        ordering = int(rng.integers(max(1, crowd // 3), crowd + 1))
        for rank, who in enumerate(buyers):
            carted = reveal["start"] + float(rng.uniform(BUYING_AFTER[0], BUYING_AFTER[1] - 3))
            records.append(sale(carted, users[who], "cart", product))
            if rank < ordering:
                records.append(sale(carted + float(rng.uniform(0.5, 3)), users[who], "order", product))
        later = (reveal["start"] + BUYING_AFTER[1], product["end"])
        if later[1] > later[0]:
            for who in rng.choice(viewers, size=min(viewers, int(rng.integers(0, 4))), replace=False):
                records.append(sale(float(rng.uniform(*later)), users[who], "order", product))
    return records


def product_switches(products: list[dict], duration: float) -> list[dict]:
    """What the platform records of the host: a product event as each item comes on, and a
    product_end where the host goes back to talking before the next (or after the last)."""
    records = []
    for index, product in enumerate(products):
        records.append({"t": product["start"], "type": "product", "item": product["item"], "title": product["title"]})
        next_start = products[index + 1]["start"] if index + 1 < len(products) else duration
        if next_start > product["end"]:
            records.append({"t": product["end"], "type": "product_end"})
    return records


def commerce_events(rng: np.random.Generator, truth: dict, viewers: int) -> list[dict]:
    """The events log of a commerce stream, in time order; counts each item's orders into truth."""
    records = sorted(product_switches(truth["products"], truth["duration"]) + sales(rng, truth, viewers),
                     key=lambda r: r["t"])
    for product in truth["products"]:
        product["orders"] = sum(1 for r in records if r["type"] == "order" and r["item"] == product["item"])
    return records
