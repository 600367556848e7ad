"""A plain reference simulator of a cluster, one batching iteration at a time (DESIGN.md section 7).

Written from the design text, apart from the fast simulator, so the two can be compared:
it keeps no closed forms and no event heap. Time moves from instant to instant; at each
instant every event is applied (stage completions, iteration ends, arrivals), then every
pool starts what it can. Single-stream pools run one stage per executor for its duration;
``continuous_batching`` pools run iterations, and this module asserts their limits at every
iteration. The policy is a fixed priority key over ``(job, arrival rank, stage)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from llm_sched_env.core import DEFAULT_POOLS, Cluster, ContinuousBatching, JobSpec

PolicyKey = Callable[[JobSpec, int, int], tuple]

# PS-TCS (the paper, Sec. III-A): task automation > code generation > sorting; other apps last.
APP_PRIORITY = ("task_automation", "code_generation", "sorting")


def fcfs(job: JobSpec, rank: int, stage: int) -> tuple:
    """FCFS: the earliest ``(arrival, job_id, stage)``; ``rank`` is the job's place in that order."""
    return (rank, stage)


def ps_tcs(job: JobSpec, rank: int, stage: int) -> tuple:
    """PS-TCS: application priority, then FCFS."""
    app = APP_PRIORITY.index(job.app) if job.app in APP_PRIORITY else len(APP_PRIORITY)
    return (app, rank, stage)


@dataclass(eq=False)
class _Job:
    spec: JobSpec
    rank: int
    visible: list[bool]
    parents_left: list[int]
    done: list[bool]
    stages_left: int


@dataclass(eq=False)
class _Seq:
    job: _Job
    stage: int
    prompt: int
    generated: int
    output: int

    @property
    def context(self) -> int:
        return self.prompt + self.generated


@dataclass
class _Replica:
    id: int
    running: list[_Seq] = field(default_factory=list)  # admission order
    iteration_end: float | None = None  # None: not in an iteration

    def kv_need(self) -> int:
        """KV slots the running sequences need in the next iteration: context + 1 each."""
        return sum(s.context + 1 for s in self.running)


@dataclass
class ReferenceResult:
    finish: dict[int, float]  # job id -> completion time
    preemptions: int
    iterations: int
    budget_refusals: int  # ready stages left out of an iteration by the token budget alone
    schedule: list[tuple[str, int, int, int, float, float]]  # (pool, executor, job, stage, start, end)
    near_ties: int  # instants with another event within 1e-9 relative (or at the same time)


class ReferenceSimulator:
    """Simulates ``jobs`` (sorted by ``(arrival, job_id)``) on ``cluster`` under ``key``."""

    def __init__(self, jobs: Sequence[JobSpec], cluster: Cluster, key: PolicyKey = fcfs) -> None:
        self.jobs = list(jobs)
        self.cluster = cluster
        self.key = key
        self.now = 0.0
        self.ready: dict[str, list[tuple[_Job, int]]] = {p.name: [] for p in cluster.pools}
        self.free: dict[str, int] = {p.name: p.count for p in cluster.pools}  # single-stream pools
        self.stage_ends: list[tuple[float, str, _Job, int]] = []  # single-stream stages running
        self.replicas: dict[str, list[_Replica]] = {
            p.name: [_Replica(e) for e in range(p.count)]
            for p in cluster.pools
            if isinstance(p.executor, ContinuousBatching)
        }
        self.kept: dict[tuple[int, int], int] = {}  # tokens generated before a preemption
        self.finish: dict[int, float] = {}
        self.preemptions = 0
        self.iterations = 0
        self.budget_refusals = 0
        self.near_ties = 0
        self.started: dict[tuple[int, int], tuple[str, int, float]] = {}  # last start of each stage
        self.schedule: list[tuple[str, int, int, int, float, float]] = []

    # ------------------------------------------------------------------ main loop
    def run(self) -> ReferenceResult:
        arrivals = list(enumerate(self.jobs))
        while True:
            self._start_work()
            times = [end for end, *_ in self.stage_ends]
            times += [
                r.iteration_end for rs in self.replicas.values() for r in rs if r.iteration_end is not None
            ]
            t = min([*times, arrivals[0][1].arrival] if arrivals else times, default=math.inf)
            if t == math.inf:
                break
            assert t >= self.now
            self.now = t
            # Two events this close (one of them computed, not an arrival) may be ordered
            # differently by rounding in another way of summing the same times.
            close = [x for x in [*times, *(spec.arrival for _, spec in arrivals)] if abs(x - t) <= 1e-9 * t]
            if len(close) > 1 and any(abs(x - t) <= 1e-9 * t for x in times):
                self.near_ties += 1
            # Everything at this instant, before any pool starts work.
            ending = [e for e in self.stage_ends if e[0] == t]
            self.stage_ends = [e for e in self.stage_ends if e[0] != t]
            for _, pool, job, stage in ending:
                self.free[pool] += 1
                self._complete(job, stage)
            for replicas in self.replicas.values():
                for r in replicas:
                    if r.iteration_end == t:
                        self._end_iteration(r)
            while arrivals and arrivals[0][1].arrival == t:
                rank, spec = arrivals.pop(0)
                self._arrive(spec, rank)
        unfinished = {j.job_id for j in self.jobs} - set(self.finish)
        assert not unfinished, f"jobs never finished: {sorted(unfinished)}"
        return ReferenceResult(
            self.finish,
            self.preemptions,
            self.iterations,
            self.budget_refusals,
            self.schedule,
            self.near_ties,
        )

    # --------------------------------------------------------------- DAG semantics
    def _pool_of(self, spec: JobSpec, stage: int) -> str:
        return spec.pools[stage] if spec.pools is not None else DEFAULT_POOLS[spec.kinds[stage]]

    def _arrive(self, spec: JobSpec, rank: int) -> None:
        n = spec.num_stages
        job = _Job(
            spec,
            rank,
            visible=[r is None for r in spec.revealed_by],
            parents_left=[len(p) for p in spec.parents],
            done=[False] * n,
            stages_left=n,
        )
        for stage in range(n):
            if job.visible[stage] and job.parents_left[stage] == 0:
                self._make_ready(job, stage)

    def _make_ready(self, job: _Job, stage: int) -> None:
        self.ready[self._pool_of(job.spec, stage)].append((job, stage))

    def _complete(self, job: _Job, stage: int) -> None:
        spec = job.spec
        job.done[stage] = True
        pool, executor, start = self.started.pop((spec.job_id, stage))
        self.schedule.append((pool, executor, spec.job_id, stage, start, self.now))
        job.stages_left -= 1
        for child in spec.children[stage]:
            job.parents_left[child] -= 1
            if job.visible[child] and job.parents_left[child] == 0:
                self._make_ready(job, child)
        for revealed in spec.reveals[stage]:
            job.visible[revealed] = True
            if job.parents_left[revealed] == 0:
                self._make_ready(job, revealed)
        if job.stages_left == 0:
            self.finish[spec.job_id] = self.now

    def _best(self, candidates: list[tuple[_Job, int]]) -> tuple[_Job, int]:
        return min(candidates, key=lambda js: self.key(js[0].spec, js[0].rank, js[1]))

    # ------------------------------------------------------------ starting work
    def _start_work(self) -> None:
        for pool in self.cluster.pools:
            if isinstance(pool.executor, ContinuousBatching):
                self._start_batching(pool.name, pool.executor)
            else:
                self._start_single_stream(pool.name)

    def _start_single_stream(self, pool: str) -> None:
        ready = self.ready[pool]
        while self.free[pool] and ready:
            job, stage = self._best(ready)
            ready.remove((job, stage))
            self.free[pool] -= 1
            self.stage_ends.append((self.now + job.spec.durations[stage], pool, job, stage))
            self.started[(job.spec.job_id, stage)] = (pool, -1, self.now)

    def _start_batching(self, pool: str, model: ContinuousBatching) -> None:
        ready = self.ready[pool]
        # Replicas not inside an iteration start one now: those with running sequences
        # always, idle ones if they admit something.
        starting = [r for r in self.replicas[pool] if r.iteration_end is None]
        # 1. KV growth first, on every starting replica: preempt the most recently admitted
        #    sequence while the running ones do not all fit.
        for r in starting:
            while r.kv_need() > model.kv_capacity:
                seq = r.running.pop()
                self.kept[(seq.job.spec.job_id, seq.stage)] = seq.generated
                ready.append((seq.job, seq.stage))
                self.preemptions += 1
        decoders = {r.id: len(r.running) for r in starting}
        prefill = {r.id: 0 for r in starting}

        def context(job: _Job, stage: int) -> int:
            call = job.spec.calls[stage]
            return call.prompt_tokens + self.kept.get((job.spec.job_id, stage), 0)

        def fits(r: _Replica, job: _Job, stage: int) -> bool:
            ctx = context(job, stage)
            return (
                len(r.running) < model.max_num_seqs
                and r.kv_need() + ctx + 1 <= model.kv_capacity
                and decoders[r.id] + prefill[r.id] + ctx <= model.max_num_batched_tokens
            )

        # 2. Admission, one stage at a time, to the replica with the fewest running
        #    sequences (ties: lowest id) that can take one; the policy picks among the
        #    stages that fit that replica.
        while True:
            takers = [r for r in starting if any(fits(r, job, stage) for job, stage in ready)]
            if not takers:
                break
            r = min(takers, key=lambda r: (len(r.running), r.id))
            contexts = [context(job, stage) for job, stage in ready]
            if (
                len(r.running) + len(ready) <= model.max_num_seqs
                and r.kv_need() + sum(contexts) + len(ready) <= model.kv_capacity
                and decoders[r.id] + prefill[r.id] + sum(contexts) <= model.max_num_batched_tokens
            ):
                # Every ready stage fits r at once: no choice, they join oldest first.
                job, stage = min(ready, key=lambda js: (js[0].rank, js[1]))
            else:
                job, stage = self._best([(job, stage) for job, stage in ready if fits(r, job, stage)])
            ready.remove((job, stage))
            call = job.spec.calls[stage]
            generated = self.kept.pop((job.spec.job_id, stage), 0)
            r.running.append(_Seq(job, stage, call.prompt_tokens, generated, call.output_tokens))
            self.started[(job.spec.job_id, stage)] = (pool, r.id, self.now)
            prefill[r.id] += call.prompt_tokens + generated
        # 3. Every starting replica with a batch runs one iteration.
        for r in starting:
            if not r.running:
                continue
            if len(r.running) < model.max_num_seqs:
                self.budget_refusals += sum(
                    r.kv_need() + context(job, stage) + 1 <= model.kv_capacity for job, stage in ready
                )
            n_tokens = decoders[r.id] + prefill[r.id]
            n_kv = sum(s.context for s in r.running)
            assert len(r.running) <= model.max_num_seqs, "batch size over max_num_seqs"
            assert r.kv_need() <= model.kv_capacity, "KV use over kv_capacity"
            assert n_tokens <= model.max_num_batched_tokens, "tokens over max_num_batched_tokens"
            seconds = max(model.t_floor, model.t_token * n_tokens) + model.t_kv * n_kv
            r.iteration_end = self.now + seconds
            assert r.iteration_end > self.now, "an iteration must take time"
            self.iterations += 1

    def _end_iteration(self, r: _Replica) -> None:
        r.iteration_end = None
        still = []
        for seq in r.running:
            seq.generated += 1
            if seq.generated == seq.output:
                self._complete(seq.job, seq.stage)
            else:
                still.append(seq)
        r.running = still
