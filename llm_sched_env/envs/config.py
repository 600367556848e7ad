"""The configuration of :class:`~llm_sched_env.envs.CompoundLLMEnv`: one frozen, validated dataclass."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from llm_sched_env.core import JobSpec
from llm_sched_env.core.job import value_text
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE, paper_apps
from llm_sched_env.workloads.arrivals import check_arrival_rate
from llm_sched_env.workloads.workload import check_mix

# Application classes the observation tells apart (one-hot), in the order of ``paper_apps()``;
# any other application name (a user's trace) falls in a last "other" class.
APP_NAMES: tuple[str, ...] = tuple(app.name for app in paper_apps())
APP_CLASSES: tuple[str, ...] = (*APP_NAMES, "other")
NUM_POOLS = 2  # regular and LLM executors

# Largest sizes, checked before anything is allocated: an observation holds a row per
# executor and per slot, and an episode's jobs are drawn into a list.
MAX_JOBS = 100_000
# Stages of one job. A stage's FCFS key is (arrival rank << STAGE_BITS) | position, STAGE_BITS = 13
# here, so the keys of up to MAX_JOBS jobs stay below 2**30: one-digit Python ints, which
# compare, hash and sort faster.
MAX_JOB_STAGES = 8_192
MAX_ENV_EXECUTORS = 10_000  # per pool; the simulator alone allows core.MAX_EXECUTORS
MAX_STAGE_SLOTS = 4_096
MAX_EDGE_SLOTS = 16_384
# Scales (seconds, or job-seconds for the reward) lie in this range: a subnormal or huge
# scale would make rewards infinite or every squashed feature 0 or 1.
MIN_SCALE = 1e-3
MAX_SCALE = 1e9


def _require(ok: bool, name: str, message: str, value: object) -> None:
    if not ok:
        raise ValueError(f"{name}: {message}, got {value_text(value)}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_int_fields(config: object, bounds: Sequence[tuple[str, int, int]]) -> None:
    """Each ``(name, low, high)``: ``config.name`` is an integer in ``[low, high]``."""
    for name, low, high in bounds:
        value = getattr(config, name)
        _require(
            _is_int(value) and low <= value <= high, name, f"must be an integer in [{low}, {high}]", value
        )


def check_scales(config: object, names: Sequence[str]) -> None:
    """Each ``config.name`` is a number in ``[MIN_SCALE, MAX_SCALE]``."""
    for name in names:
        value = getattr(config, name)
        _require(
            _is_real(value) and MIN_SCALE <= value <= MAX_SCALE,
            name,
            f"must be a number in [{MIN_SCALE:g}, {MAX_SCALE:g}]",
            value,
        )


_Config = TypeVar("_Config", bound="FromMapping")


class FromMapping:
    """Builds a configuration dataclass from a plain mapping (as Ray RLlib passes env configs)."""

    @classmethod
    def from_trace(cls: type[_Config], jobs: Sequence[JobSpec], **overrides: Any) -> _Config:
        """A configuration that replays all of ``jobs`` in every episode."""
        return cls.from_mapping({"num_jobs": len(jobs), **overrides, "trace": tuple(jobs)})

    @classmethod
    def from_mapping(cls: type[_Config], values: Mapping[str, Any], base: _Config | None = None) -> _Config:
        """``base`` (the defaults if None) with ``values`` replaced; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown configuration key; expected one of {sorted(names)}")
        return dataclasses.replace(base if base is not None else cls(), **values)  # type: ignore[type-var]


@dataclass(frozen=True)
class CompoundLLMConfig(FromMapping):
    """Everything that defines a ``CompoundLLM`` environment; defaults are the paper's setting.

    Attributes:
        num_jobs: jobs per episode (the paper: 500); at most ``MAX_JOBS`` (100,000).
        num_regular: regular executors ``R`` (the paper's Table I: 10 to 40); at most
            ``MAX_ENV_EXECUTORS`` (10,000), as is ``num_llm``.
        num_llm: LLM executors ``L``.
        arrival_rate: Poisson arrival rate in jobs per second (the workload's calibrated
            default), in ``[1e-3, 1e6]`` (``workloads.arrivals.MIN_ARRIVAL_RATE`` and ``MAX_``).
        app_mix: relative weights of the paper's applications, in the order of ``APP_NAMES``
            (task automation, code generation, sorting); equal by default. Each is 0 or in
            ``[1e-6, 1e6]``, not all 0.
        reward_scale: job-seconds per unit of reward: a step's reward is minus the integral of
            the number of jobs in the system over the step, divided by this.
        stage_slots: stages shown in an observation, which is also the number of actions.
            At least ``2 * len(APP_CLASSES)`` so that every decision pool's oldest ready stage
            of every application class always has a slot; at most ``MAX_STAGE_SLOTS`` (4,096).
        edge_slots: parent->child edges among shown stages in an observation; at most
            ``MAX_EDGE_SLOTS`` (16,384).
        stage_time_scale: seconds ``s`` of the squashing ``t / (t + s)`` for stage-sized times
            (estimates, running time).
        job_time_scale: seconds ``s`` of the squashing for job-sized times (waiting time, job
            age, remaining work of a job). The three scales lie in ``[MIN_SCALE, MAX_SCALE]``
            = ``[1e-3, 1e9]``.
        trace: fixed jobs replayed in every episode instead of generated ones (the first
            ``num_jobs`` of them; use :meth:`from_trace`), each of at most ``MAX_JOB_STAGES``
            (8,192) stages; ``arrival_rate`` and ``app_mix`` are then unused.
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
        check_int_fields(
            self,
            (
                ("num_jobs", 1, MAX_JOBS),
                ("num_regular", 1, MAX_ENV_EXECUTORS),
                ("num_llm", 1, MAX_ENV_EXECUTORS),
                ("stage_slots", 2 * len(APP_CLASSES), MAX_STAGE_SLOTS),
                ("edge_slots", 1, MAX_EDGE_SLOTS),
            ),
        )
        object.__setattr__(self, "arrival_rate", check_arrival_rate(self.arrival_rate, "arrival_rate"))
        check_scales(self, ("reward_scale", "stage_time_scale", "job_time_scale"))
        object.__setattr__(self, "app_mix", check_mix(self.app_mix, len(APP_NAMES), "app_mix"))
        if self.trace is not None:
            self._check_trace()

    def _check_trace(self) -> None:
        object.__setattr__(self, "trace", check_trace(self.trace, self.num_jobs))


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


def check_trace(trace: object, num_jobs: int) -> tuple[JobSpec, ...]:
    """``trace`` as a tuple of jobs sorted by ``(arrival, job_id)`` with unique ids, at most
    ``MAX_JOB_STAGES`` stages each, and at least ``num_jobs`` of them; errors name the field."""
    ok = isinstance(trace, Sequence) and len(trace) > 0
    _require(ok, "trace", "must be a non-empty list of JobSpec", trace)
    trace = tuple(trace)  # type: ignore[arg-type]
    for k, job in enumerate(trace):
        _require(isinstance(job, JobSpec), f"trace[{k}]", "must be a JobSpec", job)
        if job.num_stages > MAX_JOB_STAGES:
            raise ValueError(
                f"trace[{k}]: job {job.job_id} has {job.num_stages:,} stages; "
                f"the environments take at most {MAX_JOB_STAGES:,}"
            )
    first_index: dict[int, int] = {}
    for k, job in enumerate(trace):
        if job.job_id in first_index:
            raise ValueError(
                f"trace[{k}]: duplicate job_id {job.job_id} (also trace[{first_index[job.job_id]}])"
            )
        first_index[job.job_id] = k
        before = trace[k - 1] if k else None
        if before is not None and (before.arrival, before.job_id) > (job.arrival, job.job_id):
            raise ValueError(
                f"trace[{k}]: jobs must be sorted by (arrival, job_id): job {job.job_id} (arrival "
                f"{job.arrival!r}) follows job {before.job_id} (arrival {before.arrival!r})"
            )
    _require(num_jobs <= len(trace), "num_jobs", f"exceeds the {len(trace)} jobs of trace", num_jobs)
    return trace
