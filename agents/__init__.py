"""Learned schedulers for ``CompoundLLM-v0``: MaskablePPO with an MLP or a stage-graph GNN.

* :class:`~llm_sched_env.agents.agent.Agent`: a trained model as a policy (``act(obs)``,
  ``run_episode(jobs, R, L)``); ``agent:PATH`` names one in ``llm-sched bench`` / ``evaluate``.
* :func:`~llm_sched_env.agents.training.train` / ``llm-sched train``: DAgger warm start from
  the paced-SRPT teacher, then MaskablePPO fine-tuning.
* :mod:`~llm_sched_env.agents.envs`: the seed ranges (evaluation 0..999, validation
  1000..9999, training >= 10,000).

Names are imported on first use, so ``import llm_sched_env.agents`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Agent": "llm_sched_env.agents.agent",
    "CloningConfig": "llm_sched_env.agents.config",
    "PacedSRPT": "llm_sched_env.agents.teacher",
    "SlotPolicy": "llm_sched_env.agents.policy",
    "TrainConfig": "llm_sched_env.agents.config",
    "train": "llm_sched_env.agents.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
