"""The fast continuous-batching executor gives exactly the iteration-by-iteration reference's times.

Random clusters (single-stream and continuous-batching pools, small limits so that
preemption and the token budget bind) and random traces (DAGs with parents and
``revealed_by``, tokens within the rules) run through the simulator's fast path, its
decision mode and :mod:`batching_reference`. With dyadic constants, arrivals and durations
every sum is exact, so times must be equal and exact ties (an arrival at an iteration end)
are frequent; with decimal constants they agree to 1e-9 relative.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from batching_reference import ReferenceResult, ReferenceSimulator, fcfs, ps_tcs
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_sched_env.baselines import FCFS, PSTCS
from llm_sched_env.baselines.heuristics import fcfs_key

from llm_sched_env.core import (
    LLM,
    REGULAR,
    Cluster,
    ContinuousBatching,
    JobSpec,
    JobState,
    LLMCall,
    PoolSpec,
    PriorityQueue,
    Simulator,
    SingleStream,
)
from llm_sched_env.core.executors import BatchingPool, continuous_batching

APPS = ("task_automation", "code_generation", "sorting", "other")
# name: (fast-path policy, its queue key for decision mode, the reference's key)
POLICIES = {"fcfs": (FCFS, fcfs_key, fcfs), "ps-tcs": (PSTCS, PSTCS().key, ps_tcs)}

# An integer source: draw(lo, hi) returns an integer in [lo, hi] (hypothesis or numpy).
Draw = Callable[[int, int], int]


@dataclass(frozen=True)
class Scenario:
    cluster: Cluster
    jobs: list[JobSpec]
    exact: bool  # dyadic numbers only: every time is exact, so results must be equal


def _batching(draw: Draw, exact: bool, small: bool) -> ContinuousBatching:
    if not small:
        return ContinuousBatching()
    context = draw(8, 40)
    if exact:
        t_floor, t_token, t_kv = draw(0, 8) / 128, draw(0, 8) / 1024, draw(0, 8) / 16384
        if t_floor == t_token == 0:
            t_floor = 1 / 128
    else:
        t_floor, t_token, t_kv = draw(0, 10**6) * 1.3e-8, draw(1, 10**6) * 1.7e-9, draw(0, 10**6) * 1.1e-10
    return ContinuousBatching(
        t_floor=t_floor,
        t_token=t_token,
        t_kv=t_kv,
        kv_capacity=context + draw(0, 2 * context),
        max_num_seqs=draw(1, 4),
        max_num_batched_tokens=context + draw(0, context),
        context_limit=context,
    )


def build_scenario(draw: Draw, max_jobs: int = 10) -> Scenario:
    """A random cluster and trace from an integer source."""
    exact = bool(draw(0, 1))
    small = bool(draw(0, 3))  # mostly small limits; sometimes the Llama-2-7B defaults
    pools = [
        PoolSpec("regular", "regular", draw(1, 3)),
        PoolSpec("llm", "llm", draw(1, 3), _batching(draw, exact, small)),
    ]
    if draw(0, 2) == 0:
        pools.append(PoolSpec("tools", "regular", draw(1, 2)))
    if draw(0, 2) == 0:
        big = _batching(draw, exact, small) if draw(0, 1) else SingleStream()
        pools.append(PoolSpec("big", "llm", draw(1, 2), big))
    cluster = Cluster(tuple(pools))
    llm_pools = [p for p in pools if p.kind == "llm"]
    regular_pools = [p for p in pools if p.kind == "regular"]

    def seconds(k: int) -> float:
        # Dyadic: every sum is exact. Otherwise a little generic noise, so that an exact tie
        # between computed times is rare (ties between arrivals stay frequent).
        if exact or k == 0:
            return k / 16
        return k * 0.0731 + draw(0, 10**6) * 1.7e-9

    num_jobs = draw(1, max_jobs)
    arrivals = sorted((draw(0, 24) / 16 if exact else draw(0, 24) * 0.0731) for _ in range(num_jobs))
    job_ids = sorted(draw(0, 10**6) * num_jobs + k for k in range(num_jobs))  # distinct, not 0..n-1
    jobs = []
    for job_id, arrival in zip(job_ids, arrivals, strict=True):
        n = draw(1, 5)
        order = list(range(n))
        for k in range(n - 1, 0, -1):  # a random topological order of the stages
            j = draw(0, k)
            order[k], order[j] = order[j], order[k]
        parents: list[tuple[int, ...]] = [()] * n
        revealed_by: list[int | None] = [None] * n
        kinds, durations, names, calls = [0] * n, [0.0] * n, [""] * n, [None] * n
        for k, stage in enumerate(order):
            earlier = order[:k]
            parents[stage] = tuple(s for s in earlier if draw(0, 2) == 0)
            revealed_by[stage] = earlier[draw(0, k - 1)] if k and draw(0, 2) == 0 else None
            if draw(0, 2):
                pool = llm_pools[draw(0, len(llm_pools) - 1)]
                limit = pool.executor.context_limit if isinstance(pool.executor, ContinuousBatching) else 4096
                prompt = draw(1, min(limit - 1, 3000))
                cap = min(limit - prompt, 40) if draw(0, 1) else draw(1, min(limit - prompt, 40))
                output = draw(1, cap)
                kinds[stage], names[stage] = LLM, pool.name
                calls[stage] = LLMCall(prompt, output, cap, float(output))
                durations[stage] = seconds(output)
            else:
                kinds[stage], names[stage] = REGULAR, regular_pools[draw(0, len(regular_pools) - 1)].name
                durations[stage] = seconds(draw(0, 16))  # 0 sometimes: done at the instant it starts
        jobs.append(
            JobSpec(
                job_id,
                APPS[draw(0, len(APPS) - 1)],
                arrival,
                tuple(kinds),
                tuple(durations),
                tuple(durations),
                tuple(parents),
                tuple(revealed_by),
                pools=tuple(names),
                calls=tuple(calls),
            )
        )
    return Scenario(cluster, jobs, exact and small)  # the default constants are decimal


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    return build_scenario(lambda lo, hi: draw(st.integers(lo, hi)))


def seeded_scenario(seed: int, max_jobs: int = 10) -> Scenario:
    rng = np.random.default_rng(seed)
    return build_scenario(lambda lo, hi: int(rng.integers(lo, hi + 1)), max_jobs)


# ------------------------------------------------------------------------------- the two paths
def check_limits(pool: BatchingPool) -> tuple[int, int, int]:
    """Every replica's current run keeps its batch, KV and token limits (to its last iteration).

    Returns the largest batch, KV need and iteration tokens among the runs.
    """
    m = pool.model
    peak = (0, 0, 0)
    for r in pool.replicas:
        batch = len(r.seqs)
        assert batch <= m.max_num_seqs, f"{pool.name} executor {r.id}: batch {batch} > max_num_seqs"
        if r.planned:
            last_need = r.need() + (r.planned - 1) * batch  # KV needed by the run's last iteration
            assert last_need <= m.kv_capacity, f"{pool.name} executor {r.id}: KV {last_need} > capacity"
            assert pool.kv_used(r.id) + batch == r.need()
            tokens = r.decoders + r.prefill
            assert tokens <= m.max_num_batched_tokens, f"{pool.name} executor {r.id}: {tokens} tokens"
            peak = tuple(max(a, b) for a, b in zip(peak, (batch, last_need, tokens), strict=True))
    return peak


class WatchedPool(BatchingPool):
    """A batching pool that checks its limits after each time it starts work (:func:`check_limits`)
    and keeps its peak batch, KV need and iteration tokens."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.peak = (0, 0, 0)

    def start(self, now: float, decide: bool) -> bool:
        stopped = super().start(now, decide)
        self.peak = tuple(max(a, b) for a, b in zip(self.peak, check_limits(self), strict=True))
        return stopped


@pytest.fixture(autouse=True, scope="module")
def watched_pools() -> Iterator[None]:
    """Every batching pool built in this module is a :class:`WatchedPool`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(continuous_batching, "BatchingPool", WatchedPool)
        yield


def batching_counts(sim: Simulator) -> tuple[int, int]:
    pools = [p for p in sim.pools if isinstance(p, BatchingPool)]
    return sum(p.preemptions for p in pools), sum(p.iterations for p in pools)


def fast_finishes(scenario: Scenario, policy: str) -> tuple[dict[int, float], tuple[int, int]]:
    sim = Simulator(scenario.jobs, cluster=scenario.cluster, policy=POLICIES[policy][0]())
    results = sim.run()
    return dict(zip(results.job_ids, results.finishes, strict=True)), batching_counts(sim)


class DecisionQueue(PriorityQueue):
    """The policy's priority queue plus the ``remove`` that decision-mode ``dispatch`` uses."""

    __slots__ = ()

    def remove(self, job: JobState, stage: int) -> None:  # type: ignore[override]
        entries = list(list.__iter__(self))
        k = next(k for k, e in enumerate(entries) if e[2] is job and e[3] == stage)
        del self[k]
        heapq.heapify(self)


def decision_finishes(scenario: Scenario, policy: str) -> tuple[dict[int, float], tuple[int, int]]:
    """Decision mode: stop at every open choice and dispatch the policy's pick among ``choices``."""
    _, queue_key, key = POLICIES[policy]
    sim = Simulator(scenario.jobs, cluster=scenario.cluster, queue_factory=lambda: DecisionQueue(queue_key))
    while sim.advance():
        pool = sim.decision_pools()[0]
        choices = sim.choices(pool)
        assert choices
        job, stage = min(choices, key=lambda js: key(js[0].spec, js[0].rank, js[1]))
        sim.dispatch(job, stage)
        if isinstance(sim.pools[pool], BatchingPool):
            check_limits(sim.pools[pool])
    results = sim.results
    return dict(zip(results.job_ids, results.finishes, strict=True)), batching_counts(sim)


def comparable(scenario: Scenario, reference: ReferenceResult) -> bool:
    """Whether times must agree: always with dyadic numbers; with decimal ones, unless two
    events fall within rounding of each other (then either order is a right answer)."""
    return scenario.exact or not reference.near_ties


def check(scenario: Scenario, policy: str) -> ReferenceResult:
    """Run the reference, the fast path and decision mode; their results must agree."""
    reference = ReferenceSimulator(scenario.jobs, scenario.cluster, POLICIES[policy][2]).run()
    for path in (fast_finishes, decision_finishes):
        finishes, counts = path(scenario, policy)
        assert set(finishes) == set(reference.finish)
        if not comparable(scenario, reference):
            continue
        for job_id, expected in reference.finish.items():
            if scenario.exact:
                assert finishes[job_id] == expected, f"{path.__name__}: job {job_id}"
            else:
                assert finishes[job_id] == pytest.approx(expected, rel=1e-9), f"{path.__name__}: job {job_id}"
        assert counts == (reference.preemptions, reference.iterations), path.__name__
    return reference


# ------------------------------------------------------------------------------------ the tests
@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from(sorted(POLICIES)))
def test_fast_path_and_decision_mode_match_the_reference(scenario: Scenario, policy: str) -> None:
    check(scenario, policy)


def test_random_traces_reach_preemption_the_token_budget_and_exact_ties() -> None:
    # The generator reaches the cases that matter (KV preemption, a binding token budget, exact
    # ties between events with dyadic numbers) and compares most decimal cases too.
    preempting = budget_bound = exact_ties = decimal_compared = 0
    for seed in range(40):
        scenario = seeded_scenario(seed)
        reference = check(scenario, ("fcfs", "ps-tcs")[seed % 2])
        preempting += reference.preemptions > 0
        budget_bound += reference.budget_refusals > 0
        exact_ties += scenario.exact and reference.near_ties > 0
        decimal_compared += not scenario.exact and comparable(scenario, reference)
    assert preempting >= 3
    assert budget_bound >= 3
    assert exact_ties >= 3
    assert decimal_compared >= 10


# ------------------------------------------------------------- regressions, computed by hand
def one_call_job(job_id: int, arrival: float, prompt: int, output: int) -> JobSpec:
    call = LLMCall(prompt, output, output, float(output))
    return JobSpec(job_id, "x", arrival, (LLM,), (1.0,), (1.0,), ((),), (None,), calls=(call,))


def replicas(count: int, **executor: float) -> Cluster:
    return Cluster(
        (PoolSpec("regular", "regular", 1), PoolSpec("llm", "llm", count, ContinuousBatching(**executor)))
    )


def assert_exact(
    jobs: list[JobSpec], cluster: Cluster, finishes: dict[int, float], counts: tuple[int, int]
) -> None:
    scenario = Scenario(cluster, jobs, exact=True)
    reference = check(scenario, "fcfs")
    assert reference.finish == finishes
    assert (reference.preemptions, reference.iterations) == counts


def test_a_stage_preempted_at_an_instant_goes_to_an_idle_replica_at_that_instant() -> None:
    # Iterations of 1/8 s. t=0: A (job 0) -> e0, B -> e1 (fewest running), C -> e0 (tie: lowest
    # id). B ends at 1/8; e1 is idle. A and C need 2 (p + g + 1) each and grow by one slot per
    # iteration: at t=3/8 they need 5 + 5 > 8, so C (newest) is preempted with g=3 and, ready
    # at that instant, goes to the idle e1 (need 5): it ends at 6/8 with A. (The fast path
    # used to leave it queued until e0 finished A at 6/8, ending it at 9/8.)
    cluster = replicas(
        2,
        t_floor=1 / 8,
        t_token=0.0,
        t_kv=0.0,
        kv_capacity=8,
        max_num_seqs=2,
        max_num_batched_tokens=8,
        context_limit=8,
    )
    jobs = [one_call_job(0, 0.0, 1, 6), one_call_job(1, 0.0, 1, 1), one_call_job(2, 0.0, 1, 6)]
    # Iterations: e0 runs 6 (A, with C in the first 3); e1 runs 1 (B) + 3 (C).
    assert_exact(jobs, cluster, {0: 0.75, 1: 0.125, 2: 0.75}, (1, 10))


def test_a_replica_whose_iteration_ends_at_an_arrival_admits_with_the_idle_ones() -> None:
    # Iterations of n_tokens / 8 s, two sequences at most. X (p=1, o=10) runs alone on e0
    # from t=0, one token per iteration: its 4th iteration ends at t=1/2, when Y (o=1) and
    # Z (o=2) arrive. e0 is at a boundary then, so it admits with the idle e1: Y -> e1 (fewest
    # running), Z -> e0 (tie at one sequence each: lowest id). e1: Y's prefill, 1/8 s: Y ends
    # at 5/8. e0: X + Z's prefill, 2/8; X + Z, 2/8: Z ends at 1; X alone, 4 x 1/8: ends at 3/2.
    # (The fast path used to give both to e1 and bring e0 to its boundary later at t=1/2.)
    cluster = replicas(2, t_floor=0.0, t_token=1 / 8, t_kv=0.0, max_num_seqs=2)
    jobs = [one_call_job(0, 0.0, 1, 10), one_call_job(1, 0.5, 1, 1), one_call_job(2, 0.5, 1, 2)]
    assert_exact(jobs, cluster, {0: 1.5, 1: 0.625, 2: 1.0}, (0, 10 + 1))


def test_a_stage_ready_after_a_zero_time_stage_waits_for_the_iteration_begun_at_that_instant() -> None:
    # Iterations of 1/8 s on one replica. A (job 0, o=4) runs from t=0; its 2nd iteration ends
    # at t=1/4, when job 1 arrives. Its regular stage takes no time and reveals B (o=1): B is
    # ready at t=1/4, but after the replica began its 3rd iteration there (the first round of
    # admissions at t=1/4 comes before the stage's end), so B waits for it: B runs 3/8..4/8
    # with A's last iteration. (The fast path used to admit B into the iteration at t=1/4.)
    cluster = replicas(1, t_floor=1 / 8, t_token=0.0, t_kv=0.0)
    reveal = JobSpec(
        1,
        "x",
        0.25,
        (REGULAR, LLM),
        (0.0, 1.0),
        (0.0, 1.0),
        ((), ()),
        (None, 0),
        calls=(None, LLMCall(1, 1, 1, 1.0)),
    )
    assert_exact([one_call_job(0, 0.0, 1, 4), reveal], cluster, {0: 0.5, 1: 0.5}, (0, 4))


def test_the_fast_path_fills_but_never_exceeds_its_limits() -> None:
    # Eight calls of p=1000, o=900 on one replica of at most 4 sequences, 6,000 KV slots and a
    # 4,096-token budget: four prompts (4,000 tokens) fill the first iteration's budget; four
    # sequences fill the KV cache at g=499 (4 x 1,500) and preemptions follow.
    cluster = replicas(1, kv_capacity=6000, max_num_seqs=4, max_num_batched_tokens=4096)
    jobs = [one_call_job(i, 0.0, 1000, 900) for i in range(8)]
    sim = Simulator(jobs, cluster=cluster, policy=FCFS())
    sim.run()
    assert sim.pools[1].peak == (4, 6000, 4000)
    assert sim.pools[1].preemptions > 0
    reference = check(Scenario(cluster, jobs, exact=False), "fcfs")  # decimal default constants
    assert comparable(Scenario(cluster, jobs, exact=False), reference)
