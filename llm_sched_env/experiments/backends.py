"""Where cells run: this machine's worker processes, or a Ray cluster.

A :class:`Backend` runs a list of cells and hands back each record as its cell finishes;
:func:`~llm_sched_env.experiments.runner.run_cells` writes them to the result store and
returns them in the cells' order, whichever backend ran them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from llm_sched_env.experiments.cell import run_cell
from llm_sched_env.experiments.config import CellConfig
from llm_sched_env.experiments.policies import get_policy
from llm_sched_env.extras import require_extra

BACKENDS = ("local", "ray")


class CellError(RuntimeError):
    """A cell failed; the message names its configuration."""


def describe(config: CellConfig) -> str:
    """A short human-readable name of a cell."""
    return (
        f"{config.policy} R={config.num_regular} L={config.num_llm} seed={config.seed} "
        f"jobs={config.num_jobs} rate={config.arrival_rate:g}"
    )


class Backend(Protocol):
    """Runs cells and yields their records as they finish."""

    def run(self, cells: Sequence[CellConfig]) -> AbstractContextManager[Iterator[dict[str, Any]]]:
        """A context whose value yields the record of each of ``cells`` as it finishes (any order).

        A failing cell raises :class:`CellError` from the iterator; leaving the context early
        (an error, Ctrl-C) stops the cells still running.
        """
        ...

    def describe(self) -> str:
        """Where the cells ran, for the summary line (e.g. ``2 workers``)."""
        ...


class LocalBackend:
    """``workers`` processes of this machine (1: cells run in this process)."""

    def __init__(self, workers: int | None = None) -> None:
        workers = (os.cpu_count() or 1) if workers is None else workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers: must be an integer >= 1, got {workers!r}")
        self.workers = workers

    def describe(self) -> str:
        return f"{self.workers} workers"

    @contextmanager
    def run(self, cells: Sequence[CellConfig]) -> Iterator[Iterator[dict[str, Any]]]:
        if self.workers == 1 or len(cells) <= 1:
            yield (run_named(cell) for cell in cells)
            return
        workers = min(self.workers, len(cells))
        with ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts) as pool:
            # Submitting starts the workers before the caller opens its progress bar (which may
            # start a thread), so workers are never forked from a multi-threaded parent by it.
            pending: dict[Future, CellConfig] = {
                pool.submit(run_cell, cell, get_policy(cell.policy)): cell for cell in cells
            }
            try:
                yield _as_finished(pending)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def run_named(cell: CellConfig) -> dict[str, Any]:
    """The record of ``cell`` run here; a failure raises :class:`CellError` naming the cell."""
    try:
        return run_cell(cell, get_policy(cell.policy))
    except Exception as err:
        raise CellError(f"cell {describe(cell)}: {err}") from err


def _as_finished(pending: dict[Future, CellConfig]) -> Iterator[dict[str, Any]]:
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            cell = pending.pop(future)
            try:
                yield future.result()
            except Exception as err:
                raise CellError(f"cell {describe(cell)}: {err}") from err


def _ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C is handled by the parent, which stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def make_backend(name: str, workers: int | None = None, address: str | None = None) -> Backend:
    """The backend called ``name`` (one of :data:`BACKENDS`).

    ``local`` runs ``workers`` processes. ``ray`` joins the Ray cluster at ``address``
    (``auto``: the one started on this node with ``ray start``) or, without an address,
    starts a local Ray instance with ``workers`` CPUs (default: all); it needs the ray extra.
    """
    if name == "local":
        if address is not None:
            raise ValueError("--ray-address: applies to --backend ray only")
        return LocalBackend(workers)
    if name == "ray":
        if address is not None and workers is not None:
            raise ValueError("--workers: with --ray-address, the cluster's CPUs set the parallelism")
        require_extra("ray", "--backend ray")
        from llm_sched_env.experiments.ray_backend import RayBackend

        return RayBackend(address=address, num_cpus=workers)
    raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {name!r}")
