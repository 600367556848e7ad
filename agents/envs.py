"""Training environments: vectorized, monitored, and drawing workload seeds from the training range."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import gymnasium as gym
from llm_sched_env.agents.seeds import TrainingSeeds
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from llm_sched_env.envs import ENVIRONMENTS


def _training_env(env_id: str, config: Mapping[str, Any]) -> gym.Env:
    return Monitor(TrainingSeeds(ENVIRONMENTS[env_id](dict(config))))


def make_training_vec_env(
    config: Mapping[str, Any], n_envs: int, subprocess: bool = False, env_id: str = "CompoundLLM-v0"
) -> VecEnv:
    """``n_envs`` monitored training environments of ``env_id`` configured by ``config`` (its fields)."""
    factories: list[Callable[[], gym.Env]] = [partial(_training_env, env_id, dict(config))] * n_envs
    return SubprocVecEnv(factories) if subprocess else DummyVecEnv(factories)
