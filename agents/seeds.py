"""Workload seed ranges that keep evaluation held out.

* ``0 .. VALIDATION_SEED_START - 1`` (0..999): held out for evaluation (``llm-sched evaluate``,
  ``bench`` and ``table1`` use seeds ``0..N-1``); never seen in training;
* ``VALIDATION_SEED_START .. TRAIN_SEED_START - 1`` (1000..9999): validation, used during
  training to pick the best checkpoint;
* ``TRAIN_SEED_START`` (10,000) and up: every training episode (cloning and PPO).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

VALIDATION_SEED_START = 1_000
TRAIN_SEED_START = 10_000
_SEED_END = 2**62


def validation_seeds(count: int) -> list[int]:
    """The first ``count`` validation seeds."""
    if not 0 < count <= TRAIN_SEED_START - VALIDATION_SEED_START:
        raise ValueError(f"count: must be in 1..{TRAIN_SEED_START - VALIDATION_SEED_START}, got {count}")
    return list(range(VALIDATION_SEED_START, VALIDATION_SEED_START + count))


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
