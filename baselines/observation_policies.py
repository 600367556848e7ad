"""FCFS, RS and PS-TCS acting on ``CompoundLLM-v0`` and ``CompoundLLMServing-v0`` observations.

They read only the observation, as an agent does. Shown stages sit in FCFS order and the
slot rule keeps each application's oldest ready stage visible, so FCFS and PS-TCS make
exactly the fast path's choices; RS picks uniformly among the shown valid slots (the fast
path's RS picks among all ready stages, so it is the same policy only when they all fit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from llm_sched_env.baselines.heuristics import PAPER_APP_PRIORITY

from llm_sched_env.core import Cluster, JobSpec, Results
from llm_sched_env.envs import (
    APP_CLASSES,
    APP_NAMES,
    STAGE_FEATURES,
    CompoundLLMConfig,
    CompoundLLMEnv,
    CompoundLLMServingEnv,
    Layout,
    ServingConfig,
)

_FIRST_APP_COLUMN = STAGE_FEATURES.index(f"app_{APP_CLASSES[0]}")  # the same in every layout


class ObservationPolicy(Protocol):
    name: str

    def act(self, obs: dict[str, np.ndarray]) -> int:
        """The slot to start, given a ``CompoundLLM-v0`` observation."""


class ObsFCFS:
    """First come, first served: the first valid slot (slots are in FCFS order)."""

    name = "FCFS"

    def act(self, obs: dict[str, np.ndarray]) -> int:
        return int(np.argmax(obs["action_mask"]))


class ObsAppPriority:
    """Fixed application priority (``order``: highest first), FCFS within an application.

    ``order`` may name only the applications the observation tells apart: ``apps``, the
    environment's configured applications (``APP_NAMES`` for ``CompoundLLM-v0``); other
    applications rank last, as on the fast path.
    """

    def __init__(
        self, order: tuple[str, ...], name: str = "AppPriority", apps: tuple[str, ...] = APP_NAMES
    ) -> None:
        unknown = [app for app in order if app not in apps]
        if unknown:
            raise ValueError(f"order: observations do not tell apart {unknown}; known apps are {apps}")
        self.name = name
        classes = (*apps, "other")
        self._rank_of_class = np.array([order.index(c) if c in order else len(order) for c in classes])
        self._app_columns = slice(_FIRST_APP_COLUMN, _FIRST_APP_COLUMN + len(classes))

    def act(self, obs: dict[str, np.ndarray]) -> int:
        mask = obs["action_mask"]
        stages = obs["stages"].reshape(len(mask), -1)
        rank = self._rank_of_class[stages[:, self._app_columns].argmax(axis=1)]
        return int(np.argmin(np.where(mask == 1, rank, len(self._rank_of_class))))


class ObsPSTCS(ObsAppPriority):
    """PS-TCS: Task automation > Code generation > Sorting, FCFS within an application."""

    def __init__(self, apps: tuple[str, ...] = APP_NAMES) -> None:
        super().__init__(PAPER_APP_PRIORITY, name="PS-TCS", apps=apps)


class ObsRS:
    """Random scheduling: a uniformly random valid slot, from its own seeded generator."""

    name = "RS"

    def __init__(self, seed: int | np.random.SeedSequence | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: dict[str, np.ndarray]) -> int:
        valid = np.flatnonzero(obs["action_mask"])
        return int(valid[self.rng.integers(len(valid))])


def run_episode(env: gym.Env, policy: ObservationPolicy, seed: int | None = None) -> Results:
    """Run one episode of ``policy`` on a ``CompoundLLM`` env; returns its per-job results."""
    obs, _ = env.reset(seed=seed)
    terminated = truncated = False
    while not (terminated or truncated):
        obs, _, terminated, truncated, _ = env.step(policy.act(obs))
    return env.unwrapped.results


class InEnvironment:
    """An observation policy as an episode policy of the experiments registry.

    ``run_episode(jobs, R, L)`` steps a ``CompoundLLM-v0`` environment built on ``jobs``, and
    ``run_on_cluster(jobs, cluster)`` a ``CompoundLLMServing-v0`` one, with the observation
    settings ``observation`` (default: the environment's, 32 stage slots), so the policy sees
    exactly what an agent trained with those settings sees. ``make_policy`` builds the policy
    for the environment's feature layout (e.g. the teacher's class, which reads features by offset).
    """

    def __init__(
        self, make_policy: Callable[[Layout], ObservationPolicy], name: str, **observation: Any
    ) -> None:
        self.make_policy = make_policy
        self.name = name
        self.observation = observation

    def run_episode(self, jobs: Iterable[JobSpec], num_regular: int, num_llm: int) -> Results:
        config = CompoundLLMConfig.from_trace(
            list(jobs), num_regular=num_regular, num_llm=num_llm, **self.observation
        )
        return self._run(CompoundLLMEnv(config))

    def run_on_cluster(self, jobs: Iterable[JobSpec], cluster: Cluster) -> Results:
        config = ServingConfig.from_trace(list(jobs), cluster=cluster, **self.observation)
        return self._run(CompoundLLMServingEnv(config))

    def _run(self, env: CompoundLLMEnv) -> Results:
        return run_episode(env, self.make_policy(env.layout))
