"""A ready queue whose priorities follow the jobs' visible state, re-keyed as stages finish.

State-based policies (shortest remaining work, least attained service, ...) rank a ready
stage by what its job has revealed and finished so far, and that changes whenever one of
the job's stages finishes, in any pool. A :class:`StateQueue` keys a stage when it is first
popped after being pushed (the simulator pushes while it is still updating the job), keeps
a heap of ``(key, seq, version, job, stage)`` entries, and re-keys the stages of every job
that finished a stage since the last pop; stale entries are skipped when they reach the top.

Stages finish only if some queue started them, so the queues of one policy share a
:class:`StageWatch` of the stages they popped: at each pop it checks those stages' status
(O(running stages)) and tells every non-empty queue which jobs finished one. Keys are
therefore exact at every pop, with no clock needed: every key here depends only on which
stages are revealed and done, never on elapsed time. Only plain references are kept (jobs
are keyed by arrival rank), so simulators using these queues deep-copy and pickle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from heapq import heapify, heappop, heappush
from typing import Any

from llm_sched_env.core import DONE, RUNNING, JobState

StageKey = Callable[[JobState, int], Any]
StageRef = tuple[JobState, int]


class StageWatch:
    """The stages a policy's queues started and have not yet seen finish."""

    def __init__(self) -> None:
        self.running: list[StageRef] = []
        self.queues: list[StateQueue] = []  # the queues holding stages (an empty queue has nothing to re-key)

    def started(self, job: JobState, stage: int) -> None:
        self.running.append((job, stage))

    def sync(self) -> None:
        """Re-key, in every queue, the stages of jobs that finished a stage since the last sync."""
        changed: dict[int, JobState] = {}
        still = []
        for job, stage in self.running:
            status = job.status[stage]
            if status == RUNNING:
                still.append((job, stage))
            elif status == DONE:
                changed[id(job)] = job
            # READY again: preempted (continuous batching); pushed again, it is keyed afresh.
        self.running = still
        if changed:
            for queue in self.queues:
                queue.rekey(changed.values())


class StateQueue:
    """Starts the ready stage with the smallest ``key(job, stage)`` at the time of the pop.

    Ties go to the stage that became ready first. ``watch`` is shared by the queues of one
    policy (one per pool); see the module docstring. Keys are computed at pop time, never
    at push time: a stage is pushed while the simulator is still updating its job (other
    stages of an arriving job are not yet revealed), so its key could be stale.
    """

    __slots__ = (
        "_heap",
        "_key",
        "_members",
        "_pending",
        "_seq",
        "_size",
        "_version",
        "_watch",
    )

    def __init__(self, key: StageKey, watch: StageWatch) -> None:
        self._key = key
        self._watch = watch
        self._heap: list[tuple[Any, int, int, JobState, int]] = []
        self._members: dict[int, tuple[JobState, dict[int, int]]] = {}  # job rank -> job, {stage: seq}
        self._version: dict[int, int] = {}  # job rank -> key version of its entries
        self._pending: list[tuple[JobState, int, int]] = []  # pushed, not yet keyed
        self._seq = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def __iter__(self) -> Iterator[StageRef]:
        refs = [(seq, job, stage) for job, stages in self._members.values() for stage, seq in stages.items()]
        return ((job, stage) for _, job, stage in sorted(refs, key=lambda r: r[0]))

    def push(self, job: JobState, stage: int) -> None:
        self._seq += 1
        entry = self._members.get(job.rank)
        if entry is None:
            entry = self._members[job.rank] = (job, {})
            self._version[job.rank] = 0
        entry[1][stage] = self._seq
        if not self._size:
            self._watch.queues.append(self)
        self._size += 1
        self._pending.append((job, stage, self._seq))

    def pop(self) -> StageRef:
        self._refresh()
        while True:
            entry = heappop(self._heap)
            if self._current(entry):
                job, stage = entry[3], entry[4]
                self._take(job, stage)
                return job, stage

    def pop_first(self, accept: Callable[[JobState, int], bool]) -> StageRef:
        self._refresh()
        rejected = []
        heap = self._heap
        try:
            while heap:
                entry = heappop(heap)
                if not self._current(entry):
                    continue
                job, stage = entry[3], entry[4]
                if accept(job, stage):
                    self._take(job, stage)
                    return job, stage
                rejected.append(entry)
        finally:
            for entry in rejected:
                heappush(heap, entry)
        raise LookupError("no queued stage is accepted")

    def remove(self, job: JobState, stage: int) -> None:
        entry = self._members.get(job.rank)
        if entry is None or stage not in entry[1]:
            raise ValueError(f"stage {stage} of job {job.spec.job_id} is not ready")
        self._drop(job, stage)

    def rekey(self, jobs: Iterable[JobState]) -> None:
        """New keys for the queued stages of ``jobs``; their old entries go stale."""
        for job in jobs:
            entry = self._members.get(job.rank)
            if entry is None or entry[0] is not job:
                continue
            version = self._version[job.rank] + 1
            self._version[job.rank] = version
            for stage, seq in entry[1].items():
                heappush(self._heap, (self._key(job, stage), seq, version, job, stage))

    # ------------------------------------------------------------------ internals
    def _refresh(self) -> None:
        """Key the stages pushed since the last pop, then re-key jobs that finished a stage."""
        version = self._version
        for job, stage, seq in self._pending:
            if self._members.get(job.rank, (None, {}))[1].get(stage) == seq:
                heappush(self._heap, (self._key(job, stage), seq, version[job.rank], job, stage))
        self._pending.clear()
        self._watch.sync()

    def _current(self, entry: tuple[Any, int, int, JobState, int]) -> bool:
        """True when ``entry`` is its stage's entry with the job's current key."""
        _, seq, version, job, stage = entry
        return version == self._version.get(job.rank) and self._members[job.rank][1].get(stage) == seq

    def _take(self, job: JobState, stage: int) -> None:
        self._drop(job, stage)
        self._watch.started(job, stage)

    def _drop(self, job: JobState, stage: int) -> None:
        stages = self._members[job.rank][1]
        del stages[stage]
        if not stages:
            del self._members[job.rank]
            del self._version[job.rank]
        self._size -= 1
        if not self._size:
            self._watch.queues.remove(self)
        if len(self._heap) > 64 and len(self._heap) > 4 * self._size:
            self._heap = [entry for entry in self._heap if self._current(entry)]
            heapify(self._heap)


class StatePolicy:
    """A fast-path policy ranking ready stages by ``key(job, stage)`` (smallest first), kept exact.

    Subclasses set ``name`` and implement :meth:`key`; its queues share one
    :class:`StageWatch`, so any stage finishing anywhere re-keys its job in every pool.
    :meth:`per_job` memoizes what a key computes from a whole job's state.
    """

    name = "StatePolicy"
    _CACHE_SIZE = 4096  # jobs whose memoized values are kept (cleared when full)

    def __init__(self) -> None:
        self.watch = StageWatch()
        self._cache: dict[int, tuple[JobState, int, Any]] = {}

    def key(self, job: JobState, stage: int) -> Any:
        """The stage's priority now (smaller starts first)."""
        raise NotImplementedError

    def per_job(self, job: JobState, compute: Callable[[JobState], Any]) -> Any:
        """``compute(job)``, recomputed only after one of the job's stages finished.

        What a scheduler sees of a job changes only when one of its stages finishes (and
        reveals others): the job's count of unfinished stages serves as a version.
        """
        hit = self._cache.get(id(job))
        if hit is not None and hit[0] is job and hit[1] == job.remaining:
            return hit[2]
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        value = compute(job)
        self._cache[id(job)] = (job, job.remaining, value)
        return value

    def new_queue(self) -> StateQueue:
        return StateQueue(self.key, self.watch)
