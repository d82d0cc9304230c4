"""The traffic-tier rules (``pipeline/rules.toml``): tiers, stage quota, start pools, the pool
ladder and the promotion thresholds, as one typed, versioned object."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field

from detectors.errors import UserError

TIERS = ("S", "A", "B", "C")
METRICS = ("completion", "ctr", "conversion")
BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rules.toml")


@dataclass
class Pool:
    name: str
    viewers: int
    min_impressions: int
    promote: dict[str, float]
    retire: dict[str, float]


@dataclass
class Rules:
    version: str
    tiers: dict[str, float]
    quota: int
    lift: bool
    lift_min: float
    start: dict[str, str]
    pools: list[Pool] = field(default_factory=list)

    def pool(self, name: str) -> Pool:
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise UserError(f"rules {self.version}: no pool named {name!r}")

    def next_pool(self, name: str) -> str | None:
        names = [p.name for p in self.pools]
        index = names.index(name)
        return names[index + 1] if index + 1 < len(names) else None


def load_rules(path: str | None = None) -> Rules:
    path = path or BUNDLED
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise UserError(f"rules file not found: {path}") from None
    except tomllib.TOMLDecodeError as err:
        raise UserError(f"rules file {path} is not valid TOML: {err}") from None
    try:
        pools = [Pool(p["name"], int(p.get("viewers", 0)), int(p["min_impressions"]),
                      {k: float(v) for k, v in p["promote"].items()}, {k: float(v) for k, v in p["retire"].items()})
                 for p in data["pools"]]
        rules = Rules(str(data["version"]), {t: float(data["tiers"][t]) for t in TIERS[:3]},
                      int(data["stages"]["quota"]), bool(data["stages"]["lift"]),
                      float(data["stages"].get("lift_min", 0.0)),
                      {t: str(data["start"][t]) for t in TIERS}, pools)
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"rules file {path} is missing or has a bad {err}") from None
    for tier, pool in rules.start.items():
        rules.pool(pool)  # every start pool must exist
    unknown = {k for p in pools for k in (*p.promote, *p.retire)} - set(METRICS)
    if unknown:
        raise UserError(f"rules file {path}: unknown metrics {', '.join(sorted(unknown))} (use {', '.join(METRICS)})")
    return rules
