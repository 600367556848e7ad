"""The ``llm-sched`` command line: one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines ``add_parser(subparsers)`` registering its subcommand with a
# ``func(args) -> int`` default. Imported lazily so `llm-sched --help` stays fast.
COMMAND_MODULES = (
    "generate",
    "simulate",
    "speed",
    "memory",
    "table1",
    "bench",
    "calibrate",
    "train",
    "evaluate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-sched", description="Simulate and schedule compound LLM applications."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"llm_sched_env.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as err:
        print(f"llm-sched {args.command}: error: {err}", file=sys.stderr)
        return 2
