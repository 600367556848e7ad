"""CompoundLLM-v0 stays exactly as it was: recorded observation digests and the shipped agent's schedule.

The digests were recorded from the implementation before the feature table refactor
(issue 12). A change to any observation byte, reward, info count or the shipped model's
choices changes them; a deliberate change to ``CompoundLLM-v0`` is a new version.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest

from llm_sched_env.envs import SMALL_VARIANT, CompoundLLMConfig, CompoundLLMEnv
from llm_sched_env.workloads import Workload


def rollout_digest(env: CompoundLLMEnv, seed: int) -> tuple[str, int]:
    """SHA-256 of every observation, reward and info count of a masked random episode, and its steps."""
    rng = np.random.default_rng(seed)
    digest = hashlib.sha256()
    obs, info = env.reset(seed=seed)
    steps, terminated = 0, False
    while True:
        for key in sorted(obs):
            digest.update(key.encode())
            digest.update(obs[key].dtype.str.encode())
            digest.update(obs[key].tobytes())
        counts = (
            info["hidden_ready"],
            info["unshown_jobs"],
            info["truncated_edges"],
            info["time"],
            info["jcts"],
        )
        digest.update(repr(counts).encode())
        if terminated:
            return digest.hexdigest(), steps
        mask = obs["action_mask"]
        action = int(rng.choice(np.flatnonzero(mask))) if mask.any() else 0
        obs, reward, terminated, _, info = env.step(action)
        digest.update(repr(reward).encode())
        steps += 1


def user_app_trace() -> tuple:
    """50 generated jobs, every third renamed to an application the observation does not know."""
    jobs = list(Workload().jobs(50, 9))
    return tuple(
        dataclasses.replace(job, app="my_agent") if k % 3 == 0 else job for k, job in enumerate(jobs)
    )


@pytest.mark.parametrize(
    ("overrides", "seed", "expected", "steps"),
    [
        (SMALL_VARIANT, 5, "d0cafe88c01550cd9e43dca6ab70a524f412d389153a6e1f5c724221b36996a9", 548),
        (
            {"num_jobs": 120, "num_regular": 2, "num_llm": 2, "stage_slots": 8, "edge_slots": 2},
            5,
            "e8f1208c1f0ce4a6b72eed6ed3875547e059b590952e84bc20225477b972d627",
            1466,
        ),
        ({"num_jobs": 200}, 5, "f1d3a04ea24652edc142f29efbd6e406b3f2e1780c06e9780103958beffb66f7", 2314),
    ],
)
def test_observations_are_byte_identical_to_the_recorded_ones(
    overrides: dict, seed: int, expected: str, steps: int
) -> None:
    assert rollout_digest(CompoundLLMEnv(**overrides), seed) == (expected, steps)


def test_observations_of_a_trace_with_user_apps_are_byte_identical_to_the_recorded_ones() -> None:
    config = CompoundLLMConfig.from_trace(user_app_trace(), num_regular=2, num_llm=2, stage_slots=12)
    expected = "cf7740061256b52d662c26c8596c485066c833a5c1cd7ae5885ba8c12705e667"
    assert rollout_digest(CompoundLLMEnv(config), 0) == (expected, 638)


def test_the_shipped_gnn_agent_schedules_as_recorded() -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sb3_contrib")
    from llm_sched_env.agents.agent import Agent

    agent = Agent.load(Path(__file__).parent.parent / "agents" / "models" / "dagger_ppo_gnn.zip")
    env = CompoundLLMEnv(agent.config(num_jobs=60, num_regular=3, num_llm=2))
    obs, _ = env.reset(seed=0)
    actions, terminated = [], False
    while not terminated:
        actions.append(agent.act(obs))
        obs, _, terminated, _, _ = env.step(actions[-1])
    jcts = sorted(env.results.jct_by_job().items())
    assert len(actions) == 776
    assert hashlib.sha256(repr(actions).encode()).hexdigest() == (
        "31b0e1bf8bf1f1b37568803719920195436a8a069634f00bce574e4f87ce01b8"
    )
    assert hashlib.sha256(repr(jcts).encode()).hexdigest() == (
        "a0b020659268cfe5c7c7e1fa45f19f479b629ee449c315ef443416faec6e0af3"
    )
