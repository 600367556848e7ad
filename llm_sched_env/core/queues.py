"""Ready queues: how a pool keeps its ready stages and which one it starts next.

A queue holds ``(job, stage)`` pairs. The simulator only pops from a queue when the
choice matters (more ready stages than free executors); otherwise it drains it.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from llm_sched_env.core.state import JobState

StageRef = tuple["JobState", int]


class ReadyQueue(Protocol):
    """The ready stages of one executor pool."""

    def __len__(self) -> int: ...

    def push(self, job: JobState, stage: int) -> None: ...

    def pop(self) -> StageRef:
        """Remove and return the stage the policy starts next."""

    def drain(self) -> list[StageRef]:
        """Remove and return every stage (all of them start, so order only picks executors)."""

    def __iter__(self): ...


class FifoQueue:
    """Ready stages in the order they became ready; choices are made from outside."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: list[StageRef] = []

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def push(self, job: JobState, stage: int) -> None:
        self._items.append((job, stage))

    def pop(self) -> StageRef:
        return self._items.pop(0)

    def remove(self, job: JobState, stage: int) -> None:
        for k, (j, s) in enumerate(self._items):
            if j is job and s == stage:
                del self._items[k]
                return
        raise ValueError(f"stage {stage} of job {job.spec.job_id} is not ready")

    def drain(self) -> list[StageRef]:
        items, self._items = self._items, []
        return items


class PriorityQueue:
    """Starts the ready stage with the smallest ``key(job, stage)``; ties by readiness order."""

    __slots__ = ("_heap", "_key", "_seq")

    def __init__(self, key: Callable[[JobState, int], Any]) -> None:
        self._heap: list[tuple[Any, int, JobState, int]] = []
        self._key = key
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def __iter__(self):
        return ((job, stage) for _, _, job, stage in sorted(self._heap, key=lambda e: e[1]))

    def push(self, job: JobState, stage: int) -> None:
        self._seq += 1
        heappush(self._heap, (self._key(job, stage), self._seq, job, stage))

    def pop(self) -> StageRef:
        _, _, job, stage = heappop(self._heap)
        return job, stage

    def drain(self) -> list[StageRef]:
        items = list(self)
        self._heap.clear()
        return items


class RandomQueue:
    """Starts a uniformly random ready stage, drawn from its own generator."""

    __slots__ = ("_items", "_random")

    def __init__(self, rng: np.random.Generator) -> None:
        self._items: list[StageRef] = []
        self._random = rng.random

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def push(self, job: JobState, stage: int) -> None:
        self._items.append((job, stage))

    def pop(self) -> StageRef:
        items = self._items
        k = int(self._random() * len(items))
        items[k], items[-1] = items[-1], items[k]
        return items.pop()

    def drain(self) -> list[StageRef]:
        items, self._items = self._items, []
        return items
