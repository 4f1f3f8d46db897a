"""The ``ncodec`` command line.

Each feature area contributes its sub-commands through a ``register(subparsers)`` function in its own
module, listed in ``_COMMAND_MODULES``; the handler a sub-command sets with
``parser.set_defaults(func=...)`` receives the parsed arguments and returns an exit status.
Errors derived from :class:`ncodec.NcodecError` (and ``OSError``) become one clear line on stderr and
a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ncodec import __version__
from ncodec.errors import NcodecError

# Modules with a ``register(subparsers)`` function; order is the order in ``ncodec --help``.
_COMMAND_MODULES = [
    "ncodec.codecs.commands",
    "ncodec.container.commands",
    "ncodec.rd.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ncodec", description="Neural codecs with real bitstreams.")
    parser.add_argument("--version", action="version", version=f"ncodec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NcodecError as exc:
        print(f"ncodec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ncodec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
