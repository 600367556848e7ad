"""Network inputs read from a batch of ``CompoundLLM-v0`` observations (as SB3 passes them).

Every observation feature is squashed into [0, 1] as ``t / (t + scale)``. Scheduling
decisions hinge on small differences of such times (e.g. 3.4 s against 3.6 s of remaining
work), so each continuous feature is also given as its log-odds ``log(t / scale)``, which
turns the squashing back into a log scale. The tables do not depend on the number of
executors (they are pooled per pool), so one network serves every ``R`` x ``L`` setting.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch as th

from llm_sched_env.envs import (
    APP_CLASSES,
    EXECUTOR_FEATURES,
    POOL_FEATURES,
    STAGE_FEATURES,
    SYSTEM_FEATURES,
)

_BINARY = {"is_llm", "blocked", "ready", "running", "busy"}


def _continuous(names: tuple[str, ...]) -> list[int]:
    return [k for k, name in enumerate(names) if name not in _BINARY and not name.startswith("app_")]


# A slot's input: the stage's own features and job summary, then a job view that repeats its
# app and age (the layout the shipped models were trained on).
_STAGE_VIEW = STAGE_FEATURES[: STAGE_FEATURES.index("job_remaining_work") + 1]
_JOB_VIEW = (
    *(f"app_{name}" for name in APP_CLASSES),
    "job_age",
    "job_remaining_regular_work",
    "job_remaining_llm_work",
    "job_live_stages",
    "job_done_stages",
    "job_llm_pace",
)
_JOB_COLUMNS = [STAGE_FEATURES.index(name) for name in _JOB_VIEW]
_STAGE_CONTINUOUS = _continuous(_STAGE_VIEW)
_JOB_CONTINUOUS = _continuous(_JOB_VIEW)
_EXECUTOR_CONTINUOUS = _continuous(EXECUTOR_FEATURES)
_LOG_ODDS_CLAMP = 1e-4  # log-odds are taken of features clamped to [1e-4, 1 - 1e-4]
_LOG_ODDS_SCALE = 0.25  # brings log-odds (|x| <= 9.2) near unit scale

# Widths of the tensors below.
SLOT_INPUT_DIM = len(_STAGE_VIEW) + len(_STAGE_CONTINUOUS) + len(_JOB_VIEW) + len(_JOB_CONTINUOUS) + 1
EXECUTOR_INPUT_DIM = len(EXECUTOR_FEATURES) + len(_EXECUTOR_CONTINUOUS)
CONTEXT_INPUT_DIM = len(POOL_FEATURES) * 2 + len(SYSTEM_FEATURES)


def with_log_odds(table: th.Tensor, columns: list[int]) -> th.Tensor:
    """``table`` with the log-odds of its ``columns`` appended (last dimension)."""
    x = table[..., columns].clamp(_LOG_ODDS_CLAMP, 1.0 - _LOG_ODDS_CLAMP)
    return th.cat([table, _LOG_ODDS_SCALE * th.log(x / (1.0 - x))], dim=-1)


@dataclass
class ObservationBatch:
    """A batch of observations as tables: ``B`` observations, ``S`` slots."""

    slots: th.Tensor  # (B, S, SLOT_INPUT_DIM): stage row, its job's row, whether it is a valid action
    stage_mask: th.Tensor  # (B, S) float, 1 where the slot holds a stage
    stage_job: th.Tensor  # (B, S) long, a job id per slot: the slot of the job's first shown stage
    edges: th.Tensor  # (B, 2, E) long, parent and child slots
    edge_mask: th.Tensor  # (B, E) float
    executors: th.Tensor  # (B, X, EXECUTOR_INPUT_DIM)
    executor_is_llm: th.Tensor  # (B, X) float
    context: th.Tensor  # (B, CONTEXT_INPUT_DIM): pool and system rows

    @classmethod
    def of(cls, obs: dict[str, th.Tensor]) -> ObservationBatch:
        """Tables of a preprocessed (float) observation batch."""
        batch = obs["stage_mask"].shape[0]
        num_slots = obs["stage_mask"].shape[1]
        stages = obs["stages"].reshape(batch, num_slots, len(STAGE_FEATURES))
        slots = th.cat(
            [
                with_log_odds(stages[..., : len(_STAGE_VIEW)], _STAGE_CONTINUOUS),
                with_log_odds(stages[..., _JOB_COLUMNS], _JOB_CONTINUOUS),
                obs["action_mask"].unsqueeze(-1),
            ],
            dim=-1,
        )
        executors = obs["executors"].reshape(batch, -1, len(EXECUTOR_FEATURES))
        return cls(
            slots=slots,
            stage_mask=obs["stage_mask"],
            stage_job=obs["stage_job"].long(),
            edges=obs["edges"].reshape(batch, 2, -1).long(),
            edge_mask=obs["edge_mask"],
            executors=with_log_odds(executors, _EXECUTOR_CONTINUOUS),
            executor_is_llm=executors[..., 0],
            context=th.cat([obs["pools"], obs["system"]], dim=-1),
        )
