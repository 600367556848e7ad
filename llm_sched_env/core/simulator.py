"""Event-driven simulator of compound-LLM jobs on a cluster of named executor pools.

Time advances from instant to instant (a job arrival or an executor event). All events of
one instant are applied before any pool starts work at that instant. How a pool runs its
stages is its executor model (:mod:`llm_sched_env.core.executors`): the paper's
single-stream executors run one stage at a time; continuous-batching executors run
iterations of many sequences. A pool whose choice does not matter (its ready stages all
fit) starts them all; otherwise, with a fast-path ``policy`` the pool's
:class:`ReadyQueue` decides, and without one :meth:`Simulator.advance` stops and the caller
picks stages with :meth:`Simulator.dispatch`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Iterator
from heapq import heappop, heappush
from itertools import count
from typing import NamedTuple, Protocol

from llm_sched_env.core.cluster import Cluster, PoolSpec
from llm_sched_env.core.executors import ExecutorPool
from llm_sched_env.core.job import JobSpec, JobSpecError
from llm_sched_env.core.queues import FifoQueue, ReadyQueue
from llm_sched_env.core.results import Results
from llm_sched_env.core.state import BLOCKED, DONE, READY, JobState

# Job shapes whose pool mapping a simulation keeps (Simulator._bind); when more come, it starts over,
# so that memory stays flat over a trace of ever new shapes.
ROUTE_CACHE_SIZE = 1024


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


class EventHeap:
    """The simulator's timed events ``(time, seq, pool index, executor, token)``.

    ``seq`` breaks ties: events of one instant are applied in the order they were scheduled.
    """

    __slots__ = ("events", "seq")

    def __init__(self) -> None:
        self.events: list[tuple[float, int, int, int, object]] = []
        self.seq = count()

    def scheduler(self, pool: int) -> Callable[[float, int, object], None]:
        """How pool ``pool`` puts its events on the heap: ``schedule(time, executor, token)``."""
        return _Schedule(self.events, self.seq, pool)


class _Schedule:
    """Puts one pool's events on the heap (a class, so that simulators deep-copy and pickle)."""

    __slots__ = ("events", "pool", "seq")

    def __init__(self, events: list, seq: count, pool: int) -> None:
        self.events, self.seq, self.pool = events, seq, pool

    def __call__(self, time: float, executor: int, token: object) -> None:
        heappush(self.events, (time, next(self.seq), self.pool, executor, token))


class Simulator:
    """Simulates ``jobs`` (sorted by ``(arrival, job_id)``) on a cluster.

    The cluster is ``cluster`` or, as in the paper, ``num_regular`` regular and ``num_llm``
    single-stream LLM executors (:meth:`Cluster.paper`). ``jobs`` may be any iterable,
    including a lazy generator: jobs are pulled as they arrive and released when they
    finish, so memory stays flat over long runs. Every job must finish; a run that would
    leave one behind raises ``RuntimeError`` naming it.

    Ready queues come from ``policy.new_queue`` (fast path) or ``queue_factory`` (decision
    mode; default FIFO). ``on_stage_complete(job, stage)`` is called after each stage
    finishes and the stages it unblocks or reveals are in place; ``on_complete(job, now)``
    after a job's last stage.
    """

    def __init__(
        self,
        jobs: Iterable[JobSpec],
        num_regular: int | None = None,
        num_llm: int | None = None,
        policy: FastPolicy | None = None,
        *,
        cluster: Cluster | None = None,
        queue_factory: Callable[[], ReadyQueue] | None = None,
        record_schedule: bool = False,
        on_complete: Callable[[JobState, float], None] | None = None,
        on_stage_complete: Callable[[JobState, int], None] | None = None,
    ) -> None:
        if cluster is None:
            if num_regular is None or num_llm is None:
                raise ValueError("cluster: give a Cluster, or num_regular and num_llm")
            cluster = Cluster.paper(num_regular, num_llm)
        elif num_regular is not None or num_llm is not None:
            raise ValueError("cluster: give a Cluster or num_regular and num_llm, not both")
        if policy is not None and queue_factory is not None:
            raise ValueError("queue_factory: a fast-path policy makes its own queues")
        new_queue = policy.new_queue if policy is not None else queue_factory or FifoQueue
        self.cluster = cluster
        self.policy = policy
        self.now = 0.0
        self.area = 0.0  # integral over time of the number of jobs in the system
        self.results = Results()
        self.active: dict[int, JobState] = {}
        self._heap = EventHeap()
        self.pools: list[ExecutorPool] = [
            spec.executor.build(spec.name, spec.count, new_queue(), self._heap.scheduler(i))  # type: ignore[arg-type]
            for i, spec in enumerate(cluster.pools)
        ]
        self.ready: list[ReadyQueue] = [pool.queue for pool in self.pools]
        self.num_executors = tuple(spec.count for spec in cluster.pools)
        self._paper_layout = cluster.is_paper
        # (spec.pools, spec.kinds) -> each stage's pool, and the stages left to check (Cluster.checked_stages)
        self._routes: dict[tuple, tuple[tuple[int, ...], tuple[tuple[int, PoolSpec], ...]]] = {}
        self.schedule: list[ScheduledStage] | None = [] if record_schedule else None
        self._on_complete = on_complete
        self._on_stage_complete = on_stage_complete
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
        """Pools where a choice is open now (see :meth:`choices`)."""
        return [i for i, pool in enumerate(self.pools) if pool.needs_decision()]

    def choices(self, pool: int) -> list[tuple[JobState, int]]:
        """The ready stages of ``pool`` the open decision is among."""
        return self.pools[pool].choices()

    def advance(self) -> bool:
        """Run until a decision is needed (returns True) or all jobs are done (False)."""
        return self._run_until_decision()

    def dispatch(self, job: JobState, stage: int) -> None:
        """Start ready ``stage`` of ``job`` on its pool (decision mode)."""
        stage = operator.index(stage)  # a numpy integer too (the compiled batching pool takes only ints)
        if self.policy is not None:
            raise RuntimeError("dispatch() is for decision mode; this simulator has a fast-path policy")
        if self.active.get(job.spec.job_id) is not job:
            raise ValueError(f"job {job.spec.job_id} is not in the system")
        if not 0 <= stage < len(job.status) or job.status[stage] != READY:
            raise ValueError(f"stage {stage} of job {job.spec.job_id} is not ready")
        self.pools[job.pools[stage]].dispatch(job, stage, self.now)

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

    def _bind(self, job: JobState) -> None:
        """Map the job's stages to pool indices, checking them against the cluster.

        Jobs of one shape (stage kinds and pool names) share their mapping: once a shape has
        passed :meth:`Cluster.stage_pools`, only its executors' checks of each stage are left.
        """
        spec = job.spec
        if spec.pools is None and self._paper_layout:
            return  # job.pools is spec.kinds: pool 0 is "regular", pool 1 "llm"
        shape = (spec.pools, spec.kinds)
        try:
            route = self._routes.get(shape)
            if route is None:
                if len(self._routes) >= ROUTE_CACHE_SIZE:
                    self._routes.clear()
                pools = tuple(self.cluster.stage_pools(spec))  # checks every stage
                route = self._routes[shape] = (pools, self.cluster.checked_stages(pools))
            else:
                for stage, pool in route[1]:
                    pool.executor.check_stage(spec, stage, pool.name)
            job.pools = route[0]
        except JobSpecError as err:
            raise JobSpecError(f"job {spec.job_id} {err.field}", err.reason) from None

    def _stuck(self) -> RuntimeError:
        job = min(self.active.values(), key=lambda j: j.rank)
        return RuntimeError(
            f"job {job.spec.job_id} did not finish: no event is left at t={self.now} "
            f"with {len(self.active)} jobs unfinished"
        )

    def _run_until_decision(self) -> bool:
        """The event loop; returns True when a pool needs an outside decision, False when done.

        One instant at a time: let every pool start what can start (or stop for an outside
        decision), then jump to the next event time and apply every event and arrival
        there. Inlined for speed.
        """
        events = self._heap.events
        pools = self.pools
        active = self.active
        schedule = self.schedule
        on_complete = self._on_complete
        on_stage_complete = self._on_stage_complete
        record = self.results.record
        decide = self.policy is None
        finished: list[tuple[JobState, int]] = []
        now = self.now
        while True:
            # 1. Every pool starts what it can at `now`, or stops for an outside decision.
            needs_decision = False
            for pool in pools:
                if pool.start(now, decide):
                    needs_decision = True
            if needs_decision:
                return True
            # 2. Jump to the next instant.
            next_job = self._next_job
            t = events[0][0] if events else math.inf
            if next_job is not None and next_job.arrival < t:
                t = next_job.arrival
            if t == math.inf:
                if active:
                    raise self._stuck()
                return False
            self.area += len(active) * (t - now)
            self.now = now = t
            # 3. Apply every event at `now`, each with the stages it finished.
            while events and events[0][0] == now:
                _, _, pool, executor, token = heappop(events)
                pools[pool].on_event(executor, token, now, finished)
                for job, stage in finished:
                    spec = job.spec
                    status = job.status
                    since = job.since
                    if schedule is not None:
                        schedule.append(
                            ScheduledStage(job.pools[stage], executor, spec.job_id, stage, since[stage], now)
                        )
                    status[stage] = DONE
                    since[stage] = now
                    job.remaining -= 1
                    if job.remaining:
                        pending = job.pending_parents
                        job_pools = job.pools
                        for child in spec.children[stage]:
                            pending[child] -= 1
                            if pending[child] == 0 and status[child] == BLOCKED:
                                status[child] = READY
                                since[child] = now
                                pools[job_pools[child]].push(job, child)
                        for revealed in spec.reveals[stage]:
                            since[revealed] = now
                            if pending[revealed]:
                                status[revealed] = BLOCKED
                            else:
                                status[revealed] = READY
                                pools[job_pools[revealed]].push(job, revealed)
                    if on_stage_complete is not None:
                        on_stage_complete(job, stage)
                    if not job.remaining:
                        del active[spec.job_id]
                        record(spec.job_id, spec.app, spec.arrival, now)
                        if on_complete is not None:
                            on_complete(job, now)
                finished.clear()
            # 4. Admit every arrival at `now`.
            while next_job is not None and next_job.arrival == now:
                job = JobState(next_job, self._num_arrived, now)
                self._bind(job)
                self._num_arrived += 1
                active[next_job.job_id] = job
                job_pools = job.pools
                for stage in next_job.visible_at_arrival:
                    if job.pending_parents[stage]:
                        job.status[stage] = BLOCKED
                    else:
                        job.status[stage] = READY
                        pools[job_pools[stage]].push(job, stage)
                self._pull_next_job()
                next_job = self._next_job
