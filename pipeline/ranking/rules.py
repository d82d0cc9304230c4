"""The traffic-tier rules (``pipeline/ranking/rules.toml``): tiers, stage quota, start pools, the pool
ladder, the promotion thresholds and the render profile of each pool, as one typed, versioned object."""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field

from peakclip.detectors.errors import UserError

TIERS = ("S", "A", "B", "C")
METRICS = ("completion", "ctr", "conversion")
BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rules.toml")
FULL = "full"   # the profile of a pool that names none: the render config as it is
# Rules files without [promotion]: one prior for every tier, about the test pool's bars, and light.
DEFAULT_PRIOR = {"completion": 0.4, "ctr": 0.03, "conversion": 0.02}
DEFAULT_STRENGTH = {"completion": 10.0, "ctr": 100.0, "conversion": 10.0}
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")


@dataclass(frozen=True)
class Profile:
    """How the clips of a pool are encoded. Unset (None): as the render config says."""
    name: str = FULL
    short_side: int | None = None   # pixels of the picture's shorter side (the formats scale to it)
    preset: str | None = None       # libx264 preset instead of render.preset
    crf: int | None = None          # libx264 quality instead of render.crf

    def to_dict(self) -> dict:
        return {"name": self.name, "short_side": self.short_side, "preset": self.preset, "crf": self.crf}


@dataclass
class Pool:
    """A traffic pool: its audience size, the impressions before it judges a clip, and the rates
    that promote or retire one."""
    name: str
    viewers: int
    min_impressions: int
    promote: dict[str, float]
    retire: dict[str, float]
    profile: str = FULL
    max_impressions: int | None = None   # the trial's end: then a held clip goes on its best guess; None: no end
    slots: int | None = None    # clips the pool holds at once (of one job's state, or the service's); None: any number


@dataclass
class Rules:
    """The tier and promotion rules of rules.toml: tier floors (z units), stage quota, start pools,
    pools, render profiles, and what promotion on evidence needs (confidence, the tiers' prior)."""
    version: str
    tiers: dict[str, float]
    quota: int
    lift: bool
    lift_min: float
    start: dict[str, str]
    pools: list[Pool] = field(default_factory=list)
    profiles: dict[str, Profile] = field(default_factory=lambda: {FULL: Profile()})
    witness: float = 0.0      # z units: under it in chat with one other signal at most, a clip stays C (0: off)
    carries: float = 1.0      # z units: a sound or picture at it or more carries a moment (for ``witness``)
    confidence: float = 0.9   # posterior probability that promotes (and 1 - it, that retires)
    # per tier and metric, the rate a clip of that tier is expected to have before its feedback
    prior: dict[str, dict[str, float]] = field(default_factory=lambda: {t: dict(DEFAULT_PRIOR) for t in TIERS})
    # per metric, the prior's weight in pseudo-trials (plays, impressions, clicks)
    strength: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_STRENGTH))

    def pool(self, name: str) -> Pool:
        for pool in self.pools:
            if pool.name == name:
                return pool
        raise UserError(f"rules {self.version}: no pool named {name!r}")

    def profile_of(self, pool: str) -> Profile:
        """The render profile of the clips in ``pool``."""
        return self.profiles[self.pool(pool).profile]

    def start_profile(self, pool: str, profiles: str) -> Profile:
        """The profile a clip starting in ``pool`` is rendered at: with ``profiles`` "full" (the
        config's render.profiles) the full one, with "pools" its pool's."""
        return self.profiles[FULL] if profiles == FULL else self.profile_of(pool)

    def reach(self, profile: str) -> int:
        """How far up the ladder files rendered at ``profile`` serve: the index of the last pool
        (0 the smallest) whose profile it is. Full, when no pool's, was rendered instead of a start
        pool's profile (render.profiles "full"), so it serves as far as those do; a profile these
        rules do not have, no pool (-1)."""
        reached = [n for n, pool in enumerate(self.pools) if pool.profile == profile]
        if reached:
            return reached[-1]
        if profile == FULL:
            return max(self.reach(self.pool(start).profile) for start in self.start.values())
        return -1

    def next_pool(self, name: str) -> str | None:
        names = [p.name for p in self.pools]
        index = names.index(name)
        return names[index + 1] if index + 1 < len(names) else None


def load_rules(path: str | None = None) -> Rules:
    """The rules at ``path`` (default: the bundled rules.toml), checked; a bad file is a one-line
    UserError."""
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
                      {k: float(v) for k, v in p["promote"].items()}, {k: float(v) for k, v in p["retire"].items()},
                      str(p.get("profile", FULL)), optional(p.get("max_impressions"), int),
                      optional(p.get("slots"), int))
                 for p in data["pools"]]
        profiles = read_profiles(data.get("profiles", {}), path)
        rules = Rules(str(data["version"]), {t: float(data["tiers"][t]) for t in TIERS[:3]},
                      int(data["stages"]["quota"]), bool(data["stages"]["lift"]),
                      float(data["stages"].get("lift_min", 0.0)),
                      {t: str(data["start"][t]) for t in TIERS}, pools, profiles,
                      float(data["tiers"].get("witness", 0.0)), float(data["tiers"].get("carries", 1.0)))
        read_promotion(rules, data.get("promotion", {}), path)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise UserError(f"rules file {path} is missing or has a bad {err}") from None
    for tier, pool in rules.start.items():
        rules.pool(pool)  # every start pool must exist
    unknown = {k for p in pools for k in (*p.promote, *p.retire)} - set(METRICS)
    if unknown:
        raise UserError(f"rules file {path}: unknown metrics {', '.join(sorted(unknown))} (use {', '.join(METRICS)})")
    for pool in pools:
        if pool.max_impressions is not None and pool.max_impressions < pool.min_impressions:
            raise UserError(f"rules file {path}: pool {pool.name}: max_impressions must be at least min_impressions "
                            f"({pool.max_impressions} < {pool.min_impressions})")
        if pool.slots is not None and pool.slots < 1:
            raise UserError(f"rules file {path}: pool {pool.name}: slots must be at least 1 (got {pool.slots})")
        if pool.profile not in profiles:
            raise UserError(f"rules file {path}: pool {pool.name} names an unknown profile {pool.profile!r} "
                            f"(profiles: {', '.join(profiles)})")
    return rules


def read_promotion(rules: Rules, table: dict, path: str) -> None:
    """``[promotion]``: confidence, strength and the per-tier prior, checked, into ``rules``."""
    rules.confidence = float(table.get("confidence", rules.confidence))
    if not 0.5 < rules.confidence < 1.0:
        raise UserError(f"rules file {path}: promotion.confidence must be above 0.5 and below 1 (got {rules.confidence})")
    rules.strength.update({m: float(v) for m, v in table.get("strength", {}).items()})
    for tier, means in table.get("prior", {}).items():
        if tier not in TIERS:
            raise UserError(f"rules file {path}: promotion.prior has an unknown tier {tier!r} (use {', '.join(TIERS)})")
        rules.prior[tier].update({m: float(v) for m, v in means.items()})
    unknown = (set(rules.strength) | {m for means in rules.prior.values() for m in means}) - set(METRICS)
    if unknown:
        raise UserError(f"rules file {path}: promotion names unknown metrics {', '.join(sorted(unknown))} "
                        f"(use {', '.join(METRICS)})")
    if any(v <= 0 for v in rules.strength.values()):
        raise UserError(f"rules file {path}: promotion.strength must be above 0 (pseudo-trials)")
    if any(not 0 < v < 1 for means in rules.prior.values() for v in means.values()):
        raise UserError(f"rules file {path}: promotion.prior rates must be above 0 and below 1")


def optional(value, kind):
    """``kind(value)``, or None for None."""
    return None if value is None else kind(value)


def read_profiles(table: dict, path: str) -> dict[str, Profile]:
    """``[profiles.NAME]`` tables as Profiles; "full" (the render config as it is) is always there."""
    if not isinstance(table, dict):
        raise UserError(f"rules file {path}: profiles must be tables ([profiles.NAME])")
    profiles = {FULL: Profile()}
    for name, values in table.items():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
            raise UserError(f"rules file {path}: profile name {name!r} must be lower-case letters, digits and "
                            "dashes (it goes into file names)")
        unknown = set(values) - {"short_side", "preset", "crf"} if isinstance(values, dict) else {"(not a table)"}
        if unknown:
            raise UserError(f"rules file {path}: profile {name} has unknown keys {', '.join(sorted(unknown))} "
                            "(use short_side, preset, crf)")
        try:
            profile = Profile(name, optional(values.get("short_side"), int), optional(values.get("preset"), str),
                              optional(values.get("crf"), int))
        except (TypeError, ValueError):
            raise UserError(f"rules file {path}: profile {name} has a bad value (short_side and crf are whole "
                            "numbers, preset a name)") from None
        if profile.short_side is not None and (profile.short_side < 64 or profile.short_side % 2):
            raise UserError(f"rules file {path}: profile {name}: short_side must be an even number of pixels, "
                            f"at least 64 (got {profile.short_side})")
        if profile.preset is not None and profile.preset not in PRESETS:
            raise UserError(f"rules file {path}: profile {name}: preset must be one of {', '.join(PRESETS)} "
                            f"(got {profile.preset!r})")
        if profile.crf is not None and not 0 <= profile.crf <= 51:
            raise UserError(f"rules file {path}: profile {name}: crf must be 0 to 51 (got {profile.crf})")
        profiles[name] = profile
    return profiles
