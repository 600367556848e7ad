"""Run a list of cells on a backend (worker processes or Ray), resuming from a result store."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from llm_sched_env.experiments.backends import Backend, LocalBackend
from llm_sched_env.experiments.config import CellConfig
from llm_sched_env.experiments.store import ResultStore


def run_cells(
    cells: Sequence[CellConfig],
    store: ResultStore | None = None,
    *,
    workers: int | None = None,
    progress: bool = False,
    backend: Backend | None = None,
) -> list[dict[str, Any]]:
    """The result record of every cell, in the order of ``cells``.

    Cells already in ``store`` are not run again; every new record is appended to it as
    soon as its cell finishes, so an interrupted run loses at most the running cells.
    ``backend`` runs the cells (default: ``LocalBackend(workers)``, ``workers`` processes,
    one per CPU when None; 1 runs in this process). ``progress`` shows a progress bar on
    stderr when tqdm is installed.
    """
    if backend is not None and workers is not None:
        raise ValueError("workers: give it to the backend, not beside one")
    backend = LocalBackend(workers) if backend is None else backend
    store = store if store is not None else ResultStore()
    unique = {cell.key: cell for cell in cells}
    todo = [cell for key, cell in unique.items() if key not in store]
    with backend.run(todo) as finished, _progress_bar(len(unique), len(unique) - len(todo), progress) as bar:
        for record in finished:
            store.append(record)
            bar.update(1)
    return [store.records[cell.key] for cell in cells]


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
