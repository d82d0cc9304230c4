"""The ``peakclip`` command line: one module per group of commands (clip, fleet, tiers, channel, evaluate).

User errors print one line and exit 2; no tracebacks.
"""
from __future__ import annotations

import sys

from peakclip.detectors.errors import UserError
from peakclip.workers.cli import channel, clip, evaluate, fleet, tiers
from peakclip.workers.cli.common import EXIT_USER_ERROR, OneLineParser

GROUPS = (clip, fleet, tiers, channel, evaluate)


def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="peakclip", description="Find the moments a live audience reacted to and cut them into promo clips.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for group in GROUPS:
        group.add_commands(commands)
    return parser


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Keep memory flat over hours of input: glibc gives each decoding thread its own malloc
    arena, and the megabyte-sized blocks those threads allocate and free one chunk after another
    stay behind in them, so peak memory crept up with the stream's length (152 MB at 10 minutes,
    196 MB at 2 hours). Two arenas keep it level (150 MB both); measured with bench/speed.py
    --memory. A no-op where the C library is not glibc."""
    import ctypes

    m_arena_max = -8
    try:
        # The running program's own symbols: libc is loaded already (find_library would run
        # ldconfig in a subprocess at every start just to learn its name).
        ctypes.CDLL(None).mallopt(m_arena_max, arenas)
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    limit_malloc_arenas()
    try:
        return args.handler(args)
    except UserError as err:
        print(f"peakclip: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("peakclip: interrupted (finished clips are kept: run the same command again to resume)", file=sys.stderr)
        return 130
    except OSError as err:
        # The machine, not peakclip: a full disk, a folder that went away, a permission.
        where = f": {err.filename}" if err.filename else ""
        print(f"peakclip: error: {err.strerror or err}{where}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
