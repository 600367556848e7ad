"""Invariants of the simulator over random workloads and random DAGs."""

from __future__ import annotations

import itertools
import tracemalloc
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st
from llm_sched_env.baselines import FCFS, PSTCS, RS
from llm_sched_env.baselines.heuristics import fcfs_key

from llm_sched_env.core import Cluster, JobSpec, PoolSpec, Simulator
from llm_sched_env.core.simulator import ROUTE_CACHE_SIZE
from llm_sched_env.workloads import PoissonArrivals, Workload


@st.composite
def random_job(draw: st.DrawFn, job_id: int, arrival: float) -> JobSpec:
    """A random DAG whose stages may be revealed by earlier stages."""
    n = draw(st.integers(1, 7))
    parents = tuple(
        tuple(sorted(draw(st.sets(st.integers(0, i - 1), max_size=min(i, 3))))) if i else () for i in range(n)
    )
    revealed_by = tuple(draw(st.none() | st.integers(0, i - 1)) if i else None for i in range(n))
    return JobSpec(
        job_id,
        draw(st.sampled_from(["task_automation", "code_generation", "sorting", "custom"])),
        arrival,
        tuple(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))),
        tuple(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5]), min_size=n, max_size=n))),
        (1.0,) * n,
        parents,
        revealed_by,
    )


@st.composite
def random_jobs(draw: st.DrawFn) -> list[JobSpec]:
    # Arrival times on a coarse grid so that ties between events are frequent.
    arrivals = sorted(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0]), min_size=1, max_size=12)))
    return [draw(random_job(i, t)) for i, t in enumerate(arrivals)]


POLICIES = st.sampled_from(["fcfs", "ps-tcs", "rs"])


def make(policy: str):
    return {"fcfs": FCFS, "ps-tcs": PSTCS}.get(policy, lambda: RS(3))()


def check_schedule(jobs: list[JobSpec], sim: Simulator) -> None:
    """Every stage ran exactly once, on its own kind of executor, after its parents and revealer."""
    by_id = {job.job_id: job for job in jobs}
    runs = {(s.job_id, s.stage): s for s in sim.schedule}
    assert len(runs) == len(sim.schedule) == sum(job.num_stages for job in jobs)
    busy = defaultdict(list)
    for s in sim.schedule:
        job = by_id[s.job_id]
        assert s.pool == job.kinds[s.stage]
        assert s.end == s.start + job.durations[s.stage]
        assert s.start >= job.arrival
        for p in job.parents[s.stage]:
            assert s.start >= runs[(s.job_id, p)].end
        if job.revealed_by[s.stage] is not None:
            assert s.start >= runs[(s.job_id, job.revealed_by[s.stage])].end
        busy[(s.pool, s.executor)].append((s.start, s.end))
    for intervals in busy.values():
        intervals.sort()
        for (_, end), (start, _) in itertools.pairwise(intervals):
            assert start >= end
    assert all(0 <= ex < sim.num_executors[pool] for pool, ex in busy)


@settings(max_examples=150, deadline=None)
@given(jobs=random_jobs(), regular=st.integers(1, 3), llm=st.integers(1, 3), policy=POLICIES)
def test_random_dags_finish_with_a_valid_schedule(jobs, regular, llm, policy) -> None:
    sim = Simulator(jobs, regular, llm, make(policy), record_schedule=True)
    jcts = sim.run().jct_by_job()
    assert sorted(jcts) == [job.job_id for job in jobs]
    for job in jobs:
        assert jcts[job.job_id] >= job.critical_path() - 1e-9
    check_schedule(jobs, sim)
    assert not sim.active and sim.done


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), regular=st.integers(1, 6), llm=st.integers(1, 6), policy=POLICIES)
def test_generated_workloads_keep_the_invariants(seed, regular, llm, policy) -> None:
    jobs = list(Workload().jobs(30, seed))
    sim = Simulator(jobs, regular, llm, make(policy), record_schedule=True)
    jcts = sim.run().jct_by_job()
    assert len(jcts) == 30
    for job in jobs:
        assert jcts[job.job_id] >= job.critical_path() - 1e-9
    check_schedule(jobs, sim)
    again = Simulator(list(Workload().jobs(30, seed)), regular, llm, make(policy)).run().jct_by_job()
    assert again == jcts


@settings(max_examples=40, deadline=None)
@given(jobs=random_jobs(), regular=st.integers(1, 3), llm=st.integers(1, 3))
def test_decision_mode_with_fcfs_choices_equals_the_fast_path(jobs, regular, llm) -> None:
    """Driving the simulator from outside with FCFS choices gives the fast path's JCTs exactly."""
    sim = Simulator(jobs, regular, llm)
    while sim.advance():
        pools = sim.decision_pools()
        assert pools, "advance() stopped without a pool that needs a decision"
        candidates = [(job, stage) for p in pools for job, stage in sim.ready[p]]
        sim.dispatch(*min(candidates, key=lambda c: fcfs_key(*c)))
    fast = Simulator(jobs, regular, llm, FCFS()).run()
    assert sim.results.jct_by_job() == fast.jct_by_job()


def test_area_is_the_sum_of_jcts() -> None:
    jobs = list(Workload().jobs(200, 5))
    sim = Simulator(jobs, 10, 10, PSTCS())
    results = sim.run()
    assert abs(sim.area - results.jcts.sum()) <= 1e-9 * sim.area


def peak_bytes(num_jobs: int) -> int:
    # A stable system (R=L=40 at a low rate), so the number of jobs in the system stays bounded.
    workload = Workload(arrivals=PoissonArrivals(0.3))
    tracemalloc.start()
    Simulator(workload.jobs(num_jobs, 1), 40, 40, FCFS()).run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_stays_flat_as_jobs_stream_through() -> None:
    small, large = peak_bytes(2_000), peak_bytes(8_000)
    # Only the per-job result arrays grow (26 bytes a job, twice that while an array is
    # resized) plus CPython's bounded free lists filling up; keeping finished jobs would
    # cost kilobytes a job (a sorting job alone has 34 stages).
    assert large - small < 6_000 * 250


def test_the_pool_mappings_kept_stay_bounded_over_ever_new_job_shapes() -> None:
    cluster = Cluster(
        (PoolSpec("regular", "regular", 2), PoolSpec("llm", "llm", 2), PoolSpec("tools", "regular", 1))
    )
    n = 12  # 4,096 distinct shapes of 12 stages, regular or LLM
    shapes = 2 * ROUTE_CACHE_SIZE
    jobs = [
        JobSpec(
            i,
            "custom",
            float(i),
            tuple((i >> b) & 1 for b in range(n)),
            (0.5,) * n,
            (0.5,) * n,
            ((),) * n,
            (None,) * n,
        )
        for i in range(shapes)
    ]
    sim = Simulator(jobs, policy=FCFS(), cluster=cluster)
    assert len(sim.run()) == shapes
    assert 0 < len(sim._routes) <= ROUTE_CACHE_SIZE
