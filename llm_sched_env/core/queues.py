"""Ready queues: how a pool keeps its ready stages and which one it starts next.

A queue holds ``(job, stage)`` pairs and is itself a list (so ``len`` is cheap); iterating
yields the ready stages. The simulator pops from it while the pool has free executors.
When all ready stages fit, the order of pops only decides which executor runs which
stage; when they do not, the queue's ``pop`` is the policy's choice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any, Protocol, SupportsIndex

import numpy as np

if TYPE_CHECKING:
    from llm_sched_env.core.state import JobState

StageRef = tuple["JobState", int]


class ReadyQueue(Protocol):
    """The ready stages of one executor pool."""

    def __len__(self) -> int: ...

    def push(self, job: JobState, stage: int) -> None: ...

    def pop(self) -> StageRef:
        """Remove and return the stage the policy starts next.

        A pool starts each popped stage (its status becomes ``RUNNING``) before it pops
        again, from this queue or any other; queues may rely on it (the state queues of
        ``llm_sched_env.baselines.state_queue`` do).
        """

    def pop_first(self, accept: Callable[[JobState, int], bool]) -> StageRef:
        """Remove and return the stage the policy starts next among those ``accept`` allows.

        The caller guarantees that at least one queued stage is accepted; the popped stage is
        started before the next pop, as with :meth:`pop`.
        """

    def __iter__(self) -> Iterator[StageRef]: ...


class FifoQueue(list):
    """Ready stages in the order they became ready; choices are made from outside."""

    __slots__ = ()

    def push(self, job: JobState, stage: int) -> None:
        self.append((job, stage))

    def pop(self) -> StageRef:  # type: ignore[override]
        return super().pop(0)

    def pop_first(self, accept: Callable[[JobState, int], bool]) -> StageRef:
        for k, (job, stage) in enumerate(self):
            if accept(job, stage):
                del self[k]
                return job, stage
        raise LookupError("no queued stage is accepted")

    def remove(self, job: JobState, stage: int) -> None:  # type: ignore[override]
        for k, (j, s) in enumerate(self):
            if j is job and s == stage:
                del self[k]
                return
        raise ValueError(f"stage {stage} of job {job.spec.job_id} is not ready")


class PriorityQueue(list):
    """Starts the ready stage with the smallest ``key(job, stage)``; ties by readiness order.

    The list itself is the heap of ``(key, seq, job, stage)`` entries; iterating yields
    ``(job, stage)`` pairs in readiness order.
    """

    __slots__ = ("_key", "_seq")

    def __init__(self, key: Callable[[JobState, int], Any]) -> None:
        super().__init__()
        self._key = key
        self._seq = 0

    def __iter__(self) -> Iterator[StageRef]:
        return ((job, stage) for _, _, job, stage in sorted(super().__iter__(), key=lambda e: e[1]))

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple:
        # Pickle and copy the heap entries, which ``__iter__`` does not yield.
        state = (None, {"_key": self._key, "_seq": self._seq})
        return type(self), (self._key,), state, list.__iter__(self)

    def push(self, job: JobState, stage: int) -> None:
        self._seq += 1
        heappush(self, (self._key(job, stage), self._seq, job, stage))

    def pop(self) -> StageRef:  # type: ignore[override]
        _, _, job, stage = heappop(self)
        return job, stage

    def pop_first(self, accept: Callable[[JobState, int], bool]) -> StageRef:
        rejected = []
        while self:
            entry = heappop(self)
            if accept(entry[2], entry[3]):
                for other in rejected:
                    heappush(self, other)
                return entry[2], entry[3]
            rejected.append(entry)
        for other in rejected:
            heappush(self, other)
        raise LookupError("no queued stage is accepted")


class RandomQueue(list):
    """Starts a uniformly random ready stage, drawn from its own generator."""

    __slots__ = ("_random",)

    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self._random = rng.random

    def push(self, job: JobState, stage: int) -> None:
        self.append((job, stage))

    def pop(self) -> StageRef:  # type: ignore[override]
        k = int(self._random() * len(self))
        self[k], self[-1] = self[-1], self[k]
        return super().pop()

    def pop_first(self, accept: Callable[[JobState, int], bool]) -> StageRef:
        """A uniformly random stage among the accepted ones (one draw, as :meth:`pop`)."""
        accepted = [k for k, (job, stage) in enumerate(self) if accept(job, stage)]
        if not accepted:
            raise LookupError("no queued stage is accepted")
        k = accepted[int(self._random() * len(accepted))]
        self[k], self[-1] = self[-1], self[k]
        return super().pop()
