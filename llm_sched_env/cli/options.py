"""What every subcommand shares: its help format, checked option types, output paths."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from llm_sched_env.core import Cluster


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default after its help, except for options without one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


def add_command(
    subparsers: argparse._SubParsersAction, name: str, *, help: str, description: str
) -> argparse.ArgumentParser:
    """Register subcommand ``name`` with its one-line ``help`` and its ``--help`` ``description``."""
    return subparsers.add_parser(name, help=help, description=description, formatter_class=HelpFormatter)


def int_in(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in ``[minimum, maximum]`` (no upper bound when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"must be an integer {bound}, got {text}")
        return value

    parse.__name__ = "integer"  # argparse names the type in some messages
    return parse


def _writable_directory(directory: Path) -> None:
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise argparse.ArgumentTypeError(f"directory {str(directory)!r} {what}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"directory {str(directory)!r} is not writable")


def output_file(text: str) -> str:
    """An argparse type: a file to write, whose directory exists and is writable.

    Checked when the command line is parsed, so a bad path fails before any work starts.
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    if path.exists() and not os.access(path, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable")
    _writable_directory(path.parent)
    return text


def cluster_file(text: str) -> Cluster:
    """An argparse type: a cluster JSON file (:meth:`Cluster.load`), read when the line is parsed."""
    try:
        return Cluster.load(text)
    except OSError as err:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {err.strerror}") from None
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def output_directory(text: str) -> str:
    """An argparse type: a directory to write into; it, or the nearest existing parent, must be writable."""
    path = Path(text)
    while not path.exists() and path != path.parent:
        path = path.parent
    _writable_directory(path)
    return text
