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

import itertools
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

    ``on_stage_complete(job, stage)`` is called after each stage finishes and the stages it
    unblocks or reveals are in place; ``on_complete(job, now)`` after a job's last stage.
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
        on_stage_complete: Callable[[JobState, int], None] | None = None,
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
        self.ready: list[ReadyQueue] = [FifoQueue() if policy is None else policy.new_queue() for _ in POOLS]
        # Free executor ids as stacks; popping gives the lowest id first.
        self.free: list[list[int]] = [list(range(n - 1, -1, -1)) for n in self.num_executors]
        self.running: list[dict[int, tuple[JobState, int]]] = [{} for _ in POOLS]
        self.schedule: list[ScheduledStage] | None = [] if record_schedule else None
        self._on_complete = on_complete
        self._on_stage_complete = on_stage_complete
        self._events: list[tuple[float, int, JobState, int, int]] = []
        self._counter = itertools.count()  # tie-breaker: events at one time pop in start order
        self._arrivals: Iterator[JobSpec] = iter(jobs)
        self._next_job: JobSpec | None = None
        self._num_arrived = 0
        self._pull_next_job()

    # ----------------------------------------------------------------- public API
    @property
    def done(self) -> bool:
        """True when every job has arrived and finished."""
        return self._next_job is None and not self.active

    def decision_pools(self) -> list[int]:
        """Pools where the choice matters now: more ready stages than free executors."""
        return [p for p in POOLS if self.free[p] and len(self.ready[p]) > len(self.free[p])]

    def advance(self) -> bool:
        """Run until a decision is needed (returns True) or all jobs are done (False)."""
        return self._run_until_decision()

    def dispatch(self, job: JobState, stage: int) -> None:
        """Start ready ``stage`` of ``job`` on a free executor of its kind (decision mode)."""
        if self.policy is not None:
            raise RuntimeError("dispatch() is for decision mode; this simulator has a fast-path policy")
        if self.active.get(job.spec.job_id) is not job:
            raise ValueError(f"job {job.spec.job_id} is not in the system")
        pool = job.spec.kinds[stage]
        if not self.free[pool]:
            raise ValueError(
                f"no free {KIND_NAMES[pool]} executor for stage {stage} of job {job.spec.job_id}"
            )
        self.ready[pool].remove(job, stage)
        self._start(job, stage, pool)

    def run(self) -> Results:
        """Fast path: run every job to completion under the policy given at construction."""
        if self.policy is None:
            raise RuntimeError("run() needs a fast-path policy; use advance()/dispatch() otherwise")
        self._run_until_decision()
        return self.results

    # ------------------------------------------------------------------ internals
    def _pull_next_job(self) -> None:
        previous = self._next_job
        self._next_job = spec = next(self._arrivals, None)
        if (
            spec is not None
            and previous is not None
            and (spec.arrival, spec.job_id) <= (previous.arrival, previous.job_id)
        ):
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
        heappush(self._events, (now + job.spec.durations[stage], next(self._counter), job, stage, executor))

    def _run_until_decision(self) -> bool:
        """The event loop; returns True when a pool needs an outside decision, False when done.

        One instant at a time: start what can start (drain a pool whose ready stages fit,
        let the fast-path policy pick otherwise), then jump to the next event time and
        apply every completion and arrival there. Inlined for speed.
        """
        events = self._events
        ready = self.ready
        free = self.free
        running = self.running
        active = self.active
        counter = self._counter
        schedule = self.schedule
        on_complete = self._on_complete
        on_stage_complete = self._on_stage_complete
        record = self.results.record
        policy_decides = self.policy is not None
        pools = list(zip(free, ready, running, strict=True))
        now = self.now
        while True:
            # 1. Start stages at `now`: all of a pool's ready stages when they fit, else
            #    the policy's picks, or stop for an outside decision.
            needs_decision = False
            for free_here, queue, running_here in pools:
                while free_here and queue:
                    if not policy_decides and len(queue) > len(free_here):
                        needs_decision = True
                        break
                    job, stage = queue.pop()
                    executor = free_here.pop()
                    job.status[stage] = RUNNING
                    job.since[stage] = now
                    running_here[executor] = (job, stage)
                    heappush(events, (now + job.spec.durations[stage], next(counter), job, stage, executor))
            if needs_decision:
                return True
            # 2. Jump to the next instant.
            next_job = self._next_job
            t = events[0][0] if events else math.inf
            if next_job is not None and next_job.arrival < t:
                t = next_job.arrival
            if t == math.inf:
                return False
            self.area += len(active) * (t - now)
            self.now = now = t
            # 3. Apply every completion at `now`.
            while events and events[0][0] == now:
                _, _, job, stage, executor = heappop(events)
                spec = job.spec
                kinds = spec.kinds
                pool = kinds[stage]
                del running[pool][executor]
                free[pool].append(executor)
                status = job.status
                since = job.since
                if schedule is not None:
                    schedule.append(ScheduledStage(pool, executor, spec.job_id, stage, since[stage], now))
                status[stage] = DONE
                since[stage] = now
                job.remaining -= 1
                if job.remaining:
                    pending = job.pending_parents
                    for child in spec.children[stage]:
                        pending[child] -= 1
                        if pending[child] == 0 and status[child] == BLOCKED:
                            status[child] = READY
                            since[child] = now
                            ready[kinds[child]].push(job, child)
                    for revealed in spec.reveals[stage]:
                        since[revealed] = now
                        if pending[revealed]:
                            status[revealed] = BLOCKED
                        else:
                            status[revealed] = READY
                            ready[kinds[revealed]].push(job, revealed)
                if on_stage_complete is not None:
                    on_stage_complete(job, stage)
                if not job.remaining:
                    del active[spec.job_id]
                    record(spec.job_id, spec.app, spec.arrival, now)
                    if on_complete is not None:
                        on_complete(job, now)
            # 4. Admit every arrival at `now`.
            while next_job is not None and next_job.arrival == now:
                job = JobState(next_job, self._num_arrived, now)
                self._num_arrived += 1
                active[next_job.job_id] = job
                for stage in next_job.visible_at_arrival:
                    if job.pending_parents[stage]:
                        job.status[stage] = BLOCKED
                    else:
                        job.status[stage] = READY
                        ready[next_job.kinds[stage]].push(job, stage)
                self._pull_next_job()
                next_job = self._next_job
