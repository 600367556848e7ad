"""Fitting the arrival rate, the one constant the paper leaves open above all others.

The paper gives neither its arrival rate nor every duration constant. The rate sets how
overloaded each executor setting is, so it shapes the whole of Table I. We fit this one
number to the whole table: the rate minimising the largest relative deviation from the
paper over all twelve cells (FCFS, RS, PS-TCS x R=L in {10, 20, 30, 40}), on seeds that
``llm-sched table1`` never uses. One rate serves every cell and policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llm_sched_env.experiments.backends import Backend
from llm_sched_env.experiments.config import Grid
from llm_sched_env.experiments.paper import PAPER_NUM_JOBS, PAPER_POLICIES, PAPER_SETTINGS, PAPER_TABLE1
from llm_sched_env.experiments.runner import run_cells

CALIBRATION_SEEDS = tuple(range(100, 120))  # disjoint from table1's seeds 0..N-1
DEFAULT_RATES = tuple(np.round(np.arange(0.54, 0.641, 0.01), 2).tolist())


@dataclass(frozen=True)
class RateFit:
    """Mean JCT per (policy, R = L) at one arrival rate, and its deviations from the paper."""

    rate: float
    jct: dict[tuple[str, int], float]

    @property
    def deviations(self) -> dict[tuple[str, int], float]:
        return {cell: jct / PAPER_TABLE1[cell[0]][cell[1]] - 1 for cell, jct in self.jct.items()}

    @property
    def worst(self) -> float:
        return max(abs(d) for d in self.deviations.values())


def fit_arrival_rate(
    rates: Sequence[float] = DEFAULT_RATES,
    seeds: Sequence[int] = CALIBRATION_SEEDS,
    workers: int | None = None,
    progress: bool = False,
    backend: Backend | None = None,
) -> list[RateFit]:
    """The paper's grid at every candidate rate; the best fit is ``min(fits, key=lambda f: f.worst)``.

    ``workers`` and ``backend`` are passed to :func:`run_cells`.
    """
    grid = Grid(
        policies=PAPER_POLICIES,
        settings=PAPER_SETTINGS,
        seeds=tuple(seeds),
        num_jobs=(PAPER_NUM_JOBS,),
        arrival_rates=tuple(rates),
    )
    records = run_cells(grid.cells(), workers=workers, progress=progress, backend=backend)
    jcts: dict[float, dict[tuple[str, int], list[float]]] = {}
    for record in records:
        config = record["config"]
        cell = (record["policy"], config["R"])
        jcts.setdefault(config["arrival_rate"], {}).setdefault(cell, []).append(record["mean_jct"])
    return [
        RateFit(rate, {cell: float(np.mean(v)) for cell, v in by_cell.items()})
        for rate, by_cell in jcts.items()
    ]
