"""A trained agent as a scheduling policy: ``act(obs)`` like the observation baselines, and
``run_episode(jobs, R, L)`` like any policy of the experiments registry.

A model file is an sb3-contrib ``MaskablePPO`` zip whose ``agent_info`` attribute (saved with
it) names the agent and the observation settings it was trained with. The network does not
depend on the number of executors, so one model schedules any ``R`` x ``L`` cluster.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch as th
from llm_sched_env.agents.config import observation_fields
from sb3_contrib import MaskablePPO

from llm_sched_env.core import Cluster, JobSpec, Results
from llm_sched_env.envs import (
    ENVIRONMENTS,
    CompoundLLMConfig,
    CompoundLLMEnv,
    CompoundLLMServingEnv,
    ServingConfig,
    env_class,
)


def agent_info(
    name: str, policy: str, env_config: Mapping[str, Any], env_id: str = "CompoundLLM-v0", **extra: Any
) -> dict[str, Any]:
    """The ``agent_info`` saved with a model: its display name, network, environment and observation
    settings."""
    defaults = ENVIRONMENTS[env_id].config_class()
    observation = {key: env_config.get(key, getattr(defaults, key)) for key in observation_fields(env_id)}
    if "apps" in observation:
        observation["apps"] = list(observation["apps"])
    return {"name": name, "policy": policy, "env_id": env_id, "observation": observation, **extra}


class Agent:
    """A trained policy that starts the slot of highest probability (deterministic)."""

    def __init__(self, model: MaskablePPO) -> None:
        info = getattr(model, "agent_info", None)
        if not isinstance(info, dict) or "name" not in info:
            raise ValueError("model: not an llm-sched agent (no agent_info); train it with `llm-sched train`")
        self.model = model
        self.info: dict[str, Any] = info
        self.name: str = info["name"]
        model.policy.set_training_mode(False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Agent:
        """Load a model zip written by ``llm-sched train``."""
        if not os.path.isfile(path):
            raise ValueError(f"model: no such file {os.fspath(path)!r}")
        return cls(MaskablePPO.load(path, device="cpu"))

    @property
    def env_id(self) -> str:
        """The environment the agent was trained on (``CompoundLLM-v0`` for models saved without one)."""
        return self.info.get("env_id", "CompoundLLM-v0")

    def config(self, **fields: Any) -> CompoundLLMConfig | ServingConfig:
        """An environment configuration with this agent's observation settings and ``fields``."""
        observation = dict(self.info["observation"])
        if "apps" in observation:
            observation["apps"] = tuple(observation["apps"])
        return ENVIRONMENTS[self.env_id].config_class.from_mapping({**observation, **fields})

    def act_batch(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The slot to start for each observation of a batch (arrays with a leading batch axis)."""
        tensors = {key: th.as_tensor(value) for key, value in obs.items()}
        with th.no_grad():
            distribution = self.model.policy.get_distribution(tensors, obs["action_mask"].astype(bool))
            return distribution.mode().numpy()

    def act(self, obs: Mapping[str, np.ndarray]) -> int:
        """The slot to start, given one ``CompoundLLM-v0`` observation."""
        return int(self.act_batch({key: value[None] for key, value in obs.items()})[0])

    def mean_jcts(self, config: CompoundLLMConfig | ServingConfig, seeds: Iterable[int]) -> list[float]:
        """Mean JCT of one episode of ``config`` per workload seed (episodes run side by side)."""
        seeds = list(seeds)
        envs = [env_class(config)(config) for _ in seeds]
        current = [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)]
        running = list(range(len(envs)))
        while running:
            batch = {key: np.stack([current[k][key] for k in running]) for key in current[0]}
            actions = self.act_batch(batch)
            still = []
            for k, action in zip(running, actions, strict=True):
                current[k], _, terminated, _, _ = envs[k].step(action)
                if not terminated:
                    still.append(k)
            running = still
        return [env.results.mean_jct for env in envs]

    def run_episode(self, jobs: Iterable[JobSpec], num_regular: int, num_llm: int) -> Results:
        """Schedule ``jobs`` on ``num_regular`` + ``num_llm`` executors; per-job results."""
        if self.env_id != "CompoundLLM-v0":
            return self.run_on_cluster(jobs, Cluster.paper(num_regular, num_llm))
        config = CompoundLLMConfig.from_trace(
            list(jobs), num_regular=num_regular, num_llm=num_llm, **self.info["observation"]
        )
        return self._schedule(CompoundLLMEnv(config))

    def run_on_cluster(self, jobs: Iterable[JobSpec], cluster: Cluster) -> Results:
        """Schedule ``jobs`` on ``cluster`` (agents trained on ``CompoundLLMServing-v0``); per-job results."""
        if self.env_id == "CompoundLLM-v0":
            raise ValueError(
                f"cluster: {self.name} was trained on CompoundLLM-v0 and runs on the paper's cluster only"
            )
        trace = tuple(jobs)
        return self._schedule(
            CompoundLLMServingEnv(self.config(trace=trace, num_jobs=len(trace), cluster=cluster))
        )

    def _schedule(self, env: CompoundLLMEnv) -> Results:
        obs, _ = env.reset()
        terminated = False
        while not terminated:
            obs, _, terminated, _, _ = env.step(self.act(obs))
        return env.results
