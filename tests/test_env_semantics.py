"""CompoundLLM-v0 semantics: exact baselines, reward identity, no hidden information, the slot rule.

The observation is checked against a from-scratch reading of the simulator state, so the
incremental encoder cannot drift from what it claims to show.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_job
from hypothesis import given
from hypothesis import strategies as st
from llm_sched_env.baselines import FCFS, PSTCS, ObsFCFS, ObsPSTCS, ObsRS, run_episode
from lockstep import lockstep as run_in_lockstep

from llm_sched_env.core import JobSpec, Simulator
from llm_sched_env.envs import (
    STAGE_FEATURES,
    CompoundLLMConfig,
    CompoundLLMEnv,
    observation_tables,
)
from llm_sched_env.envs.reference import reference_observation
from llm_sched_env.envs.stage_table import exact_units
from llm_sched_env.workloads import PoissonArrivals, Workload


def fast_path_jcts(config: CompoundLLMConfig, policy, seed: int) -> dict[int, float]:
    workload = Workload(mix=config.app_mix, arrivals=PoissonArrivals(config.arrival_rate))
    jobs = list(workload.jobs(config.num_jobs, seed))
    return Simulator(jobs, config.num_regular, config.num_llm, policy).run().jct_by_job()


# ------------------------------------------------------------------ exact baselines
@pytest.mark.parametrize(
    "overrides",
    [
        {},  # the paper's setting: 500 jobs, R = L = 10, 32 slots
        {"num_jobs": 150, "num_regular": 2, "num_llm": 3, "stage_slots": 8},  # many ready stages hidden
        {"num_jobs": 150, "num_regular": 1, "num_llm": 1, "stage_slots": 8, "app_mix": (1, 0, 1)},
        {"num_jobs": 100, "num_regular": 30, "num_llm": 30, "stage_slots": 8},  # light load
    ],
)
def test_fcfs_and_ps_tcs_through_the_env_equal_the_fast_path(overrides: dict) -> None:
    env = CompoundLLMEnv(**overrides)
    for fast, through_obs in ((FCFS(), ObsFCFS()), (PSTCS(), ObsPSTCS())):
        assert run_episode(env, through_obs, seed=7).jct_by_job() == fast_path_jcts(env.config, fast, 7)


def test_default_workload_seed_matches_the_fast_path_cli_default() -> None:
    env = CompoundLLMEnv(num_jobs=60)
    jobs = list(Workload().jobs(60, 3))
    expected = Simulator(jobs, 10, 10, FCFS()).run().jct_by_job()
    assert run_episode(env, ObsFCFS(), seed=3).jct_by_job() == expected


# ------------------------------------------------------------------ reward identity
@pytest.mark.parametrize("overrides", [{"num_jobs": 60}, {"num_jobs": 40, "num_regular": 1, "num_llm": 2}])
def test_return_times_scale_is_minus_the_sum_of_jcts(overrides: dict) -> None:
    env = CompoundLLMEnv(reward_scale=7.0, **overrides)
    policy = ObsRS(seed=0)
    obs, info = env.reset(seed=1)
    episode_return, jcts = 0.0, list(info["jcts"])
    terminated = False
    while not terminated:
        obs, reward, terminated, _, info = env.step(policy.act(obs))
        assert reward <= 0.0
        episode_return += reward
        jcts += info["jcts"]
    assert len(jcts) == env.config.num_jobs
    assert sorted(jcts) == pytest.approx(sorted(env.results.jcts))
    assert episode_return * 7.0 == pytest.approx(-sum(jcts), rel=1e-9)


def test_episode_without_a_decision() -> None:
    job = make_job(0, "sorting", 2.0, [("llm", 3.0, ()), ("reg", 1.0, (0,))])
    env = CompoundLLMEnv(config=CompoundLLMConfig.from_trace([job], reward_scale=2.0))
    obs, info = env.reset()
    assert not info["decision"] and not obs["action_mask"].any() and not env.action_masks().any()
    obs, reward, terminated, truncated, info = env.step(0)
    assert terminated and not truncated and not info["invalid_action"]
    assert info["jcts"] == [4.0] and reward == -2.0


# --------------------------------------------------------------- no hidden information
def contended_trace(hidden_tool_seconds: float, running_seconds: float) -> list[JobSpec]:
    """R = L = 1 traffic: job 0's planner reveals a tool at t = 1; job 4's first stage runs from 0.4."""
    return [
        make_job(
            0,
            "task_automation",
            0.0,
            [("llm", 1.0, ()), ("reg", hidden_tool_seconds, (0,), 0), ("llm", 1.0, (1,), 0)],
        ),
        make_job(1, "sorting", 0.1, [("llm", 2.0, ()), ("reg", 0.5, (0,)), ("llm", 2.0, (1,))]),
        make_job(2, "code_generation", 0.2, [("llm", 1.5, ()), ("reg", 0.2, (0,))]),
        make_job(3, "task_automation", 0.3, [("llm", 1.0, ()), ("reg", 4.0, (0,), 0), ("llm", 1.0, (1,), 0)]),
        make_job(4, "sorting", 0.4, [("reg", running_seconds, ()), ("llm", 2.0, ()), ("llm", 1.0, (0, 1))]),
        make_job(5, "code_generation", 0.5, [("llm", 1.0, ()), ("reg", 0.1, (0,))]),
    ]


def lockstep(trace_a: list[JobSpec], trace_b: list[JobSpec], until: float) -> tuple[int, bool]:
    """Step both traces with the same FCFS actions; observations must agree before ``until``.

    Returns how many decisions were compared and whether the observations differ later.
    """
    envs = [
        CompoundLLMEnv(config=CompoundLLMConfig.from_trace(t, num_regular=1, num_llm=1, stage_slots=8))
        for t in (trace_a, trace_b)
    ]
    return run_in_lockstep(envs, until)


def test_a_hidden_stages_duration_does_not_leak() -> None:
    # Job 0's tool (hidden until its planner ends at t=1) runs 5 s in one trace and 9 s in
    # the other: observations agree until it ends (t = 1 + 5 at the earliest).
    compared, differed = lockstep(contended_trace(5.0, 3.0), contended_trace(9.0, 3.0), until=6.0)
    assert compared >= 4 and differed


def test_a_running_stages_duration_does_not_leak() -> None:
    # Job 4's regular stage runs from t=0.4 for 3 s or 4.5 s: no difference before t=3.4.
    compared, differed = lockstep(contended_trace(5.0, 3.0), contended_trace(5.0, 4.5), until=3.4)
    assert compared >= 2 and differed


# ------------------------------------------------------- the observation, from scratch
def check_observation(env, obs: dict, info: dict) -> None:
    """``obs`` equals the shipped reference encoder's plain reading of the state."""
    encoder = env._encoder
    big = env.config.stage_slots**2
    expected, counts = reference_observation(env._sim, encoder.layout, encoder.settings, big)
    for key in ("stages", "executors", "pools", "system"):
        np.testing.assert_allclose(obs[key], expected[key], rtol=0, atol=1e-6, err_msg=key)
    for key in ("stage_mask", "stage_job", "job_mask", "action_mask"):
        np.testing.assert_array_equal(obs[key], expected[key], err_msg=key)
    e = env.config.edge_slots
    n = int(expected["edge_mask"].sum())
    full = set(zip(expected["edges"][:n].tolist(), expected["edges"][big : big + n].tolist(), strict=True))
    m = int(obs["edge_mask"].sum())
    np.testing.assert_array_equal(obs["edge_mask"], np.arange(e) < m)
    shown = set(zip(obs["edges"][:m].tolist(), obs["edges"][e : e + m].tolist(), strict=True))
    assert len(shown) == m == min(n, e) and shown <= full
    assert not obs["edges"][m:e].any() and not obs["edges"][e + m :].any()
    assert info["truncated_edges"] == n - m
    assert info["hidden_ready"] == counts["hidden_ready"]
    assert info["unshown_jobs"] == counts["unshown_jobs"]
    assert obs in env.observation_space


@pytest.mark.parametrize(
    "overrides",
    [
        {"num_jobs": 120, "num_regular": 2, "num_llm": 2, "stage_slots": 8, "edge_slots": 2},
        {"num_jobs": 60, "num_regular": 6, "num_llm": 3, "stage_slots": 32},
        {"num_jobs": 80, "num_regular": 1, "num_llm": 1, "stage_slots": 12, "app_mix": (1, 0, 0)},
    ],
)
def test_observations_match_a_from_scratch_reading_of_the_state(overrides: dict) -> None:
    env = CompoundLLMEnv(**overrides)
    policy = ObsRS(seed=2)
    obs, info = env.reset(seed=4)
    terminated = False
    seen = {"edges": 0, "hidden_ready": 0, "blocked": 0}
    while not terminated:
        check_observation(env, obs, info)
        seen["edges"] += int(obs["edge_mask"].any())
        seen["hidden_ready"] += int(info["hidden_ready"] > 0)
        seen["blocked"] += int(observation_tables(obs)["stages"][:, STAGE_FEATURES.index("blocked")].any())
        obs, _, terminated, _, info = env.step(policy.act(obs))
    assert all(seen.values()), seen  # the run exercised edges, hidden ready stages and blocked stages


def test_user_apps_fall_in_the_other_class_and_rank_last_under_ps_tcs() -> None:
    trace = [
        make_job(0, "my_agent", 0.0, [("llm", 2.0, ())]),
        make_job(1, "my_agent", 0.1, [("llm", 2.0, ())]),
        make_job(2, "sorting", 0.2, [("llm", 2.0, ())]),
        make_job(3, "task_automation", 0.3, [("llm", 1.0, ())]),
    ]
    config = CompoundLLMConfig.from_trace(trace, num_regular=1, num_llm=1)
    for fast, through_obs in ((FCFS(), ObsFCFS()), (PSTCS(), ObsPSTCS())):
        expected = Simulator(trace, 1, 1, fast).run().jct_by_job()
        assert run_episode(CompoundLLMEnv(config=config), through_obs).jct_by_job() == expected
    obs, _ = CompoundLLMEnv(config=config).reset()
    assert observation_tables(obs)["stages"][0, STAGE_FEATURES.index("app_other")] == 1.0


@given(st.lists(st.floats(min_value=5e-324, max_value=1e300), min_size=1, max_size=40))
def test_job_sums_are_exact_then_rounded_once(values: list[float]) -> None:
    # Job features keep sums as integers in a common unit: any order of updates gives the
    # correctly rounded sum (math.fsum), and each value is represented exactly.
    ints, unit = exact_units(values)
    assert [k / unit for k in ints] == values
    assert sum(ints) / unit == math.fsum(values)
    assert (sum(ints) - ints[0]) / unit == math.fsum(values[1:])
