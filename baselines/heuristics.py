"""FCFS, RS and PS-TCS as fast-path policies (they choose inside the simulator's ready queues)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from llm_sched_env.core import JobState, PriorityQueue, RandomQueue

# PS-TCS order from the paper (Sec. III-A): Task automation > Code generation > Sorting.
PAPER_APP_PRIORITY = ("task_automation", "code_generation", "sorting")

_STAGE_BITS = 24  # stage position field of the integer FCFS key (jobs of < 16M stages)
_RANK_BITS = 40  # arrival-rank field (runs of < 10^12 jobs)


def fcfs_key(job: JobState, stage: int) -> int:
    """FCFS order (arrival, job_id, stage position) packed in one int; ``rank`` is arrival order."""
    return (job.rank << _STAGE_BITS) | stage


class FCFS:
    """First come, first served: the ready stage of the earliest-arrived job."""

    name = "FCFS"

    def new_queue(self) -> PriorityQueue:
        return PriorityQueue(fcfs_key)


class AppPriority:
    """Fixed application priority, FCFS within an application.

    ``order`` lists app names from highest to lowest priority; apps not listed rank last.
    """

    def __init__(self, order: tuple[str, ...], name: str = "AppPriority") -> None:
        self.order = tuple(order)
        self.name = name
        self._rank: Mapping[str, int] = {app: r for r, app in enumerate(self.order)}
        self._unlisted = len(self.order)

    def key(self, job: JobState, stage: int) -> int:
        app_rank = self._rank.get(job.spec.app, self._unlisted)
        return (((app_rank << _RANK_BITS) | job.rank) << _STAGE_BITS) | stage

    def new_queue(self) -> PriorityQueue:
        return PriorityQueue(self.key)


class PSTCS(AppPriority):
    """PS-TCS (the paper's policy): Task automation > Code generation > Sorting, ties FCFS."""

    def __init__(self) -> None:
        super().__init__(PAPER_APP_PRIORITY, name="PS-TCS")


class RS:
    """Random scheduling: a uniformly random ready stage, from its own seeded generator."""

    name = "RS"

    def __init__(self, seed: int | np.random.SeedSequence | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def new_queue(self) -> RandomQueue:
        return RandomQueue(self.rng)
