"""Run a list of cells in parallel worker processes, resuming from a result store."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from functools import partial
from typing import Any

from llm_sched_env.experiments.cell import run_cell
from llm_sched_env.experiments.config import CellConfig
from llm_sched_env.experiments.policies import get_policy
from llm_sched_env.experiments.store import ResultStore


class CellError(RuntimeError):
    """A cell failed; the message names its configuration."""


def describe(config: CellConfig) -> str:
    """A short human-readable name of a cell."""
    return (
        f"{config.policy} R={config.num_regular} L={config.num_llm} seed={config.seed} "
        f"jobs={config.num_jobs} rate={config.arrival_rate:g}"
    )


def run_cells(
    cells: Sequence[CellConfig],
    store: ResultStore | None = None,
    *,
    workers: int | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """The result record of every cell, in the order of ``cells``.

    Cells already in ``store`` are not run again; every new record is appended to it as
    soon as its cell finishes, so an interrupted run loses at most the running cells.
    ``workers`` processes run cells in parallel (default: one per CPU; 1 runs in this
    process). ``progress`` shows a progress bar on stderr when tqdm is installed.
    """
    workers = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: must be an integer >= 1, got {workers!r}")
    store = store if store is not None else ResultStore()
    unique = {cell.key: cell for cell in cells}
    todo = [cell for key, cell in unique.items() if key not in store]
    bar = partial(_progress_bar, len(unique), len(unique) - len(todo), progress)
    if workers == 1 or len(todo) <= 1:
        with bar() as shown:
            for cell in todo:
                store.append(_run_named(cell))
                shown.update(1)
    else:
        _run_in_pool(todo, store, min(workers, len(todo)), bar)
    return [store.records[cell.key] for cell in cells]


def _run_named(cell: CellConfig) -> dict[str, Any]:
    try:
        return run_cell(cell, get_policy(cell.policy))
    except Exception as err:
        raise CellError(f"cell {describe(cell)}: {err}") from err


def _ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C is handled by the parent, which stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_in_pool(todo: list[CellConfig], store: ResultStore, workers: int, bar: Callable[[], Any]) -> None:
    with ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts) as pool:
        # Submitting starts the workers; the progress bar (which may start a thread) comes
        # after, so workers are never forked from a multi-threaded parent by it.
        pending: dict[Future, CellConfig] = {
            pool.submit(run_cell, cell, get_policy(cell.policy)): cell for cell in todo
        }
        try:
            with bar() as shown:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        cell = pending.pop(future)
                        try:
                            record = future.result()
                        except Exception as err:
                            raise CellError(f"cell {describe(cell)}: {err}") from err
                        store.append(record)
                        shown.update(1)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    if enabled:
        try:
            from tqdm import tqdm
        except ImportError:
            return _NoBar()
        return tqdm(total=total, initial=initial, unit="cell", desc="cells", file=sys.stderr)
    return _NoBar()
