"""The fast-path baselines: they see only what a real scheduler sees, keep exact priorities, run anywhere."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
from llm_sched_env.agents.seeds import TRAIN_SEED_START
from llm_sched_env.agents.teacher import PacedSRPT as ObsPacedSRPT
from llm_sched_env.baselines import (
    FCFS,
    SRPT,
    CriticalPathFirst,
    InEnvironment,
    LLMSched,
    ObsFCFS,
    PacedSRPT,
    run_episode,
)
from llm_sched_env.baselines.autellix import ATLAS, PLAS
from llm_sched_env.baselines.llmsched import PROFILE_SEEDS, training_profile
from llm_sched_env.baselines.srpt import PoolSRPT
from llm_sched_env.baselines.state_queue import StatePolicy

from llm_sched_env.core import (
    LLM,
    REGULAR,
    Cluster,
    ContinuousBatching,
    JobSpec,
    LLMCall,
    PoolSpec,
    Simulator,
)
from llm_sched_env.envs import LAYOUT, CompoundLLMServingEnv, ServingConfig, default_cluster
from llm_sched_env.envs.serving_config import SERVING_ARRIVAL_RATE
from llm_sched_env.experiments import get_policy, policy_keys
from llm_sched_env.experiments.cell import run_cell
from llm_sched_env.experiments.config import CellConfig
from llm_sched_env.experiments.policies import run_episode as run_policy_episode
from llm_sched_env.experiments.serving import serving_cluster
from llm_sched_env.workloads import Workload
from llm_sched_env.workloads.code_generation import FIRST_PASS_RATE

# Fast-path baselines (the windowed paced rule runs through the environment, tested by its no-leak tests).
BASELINES = [
    key for key in policy_keys() if hasattr(get_policy(key).factory(np.random.SeedSequence(0)), "new_queue")
]


def in_tokens(spec: JobSpec) -> JobSpec:
    """``spec`` with LLM stages in tokens (90 tokens/s) and task automation's LLM calls on pool "big"."""
    calls = tuple(
        LLMCall(200, min(3800, max(1, round(d * 90))), 3800, e * 90) if k == LLM else None
        for k, d, e in zip(spec.kinds, spec.durations, spec.estimates, strict=True)
    )
    pools = tuple(
        ("big" if spec.app == "task_automation" else "llm") if k == LLM else "regular" for k in spec.kinds
    )
    return JobSpec(
        spec.job_id,
        spec.app,
        spec.arrival,
        spec.kinds,
        spec.durations,
        spec.estimates,
        spec.parents,
        spec.revealed_by,
        pools=pools,
        calls=calls,
    )


def named_cluster() -> Cluster:
    return Cluster(
        (
            PoolSpec("regular", "regular", 2),
            PoolSpec("llm", "llm", 1, ContinuousBatching(max_num_seqs=3)),
            PoolSpec("big", "llm", 1),
        )
    )


def perturbed(spec: JobSpec, rng: np.random.Generator) -> JobSpec:
    """``spec`` with every true duration changed and its unrevealed part changed (two more stages)."""
    n = spec.num_stages
    first = spec.visible_at_arrival[0]
    hidden = [r is not None for r in spec.revealed_by]
    kinds = (*spec.kinds, LLM, REGULAR)
    durations = (*tuple(d * rng.uniform(0.2, 5.0) for d in spec.durations), 7.0, 3.0)
    estimates = (*tuple(e * 3.0 if h else e for e, h in zip(spec.estimates, hidden, strict=True)), 5.0, 2.0)
    calls = None
    if spec.calls is not None:
        calls = (
            *tuple(
                None
                if c is None
                else c._replace(output_tokens=min(3800, max(1, round(d * 90))), estimate_tokens=e * 90)
                for c, d, e in zip(spec.calls, durations, estimates, strict=False)
            ),
            LLMCall(100, 600, 3800, 450.0),
            None,
        )
    return JobSpec(
        spec.job_id,
        spec.app,
        spec.arrival,
        kinds,
        durations,
        estimates,
        (*spec.parents, (), (n,)),
        (*spec.revealed_by, first, first),
        pools=None if spec.pools is None else (*spec.pools, "llm", "regular"),
        calls=calls,
    )


def starts(sim: Simulator) -> list[tuple[int, int, int, int, float]]:
    return sorted((s.start, s.pool, s.executor, s.job_id, s.stage) for s in sim.schedule)


def first_finish(sim: Simulator, job_id: int) -> float:
    return min(s.end for s in sim.schedule if s.job_id == job_id)


@pytest.mark.parametrize("cluster", ["paper", "named"])
@pytest.mark.parametrize("key", BASELINES)
def test_no_decision_changes_before_a_perturbed_stage_finishes(key: str, cluster: str) -> None:
    jobs = list(Workload().jobs(60, seed=3))
    if cluster == "named":
        jobs = [in_tokens(spec) for spec in jobs]
    rng = np.random.default_rng(0)
    compared = 0
    for target in (5, 17, 30, 44):
        changed = [perturbed(spec, rng) if spec.job_id == target else spec for spec in jobs]
        runs = []
        for trace in (jobs, changed):
            policy = get_policy(key).factory(np.random.SeedSequence(7))
            layout = {"cluster": named_cluster()} if cluster == "named" else {"num_regular": 3, "num_llm": 3}
            sim = Simulator(trace, policy=policy, record_schedule=True, **layout)
            sim.run()
            runs.append(sim)
        horizon = min(first_finish(sim, target) for sim in runs)
        before = [[s for s in starts(sim) if s[0] < horizon] for sim in runs]
        assert before[0] == before[1], f"{key}: decisions differ before job {target}'s first stage finished"
        arrival = jobs[target].arrival
        compared += sum(1 for s in before[0] if s[0] > arrival)
    assert compared >= 10  # the perturbed jobs were in the system while decisions were made


def decision_mode_jcts(policy: StatePolicy | ATLAS, jobs: list[JobSpec], regular: int, llm: int) -> list:
    """Every decision taken by a fresh ``min(policy.key)`` over the current choices."""
    sim = Simulator(jobs, regular, llm)
    while sim.advance():
        for pool in sim.decision_pools():
            job, stage = min(sim.choices(pool), key=lambda choice: policy.key(*choice))
            sim.dispatch(job, stage)
    return sorted(zip(sim.results.job_ids, sim.results.finishes, strict=True))


@pytest.mark.parametrize(
    "policy",
    [SRPT(), PoolSRPT(), PacedSRPT(), PLAS(), ATLAS(), CriticalPathFirst(), LLMSched(epsilon=0.0)],
    ids=lambda p: p.name,
)
def test_the_fast_path_equals_choosing_by_fresh_keys_at_every_decision(policy) -> None:
    jobs = list(Workload().jobs(120, seed=1))
    fast = Simulator(jobs, 4, 4, policy).run()
    assert sorted(zip(fast.job_ids, fast.finishes, strict=True)) == decision_mode_jcts(policy, jobs, 4, 4)


def test_the_profile_is_fitted_on_training_seeds_and_recovers_the_workload() -> None:
    assert min(PROFILE_SEEDS) >= TRAIN_SEED_START
    profile = training_profile()
    # A first-round test reveals a repair round unless it passes (12.8 %): a binary entropy.
    p = FIRST_PASS_RATE
    test_round_1 = (
        "code_generation",
        REGULAR,
        Workload().apps[1].sample(np.random.default_rng(0), 0, 0.0).estimates[1],
        0,
    )
    assert profile.reveal_entropy[test_round_1] == pytest.approx(
        -p * math.log(p) - (1 - p) * math.log(1 - p), abs=0.03
    )
    # The request factor has cv 0.6: log-variance log(1 + 0.36) across jobs.
    assert profile.pace["sorting"].var_job == pytest.approx(math.log1p(0.36), rel=0.15)
    # The planner brings the response call (400 tokens at 90 tokens/s) into view.
    planner = ("task_automation", LLM, 550 / 90, 0)
    assert profile.hidden_work[planner][1] == pytest.approx(400 / 90)


def test_llmsched_explores_with_probability_epsilon_from_its_own_seed() -> None:
    jobs = list(Workload().jobs(100, seed=2))
    a = Simulator(jobs, 3, 3, LLMSched(seed=5)).run().mean_jct
    b = Simulator(jobs, 3, 3, LLMSched(seed=5)).run().mean_jct
    greedy = Simulator(jobs, 3, 3, LLMSched(seed=5, epsilon=0.0)).run().mean_jct
    assert a == b != greedy
    with pytest.raises(ValueError, match="epsilon"):
        LLMSched(epsilon=1.5)


def test_an_observation_policy_in_the_environment_schedules_as_on_the_fast_path() -> None:
    jobs = list(Workload().jobs(80, seed=4))
    fcfs = InEnvironment(lambda layout: ObsFCFS(), "FCFS")
    assert list(fcfs.run_episode(jobs, 3, 3).finishes) == list(Simulator(jobs, 3, 3, FCFS()).run().finishes)
    cluster = serving_cluster(3, 1)
    fast = Simulator(jobs, policy=FCFS(), cluster=cluster).run()
    assert list(fcfs.run_on_cluster(jobs, cluster).finishes) == list(fast.finishes)
    assert get_policy("paced-srpt-32").name == "PacedSRPT-32"


def test_the_windowed_teacher_reads_the_serving_layout_on_a_batching_cluster() -> None:
    jobs = list(Workload().jobs(60, seed=3))
    cluster = serving_cluster(3, 1)
    results = run_policy_episode(
        get_policy("paced-srpt-32").factory(np.random.SeedSequence(0)), jobs, cluster
    )
    env = CompoundLLMServingEnv(ServingConfig.from_trace(jobs, cluster=cluster))
    assert list(results.finishes) == list(run_episode(env, ObsPacedSRPT(env.layout)).finishes)
    with pytest.raises(ValueError, match="reshape"):  # CompoundLLM-v0's layout does not fit these rows
        run_episode(env, ObsPacedSRPT(LAYOUT))


@pytest.mark.parametrize("key", ["srpt", "paced-srpt", "llmsched", "cpf"])
def test_simulators_with_re_keyed_queues_copy_and_pickle(key: str) -> None:
    jobs = list(Workload().jobs(60, seed=0))
    sim = Simulator(jobs, 2, 2, get_policy(key).factory(np.random.SeedSequence(3)))
    copies = [copy.deepcopy(sim), pickle.loads(pickle.dumps(sim))]
    expected = list(sim.run().finishes)
    assert [list(c.run().finishes) for c in copies] == [expected, expected]


@pytest.mark.parametrize("key", ["srpt", "srpt-pool", "paced-srpt", "plas", "atlas", "llmsched", "cpf"])
def test_state_queue_policies_finish_every_job_on_a_saturated_batching_replica(key: str) -> None:
    # CompoundLLMServing-v0's default setting, seed 1: many admissions of several stages at once into
    # one replica. Each stage must be started before the next is popped, so that the queues' shared
    # StageWatch sees it running (it once took the stage for a preempted one, and LLMSched then
    # found no stage to pop in a non-empty queue).
    config = CellConfig.of_cluster(key, default_cluster(), 1, num_jobs=500, arrival_rate=SERVING_ARRIVAL_RATE)
    assert len(run_cell(config, get_policy(key))["jcts"]) == 500  # as `llm-sched bench` runs it
