"""The configuration of :class:`~llm_sched_env.envs.CompoundLLMEnv`: one frozen, validated dataclass."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llm_sched_env.core import JobSpec
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE, paper_apps

# Application classes the observation tells apart (one-hot), in the order of ``paper_apps()``;
# any other application name (a user's trace) falls in a last "other" class.
APP_NAMES: tuple[str, ...] = tuple(app.name for app in paper_apps())
APP_CLASSES: tuple[str, ...] = (*APP_NAMES, "other")
NUM_POOLS = 2  # regular and LLM executors


def _require(ok: bool, name: str, message: str, value: object) -> None:
    if not ok:
        raise ValueError(f"{name}: {message}, got {value!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class CompoundLLMConfig:
    """Everything that defines a ``CompoundLLM`` environment; defaults are the paper's setting.

    Attributes:
        num_jobs: jobs per episode (the paper: 500).
        num_regular: regular executors ``R`` (the paper's Table I: 10 to 40).
        num_llm: LLM executors ``L``.
        arrival_rate: Poisson arrival rate in jobs per second (the workload's calibrated default).
        app_mix: relative weights of the paper's applications, in the order of ``APP_NAMES``
            (task automation, code generation, sorting); equal by default.
        reward_scale: job-seconds per unit of reward: a step's reward is minus the integral of
            the number of jobs in the system over the step, divided by this.
        stage_slots: stages shown in an observation, which is also the number of actions.
            At least ``2 * len(APP_CLASSES)`` so that every decision pool's oldest ready stage
            of every application class always has a slot.
        edge_slots: parent->child edges among shown stages in an observation.
        stage_time_scale: seconds ``s`` of the squashing ``t / (t + s)`` for stage-sized times
            (estimates, running time).
        job_time_scale: seconds ``s`` of the squashing for job-sized times (waiting time, job
            age, remaining work of a job).
        trace: fixed jobs replayed in every episode instead of generated ones (the first
            ``num_jobs`` of them; use :meth:`from_trace`); ``arrival_rate`` and ``app_mix``
            are then unused.
    """

    num_jobs: int = 500
    num_regular: int = 10
    num_llm: int = 10
    arrival_rate: float = DEFAULT_ARRIVAL_RATE
    app_mix: tuple[float, ...] = (1.0, 1.0, 1.0)
    reward_scale: float = 100.0
    stage_slots: int = 32
    edge_slots: int = 64
    stage_time_scale: float = 10.0
    job_time_scale: float = 100.0
    trace: tuple[JobSpec, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("num_jobs", "num_regular", "num_llm", "edge_slots"):
            value = getattr(self, name)
            _require(_is_int(value) and value >= 1, name, "must be an integer >= 1", value)
        min_slots = 2 * len(APP_CLASSES)
        _require(
            _is_int(self.stage_slots) and self.stage_slots >= min_slots,
            "stage_slots",
            f"must be an integer >= {min_slots}",
            self.stage_slots,
        )
        for name in ("arrival_rate", "reward_scale", "stage_time_scale", "job_time_scale"):
            value = getattr(self, name)
            _require(_is_real(value) and value > 0, name, "must be a finite number > 0", value)
        self._check_app_mix()
        if self.trace is not None:
            self._check_trace()

    def _check_app_mix(self) -> None:
        mix = self.app_mix
        _require(
            isinstance(mix, Sequence) and not isinstance(mix, str) and len(mix) == len(APP_NAMES),
            "app_mix",
            f"must be {len(APP_NAMES)} weights for {APP_NAMES}",
            mix,
        )
        _require(
            all(_is_real(w) and w >= 0 for w in mix) and sum(mix) > 0,
            "app_mix",
            "weights must be finite, >= 0 and not all 0",
            mix,
        )
        object.__setattr__(self, "app_mix", tuple(float(w) for w in mix))

    def _check_trace(self) -> None:
        trace = self.trace
        ok = isinstance(trace, Sequence) and len(trace) > 0
        _require(ok, "trace", "must be a non-empty list of JobSpec", trace)
        trace = tuple(trace)
        for k, job in enumerate(trace):
            _require(isinstance(job, JobSpec), f"trace[{k}]", "must be a JobSpec", job)
        keys = [(job.arrival, job.job_id) for job in trace]
        for k in range(1, len(keys)):
            _require(
                keys[k - 1] < keys[k],
                f"trace[{k}]",
                "jobs must be sorted by (arrival, job_id) with distinct job ids",
                trace[k].job_id,
            )
        _require(
            self.num_jobs <= len(trace),
            "num_jobs",
            f"exceeds the {len(trace)} jobs of trace",
            self.num_jobs,
        )
        object.__setattr__(self, "trace", trace)

    @classmethod
    def from_trace(cls, jobs: Sequence[JobSpec], **overrides: Any) -> CompoundLLMConfig:
        """A configuration that replays all of ``jobs`` in every episode."""
        return cls.from_mapping({"num_jobs": len(jobs), **overrides, "trace": tuple(jobs)})

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], base: CompoundLLMConfig | None = None
    ) -> CompoundLLMConfig:
        """``base`` (the defaults if None) with ``values`` replaced; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown configuration key; expected one of {sorted(names)}")
        return dataclasses.replace(base if base is not None else cls(), **values)


# ``CompoundLLMSmall-v0``: a fifth of the paper's cluster and arrival rate (the same load
# per executor), 50 jobs and fewer slots, for fast training and tests.
SMALL_VARIANT: dict[str, Any] = {
    "num_jobs": 50,
    "num_regular": 2,
    "num_llm": 2,
    "arrival_rate": DEFAULT_ARRIVAL_RATE / 5,
    "stage_slots": 16,
    "edge_slots": 32,
}
