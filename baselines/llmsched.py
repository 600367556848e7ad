"""An LLMSched-style scheduler (Zhu et al., ICDCS 2025, arXiv 2504.03444).

LLMSched's abstract names three parts: a Bayesian-network profiler of compound LLM
applications, an entropy-based measure of how much running a stage reduces its job's
uncertainty, and a scheduler that mixes uncertainty reduction with a JCT-efficient rule
(epsilon-greedy, by the paper's summaries). The paper's body is not available here; this
module implements those parts as follows, each choice written down.

**Profiler** (:class:`Profile`, fitted by :func:`training_profile` on the project's own
training traces, workload seeds ``PROFILE_SEEDS``, never evaluation seeds). A stage's
*type* is what a scheduler sees of it: ``(app, kind, estimate, reveal depth)`` (estimates
are per-call-type profiled means, so they name the call; the depth separates repair
rounds). The network, per application:

* a job node, the log of its LLM pace ``F`` (normal, prior ``N(0, var_job)``), parent of
  every LLM stage's ``log(duration / estimate) = mu + F + e`` with ``e ~ N(0, var_call)``;
  moments fitted between and within training jobs;
* for each stage type, a categorical node of how many stages it reveals when it finishes,
  and the expected estimated work (regular, LLM) it eventually brings into view (its
  reveals and theirs), averaged over training stages of that type.

**Uncertainty reduction** of running ready stage ``s``, in nats: the entropy of its reveal
count (structural uncertainty resolved when it finishes), plus, for an LLM stage, the drop
in the differential entropy of the job's pace posterior from one more observed call,
``0.5 * log(var_k / var_{k+1})``.

**Scheduler**: at each pop, with probability ``epsilon`` the ready stage with the largest
uncertainty reduction (ties: the exploit order), otherwise shortest expected remaining
time: the job's revealed unfinished regular estimates, plus its LLM estimates times the
posterior mean pace, plus the expected work still hidden behind its unfinished stages.
``epsilon`` = 0.05 (not published in the abstract; the best of 0, 0.05, 0.1, 0.2 on training
seeds 10,010-10,012 at R=L=10 and 20; 0.2 costs 8-13 % of mean JCT). Randomness comes from
the policy's own seeded generator.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
from llm_sched_env.baselines.state_queue import StageWatch, StatePolicy, StateQueue
from llm_sched_env.baselines.visible import reveal_depth

from llm_sched_env.core import DONE, HIDDEN, LLM, REGULAR, JobSpec, JobState
from llm_sched_env.workloads import Workload

# Training workload seeds (>= 10,000, as agents.seeds.TRAIN_SEED_START): never evaluation seeds 0..999.
PROFILE_SEEDS = (10_000, 10_001, 10_002, 10_003)
PROFILE_JOBS = 500  # jobs per profile seed
DEFAULT_EPSILON = 0.05  # chosen on training seeds (see above)

StageType = tuple[str, int, float, int]  # app, kind, estimate, reveal depth


def stage_type(spec: JobSpec, stage: int, depth: int) -> StageType:
    return spec.app, spec.kinds[stage], spec.estimates[stage], depth


def _revealed_work(spec: JobSpec) -> list[tuple[float, float]]:
    """Per stage, the estimated (regular, llm) work of every stage its completion brings into view."""
    memo: dict[int, tuple[float, float]] = {}

    def below(stage: int) -> tuple[float, float]:
        if stage not in memo:
            work = [0.0, 0.0]
            for revealed in spec.reveals[stage]:
                work[spec.kinds[revealed]] += spec.estimates[revealed]
                reg, llm = below(revealed)
                work[REGULAR] += reg
                work[LLM] += llm
            memo[stage] = (work[REGULAR], work[LLM])
        return memo[stage]

    return [below(stage) for stage in range(spec.num_stages)]


def _depth(spec: JobSpec, stage: int) -> int:
    depth, revealer = 0, spec.revealed_by[stage]
    while revealer is not None:
        depth, revealer = depth + 1, spec.revealed_by[revealer]
    return depth


@dataclass(frozen=True)
class PaceModel:
    """Log LLM pace of one application: ``log(d / e) = mu + F + noise``, ``F ~ N(0, var_job)``."""

    mu: float
    var_job: float
    var_call: float

    def posterior(self, observed: Iterable[float]) -> tuple[float, float, int]:
        """Posterior mean and variance of ``F`` given observed log ratios, and their count."""
        values = list(observed)
        precision = 1.0 / self.var_job + len(values) / self.var_call
        mean = sum(v - self.mu for v in values) / self.var_call / precision
        return mean, 1.0 / precision, len(values)

    def expected_pace(self, mean: float, var: float) -> float:
        """E[duration / estimate] of a future LLM call of the job."""
        return math.exp(self.mu + mean + (var + self.var_call) / 2.0)

    def entropy_drop(self, observed: int) -> float:
        """Entropy (nats) the pace posterior loses when one more call is observed."""
        var_now = 1.0 / (1.0 / self.var_job + observed / self.var_call)
        var_next = 1.0 / (1.0 / self.var_job + (observed + 1) / self.var_call)
        return 0.5 * math.log(var_now / var_next)


NO_PACE = PaceModel(0.0, 1e-12, 1.0)  # an app with no LLM calls in training: pace 1, no information


@dataclass(frozen=True)
class Profile:
    """The fitted network: pace models by app; reveal entropy and hidden work by stage type."""

    pace: dict[str, PaceModel]
    reveal_entropy: dict[StageType, float]
    hidden_work: dict[StageType, tuple[float, float]]  # expected (regular, llm) estimates revealed

    @classmethod
    def fit(cls, jobs: Iterable[JobSpec]) -> Profile:
        counts: dict[StageType, Counter[int]] = defaultdict(Counter)
        hidden: dict[StageType, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # reg, llm, n
        logs: dict[str, list[list[float]]] = defaultdict(list)
        for spec in jobs:
            for stage, (reg, llm) in enumerate(_revealed_work(spec)):
                t = stage_type(spec, stage, _depth(spec, stage))
                counts[t][len(spec.reveals[stage])] += 1
                acc = hidden[t]
                acc[0] += reg
                acc[1] += llm
                acc[2] += 1
            ratios = [
                math.log(spec.durations[s] / spec.estimates[s])
                for s in range(spec.num_stages)
                if spec.kinds[s] == LLM and spec.estimates[s] > 0
            ]
            if ratios:
                logs[spec.app].append(ratios)
        return cls(
            pace={app: _fit_pace(per_job) for app, per_job in logs.items()},
            reveal_entropy={t: _entropy(c.values()) for t, c in counts.items()},
            hidden_work={t: (reg / n, llm / n) for t, (reg, llm, n) in hidden.items()},
        )


def _entropy(counts: Iterable[int]) -> float:
    values = list(counts)
    total = sum(values)
    return -sum(c / total * math.log(c / total) for c in values if c)


def _fit_pace(per_job: list[list[float]]) -> PaceModel:
    """Method of moments: within-job spread is call noise; the excess spread of job means, the job factor."""
    flat = [v for job in per_job for v in job]
    mu = sum(flat) / len(flat)
    within = [(v - sum(job) / len(job)) ** 2 for job in per_job if len(job) > 1 for v in job]
    dof = sum(len(job) - 1 for job in per_job if len(job) > 1)
    var_call = sum(within) / dof if dof else 1.0
    means = [sum(job) / len(job) for job in per_job]
    var_means = sum((m - mu) ** 2 for m in means) / max(len(means) - 1, 1)
    noise = sum(var_call / len(job) for job in per_job) / len(per_job)
    return PaceModel(mu, max(var_means - noise, 1e-6), max(var_call, 1e-6))


@lru_cache(maxsize=1)
def training_profile() -> Profile:
    """The profile of the default workload, fitted on ``PROFILE_SEEDS`` (cached per process)."""
    workload = Workload()
    return Profile.fit(spec for seed in PROFILE_SEEDS for spec in workload.jobs(PROFILE_JOBS, seed))


class _JobView:
    """The profiler's reading of one job's visible state."""

    __slots__ = ("done_llm", "pace", "remaining")

    def __init__(self, profile: Profile, job: JobState) -> None:
        spec = job.spec
        model = profile.pace.get(spec.app, NO_PACE)
        observed = []
        work = [0.0, 0.0]
        for stage, status in enumerate(job.status):
            if status == HIDDEN:
                continue
            kind = spec.kinds[stage]
            if status == DONE:
                if kind == LLM and spec.estimates[stage] > 0:
                    observed.append(math.log(spec.durations[stage] / spec.estimates[stage]))
                continue
            work[kind] += spec.estimates[stage]
            reg, llm = profile.hidden_work.get(stage_type(spec, stage, reveal_depth(job, stage)), (0.0, 0.0))
            work[REGULAR] += reg
            work[LLM] += llm
        mean, var, count = model.posterior(observed)
        self.pace = model.expected_pace(mean, var)
        self.remaining = work[REGULAR] + self.pace * work[LLM]
        self.done_llm = count


class LLMSched(StatePolicy):
    """Epsilon-greedy between shortest expected remaining time and uncertainty reduction."""

    name = "LLMSched"

    def __init__(
        self,
        seed: int | np.random.SeedSequence | None = None,
        epsilon: float = DEFAULT_EPSILON,
        profile: Profile | None = None,
    ) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon: must be in [0, 1], got {epsilon!r}")
        self.epsilon = epsilon
        self.profile = profile if profile is not None else training_profile()
        self.rng = np.random.default_rng(seed)
        super().__init__()

    def key(self, job: JobState, stage: int) -> tuple[float, int, int]:
        """Exploit order: shortest expected remaining time of the job, ties FCFS."""
        return self._view(job).remaining, job.rank, stage

    def _view(self, job: JobState) -> _JobView:
        return self.per_job(job, partial(_JobView, self.profile))

    def uncertainty_reduction(self, job: JobState, stage: int) -> float:
        """Entropy (nats) of the job that running ``stage`` resolves."""
        spec = job.spec
        t = stage_type(spec, stage, reveal_depth(job, stage))
        reduction = self.profile.reveal_entropy.get(t, 0.0)
        if spec.kinds[stage] == LLM:
            observed = self._view(job).done_llm
            reduction += self.profile.pace.get(spec.app, NO_PACE).entropy_drop(observed)
        return reduction

    def new_queue(self) -> UncertaintyQueue:
        return UncertaintyQueue(self, self.watch)


class UncertaintyQueue(StateQueue):
    """A :class:`StateQueue` in exploit order that explores with probability ``epsilon``."""

    __slots__ = ("_policy",)

    def __init__(self, policy: LLMSched, watch: StageWatch) -> None:
        super().__init__(policy.key, watch)
        self._policy = policy

    def pop(self) -> tuple[JobState, int]:
        return self.pop_first(_any)

    def pop_first(self, accept: Callable[[JobState, int], bool]) -> tuple[JobState, int]:
        policy = self._policy
        if policy.rng.random() >= policy.epsilon:
            return super().pop_first(accept)
        self._refresh()
        best = None
        for entry in self._heap:
            if not self._current(entry):
                continue
            job, stage = entry[3], entry[4]
            if not accept(job, stage):
                continue
            rank = (-policy.uncertainty_reduction(job, stage), entry[0], entry[1])
            if best is None or rank < best[0]:
                best = (rank, job, stage)
        if best is None:
            raise LookupError("no queued stage is accepted")
        _, job, stage = best
        self._take(job, stage)
        return job, stage


def _any(job: JobState, stage: int) -> bool:
    return True
