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

from llm_sched_env.core import BLOCKED, DONE, HIDDEN, LLM, READY, RUNNING, JobSpec, Simulator
from llm_sched_env.envs import (
    APP_CLASSES,
    EXECUTOR_FEATURES,
    STAGE_FEATURES,
    CompoundLLMConfig,
    CompoundLLMEnv,
    observation_tables,
)
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
    (obs_a, _), (obs_b, _) = envs[0].reset(), envs[1].reset()
    compared, differed, done = 0, False, False
    while not done and not differed:
        same = all(np.array_equal(obs_a[key], obs_b[key]) for key in obs_a)
        if envs[0].now < until and envs[1].now < until:
            assert same, f"observations differ at t={envs[0].now}, before t={until}"
            compared += 1
        differed = not same
        action = ObsFCFS().act(obs_a)
        (obs_a, _, done_a, _, _), (obs_b, _, done_b, _, _) = envs[0].step(action), envs[1].step(action)
        done = done_a or done_b
    return compared, differed


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
def squash(t: float, scale: float) -> float:
    return t / (t + scale)


def pace(spec: JobSpec, status: bytearray) -> float:
    """Run time of the finished LLM stages over their estimates (1 before any finished)."""
    finished = [s for s, st in enumerate(status) if st == DONE and spec.kinds[s] == LLM]
    expected = sum(spec.estimates[s] for s in finished)
    return sum(spec.durations[s] for s in finished) / expected if expected else 1.0


def expected_slots(env: CompoundLLMEnv) -> tuple[list[tuple], int]:
    """The shown (job, stage) pairs by the documented slot rule, and the ready stages left out."""
    sim, slots = env._sim, env.config.stage_slots
    deciding = [sim.pools[p].needs_decision() for p in (0, 1)]
    jobs = sorted(sim.active.values(), key=lambda j: j.rank)
    live = [(j, s) for j in jobs for s, st in enumerate(j.status) if st not in (HIDDEN, DONE)]
    ready = [(j, s) for j, s in live if j.status[s] == READY and deciding[j.spec.kinds[s]]]
    heads = {}
    for j, s in ready:
        app = APP_CLASSES.index(j.spec.app) if j.spec.app in APP_CLASSES else len(APP_CLASSES) - 1
        heads.setdefault((j.spec.kinds[s], app), (j, s))
    shown = list(heads.values())
    shown += [ref for ref in ready if ref not in shown][: slots - len(shown)]
    shown += [ref for ref in live if ref not in ready][: slots - len(shown)]
    return sorted(shown, key=lambda ref: (ref[0].rank, ref[1])), len(ready) - sum(r in ready for r in shown)


def _ready_in(sim: Simulator, pool: int) -> list[tuple]:
    return [
        (j, s)
        for j in sim.active.values()
        for s, st in enumerate(j.status)
        if st == READY and j.spec.kinds[s] == pool
    ]


def check_observation(env: CompoundLLMEnv, obs: dict, info: dict) -> None:
    sim, cfg = env._sim, env.config
    now = sim.now
    shown, hidden_ready = expected_slots(env)
    n = len(shown)
    tables = observation_tables(obs)
    assert info["hidden_ready"] == hidden_ready
    np.testing.assert_array_equal(obs["stage_mask"], np.arange(cfg.stage_slots) < n)
    deciding = [sim.pools[p].needs_decision() for p in (0, 1)]
    job_order = list(dict.fromkeys(j.rank for j, _ in shown))
    first_slot = {}  # by job rank: the slot of its first shown stage
    for k, (job, _) in enumerate(shown):
        first_slot.setdefault(job.rank, k)
    slot_of = {(j.rank, s): k for k, (j, s) in enumerate(shown)}
    expected_edges = set()
    for k, (job, stage) in enumerate(shown):
        spec, status = job.spec, job.status[stage]
        app = spec.app if spec.app in APP_CLASSES else "other"
        live = [s for s, st in enumerate(job.status) if st not in (HIDDEN, DONE)]
        work = sum(spec.estimates[s] for s in live)
        in_status = now - job.since[stage]
        row = {
            "is_llm": float(spec.kinds[stage] == LLM),
            **{f"app_{name}": float(name == app) for name in APP_CLASSES},
            "estimate": squash(spec.estimates[stage], cfg.stage_time_scale),
            "position": squash(stage, 8.0),
            "pending_parents": squash(job.pending_parents[stage], 1.0),
            "blocked": float(status == BLOCKED),
            "ready": float(status == READY),
            "running": float(status == RUNNING),
            "job_age": squash(now - spec.arrival, cfg.job_time_scale),
            "waiting": squash(in_status, cfg.job_time_scale) if status != RUNNING else 0.0,
            "elapsed": squash(in_status, cfg.stage_time_scale) if status == RUNNING else 0.0,
            "job_remaining_work": squash(work, cfg.job_time_scale),
            "job_remaining_regular_work": squash(
                sum(spec.estimates[s] for s in live if spec.kinds[s] != LLM), cfg.job_time_scale
            ),
            "job_remaining_llm_work": squash(
                sum(spec.estimates[s] for s in live if spec.kinds[s] == LLM), cfg.job_time_scale
            ),
            "job_live_stages": squash(len(live), 4.0),
            "job_done_stages": squash(spec.num_stages - job.remaining, 4.0),
            "job_llm_pace": squash(pace(spec, job.status), 1.0),
        }
        np.testing.assert_allclose(tables["stages"][k], [row[f] for f in STAGE_FEATURES], atol=1e-6)
        assert obs["stage_job"][k] == first_slot[job.rank]
        assert obs["job_mask"][k] == (k == first_slot[job.rank])
        assert obs["action_mask"][k] == (status == READY and deciding[spec.kinds[stage]])
        for parent in spec.parents[stage]:
            if (job.rank, parent) in slot_of:
                expected_edges.add((slot_of[(job.rank, parent)], k))
    edges = tables["edges"][:, obs["edge_mask"] == 1]
    shown_edges = set(zip(edges[0].tolist(), edges[1].tolist(), strict=True))
    assert shown_edges <= expected_edges
    assert len(shown_edges) + info["truncated_edges"] == len(expected_edges)
    assert not obs["action_mask"][n:].any()

    pools = tables["pools"]
    for pool in (0, 1):
        size, ready = sim.num_executors[pool], len(sim.ready[pool])
        unshown = (
            sum(1 for j, s in _ready_in(sim, pool) if (j.rank, s) not in slot_of) if deciding[pool] else 0
        )
        expected = [
            len(sim.pools[pool].free) / size,
            squash(ready, size),
            float(deciding[pool]),
            squash(unshown, cfg.stage_slots),
        ]
        np.testing.assert_allclose(pools[pool], expected, atol=1e-6)
    unshown_jobs = len(sim.active) - len(job_order)
    np.testing.assert_allclose(
        obs["system"],
        [squash(len(sim.active), cfg.stage_slots), squash(unshown_jobs, cfg.stage_slots)],
        atol=1e-6,
    )

    assert not tables["stages"][n:].any() and not obs["stage_job"][n:].any()
    assert obs["job_mask"].sum() == len(job_order)
    assert info["unshown_jobs"] == len(sim.active) - len(job_order)

    offsets = (0, cfg.num_regular)
    for pool in (0, 1):
        for executor in range(sim.num_executors[pool]):
            ref = sim.pools[pool].executors.get(executor)
            values = dict.fromkeys(EXECUTOR_FEATURES, 0.0)
            values["is_llm"] = float(pool == LLM)
            if ref is not None:
                job, stage = ref
                app = job.spec.app if job.spec.app in APP_CLASSES else "other"
                values.update(
                    busy=1.0,
                    elapsed=squash(now - job.since[stage], cfg.stage_time_scale),
                    estimate=squash(job.spec.estimates[stage], cfg.stage_time_scale),
                    **{f"app_{app}": 1.0},
                )
            np.testing.assert_allclose(
                tables["executors"][offsets[pool] + executor],
                [values[f] for f in EXECUTOR_FEATURES],
                atol=1e-6,
            )
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
