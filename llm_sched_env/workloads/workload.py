"""A workload: applications, their mix and an arrival process, drawn as a job stream."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from llm_sched_env.core import JobSpec
from llm_sched_env.core.job import value_text
from llm_sched_env.workloads.application import Application
from llm_sched_env.workloads.arrivals import ArrivalProcess, PoissonArrivals
from llm_sched_env.workloads.code_generation import CodeGeneration
from llm_sched_env.workloads.sorting import Sorting
from llm_sched_env.workloads.task_automation import TaskAutomation

# Not given by the paper; fitted by `llm-sched calibrate` so that FCFS reproduces Table I.
DEFAULT_ARRIVAL_RATE = 0.58

# Mix weights are relative; each is 0 or in [MIN_MIX_WEIGHT, MAX_MIX_WEIGHT], so that their
# sum never overflows and the normalised probabilities are exact to float precision (no
# subnormal weights).
MIN_MIX_WEIGHT = 1e-6
MAX_MIX_WEIGHT = 1e6


def check_mix(mix: object, count: int, name: str) -> tuple[float, ...]:
    """``mix`` as ``count`` float weights, or ``ValueError`` naming ``name``.

    Each weight is 0 or in ``[MIN_MIX_WEIGHT, MAX_MIX_WEIGHT]``, and not all are 0.
    """
    if isinstance(mix, (str, bytes)) or not isinstance(mix, Sequence):
        raise ValueError(f"{name}: must be a sequence of {count} weights, got {type(mix).__name__}")
    if len(mix) != count:
        raise ValueError(f"{name}: must be {count} weights, one per application, got {len(mix)}")
    for k, weight in enumerate(mix):
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float, np.floating, np.integer))
            or not (weight == 0 or MIN_MIX_WEIGHT <= weight <= MAX_MIX_WEIGHT)
        ):
            raise ValueError(
                f"{name}: weight {k} must be 0 or in [{MIN_MIX_WEIGHT:g}, {MAX_MIX_WEIGHT:g}], "
                f"got {value_text(weight)}"
            )
    if not any(mix):
        raise ValueError(f"{name}: weights must not all be 0")
    return tuple(float(w) for w in mix)


def paper_apps() -> tuple[Application, ...]:
    """The paper's three applications with this project's calibrated constants."""
    return (TaskAutomation(), CodeGeneration(), Sorting())


@dataclass(frozen=True)
class Workload:
    """Jobs of ``apps`` mixed by ``mix`` (equal by default) arriving by ``arrivals``.

    Randomness comes from independent streams spawned from one seed: arrival times,
    the app of each job, and one stream per application. Policies never touch them, so
    every policy sees the same jobs for the same seed (common random numbers).
    """

    apps: tuple[Application, ...] = field(default_factory=paper_apps)
    mix: tuple[float, ...] | None = None
    arrivals: ArrivalProcess = field(default_factory=lambda: PoissonArrivals(DEFAULT_ARRIVAL_RATE))

    def __post_init__(self) -> None:
        if not self.apps:
            raise ValueError("Workload.apps: needs at least one application")
        names = [app.name for app in self.apps]
        if len(set(names)) != len(names):
            raise ValueError(f"Workload.apps: duplicate application names {names}")
        if self.mix is not None:
            object.__setattr__(self, "mix", check_mix(self.mix, len(self.apps), "Workload.mix"))

    @property
    def app_names(self) -> tuple[str, ...]:
        return tuple(app.name for app in self.apps)

    def jobs(self, num_jobs: int, seed: int | np.random.SeedSequence | None) -> Iterator[JobSpec]:
        """Lazily draw ``num_jobs`` jobs with ids ``0..num_jobs-1`` in arrival order."""
        if isinstance(num_jobs, bool) or not isinstance(num_jobs, int) or num_jobs < 1:
            raise ValueError(f"num_jobs: must be an integer >= 1, got {num_jobs!r}")
        root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        arrival_seq, mix_seq, *app_seqs = root.spawn(2 + len(self.apps))
        app_rngs = [np.random.default_rng(s) for s in app_seqs]
        mix_rng = np.random.default_rng(mix_seq)
        weights = np.ones(len(self.apps)) if self.mix is None else np.asarray(self.mix, dtype=float)
        cumulative = (np.cumsum(weights) / weights.sum()).tolist()
        times = self.arrivals.times(np.random.default_rng(arrival_seq))
        for job_id, arrival in zip(range(num_jobs), times, strict=False):
            k = min(bisect_right(cumulative, mix_rng.random()), len(self.apps) - 1)
            yield self.apps[k].sample(app_rngs[k], job_id, arrival)
