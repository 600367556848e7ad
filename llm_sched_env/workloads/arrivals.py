"""Arrival processes: when requests reach the cluster."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from llm_sched_env.workloads.application import check_positive


class ArrivalProcess(Protocol):
    """An endless, non-decreasing stream of arrival times drawn from ``rng``."""

    def times(self, rng: np.random.Generator) -> Iterator[float]: ...


@dataclass(frozen=True)
class PoissonArrivals:
    """Poisson arrivals (the paper, Sec. III-B) at ``rate`` jobs per second, starting at time 0."""

    rate: float

    def __post_init__(self) -> None:
        check_positive("PoissonArrivals", rate=self.rate)

    def times(self, rng: np.random.Generator, batch: int = 1024) -> Iterator[float]:
        t = 0.0
        while True:
            for gap in rng.exponential(1.0 / self.rate, size=batch).tolist():
                t += gap
                yield t
