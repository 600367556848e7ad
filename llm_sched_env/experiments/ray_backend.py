"""The Ray backend: every cell is a Ray task, on a local Ray instance or a cluster.

Tasks run :func:`~llm_sched_env.experiments.cell.run_cell` on whichever node has a free CPU;
their records come back to this process, which writes the result store. Every node needs
the same version of this package installed (``python -m pip install -e ".[ray]"``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any

import ray
from ray.exceptions import RayTaskError

from llm_sched_env.experiments.backends import CellError, describe
from llm_sched_env.experiments.cell import run_cell
from llm_sched_env.experiments.config import CellConfig
from llm_sched_env.experiments.policies import get_policy

# A failed cell fails the run, as with the local backend: Ray does not retry it.
_run_cell_task = ray.remote(num_cpus=1, max_retries=0)(run_cell)
_IN_FLIGHT_PER_CPU = 2  # cells submitted per CPU of the cluster, so a CPU never waits for the next


class RayBackend:
    """Cells as Ray tasks on the cluster at ``address`` (``auto``: the one on this node).

    Without an address, :meth:`run` starts a local Ray instance with ``num_cpus`` CPUs
    (default: all) and shuts it down when the cells are done or the run stops early. When
    Ray is already initialised in this process (``ray.init`` by the caller), that instance
    is used and kept; after an early stop, the few cells already submitted finish there.
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
            yield _as_finished(
                cells, in_flight=_IN_FLIGHT_PER_CPU * max(1, int(ray.cluster_resources().get("CPU", 0)))
            )
        finally:
            if started:
                ray.shutdown()


def _as_finished(cells: Sequence[CellConfig], in_flight: int) -> Iterator[dict[str, Any]]:
    """Records of ``cells`` as they finish, with at most ``in_flight`` cells submitted at a time.

    Submitting as cells finish (instead of all at once) means an early exit leaves only the
    few submitted cells to finish on a cluster that outlives the run; they are never
    cancelled, since cancelling tasks that are about to finish can crash Ray's driver
    (ray-project/ray#54846).
    """
    queue = iter(cells)
    pending: dict[ray.ObjectRef, CellConfig] = {}
    while True:
        for cell in islice(queue, in_flight - len(pending)):
            pending[_run_cell_task.remote(cell, get_policy(cell.policy))] = cell
        if not pending:
            return
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        cell = pending.pop(ref)
        try:
            record = ray.get(ref)
        except RayTaskError as err:
            raise CellError(f"cell {describe(cell)}: {err.cause}") from err.cause
        yield record
