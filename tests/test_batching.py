"""The continuous-batching executor model: figures that follow from DESIGN.md section 7."""

from __future__ import annotations

import pytest
from llm_sched_env.baselines import FCFS

from llm_sched_env.core import LLM, Cluster, ContinuousBatching, JobSpec, LLMCall, PoolSpec, Simulator


def llm_job(job_id: int, arrival: float, prompt: int, output: int) -> JobSpec:
    return JobSpec(
        job_id,
        "x",
        arrival,
        (LLM,),
        (output / 90,),
        (output / 90,),
        ((),),
        (None,),
        calls=(LLMCall(prompt, output, 4096 - prompt, float(output)),),
    )


def batching_cluster(**executor: int) -> Cluster:
    return Cluster(
        (PoolSpec("regular", "regular", 1), PoolSpec("llm", "llm", 1, ContinuousBatching(**executor)))
    )


def test_one_stage_alone_runs_at_the_papers_single_stream_speed() -> None:
    jct = Simulator([llm_job(0, 0.0, 1000, 900)], cluster=batching_cluster(), policy=FCFS()).run().mean_jct
    assert 9.5 < jct < 10.5  # about 900 / 90 s


def test_thirty_two_stages_batch_to_ten_times_the_throughput() -> None:
    jobs = [llm_job(i, 0.0, 1000, 900) for i in range(32)]
    results = Simulator(jobs, cluster=batching_cluster(), policy=FCFS()).run()
    makespan = max(results.finishes)
    assert 32 * 900 / makespan >= 10 * 90


def test_small_kv_capacity_preempts_and_every_job_finishes() -> None:
    jobs = [llm_job(i, 0.0, 1000, 900) for i in range(8)]
    sim = Simulator(jobs, cluster=batching_cluster(kv_capacity=6000), policy=FCFS())
    results = sim.run()
    assert len(results) == 8
    assert sim.pools[1].preemptions > 0


def test_a_batching_pool_rejects_stages_it_cannot_run_naming_job_stage_and_field() -> None:
    over = JobSpec(
        3, "x", 0.0, (LLM,), (1.0,), (1.0,), ((),), (None,), calls=(LLMCall(1000, 10, 3097, 10.0),)
    )
    with pytest.raises(ValueError, match=r"job 3 stages\[0\].max_tokens: .*exceeds the context limit 4096"):
        Simulator([over], cluster=batching_cluster(), policy=FCFS()).run()
    seconds_only = JobSpec(4, "x", 0.0, (LLM,), (1.0,), (1.0,), ((),), (None,))
    with pytest.raises(ValueError, match=r"job 4 stages\[0\].prompt_tokens: .*needs the stage in tokens"):
        Simulator([seconds_only], cluster=batching_cluster(), policy=FCFS()).run()


def test_a_job_shaped_like_an_earlier_one_is_still_checked_stage_by_stage() -> None:
    # Jobs of one shape share their stages' pools; each job's tokens are checked all the same.
    jobs = [llm_job(0, 0.0, 1000, 10), llm_job(1, 1.0, 1000, 10)]
    jobs.append(
        JobSpec(2, "x", 2.0, (LLM,), (1.0,), (1.0,), ((),), (None,), calls=(LLMCall(1000, 10, 3097, 10.0),))
    )
    with pytest.raises(ValueError, match=r"job 2 stages\[0\].max_tokens: .*exceeds the context limit 4096"):
        Simulator(jobs, cluster=batching_cluster(), policy=FCFS()).run()
