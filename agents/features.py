"""Network inputs read from a batch of observations (as SB3 passes them), derived from the feature tables.

Every observation feature is squashed into [0, 1] as ``t / (t + scale)``. Scheduling
decisions hinge on small differences of such times (e.g. 3.4 s against 3.6 s of remaining
work), so each continuous feature (every feature the table does not mark binary) is also
given as its log-odds ``log(t / scale)``, which turns the squashing back into a log scale.
The executor tables are pooled per kind, so one network serves every cluster size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch as th

from llm_sched_env.envs import LAYOUT, Layout

_LOG_ODDS_CLAMP = 1e-4  # log-odds are taken of features clamped to [1e-4, 1 - 1e-4]
_LOG_ODDS_SCALE = 0.25  # brings log-odds (|x| <= 9.2) near unit scale


class NetworkInputs:
    """Which columns of a layout's tables a network reads, and the widths of its inputs.

    A slot's input is the stage's own features and job summary (the stage row up to
    ``job_remaining_work``), then a job view that repeats its app and age (the layout the
    shipped models were trained on), each with the log-odds of its continuous columns,
    then whether the slot is a valid action.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        stages = layout.stages
        self.num_stage_features = stages.width
        self.num_executor_features = layout.executors.width
        stage_view = stages.names[: stages.offset("job_remaining_work") + 1]
        job_view = (
            *(f"app_{name}" for name in layout.apps),
            "job_age",
            *stages.names[stages.offset("job_remaining_work") + 1 : stages.group("job").stop],
        )
        self.stage_width = len(stage_view)
        self.job_columns = [stages.offset(name) for name in job_view]
        self.stage_continuous = stages.continuous(stage_view)
        self.job_continuous = stages.continuous(job_view)
        self.executor_continuous = layout.executors.continuous()
        self.executor_is_llm = layout.executors.offset("is_llm")
        stage_dim = len(stage_view) + len(self.stage_continuous)
        self.slot_dim = stage_dim + len(job_view) + len(self.job_continuous) + 1
        self.executor_dim = layout.executors.width + len(self.executor_continuous)


COMPOUND_INPUTS = NetworkInputs(LAYOUT)  # CompoundLLM-v0's


def with_log_odds(table: th.Tensor, columns: list[int]) -> th.Tensor:
    """``table`` with the log-odds of its ``columns`` appended (last dimension)."""
    x = table[..., columns].clamp(_LOG_ODDS_CLAMP, 1.0 - _LOG_ODDS_CLAMP)
    return th.cat([table, _LOG_ODDS_SCALE * th.log(x / (1.0 - x))], dim=-1)


@dataclass
class ObservationBatch:
    """A batch of observations as tables: ``B`` observations, ``S`` slots."""

    slots: th.Tensor  # (B, S, slot_dim): stage row, its job's row, whether it is a valid action
    stage_mask: th.Tensor  # (B, S) float, 1 where the slot holds a stage
    stage_job: th.Tensor  # (B, S) long, a job id per slot: the slot of the job's first shown stage
    edges: th.Tensor  # (B, 2, E) long, parent and child slots
    edge_mask: th.Tensor  # (B, E) float
    executors: th.Tensor  # (B, X, executor_dim)
    executor_is_llm: th.Tensor  # (B, X) float
    context: th.Tensor  # (B, P * pool features + system features): pool and system rows

    @classmethod
    def of(cls, obs: dict[str, th.Tensor], inputs: NetworkInputs = COMPOUND_INPUTS) -> ObservationBatch:
        """Tables of a preprocessed (float) observation batch."""
        batch = obs["stage_mask"].shape[0]
        num_slots = obs["stage_mask"].shape[1]
        stages = obs["stages"].reshape(batch, num_slots, inputs.num_stage_features)
        slots = th.cat(
            [
                with_log_odds(stages[..., : inputs.stage_width], inputs.stage_continuous),
                with_log_odds(stages[..., inputs.job_columns], inputs.job_continuous),
                obs["action_mask"].unsqueeze(-1),
            ],
            dim=-1,
        )
        executors = obs["executors"].reshape(batch, -1, inputs.num_executor_features)
        return cls(
            slots=slots,
            stage_mask=obs["stage_mask"],
            stage_job=obs["stage_job"].long(),
            edges=obs["edges"].reshape(batch, 2, -1).long(),
            edge_mask=obs["edge_mask"],
            executors=with_log_odds(executors, inputs.executor_continuous),
            executor_is_llm=executors[..., inputs.executor_is_llm],
            context=th.cat([obs["pools"], obs["system"]], dim=-1),
        )
