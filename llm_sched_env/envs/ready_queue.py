"""The ready queue of the environment's simulator: ready stages kept in FCFS order.

It implements the core's ``ReadyQueue`` protocol plus ``remove`` (used by decision-mode
``dispatch``), so the simulator fills and drains it, and it keeps what an observation
needs at hand: the ready stages sorted by FCFS key, the oldest ready stage of each
application class, and each stage's row in the :class:`StageTable`, which it tells when a
stage becomes ready.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterator

from llm_sched_env.core import READY, JobState
from llm_sched_env.core.executors import BatchingPool
from llm_sched_env.envs.stage_table import STAGE_BITS, StageTable

StageRef = tuple[JobState, int]


class FcfsReadyQueue:
    """Ready stages of one pool, iterated in FCFS order (arrival rank, then position)."""

    __slots__ = (
        "batching_pool",
        "by_class",
        "class_index",
        "contexts",
        "items",
        "keys",
        "other_class",
        "table",
    )

    def __init__(self, table: StageTable) -> None:
        self.table = table
        self.class_index, self.other_class = table.apps.index, table.apps.other  # see AppClasses
        self.keys: list[int] = []  # sorted stage keys
        self.by_class: list[list[int]] = [[] for _ in table.apps.classes]  # sorted keys per app class
        self.items: dict[int, StageRef] = {}
        # For a batching pool's queue (see track_contexts): the pool, and each stage's context.
        self.batching_pool: BatchingPool | None = None
        self.contexts: dict[int, int] = {}

    def track_contexts(self, pool: BatchingPool) -> None:
        """Keep ``pool.context(job, stage)`` (prompt plus kept tokens) of every stage pushed from
        now on, by stage key, in ``contexts``.

        The queue keeps the pool, not its bound method: ``copy.deepcopy`` copies the bound
        methods of a compiled pool by reference, so a copied queue would ask the original pool.
        """
        self.batching_pool = pool

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[StageRef]:
        items = self.items
        return (items[k] for k in self.keys)

    def push(self, job: JobState, stage: int) -> None:
        key = (job.rank << STAGE_BITS) | stage
        insort(self.keys, key)
        insort(self.by_class[self.class_index.get(job.spec.app, self.other_class)], key)
        self.items[key] = (job, stage)
        self.table.record(job, stage, READY)
        if self.batching_pool is not None:
            self.contexts[key] = self.batching_pool.context(job, stage)

    def remove(self, job: JobState, stage: int) -> None:
        key = (job.rank << STAGE_BITS) | stage
        if self.items.pop(key, None) is None:
            raise ValueError(f"stage {stage} of job {job.spec.job_id} is not ready")
        self._forget(job, stage, key)

    def _forget(self, job: JobState, stage: int, key: int) -> None:
        keys = self.keys
        del keys[bisect_left(keys, key)]
        keys = self.by_class[self.class_index.get(job.spec.app, self.other_class)]
        del keys[bisect_left(keys, key)]
        self.table.left_queue(job, stage)
        if self.batching_pool is not None:
            del self.contexts[key]

    def pop(self) -> StageRef:
        """Remove and return the FCFS-first ready stage."""
        key = self.keys[0]
        job, stage = self.items.pop(key)
        self._forget(job, stage, key)
        return job, stage

    def pop_first(self, accept: Callable[[JobState, int], bool]) -> StageRef:
        """Remove and return the FCFS-first ready stage that ``accept`` allows."""
        items = self.items
        for key in self.keys:
            job, stage = items[key]
            if accept(job, stage):
                self.remove(job, stage)
                return job, stage
        raise LookupError("no queued stage is accepted")
