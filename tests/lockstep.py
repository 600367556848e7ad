"""Two environments stepped with the same actions: how the leak tests compare observations."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from llm_sched_env.baselines import ObsFCFS


def lockstep(envs: Sequence[gym.Env], until: float) -> tuple[int, bool]:
    """Step both ``envs`` with the same FCFS actions; observations must agree before ``until``.

    Returns how many decisions were compared and whether the observations differ later.
    """
    first, second = envs
    (obs_a, _), (obs_b, _) = first.reset(), second.reset()
    compared, differed, done = 0, False, False
    while not done and not differed:
        same = all(np.array_equal(obs_a[key], obs_b[key]) for key in obs_a)
        if first.now < until and second.now < until:
            assert same, f"observations differ at t={first.now}, before t={until}"
            compared += 1
        differed = not same
        action = ObsFCFS().act(obs_a)
        (obs_a, _, done_a, _, _), (obs_b, _, done_b, _, _) = first.step(action), second.step(action)
        done = done_a or done_b
    return compared, differed
