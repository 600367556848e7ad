"""CompoundLLM-v0: Gymnasium / SB3 API conformance, configuration, seeding, copies, vector envs."""

from __future__ import annotations

import copy
import json
import pickle
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest

import llm_sched_env  # noqa: F401  (registers the environments)
from llm_sched_env.envs import (
    SMALL_VARIANT,
    STAGE_FEATURES,
    CompoundLLMConfig,
    CompoundLLMEnv,
    observation_tables,
)
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE

TINY = {**SMALL_VARIANT, "num_jobs": 20}


def masked_random_rollout(env: gym.Env, seed: int, steps: int | None = None, obs=None) -> list[tuple]:
    """Transitions of masked uniform-random actions (drawn from ``seed``) until the end or ``steps``."""
    rng = np.random.default_rng(seed)
    if obs is None:
        obs, _ = env.reset(seed=seed)
    transitions = []
    terminated = False
    while not terminated and (steps is None or len(transitions) < steps):
        action = int(rng.choice(np.flatnonzero(obs["action_mask"])))
        obs, reward, terminated, truncated, info = env.step(action)
        transitions.append((action, copy.deepcopy(obs), reward, terminated, truncated, info))
    return transitions


def assert_same_transitions(a: list[tuple], b: list[tuple]) -> None:
    assert len(a) == len(b)
    for (act_a, obs_a, *rest_a), (act_b, obs_b, *rest_b) in zip(a, b, strict=True):
        assert act_a == act_b
        assert obs_a.keys() == obs_b.keys()
        for key in obs_a:
            np.testing.assert_array_equal(obs_a[key], obs_b[key], err_msg=key)
        assert rest_a == rest_b


# ---------------------------------------------------------------------------- checkers
@pytest.mark.parametrize("env_id", ["CompoundLLMSmall-v0", "CompoundLLM-v0"])
def test_gymnasium_check_env_with_warnings_as_errors(env_id: str) -> None:
    from gymnasium.utils.env_checker import check_env

    overrides = {"num_jobs": 40} if env_id == "CompoundLLM-v0" else {}
    env = gym.make(env_id, **overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=False)


def test_sb3_check_env_with_warnings_as_errors() -> None:
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(CompoundLLMEnv(**TINY), warn=True)


def test_registration_without_prior_import_and_spec_json() -> None:
    env = gym.make("llm_sched_env:CompoundLLM-v0", num_jobs=30, num_llm=3)
    assert isinstance(env.unwrapped, CompoundLLMEnv)
    assert env.unwrapped.config.num_llm == 3
    spec_json = env.spec.to_json()
    assert json.loads(spec_json)["kwargs"]["num_jobs"] == 30
    again = gym.make(gym.envs.registration.EnvSpec.from_json(spec_json))
    assert again.unwrapped.config == env.unwrapped.config


def test_small_variant_keeps_the_load_per_executor() -> None:
    config = gym.make("CompoundLLMSmall-v0").unwrapped.config
    assert (config.num_regular, config.num_llm, config.num_jobs) == (2, 2, 50)
    assert config.arrival_rate == pytest.approx(DEFAULT_ARRIVAL_RATE * 2 / 10)


# ---------------------------------------------------------------------- configuration
def test_default_config_is_the_papers_setting() -> None:
    config = CompoundLLMConfig()
    assert (config.num_jobs, config.num_regular, config.num_llm) == (500, 10, 10)
    assert config.arrival_rate == DEFAULT_ARRIVAL_RATE
    assert config.app_mix == (1.0, 1.0, 1.0)


def test_config_from_dataclass_mapping_and_overrides() -> None:
    as_dict = CompoundLLMEnv(config={"num_jobs": 50, "num_llm": 4}).config
    as_dataclass = CompoundLLMEnv(config=CompoundLLMConfig(num_jobs=50, num_llm=4)).config
    as_overrides = CompoundLLMEnv(num_jobs=50, num_llm=4).config
    assert as_dict == as_dataclass == as_overrides
    assert CompoundLLMEnv(config={"num_jobs": 50}, num_llm=4).config == as_dict
    assert CompoundLLMConfig(app_mix=[1, 0, 2]).app_mix == (1.0, 0.0, 2.0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"num_job": 5}, "num_job"),
        ({"num_jobs": 0}, "num_jobs"),
        ({"num_jobs": 2.5}, "num_jobs"),
        ({"num_regular": True}, "num_regular"),
        ({"num_llm": -1}, "num_llm"),
        ({"arrival_rate": 0.0}, "arrival_rate"),
        ({"arrival_rate": float("nan")}, "arrival_rate"),
        ({"reward_scale": float("inf")}, "reward_scale"),
        ({"stage_slots": 7}, "stage_slots"),
        ({"edge_slots": 0}, "edge_slots"),
        ({"stage_time_scale": -1.0}, "stage_time_scale"),
        ({"job_time_scale": "10"}, "job_time_scale"),
        ({"app_mix": (1.0, 1.0)}, "app_mix"),
        ({"app_mix": (0.0, 0.0, 0.0)}, "app_mix"),
        ({"app_mix": (1.0, -1.0, 1.0)}, "app_mix"),
        ({"trace": ["not a job"]}, "trace[0]"),
    ],
)
def test_invalid_config_names_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}:"):
        CompoundLLMEnv(**overrides)
    with pytest.raises(ValueError, match=rf"^{re.escape(field)}:"):
        CompoundLLMEnv(config=overrides)


def test_invalid_trace_and_render_mode_name_the_field(two_job_trace) -> None:
    with pytest.raises(ValueError, match=r"^trace\[1\]:"):
        CompoundLLMConfig.from_trace(two_job_trace[::-1])
    with pytest.raises(ValueError, match=r"^num_jobs:"):
        CompoundLLMConfig(trace=tuple(two_job_trace), num_jobs=3)
    with pytest.raises(ValueError, match=r"^render_mode:"):
        CompoundLLMEnv(render_mode="human")
    with pytest.raises(ValueError, match=r"^config:"):
        CompoundLLMEnv(config=42)
    with pytest.raises(ValueError, match=r"^options:"):
        CompoundLLMEnv(**TINY).reset(options={"trace": []})


@pytest.fixture
def two_job_trace() -> list:
    from conftest import make_job

    return [
        make_job(0, "sorting", 0.0, [("llm", 2.0, ())]),
        make_job(1, "sorting", 1.0, [("llm", 2.0, ())]),
    ]


# ------------------------------------------------------------------------- seeding
def test_same_seed_same_masked_random_rollout() -> None:
    a = masked_random_rollout(CompoundLLMEnv(**TINY), seed=3)
    b = masked_random_rollout(CompoundLLMEnv(**TINY), seed=3)
    assert_same_transitions(a, b)
    c = masked_random_rollout(CompoundLLMEnv(**TINY), seed=4)
    assert [t[2] for t in a] != [t[2] for t in c]


def test_reset_seed_gives_the_workloads_jobs_and_unseeded_resets_are_reproducible() -> None:
    from llm_sched_env.baselines import ObsRS, run_episode

    from llm_sched_env.workloads import PoissonArrivals, Workload

    env = CompoundLLMEnv(**TINY)
    results = run_episode(env, ObsRS(0), seed=11)
    jobs = Workload(arrivals=PoissonArrivals(TINY["arrival_rate"])).jobs(TINY["num_jobs"], 11)
    expected = {(job.job_id, job.app, job.arrival) for job in jobs}
    assert set(zip(results.job_ids, results.apps, results.arrivals, strict=True)) == expected
    env.reset(seed=5)
    first = [env.reset()[0] for _ in range(3)]
    env.reset(seed=5)
    second = [env.reset()[0] for _ in range(3)]
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(x["stages"], y["stages"])
    assert not np.array_equal(first[0]["stages"], first[1]["stages"])


# ------------------------------------------------------------------- copies, vectors
@pytest.mark.parametrize("env_id", ["CompoundLLMSmall-v0", "CompoundLLMServingSmall-v0"])
@pytest.mark.parametrize("clone", [copy.deepcopy, lambda env: pickle.loads(pickle.dumps(env))])
def test_copies_mid_episode_continue_identically(clone, env_id: str) -> None:
    # On the serving env, the copy's batching pool must be its own (a compiled pool's bound methods
    # are copied by reference, so the simulator and the queues must not keep them).
    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=2)
    for _ in range(60):
        obs, *_ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
    twin = clone(env)
    np.testing.assert_array_equal(twin.unwrapped.observe()["stages"], obs["stages"])
    assert_same_transitions(
        masked_random_rollout(env, seed=9, obs=obs), masked_random_rollout(twin, seed=9, obs=obs)
    )
    fresh = clone(gym.make(env_id))
    assert_same_transitions(masked_random_rollout(fresh, 1, 20), masked_random_rollout(env, 1, 20))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec(mode: str) -> None:
    envs = gym.make_vec("CompoundLLMSmall-v0", num_envs=2, vectorization_mode=mode, num_jobs=10)
    try:
        obs, _ = envs.reset(seed=[0, 1])
        assert obs["action_mask"].shape == (2, SMALL_VARIANT["stage_slots"])
        rng = np.random.default_rng(0)
        for _ in range(30):
            actions = [int(rng.choice(np.flatnonzero(mask))) for mask in obs["action_mask"]]
            obs, rewards, *_ = envs.step(np.array(actions))
            assert envs.observation_space.contains(obs)
            assert (rewards <= 0).all()
    finally:
        envs.close()


def test_sb3_subproc_vec_env_spawn() -> None:
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.vec_env import SubprocVecEnv

    # A spawned worker imports nothing of ours: the "module:id" form registers the env there.
    make = lambda: gym.make("llm_sched_env:CompoundLLMSmall-v0", num_jobs=10)  # noqa: E731
    envs = SubprocVecEnv([make, make], start_method="spawn")
    try:
        envs.seed(0)
        obs = envs.reset()
        rng = np.random.default_rng(0)
        for _ in range(20):
            masks = get_action_masks(envs)
            np.testing.assert_array_equal(masks, obs["action_mask"].astype(bool))
            obs, *_ = envs.step(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))
    finally:
        envs.close()


# ---------------------------------------------------------------------- step contract
def test_invalid_action_starts_the_fcfs_choice_and_keeps_state_intact() -> None:
    env, twin = CompoundLLMEnv(**TINY), CompoundLLMEnv(**TINY)
    obs, _ = env.reset(seed=0)
    twin.reset(seed=0)
    invalid = int(np.flatnonzero(obs["action_mask"] == 0)[0])
    first_valid = int(np.flatnonzero(obs["action_mask"])[0])
    got = env.step(invalid)
    expected = twin.step(first_valid)
    assert got[4]["invalid_action"] and not expected[4]["invalid_action"]
    for key in got[0]:
        np.testing.assert_array_equal(got[0][key], expected[0][key])
    assert got[1:4] == expected[1:4]


def test_actions_outside_the_space_and_misuse_raise() -> None:
    env = CompoundLLMEnv(**TINY)
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        env.step(0)
    env.reset(seed=0)
    for bad in (-1, TINY["stage_slots"], 1.5, "0"):
        with pytest.raises(ValueError, match=r"^action:"):
            env.step(bad)
    env.step(np.int64(int(np.flatnonzero(env.action_masks())[0])))  # numpy integers are fine
    masked_random_rollout(env, seed=0, obs=env.observe())
    with pytest.raises(RuntimeError, match="terminated"):
        env.step(0)


def test_action_masks_match_the_observation_and_are_never_empty_at_a_decision() -> None:
    for overrides in (TINY, {"num_jobs": 80, "num_regular": 1, "num_llm": 1, "stage_slots": 8}):
        env = CompoundLLMEnv(**overrides)
        obs, info = env.reset(seed=1)
        terminated = False
        rng = np.random.default_rng(1)
        while not terminated:
            assert info["decision"]
            mask = env.action_masks()
            assert mask.dtype == bool and mask.any()
            np.testing.assert_array_equal(mask, obs["action_mask"] == 1)
            assert obs in env.observation_space
            obs, _, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(mask))))
            assert not truncated


def test_render_modes() -> None:
    env = CompoundLLMEnv(render_mode="ansi", **TINY)
    env.reset(seed=0)
    text = env.render()
    assert isinstance(text, str) and "t=" in text and "*" in text
    env = CompoundLLMEnv(render_mode="rgb_array", **TINY)
    obs, _ = env.reset(seed=0)
    masked_random_rollout(env, seed=0, steps=30, obs=obs)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 3  # bars were drawn


def test_observation_tables_reshape_single_and_batched_observations() -> None:
    env = CompoundLLMEnv(**TINY)
    obs, _ = env.reset(seed=0)
    tables = observation_tables(obs)
    assert tables["stages"].shape == (TINY["stage_slots"], len(STAGE_FEATURES))
    assert tables["edges"].shape == (2, env.config.edge_slots)
    batch = {key: np.stack([value, value]) for key, value in obs.items()}
    assert observation_tables(batch)["executors"].shape == (2, 4, 8)
