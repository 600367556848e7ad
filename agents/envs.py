"""Training environments: vectorized, monitored, and drawing workload seeds from the training range."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from llm_sched_env.agents.seeds import TRAIN_SEED_START
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from llm_sched_env.envs import ENVIRONMENTS

_SEED_END = 2**62


class TrainingSeeds(gym.Wrapper):
    """Gives every episode a fresh workload seed ``>= TRAIN_SEED_START`` from its own generator.

    A seed passed to :meth:`reset` (as SB3 does once via ``VecEnv.seed``) re-seeds that
    generator, so a run is reproducible from its seed.
    """

    def __init__(self, env: gym.Env, seed: int | None = None) -> None:
        super().__init__(env)
        self._rng = np.random.default_rng(seed)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        workload_seed = int(self._rng.integers(TRAIN_SEED_START, _SEED_END))
        return self.env.reset(seed=workload_seed, options=options)


def _training_env(env_id: str, config: Mapping[str, Any]) -> gym.Env:
    return Monitor(TrainingSeeds(ENVIRONMENTS[env_id](dict(config))))


def make_training_vec_env(
    config: Mapping[str, Any], n_envs: int, subprocess: bool = False, env_id: str = "CompoundLLM-v0"
) -> VecEnv:
    """``n_envs`` monitored training environments of ``env_id`` configured by ``config`` (its fields)."""
    factories: list[Callable[[], gym.Env]] = [partial(_training_env, env_id, dict(config))] * n_envs
    return SubprocVecEnv(factories) if subprocess else DummyVecEnv(factories)
