"""CompoundLLMServing-v0: API conformance, exact baselines on batching replicas, the reward identity,
observations equal to the reference encoder, decisions under batching, and no hidden information."""

from __future__ import annotations

import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from conftest import KINDS
from llm_sched_env.baselines import FCFS, PSTCS, ObsFCFS, ObsPSTCS, ObsRS, run_episode
from lockstep import lockstep as run_in_lockstep

import llm_sched_env  # noqa: F401  (registers the environments)
from llm_sched_env.core import LLM, READY, Cluster, ContinuousBatching, JobSpec, LLMCall, PoolSpec, Simulator
from llm_sched_env.envs import (
    SERVING_SMALL_VARIANT,
    CompoundLLMServingEnv,
    ServingConfig,
    observation_tables,
)
from llm_sched_env.envs.reference import reference_observation
from llm_sched_env.envs.stage_table import STAGE_BITS, STAGE_MASK
from llm_sched_env.workloads import PoissonArrivals, Workload

TINY = {**SERVING_SMALL_VARIANT, "num_jobs": 20}


def token_job(job_id: int, app: str, arrival: float, stages: list[tuple]) -> JobSpec:
    """A job from ``(kind, size, parents[, revealed_by[, pool]])``: an LLM stage's size is
    ``(prompt, output)`` tokens (max_tokens 1,000, estimate 100), a regular stage's seconds."""
    calls, durations, pools = [], [], []
    for s in stages:
        if s[0] == "llm":
            prompt, output = s[1]
            calls.append(LLMCall(prompt, output, 1000, 100.0))
            durations.append(output / 90)
        else:
            calls.append(None)
            durations.append(s[1])
        pools.append(s[4] if len(s) > 4 else ("llm" if s[0] == "llm" else "regular"))
    return JobSpec(
        job_id=job_id,
        app=app,
        arrival=arrival,
        kinds=tuple(KINDS[s[0]] for s in stages),
        durations=tuple(durations),
        estimates=(1.0,) * len(stages),
        parents=tuple(tuple(s[2]) for s in stages),
        revealed_by=tuple(s[3] if len(s) > 3 else None for s in stages),
        pools=tuple(pools),
        calls=tuple(calls),
    )


def fast_path_jcts(config: ServingConfig, policy, seed: int) -> dict[int, float]:
    workload = Workload(mix=config.app_mix, arrivals=PoissonArrivals(config.arrival_rate))
    jobs = list(workload.jobs(config.num_jobs, seed))
    return Simulator(jobs, cluster=config.cluster, policy=policy).run().jct_by_job()


# ---------------------------------------------------------------------------- checkers
@pytest.mark.parametrize("env_id", ["CompoundLLMServingSmall-v0", "CompoundLLMServing-v0"])
def test_gymnasium_check_env_with_warnings_as_errors(env_id: str) -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, num_jobs=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=False)


def test_sb3_check_env_with_warnings_as_errors() -> None:
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(CompoundLLMServingEnv(**TINY), warn=True)


def test_registration_without_prior_import_and_the_default_cluster() -> None:
    env = gym.make("llm_sched_env:CompoundLLMServing-v0", num_jobs=30)
    config = env.unwrapped.config
    assert isinstance(env.unwrapped, CompoundLLMServingEnv)
    assert [(p.name, p.count, p.executor.name) for p in config.cluster.pools] == [
        ("regular", 20, "single_stream"),
        ("llm", 1, "continuous_batching"),
    ]
    small = gym.make("CompoundLLMServingSmall-v0").unwrapped.config
    assert small.cluster.pools[1].executor == ContinuousBatching(kv_capacity=8192, max_num_seqs=16)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"num_jobz": 5}, "num_jobz"),
        ({"cluster": {"pools": []}}, "cluster"),
        ({"cluster": "two replicas"}, "cluster"),
        ({"apps": ()}, "apps"),
        ({"apps": ("a", "a")}, "apps"),
        ({"apps": ("other",)}, "apps"),
        ({"stage_slots": 7}, "stage_slots"),  # 2 pools x 4 app classes need 8
        ({"token_scale": 0.0}, "token_scale"),
    ],
)
def test_invalid_config_names_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}"):
        CompoundLLMServingEnv(**overrides)


# ------------------------------------------------------------------ exact baselines
@pytest.mark.parametrize(
    "overrides",
    [
        SERVING_SMALL_VARIANT,
        {**SERVING_SMALL_VARIANT, "stage_slots": 8},  # many choices hidden
        {"num_jobs": 250},  # the default cluster and load
    ],
)
def test_fcfs_and_ps_tcs_through_the_env_equal_the_fast_path(overrides: dict) -> None:
    env = CompoundLLMServingEnv(**overrides)
    jcts = {}
    for fast, through_obs in ((FCFS(), ObsFCFS()), (PSTCS(), ObsPSTCS())):
        jcts[fast.name] = run_episode(env, through_obs, seed=7).jct_by_job()
        assert jcts[fast.name] == fast_path_jcts(env.config, fast, 7)
    assert jcts["FCFS"] != jcts["PS-TCS"]  # the decisions mattered


def test_return_times_scale_is_minus_the_sum_of_jcts() -> None:
    env = CompoundLLMServingEnv(reward_scale=7.0, **TINY)
    policy = ObsRS(seed=0)
    obs, info = env.reset(seed=1)
    episode_return, jcts, terminated = 0.0, list(info["jcts"]), False
    while not terminated:
        obs, reward, terminated, _, info = env.step(policy.act(obs))
        assert reward <= 0.0
        episode_return += reward
        jcts += info["jcts"]
    assert len(jcts) == env.config.num_jobs
    assert episode_return * 7.0 == pytest.approx(-sum(jcts), rel=1e-9)


# ------------------------------------------------------- observations, from scratch
def check_observation(env: CompoundLLMServingEnv, obs: dict, info: dict) -> None:
    encoder = env._encoder
    expected, counts = reference_observation(
        env._sim, encoder.layout, encoder.settings, env.config.edge_slots
    )
    for key in ("stages", "executors", "pools", "system"):
        np.testing.assert_allclose(obs[key], expected[key], rtol=0, atol=1e-6, err_msg=key)
    for key in ("stage_mask", "stage_job", "job_mask", "action_mask"):
        np.testing.assert_array_equal(obs[key], expected[key], err_msg=key)
    assert int(obs["edge_mask"].sum()) == int(expected["edge_mask"].sum())
    assert info["truncated_edges"] == counts["truncated_edges"]
    assert info["hidden_ready"] == counts["hidden_ready"]
    assert info["unshown_jobs"] == counts["unshown_jobs"]
    assert obs in env.observation_space


def three_pool_config() -> ServingConfig:
    """A planner pool, a two-replica worker pool with little KV cache, and tools; user app names."""
    cluster = Cluster(
        (
            PoolSpec("tools", "regular", 2),
            PoolSpec("planner", "llm", 1, ContinuousBatching(kv_capacity=4200, max_num_seqs=3)),
            PoolSpec("workers", "llm", 2, ContinuousBatching(kv_capacity=4500, max_num_seqs=4)),
        )
    )
    rng = np.random.default_rng(0)
    jobs = []
    for k in range(40):
        prompt = int(rng.integers(900, 1400))
        jobs.append(
            token_job(
                k,
                ("agent", "rag", "chat")[k % 3],
                0.05 * k,
                [
                    ("llm", (prompt, int(rng.integers(100, 400))), (), None, "planner"),
                    ("reg", float(rng.uniform(0.1, 2.0)), (0,), 0, "tools"),
                    ("llm", (prompt - 300, int(rng.integers(100, 600))), (0,), 0, "workers"),
                    ("llm", (prompt // 2, int(rng.integers(100, 600))), (1, 2), 0, "workers"),
                ],
            )
        )
    return ServingConfig.from_trace(
        jobs, cluster=cluster, apps=("agent", "rag"), stage_slots=12, edge_slots=6
    )


@pytest.mark.parametrize(
    "config",
    [ServingConfig.from_mapping({**SERVING_SMALL_VARIANT, "stage_slots": 8}), three_pool_config()],
    ids=["small", "three_pools"],
)
def test_observations_match_the_reference_encoder(config: ServingConfig) -> None:
    env = CompoundLLMServingEnv(config)
    policy = ObsRS(seed=2)
    obs, info = env.reset(seed=4)
    terminated = False
    seen = {"hidden_ready": 0, "partial_fit": 0, "deciding_rows": 0, "preempted": 0}
    stages = config.stage_slots
    while not terminated:
        check_observation(env, obs, info)
        tables = observation_tables(obs, env.layout)
        seen["hidden_ready"] += info["hidden_ready"] > 0
        ready = tables["stages"][:, env.layout.stages.offset("ready")] == 1
        seen["partial_fit"] += bool((ready[:stages] & (obs["action_mask"] == 0)).any())
        seen["deciding_rows"] += tables["executors"][:, env.layout.executors.offset("deciding")].sum() == 1
        obs, _, terminated, _, info = env.step(policy.act(obs))
    seen["preempted"] = sum(getattr(pool, "preemptions", 0) for pool in env._sim.pools)
    assert all(seen.values()), seen


def test_the_mask_holds_exactly_the_stages_that_fit_the_deciding_replica() -> None:
    env = CompoundLLMServingEnv(three_pool_config())
    obs, _ = env.reset()
    rng = np.random.default_rng(0)
    checked = 0
    terminated = False
    while not terminated:
        sim = env._sim
        fits = {(j.rank, s) for p in sim.decision_pools() for j, s in sim.choices(p)}
        shown = [env._encoder.table.entries[k >> STAGE_BITS].job for k in env._encoder.slot_keys]
        for slot, key in enumerate(env._encoder.slot_keys):
            job, stage = shown[slot], key & STAGE_MASK
            assert obs["action_mask"][slot] == ((job.rank, stage) in fits)
            checked += job.status[stage] == READY and (job.rank, stage) not in fits
        obs, _, terminated, _, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
    assert checked > 0  # ready stages that did not fit were shown and masked


def test_invalid_action_admits_the_fcfs_choice() -> None:
    env, twin = CompoundLLMServingEnv(**TINY), CompoundLLMServingEnv(**TINY)
    obs, _ = env.reset(seed=0)
    twin.reset(seed=0)
    for _ in range(30):  # reach a decision with an invalid slot
        if not obs["action_mask"].all():
            break
        obs, *_ = env.step(0)
        twin.step(0)
    invalid = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    got, expected = env.step(invalid), twin.step(int(np.flatnonzero(obs["action_mask"])[0]))
    assert got[4]["invalid_action"] and not expected[4]["invalid_action"]
    for key in got[0]:
        np.testing.assert_array_equal(got[0][key], expected[0][key])


def test_render_modes() -> None:
    env = CompoundLLMServingEnv(render_mode="ansi", **TINY)
    env.reset(seed=0)
    assert "llm" in env.render()
    env = CompoundLLMServingEnv(render_mode="rgb_array", config=three_pool_config())
    obs, _ = env.reset()
    for _ in range(40):
        obs, *_ = env.step(int(np.flatnonzero(obs["action_mask"])[0]))
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3


# --------------------------------------------------------------- no hidden information
def leak_trace(output_tokens: int, hidden_prompt: int) -> list[JobSpec]:
    """A replica with three sequence slots: job 0's call generates ``output_tokens`` (hidden until
    it ends); job 1's first call (60 tokens, ~0.66 s) reveals a call with ``hidden_prompt``
    tokens; short calls keep arriving, so that admissions are decided all along."""
    jobs = [
        token_job(0, "a", 0.0, [("llm", (200, output_tokens), ())]),
        token_job(1, "b", 0.0, [("llm", (300, 60), ()), ("llm", (hidden_prompt, 10), (0,), 0)]),
    ]
    jobs += [token_job(k, "ab"[k % 2], 0.01 * k, [("llm", (100 + k, 15), ())]) for k in range(2, 20)]
    return jobs


def lockstep(trace_a: list[JobSpec], trace_b: list[JobSpec], until: float) -> tuple[int, bool]:
    """Step both traces with the same FCFS actions; observations must agree before ``until``.

    Returns how many decisions were compared and whether the observations differ later.
    """
    cluster = Cluster(
        (PoolSpec("regular", "regular", 1), PoolSpec("llm", "llm", 1, ContinuousBatching(max_num_seqs=3)))
    )
    envs = [
        CompoundLLMServingEnv(ServingConfig.from_trace(t, cluster=cluster, apps=("a", "b")))
        for t in (trace_a, trace_b)
    ]
    return run_in_lockstep(envs, until)


def test_true_output_tokens_do_not_leak() -> None:
    # Job 0 generates 50 or 120 tokens (~11 ms each): nothing differs before it ends (~0.55 s).
    compared, differed = lockstep(leak_trace(50, 500), leak_trace(120, 500), until=0.5)
    assert compared >= 2 and differed


def test_an_unrevealed_stages_tokens_do_not_leak() -> None:
    # Job 1's second call (prompt 500 or 900 tokens) appears when its first call ends (~0.66 s).
    compared, differed = lockstep(leak_trace(50, 500), leak_trace(50, 900), until=0.6)
    assert compared >= 2 and differed


def test_the_feature_table_drives_the_layout() -> None:
    layout = CompoundLLMServingEnv(**TINY)._encoder.layout
    names = layout.stages.names
    assert {"prompt_tokens", "max_tokens", "estimate_tokens"} <= set(names)
    assert "output_tokens" not in names
    env = CompoundLLMServingEnv(**TINY)
    assert env.observation_space["stages"].shape == (TINY["stage_slots"] * len(names),)
    assert env.observation_space["pools"].shape == (2 * layout.pools.width,)
    assert layout.apps == ("task_automation", "code_generation", "sorting", "other")
    assert LLM == 1  # the kinds of the paper
