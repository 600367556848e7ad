"""Arrival processes: when requests reach the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from llm_sched_env.core.job import value_text
from llm_sched_env.workloads.application import check_positive

# Poisson rates accepted, in jobs/s. At the lowest, the cluster is empty between jobs (an
# unloaded job takes about a minute) and 100,000 jobs still arrive within ~1e8 s, well
# inside the simulator's MAX_TIME of 1e9 s; at the highest, arrivals are simultaneous.
MIN_ARRIVAL_RATE = 1e-3
MAX_ARRIVAL_RATE = 1e6


def check_arrival_rate(value: object, name: str) -> float:
    """``value`` as a float when it is a rate in ``[MIN_ARRIVAL_RATE, MAX_ARRIVAL_RATE]``.

    Raises ``ValueError`` naming ``name`` otherwise.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not MIN_ARRIVAL_RATE <= value <= MAX_ARRIVAL_RATE
    ):
        shown = value_text(value)
        raise ValueError(
            f"{name}: must be a number of jobs/s in [{MIN_ARRIVAL_RATE:g}, {MAX_ARRIVAL_RATE:g}], got {shown}"
        )
    return float(value)


class ArrivalProcess(Protocol):
    """An endless, non-decreasing stream of arrival times drawn from ``rng``."""

    def times(self, rng: np.random.Generator) -> Iterator[float]: ...


@dataclass(frozen=True)
class PoissonArrivals:
    """Poisson arrivals (the paper, Sec. III-B) at ``rate`` jobs per second, starting at time 0."""

    rate: float

    def __post_init__(self) -> None:
        check_positive("PoissonArrivals", rate=self.rate)
        check_arrival_rate(self.rate, "PoissonArrivals.rate")

    def times(self, rng: np.random.Generator, batch: int = 1024) -> Iterator[float]:
        t = 0.0
        while True:
            for gap in rng.exponential(1.0 / self.rate, size=batch).tolist():
                t += gap
                yield t
