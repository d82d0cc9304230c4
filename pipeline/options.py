"""The clip job's options, in one table: ``peakclip clip``'s flags, ``submit(..., **options)``,
``peakclip.clip(..., **options)`` and a stream-end event's ``options`` all read it.

Each ``Option`` is one flag (``min_score`` is ``--min-score``): its help, how its value is checked
(the same converter is argparse's ``type`` and the check of a value from Python or JSON, so
``clips=0`` fails as ``--clips 0`` does) and which config fields it sets. Values come in as
``{option name: value}``; None means "not given" (as an argparse default does) and leaves the
config as it is. ``--config`` is not here: it names the configuration, it is not a setting.

This module is imported when the command line starts, so it imports nothing heavy at the top:
the config (~0.7 s with the chat and transcript readers it pulls in) only when values are applied.
"""
from __future__ import annotations

import argparse
import copy
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from peakclip.detectors.errors import UserError

if TYPE_CHECKING:
    from peakclip.pipeline.config import Config


# ---- converters: argparse's ``type`` for the flag, and the check of a value given as data ------
# Each takes the flag's text or a value from Python/JSON (3, 2.5, True, ["chat", "audio"]) and
# returns the value the config takes; a bad value raises ArgumentTypeError (argparse prints its
# message) or ValueError/TypeError (argparse says "invalid <name> value"). Given their own output
# they return it unchanged, so a value checked twice (CLI, then submit) is the same value.

def whole_number(value: Any) -> int:
    """An integer: "3", 3 or 3.0 (not 3.5, not True)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(value)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
    return int(value)


def positive_int(value: Any) -> int:
    count = whole_number(value)
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {count}")
    return count


def number(value: Any) -> float:
    """A finite number: "2.5", 2.5 or 2."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(value)
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(value)
    return result


def seconds(value: Any) -> float:
    """A positive number of seconds."""
    result = number(value)
    if result <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {result:g}")
    return result


def score_value(value: Any) -> float:
    """A fused score: robust deviations above the baseline, 0 or more."""
    result = number(value)
    if result < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {result:g}")
    return result


def text(value: Any) -> str:
    """Text; a number is taken as its text (a UNIX time from JSON, a title of 2026)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise TypeError(value)


def path(value: Any) -> str:
    """A file's path (or one of the words its option takes instead): text, never a number."""
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def comma_list(value: Any) -> list[str]:
    """"a,b" or ["a", "b"] -> ["a", "b"] (blanks dropped, as the config reads a comma list)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(x, str) for x in items):
        raise TypeError(value)
    return [x.strip() for x in items if x.strip()]


def stage_count(value: Any) -> str:
    """--stages: N or "auto", kept as text (the config checks it); 3 from JSON is "3"."""
    return str(whole_number(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else text(value)


def product_mode(value: Any) -> str | None:
    """--per-product [strict]: "on" or "strict"; from Python/JSON also True ("on") and False (off)."""
    if isinstance(value, bool):
        return "on" if value else None
    return text(value)


def switch(value: Any) -> bool | None:
    """A flag without a value: True when given; False is "not given" (the config stays as it is)."""
    if not isinstance(value, bool):
        raise TypeError(value)
    return True if value else None


positive_int.__name__ = whole_number.__name__ = "whole number"
seconds.__name__ = "number of seconds"
score_value.__name__ = "score"
number.__name__ = "number"
comma_list.__name__ = "comma list"
path.__name__ = "path"
switch.__name__ = "true/false"
stage_count.__name__ = "stages"
product_mode.__name__ = "on/strict"


# ---- how an option becomes config overrides, where it is more than one field ------------------
# Each gets the option's checked value and all the options given (some depend on another).

def _events_overrides(events: str, others: Mapping[str, Any]) -> dict:
    # Beside a chat log, the events are a second log read with it; alone, the events log IS the
    # job's chat log (chat_log_of) and sets nothing here.
    return {"chat": {"events": events}} if others.get("chat") else {}


def _captions_overrides(value: str, others: Mapping[str, Any]) -> dict:
    from peakclip.pipeline.config import captions_overrides

    return captions_overrides(value, others.get("transcript"))


def _per_product_overrides(mode: str, others: Mapping[str, Any]) -> dict:
    return {"select": {"per_product": True, **({"per_product_strict": True} if mode == "strict" else {})}}


def _no_render_overrides(_: bool, others: Mapping[str, Any]) -> dict:
    return {"render": {"enabled": False}}


def _no_report_overrides(_: bool, others: Mapping[str, Any]) -> dict:
    return {"output": {"report": False}}


# ---- which values of a file option name no file (the service resolves the others inside its root)

def no_words() -> tuple[str, ...]:
    return ()


def transcript_words() -> tuple[str, ...]:
    from peakclip.detectors.transcript.embedded import NAME as EMBEDDED   # the recording's own subtitles

    return (EMBEDDED,)


def captions_words() -> tuple[str, ...]:
    from peakclip.pipeline.config import CAPTIONS   # the captions switch: off, auto

    return (*transcript_words(), *CAPTIONS)


@dataclass(frozen=True)
class Option:
    """One option of the clip job."""
    name: str                                   # Python/JSON name; the flag is --name-with-dashes
    help: str
    metavar: str | None = None
    convert: Callable[[Any], Any] = text        # argparse's type, and the check of a value given as data
    choices: tuple[str, ...] | None = None      # checked after convert
    field: tuple[str, str] | None = None        # the (section, field) it sets, for most options
    # For the others: (checked value, every option given) -> {section: {field: value}}. An option
    # with neither sets no config (chat: the job's chat log, an argument of its own).
    to_config: Callable[[Any, Mapping[str, Any]], dict] | None = None
    const: str | None = None                    # a flag whose value may be left out (--per-product)
    # A file option: the values that name no file (lazily: their modules are slow to import).
    file_except: Callable[[], tuple[str, ...]] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_switch(self) -> bool:
        return self.convert is switch

    def argparse_settings(self) -> dict:
        if self.is_switch:
            return {"action": "store_true", "default": None, "help": self.help}
        settings = {"type": self.convert, "metavar": self.metavar, "choices": self.choices, "help": self.help}
        return {**settings, "nargs": "?", "const": self.const} if self.const is not None else settings

    def check(self, value: Any) -> Any:
        """The value as the flag's argparse type makes it (None: not given); UserError naming the
        option when it is bad."""
        if value is None:
            return None
        try:
            value = self.convert(value)
        except argparse.ArgumentTypeError as err:
            raise UserError(f"option {self.name}: {err}") from None
        except (TypeError, ValueError):
            raise UserError(f"option {self.name}: invalid {self.convert.__name__} value: {value!r}") from None
        if self.choices and value is not None and value not in self.choices:
            raise UserError(f"option {self.name}: invalid choice: {value!r} (choose from {', '.join(self.choices)})")
        return value

    def overrides(self, value: Any, others: Mapping[str, Any]) -> dict:
        """``{section: {field: value}}`` for its checked ``value``; ``others``: every option given."""
        if self.to_config:
            return self.to_config(value, others)
        if self.field:
            section, name = self.field
            return {section: {name: value}}
        return {}


TABLE: tuple[Option, ...] = (
    Option("chat", "chat log of the stream", "FILE", path, file_except=no_words),
    Option("events", "the stream's commerce events (product switches, carts, orders) when they are in a "
                     "file of their own: read with the chat log as one audience", "FILE", path,
           to_config=_events_overrides, file_except=no_words),
    Option("audio_track", "which audio track to analyse and put in the clips, counted from 0 (default 0, the first)",
           "N", whole_number, field=("analysis", "audio_track")),
    Option("chat_format", "force the chat log format instead of detecting it", "NAME", field=("chat", "format")),
    Option("chat_offset", "seconds to add to every chat time", "S", number, field=("chat", "offset")),
    Option("stream_start", "when the recording started (ISO 8601 or UNIX time), for chat logs with wall-clock times",
           "TIME", field=("chat", "stream_start")),
    Option("transcript", "what was said: an SRT, WebVTT or Whisper JSON file, or 'embedded' for the recording's "
                         "own subtitles; clips then open and close on sentence boundaries and carry their text",
           "FILE|embedded", path, field=("transcript", "path"), file_except=transcript_words),
    Option("transcript_offset", "seconds to add to every transcript time", "S", number, field=("transcript", "offset")),
    Option("captions", "burn captions into the clips and write NN-<id>.srt beside each: 'auto' from the "
                       "transcript, or without one recognised from each clip's own sound (English by default: "
                       "transcript.language); FILE is --transcript FILE with captions (default off)",
           "off|auto|FILE", path, to_config=_captions_overrides, file_except=captions_words),
    Option("clips", "how many clips at most (default 5)", "N", positive_int, field=("select", "clips")),
    Option("min_len", "shortest clip in seconds (default 15)", "S", seconds, field=("select", "min_len")),
    Option("max_len", "longest clip in seconds (default 60)", "S", seconds, field=("select", "max_len")),
    Option("min_score", "clip only moments whose fused score reaches Z (default 2.0); lower it to get the "
                        "best moments of a calm recording (they are tiered C)", "Z", score_value,
           field=("select", "min_score")),
    Option("signals", "comma list of chat,audio,visual (default all)", "LIST", comma_list, field=("analysis", "signals")),
    # config.CUTS, written out: the parser is built at every start, before the config is imported
    # (tests/test_options.py checks the two agree).
    Option("cuts", "decode key frames for scene cuts only near the clips' edges (default), or everywhere "
                   "(slower; the manifest then lists every cut)", choices=("edges", "all"), field=("analysis", "cuts")),
    Option("stages", "judge the broadcast in N equal stages (default 3), or 'auto': where the audience level shifts",
           "N|auto", stage_count, field=("tag", "stages")),
    Option("stage_at", "explicit stage boundaries, e.g. 01:20:00,02:40:00", "TIMES", comma_list, field=("tag", "stage_at")),
    Option("channel", "rank with what feedback on this channel's earlier clips taught: which signals its audience "
                      "answers (docs/channels.md; default: none, the default weights)", "NAME", field=("channel", "name")),
    Option("per_product", "live commerce: one clip for every product the host presented, chosen inside its time "
                          "on air; 'strict': none for a product with no moment reaching --min-score", "strict",
           product_mode, choices=("on", "strict"), to_config=_per_product_overrides, const="on"),
    Option("clips_per_product", "with --per-product: clips for each product (default 1)", "N", positive_int,
           field=("select", "clips_per_product")),
    Option("format", "vertical (default, 1080x1920), portrait (1080x1350), square, horizontal or source; "
                     "a comma list renders several from one decode", "LIST", comma_list, field=("render", "formats")),
    # config.FILLS, written out (tests/test_options.py checks the two agree).
    Option("fill", "vertical/portrait/square: auto (default: framed on the people, per shot), blur (the whole "
                   "picture over a blurred fill) or crop (follow the motion)", choices=("auto", "blur", "crop"),
           field=("render", "fill")),
    Option("facecam", "with --fill auto: a streamer's webcam box X,Y,W,H (pixels of the recording), stacked over the "
                      "game; 'off': no stacked layout; default auto (found)", "BOX|off", field=("render", "facecam")),
    # config.PROFILES, written out as CUTS is above.
    Option("profiles", "'full': every clip at its full size (vertical 1080x1920); 'pools': each at the render "
                       "profile of the traffic pool its tier starts in (bundled rules: 720x1280 in the test and "
                       "small pools), rendered again at full when feedback promotes it (default: full for clip, "
                       "pools for watch and submit)", choices=("full", "pools"), field=("render", "profiles")),
    Option("title", "title drawn near the top of each clip; with --per-product {title} and {item} name the clip's "
                    "product (default: its title)", "TEXT", field=("render", "title")),
    Option("watermark", "image drawn in the top-right corner", "PNG", path, field=("render", "watermark"),
           file_except=no_words),
    Option("copy", "with --format source: cut on key frames without re-encoding", convert=switch,
           field=("render", "copy")),
    Option("jobs", "clips rendered at once (default from the core count)", "N", positive_int, field=("render", "jobs")),
    Option("no_render", "analyse and write the manifest only", convert=switch, to_config=_no_render_overrides),
    Option("no_report", "do not write DIR/report.html", convert=switch, to_config=_no_report_overrides),
    Option("export", "also write the chosen spans as editor timelines: a comma list of edl, otio, fcpxml", "LIST",
           comma_list, field=("output", "exports")),
)
OPTIONS: dict[str, Option] = {option.name: option for option in TABLE}


def add_options(parser: argparse.ArgumentParser) -> None:
    """One flag per option of the table, in its order."""
    for option in TABLE:
        parser.add_argument(option.flag, **option.argparse_settings())


def values_of(args: argparse.Namespace) -> dict[str, Any]:
    """The table's options as a parsed command line holds them (None: not given)."""
    return {option.name: getattr(args, option.name) for option in TABLE}


def given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options given, each checked and converted as its flag is, in the table's order (None,
    and a switch's False, are "not given" and left out). An unknown name or a bad value is a
    one-line UserError naming it."""
    unknown = [name for name in values if name not in OPTIONS]
    if unknown:
        raise UserError(f"unknown option {unknown[0]!r} (the options are peakclip clip's long names, "
                        "e.g. min_len for --min-len)")
    checked = {name: OPTIONS[name].check(values[name]) for name in OPTIONS if name in values}
    return {name: value for name, value in checked.items() if value is not None}


def overrides(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{option name: value}`` as config overrides, ``{section: {field: value}}``."""
    checked = given(values)
    found: dict[str, dict[str, Any]] = {}
    for name, value in checked.items():
        for section, fields in OPTIONS[name].overrides(value, checked).items():
            found.setdefault(section, {}).update(fields)
    return found


def chat_log_of(values: Mapping[str, Any]) -> str | None:
    """The log the job reads as its chat log: ``chat``, or ``events`` when it is the only one."""
    return values.get("chat") or values.get("events")


def file_options() -> dict[str, tuple[str, ...]]:
    """The options that name files: {option name: the values that name none}."""
    return {option.name: option.file_except() for option in TABLE if option.file_except}


def job_config(config: "Config | str | os.PathLike | None", values: Mapping[str, Any]) -> "Config":
    """The job's configuration: ``config`` with the options applied over it. ``config`` is a Config
    (copied, never changed), a TOML file, or None (the defaults and the environment, as
    ``peakclip clip`` without ``--config``)."""
    from peakclip.pipeline.config import Config, load_config

    if config is None or isinstance(config, (str, os.PathLike)):
        return load_config(os.fspath(config) if config is not None else None, overrides=overrides(values))
    if not isinstance(config, Config):
        raise UserError(f"config must be a Config or the path of a TOML file (got {type(config).__name__})")
    configured = copy.deepcopy(config)
    configured.update(overrides(values), origin="options")
    return configured
