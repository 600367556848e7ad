"""Workload seed ranges that keep evaluation held out.

* ``0 .. VALIDATION_SEED_START - 1`` (0..999): held out for evaluation (``llm-sched evaluate``,
  ``bench`` and ``table1`` use seeds ``0..N-1``); never seen in training;
* ``VALIDATION_SEED_START .. TRAIN_SEED_START - 1`` (1000..9999): validation, used during
  training to pick the best checkpoint;
* ``TRAIN_SEED_START`` (10,000) and up: every training episode (cloning and PPO).
"""

from __future__ import annotations

VALIDATION_SEED_START = 1_000
TRAIN_SEED_START = 10_000


def validation_seeds(count: int) -> list[int]:
    """The first ``count`` validation seeds."""
    if not 0 < count <= TRAIN_SEED_START - VALIDATION_SEED_START:
        raise ValueError(f"count: must be in 1..{TRAIN_SEED_START - VALIDATION_SEED_START}, got {count}")
    return list(range(VALIDATION_SEED_START, VALIDATION_SEED_START + count))
