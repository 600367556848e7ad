"""The Ray backend: every cell is a Ray task, on a local Ray instance or a cluster.

Tasks run :func:`~llm_sched_env.experiments.cell.run_cell` on whichever node has a free CPU;
their records come back to this process, which writes the result store. Every node needs
the same version of this package installed (``python -m pip install -e ".[ray]"``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ray
from ray.exceptions import RayTaskError

from llm_sched_env.experiments.backends import CellError, describe
from llm_sched_env.experiments.cell import run_cell
from llm_sched_env.experiments.config import CellConfig
from llm_sched_env.experiments.policies import get_policy

# A failed cell fails the run, as with the local backend: Ray does not retry it.
_run_cell_task = ray.remote(num_cpus=1, max_retries=0)(run_cell)


class RayBackend:
    """Cells as Ray tasks on the cluster at ``address`` (``auto``: the one on this node).

    Without an address, :meth:`run` starts a local Ray instance with ``num_cpus`` CPUs
    (default: all) and shuts it down when the cells are done. When Ray is already
    initialised in this process (``ray.init`` by the caller), that instance is used and kept.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        if num_cpus is not None and (type(num_cpus) is not int or num_cpus < 1):
            raise ValueError(f"num_cpus: must be an integer >= 1, got {num_cpus!r}")
        if address is not None and num_cpus is not None:
            raise ValueError("num_cpus: only for a local Ray instance, not with an address")
        self.address = address
        self.num_cpus = num_cpus

    def describe(self) -> str:
        where = "a local Ray instance" if self.address is None else f"the Ray cluster at {self.address}"
        return f"Ray tasks on {where}"

    @contextmanager
    def run(self, cells: Sequence[CellConfig]) -> Iterator[Iterator[dict[str, Any]]]:
        started = not ray.is_initialized()
        if started:
            ray.init(
                address=self.address, num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False
            )
        try:
            pending = {_run_cell_task.remote(cell, get_policy(cell.policy)): cell for cell in cells}
            try:
                yield _as_finished(pending)
            except BaseException:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
        finally:
            if started:
                ray.shutdown()


def _as_finished(pending: dict[ray.ObjectRef, CellConfig]) -> Iterator[dict[str, Any]]:
    while pending:
        finished, _ = ray.wait(list(pending), num_returns=1)
        for ref in finished:
            cell = pending.pop(ref)
            try:
                yield ray.get(ref)
            except RayTaskError as err:
                raise CellError(f"cell {describe(cell)}: {err.cause}") from err.cause
