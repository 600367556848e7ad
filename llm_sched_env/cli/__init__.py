"""The ``llm-sched`` command line: one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from llm_sched_env.extras import MissingExtraError

# Each module defines ``add_parser(subparsers)`` registering its subcommand with a
# ``func(args) -> int`` default. Imported lazily so `llm-sched --help` stays fast.
COMMAND_MODULES = (
    "generate",
    "simulate",
    "speed",
    "memory",
    "table1",
    "serving",
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
    """Run ``llm-sched`` with ``argv`` (default: the process's arguments); returns the exit status.

    Bad options exit with status 2 and argparse's message naming the option; errors of
    the run itself (bad values, files, a missing optional dependency) with status 2 and
    one line ``llm-sched COMMAND: error: ...``, never a traceback.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a bad option (2), already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return args.func(args)
    except (ValueError, OSError, MissingExtraError) as err:
        print(f"llm-sched {args.command}: error: {err}", file=sys.stderr)
        return 2
