"""Event-driven simulator of compound-LLM jobs on a regular and an LLM executor pool.

Time advances from instant to instant (a job arrival or a stage completion). All events
of one instant are applied before any stage starts at that instant. Execution is
non-preemptive and each executor runs one stage at a time. After the events of an
instant, each pool with free executors either starts all of its ready stages (when they
fit: the choice does not matter) or needs a decision. With a fast-path ``policy`` the
pool's :class:`ReadyQueue` decides by itself; without one, :meth:`Simulator.advance`
stops and the caller picks stages with :meth:`Simulator.dispatch`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from heapq import heappop, heappush
from typing import NamedTuple, Protocol

from llm_sched_env.core.job import KIND_NAMES, JobSpec
from llm_sched_env.core.queues import FifoQueue, ReadyQueue
from llm_sched_env.core.results import Results
from llm_sched_env.core.state import BLOCKED, DONE, READY, RUNNING, JobState

POOLS = (0, 1)  # indexed by stage kind: REGULAR, LLM


class FastPolicy(Protocol):
    """A policy that runs inside the simulator, choosing through its ready queues."""

    def new_queue(self) -> ReadyQueue:
        """A fresh, empty ready queue for one pool of one simulation."""


class ScheduledStage(NamedTuple):
    """One stage execution, recorded when ``record_schedule=True``."""

    pool: int
    executor: int
    job_id: int
    stage: int
    start: float
    end: float


class Simulator:
    """Simulates ``jobs`` (sorted by ``(arrival, job_id)``) on ``num_regular`` + ``num_llm`` executors.

    ``jobs`` may be any iterable, including a lazy generator: jobs are pulled as they
    arrive and released when they finish, so memory stays flat over long runs.
    """

    def __init__(
        self,
        jobs: Iterable[JobSpec],
        num_regular: int,
        num_llm: int,
        policy: FastPolicy | None = None,
        *,
        record_schedule: bool = False,
        on_complete: Callable[[JobState, float], None] | None = None,
    ) -> None:
        for name, value in (("num_regular", num_regular), ("num_llm", num_llm)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
        self.num_executors = (num_regular, num_llm)
        self.policy = policy
        self.now = 0.0
        self.area = 0.0  # integral over time of the number of jobs in the system
        self.results = Results()
        self.active: dict[int, JobState] = {}
        self.ready: list[ReadyQueue] = [
            FifoQueue() if policy is None else policy.new_queue() for _ in POOLS
        ]
        # Free executor ids as stacks; popping gives the lowest id first.
        self.free: list[list[int]] = [list(range(n - 1, -1, -1)) for n in self.num_executors]
        self.running: list[dict[int, tuple[JobState, int]]] = [{} for _ in POOLS]
        self.schedule: list[ScheduledStage] | None = [] if record_schedule else None
        self._on_complete = on_complete
        self._events: list[tuple[float, int, JobState, int, int]] = []
        self._seq = 0
        self._arrivals: Iterator[JobSpec] = iter(jobs)
        self._next_job: JobSpec | None = None
        self._num_arrived = 0
        self._pull_next_job()

    # ----------------------------------------------------------------- public API
    @property
    def done(self) -> bool:
        """True when every job has arrived and finished."""
        return self._next_job is None and not self.active

    @property
    def jobs_arrived(self) -> int:
        return self._num_arrived

    def decision_pools(self) -> list[int]:
        """Pools where the choice matters now: more ready stages than free executors."""
        return [p for p in POOLS if self.free[p] and len(self.ready[p]) > len(self.free[p])]

    def advance(self) -> bool:
        """Run until a decision is needed (returns True) or all jobs are done (False)."""
        while True:
            if self._start_ready_stages():
                return True
            if not self._next_instant():
                return False

    def dispatch(self, job: JobState, stage: int) -> None:
        """Start ready ``stage`` of ``job`` on a free executor of its kind (decision mode)."""
        if self.policy is not None:
            raise RuntimeError("dispatch() is for decision mode; this simulator has a fast-path policy")
        if self.active.get(job.spec.job_id) is not job:
            raise ValueError(f"job {job.spec.job_id} is not in the system")
        pool = job.spec.kinds[stage]
        if not self.free[pool]:
            raise ValueError(f"no free {KIND_NAMES[pool]} executor for stage {stage} of job {job.spec.job_id}")
        self.ready[pool].remove(job, stage)
        self._start(job, stage, pool)

    def run(self) -> Results:
        """Fast path: run every job to completion under the policy given at construction."""
        if self.policy is None:
            raise RuntimeError("run() needs a fast-path policy; use advance()/dispatch() otherwise")
        start_ready = self._start_ready_stages
        next_instant = self._next_instant
        start_ready()
        while next_instant():
            start_ready()
        return self.results

    # ------------------------------------------------------------------ internals
    def _pull_next_job(self) -> None:
        previous = self._next_job
        self._next_job = spec = next(self._arrivals, None)
        if spec is not None and previous is not None:
            if (spec.arrival, spec.job_id) <= (previous.arrival, previous.job_id):
                raise ValueError(
                    f"jobs must be sorted by (arrival, job_id): job {spec.job_id} "
                    f"(arrival {spec.arrival}) follows job {previous.job_id} (arrival {previous.arrival})"
                )

    def _start(self, job: JobState, stage: int, pool: int) -> None:
        executor = self.free[pool].pop()
        now = self.now
        job.status[stage] = RUNNING
        job.since[stage] = now
        self.running[pool][executor] = (job, stage)
        self._seq += 1
        heappush(self._events, (now + job.spec.durations[stage], self._seq, job, stage, executor))

    def _start_ready_stages(self) -> bool:
        """Start what can start now; True if some pool needs an outside decision."""
        needs_decision = False
        for pool in POOLS:
            queue = self.ready[pool]
            free = self.free[pool]
            if not free or not queue:
                continue
            if len(queue) <= len(free):
                for job, stage in queue.drain():
                    self._start(job, stage, pool)
            elif self.policy is None:
                needs_decision = True
            else:
                for _ in range(len(free)):
                    job, stage = queue.pop()
                    self._start(job, stage, pool)
        return needs_decision

    def _make_ready(self, job: JobState, stage: int, now: float) -> None:
        job.status[stage] = READY
        job.since[stage] = now
        self.ready[job.spec.kinds[stage]].push(job, stage)

    def _next_instant(self) -> bool:
        """Jump to the next event time and apply every event there; False when none is left."""
        events = self._events
        next_job = self._next_job
        t = events[0][0] if events else math.inf
        if next_job is not None and next_job.arrival < t:
            t = next_job.arrival
        if t == math.inf:
            return False
        self.area += len(self.active) * (t - self.now)
        self.now = t
        while events and events[0][0] == t:
            _, _, job, stage, executor = heappop(events)
            self._complete(job, stage, executor, t)
        while next_job is not None and next_job.arrival == t:
            self._arrive(next_job, t)
            self._pull_next_job()
            next_job = self._next_job
        return True

    def _arrive(self, spec: JobSpec, now: float) -> None:
        job = JobState(spec, self._num_arrived, now)
        self._num_arrived += 1
        self.active[spec.job_id] = job
        status = job.status
        pending = job.pending_parents
        for stage in spec.visible_at_arrival:
            if pending[stage]:
                status[stage] = BLOCKED
            else:
                self._make_ready(job, stage, now)

    def _complete(self, job: JobState, stage: int, executor: int, now: float) -> None:
        spec = job.spec
        pool = spec.kinds[stage]
        del self.running[pool][executor]
        self.free[pool].append(executor)
        if self.schedule is not None:
            self.schedule.append(
                ScheduledStage(pool, executor, spec.job_id, stage, job.since[stage], now)
            )
        status = job.status
        status[stage] = DONE
        job.since[stage] = now
        job.remaining -= 1
        if job.remaining == 0:
            del self.active[spec.job_id]
            self.results.record(spec.job_id, spec.app, spec.arrival, now)
            if self._on_complete is not None:
                self._on_complete(job, now)
            return
        pending = job.pending_parents
        for child in spec.children[stage]:
            pending[child] -= 1
            if pending[child] == 0 and status[child] == BLOCKED:
                self._make_ready(job, child, now)
        for revealed in spec.reveals[stage]:
            if pending[revealed]:
                status[revealed] = BLOCKED
                job.since[revealed] = now
            else:
                self._make_ready(job, revealed, now)
