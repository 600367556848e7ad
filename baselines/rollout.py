"""Decision-time search: PacedSRPT, with contested choices settled by simulated rollouts.

At each decision where PacedSRPT's best ready stages belong to jobs whose keys are within
``margin`` of each other, :class:`RolloutPaced` tries each of the ``k`` best. For each of
``samples`` draws of what the scheduler cannot see, it builds a small simulation of the
jobs in the system from their *visible* state only (:class:`RolloutState`), starts the
candidate first and runs PacedSRPT (keys frozen at the decision) for ``horizon`` seconds;
the cost is the jobs' summed completion times, those unfinished at the horizon completing
by a fluid estimate (each pool drains the work of jobs with smaller keys first). The
candidate of least summed cost over the draws is started; all candidates see the same
draws (common random numbers). Future arrivals are not simulated.

What is drawn, from statistics of training jobs (workload seeds ``PROFILE_SEEDS``, never
evaluation seeds; :class:`DurationModel`):

* an unfinished LLM stage's duration: its estimate times ``exp(mu + F + e)``, the job's
  pace factor ``F`` drawn from the LLMSched-style posterior given its finished calls
  (:class:`~llm_sched_env.baselines.llmsched.PaceModel`);
* an unfinished regular stage's duration: its estimate times a ratio drawn from the
  training ratios of stages of the same app and estimate;
* a running stage's duration conditioned on exceeding the time it has already run;
* what a stage will reveal: one hidden regular and one hidden LLM stage carrying the
  expected work its type brings into view (``Profile.hidden_work``).

Only what a scheduler sees is read, so the no-peeking property of the fast-path baselines
holds (tests/test_rollout.py). Measured (README, "Learned agents"): no gain over PacedSRPT
on held-out seeds (+0.06 +- 0.19 % at R = L = 10, +0.10 +- 0.16 % at 20), so it is not a
registered policy.
"""

from __future__ import annotations

import contextlib
import copy
import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from llm_sched_env.baselines.llmsched import NO_PACE, PROFILE_JOBS, PROFILE_SEEDS, Profile, stage_type
from llm_sched_env.baselines.srpt import PacedSRPT
from llm_sched_env.baselines.visible import reveal_depth

from llm_sched_env.core import (
    DONE,
    HIDDEN,
    LLM,
    READY,
    REGULAR,
    RUNNING,
    JobSpec,
    JobState,
    PriorityQueue,
    Results,
    Simulator,
)
from llm_sched_env.workloads import Workload

FORCED = -1.0  # rollout key of stages that start first (running ones, then the candidate)
MIN_LEFT = 1e-3  # s: least time a drawn stage still runs (a running stage drawn shorter than it ran)


@dataclass(frozen=True)
class RolloutConfig:
    """How much to search: candidates, samples, horizon (s), when a decision is contested, jobs simulated."""

    k: int = 2
    samples: int = 4
    horizon: float = 60.0
    margin: float = 0.2  # contested: the candidates' keys are within this fraction of the best
    max_jobs: int = 12  # besides the candidates' jobs and jobs running stages, the smallest keys
    tail: bool = True  # add a fluid estimate of the completion of jobs unfinished at the horizon

    def __post_init__(self) -> None:
        for name in ("k", "samples", "max_jobs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RolloutConfig.{name}: must be an integer >= 1, got {value!r}")
        for name in ("horizon", "margin"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"RolloutConfig.{name}: must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class DurationModel:
    """What the rollouts draw hidden quantities from (fitted on training jobs)."""

    profile: Profile
    regular_ratios: dict[tuple[str, float], tuple[float, ...]]  # (app, estimate) -> sorted d / e

    @classmethod
    def fit(cls, jobs: Iterable[JobSpec]) -> DurationModel:
        specs = list(jobs)
        ratios: dict[tuple[str, float], list[float]] = defaultdict(list)
        for spec in specs:
            for stage, kind in enumerate(spec.kinds):
                if kind == REGULAR and spec.estimates[stage] > 0:
                    ratios[spec.app, spec.estimates[stage]].append(
                        spec.durations[stage] / spec.estimates[stage]
                    )
        return cls(Profile.fit(specs), {t: tuple(sorted(r)) for t, r in ratios.items()})


@lru_cache(maxsize=1)
def training_model() -> DurationModel:
    """The model of the default workload, fitted on ``PROFILE_SEEDS`` (cached per process)."""
    workload = Workload()
    return DurationModel.fit(spec for seed in PROFILE_SEEDS for spec in workload.jobs(PROFILE_JOBS, seed))


class _FrozenPaced:
    """The rollout's scheduler: PacedSRPT keys frozen at the decision, forced stages first."""

    def __init__(self, keys: list[float], forced: set[tuple[int, int]]) -> None:
        self.keys = keys  # rollout job id -> the real job's PacedSRPT key at the decision
        self.forced = forced

    def key(self, job: JobState, stage: int) -> tuple[float, int, int]:
        job_id = job.spec.job_id
        if (job_id, stage) in self.forced:
            return FORCED, job_id, stage
        return self.keys[job_id], job_id, stage

    def new_queue(self) -> PriorityQueue:
        return PriorityQueue(self.key)


class _Stop(Exception):
    """Ends a rollout at its horizon."""


class RolloutState:
    """What a scheduler sees of ``jobs`` (in rank order) at ``now``, ready for drawing rollouts.

    Rollout job ``i`` is ``jobs[i]``'s revealed unfinished stages (same order; parents among
    them kept, finished ones dropped) arriving at time 0, plus, for each such stage whose type
    brings hidden work into view, a hidden regular and a hidden LLM stage revealed by it with
    that expected work. ``running`` holds the ``(job, stage)`` of stages running now.
    """

    def __init__(self, jobs: list[JobState], now: float, model: DurationModel) -> None:
        profile = model.profile
        self.model = model
        self.templates: list[JobSpec] = []
        self.draws: list[tuple] = []  # per job: pace (mu + mean, sd, var_call), its stages' draws
        self.index: list[dict[int, int]] = []  # per job: real stage -> rollout stage
        self.running: set[tuple[int, int]] = set()
        for new_id, job in enumerate(jobs):
            spec, status = job.spec, job.status
            pace = profile.pace.get(spec.app, NO_PACE)
            observed = [
                math.log(spec.durations[s] / spec.estimates[s])
                for s, st in enumerate(status)
                if st == DONE and spec.kinds[s] == LLM and spec.estimates[s] > 0
            ]
            keep = [s for s, st in enumerate(status) if st != HIDDEN and st != DONE]
            index = {stage: i for i, stage in enumerate(keep)}
            kinds, estimates, parents, revealed_by, stages = [], [], [], [], []
            extra: list[tuple[int, float, int]] = []
            for stage in keep:
                kind, estimate = spec.kinds[stage], spec.estimates[stage]
                elapsed = now - job.since[stage] if status[stage] == RUNNING else 0.0
                if status[stage] == RUNNING:
                    self.running.add((new_id, index[stage]))
                kinds.append(kind)
                estimates.append(estimate)
                parents.append(tuple(index[p] for p in spec.parents[stage] if p in index))
                revealed_by.append(None)
                stages.append((kind, estimate, elapsed, model.regular_ratios.get((spec.app, estimate), ())))
                reg, llm = profile.hidden_work.get(
                    stage_type(spec, stage, reveal_depth(job, stage)), (0.0, 0.0)
                )
                if reg > 0:
                    extra.append((REGULAR, reg, index[stage]))
                if llm > 0:
                    extra.append((LLM, llm, index[stage]))
            for kind, work, revealer in extra:
                kinds.append(kind)
                estimates.append(work)
                parents.append(())
                revealed_by.append(revealer)
            self.templates.append(
                JobSpec(
                    new_id,
                    spec.app,
                    0.0,
                    tuple(kinds),
                    tuple(estimates),
                    tuple(estimates),
                    tuple(parents),
                    tuple(revealed_by),
                )
            )
            mean, var, _ = pace.posterior(observed)
            self.draws.append(((pace.mu + mean, math.sqrt(var), pace.var_call), stages, extra))
            self.index.append(index)

    def sample(self, rng: np.random.Generator) -> list[JobSpec]:
        """One draw of the rollout jobs' durations (a running stage's: what is left of it)."""
        specs = []
        for template, ((centre, sd, var_call), stages, extra) in zip(self.templates, self.draws, strict=True):
            factor = centre + sd * rng.standard_normal()
            noise = math.sqrt(var_call)
            durations = []
            for kind, estimate, elapsed, ratios in stages:
                if kind == LLM:
                    duration = estimate * math.exp(factor + noise * rng.standard_normal())
                else:
                    duration = _regular(estimate, elapsed, ratios, rng.random())
                durations.append(max(duration - elapsed, MIN_LEFT))
            mean_pace = math.exp(factor + var_call / 2)
            durations += [max(work * mean_pace if kind == LLM else work, MIN_LEFT) for kind, work, _ in extra]
            spec = copy.copy(template)  # the structure was checked once; only durations change
            object.__setattr__(spec, "durations", tuple(durations))
            specs.append(spec)
        return specs


def _regular(estimate: float, elapsed: float, ratios: tuple[float, ...], u: float) -> float:
    """A regular stage's duration given it has run ``elapsed`` s, from training ratios to its estimate."""
    if estimate <= 0 or not ratios:
        return max(estimate, elapsed)
    low = bisect_right(ratios, elapsed / estimate)  # condition on having run `elapsed` already
    if low >= len(ratios):
        return elapsed
    return estimate * ratios[low + int(u * (len(ratios) - low))]


class RolloutPaced:
    """An episode policy: PacedSRPT with contested decisions settled by rollouts (module docstring)."""

    name = "RolloutPaced"

    def __init__(
        self,
        seed: int | np.random.SeedSequence | None = None,
        config: RolloutConfig | None = None,
        model: DurationModel | None = None,
    ) -> None:
        self.config = config if config is not None else RolloutConfig()
        self.model = model if model is not None else training_model()
        self.seed = seed
        self.searched = 0  # decisions settled by rollouts in the last episode
        self.changed = 0  # of which PacedSRPT's choice was overruled

    def run_episode(self, jobs: Iterable[JobSpec], num_regular: int, num_llm: int) -> Results:
        sim = Simulator(jobs, num_regular, num_llm)
        self.schedule(sim)
        return sim.results

    def schedule(self, sim: Simulator) -> None:
        """Make every decision of ``sim`` (a decision-mode simulator) until its jobs are done."""
        rng = np.random.default_rng(self.seed)
        paced = PacedSRPT()
        self.searched = self.changed = 0
        while sim.advance():
            for pool in sim.decision_pools():
                ranked = sorted(sim.choices(pool), key=lambda choice: paced.key(*choice))
                job, stage = self._choose(sim, paced, ranked, rng)
                sim.dispatch(job, stage)

    def _choose(
        self, sim: Simulator, paced: PacedSRPT, ranked: list[tuple[JobState, int]], rng: np.random.Generator
    ) -> tuple[JobState, int]:
        config = self.config
        best = paced.key(*ranked[0])[0]
        candidates, seen = [], set()
        for job, stage in ranked:
            if len(candidates) == config.k or paced.key(job, stage)[0] > best * (1 + config.margin):
                break
            if job.rank not in seen:
                seen.add(job.rank)
                candidates.append((job, stage))
        if len(candidates) < 2:
            return ranked[0]
        self.searched += 1
        jobs = self._rollout_jobs(sim, paced, [job for job, _ in candidates])
        state = RolloutState(jobs, sim.now, self.model)
        keys = [paced.key(job, 0)[0] for job in jobs]
        position = {id(job): i for i, job in enumerate(jobs)}
        targets = [(position[id(job)], state.index[position[id(job)]][stage]) for job, stage in candidates]
        costs = [0.0] * len(candidates)
        for _ in range(config.samples):
            specs = state.sample(rng)
            for c, target in enumerate(targets):
                policy = _FrozenPaced(keys, state.running | {target})
                costs[c] += _rollout_cost(specs, policy, sim, config.horizon, config.tail)
        choice = min(range(len(candidates)), key=lambda c: (costs[c], c))
        self.changed += choice != 0
        return candidates[choice]

    def _rollout_jobs(self, sim: Simulator, paced: PacedSRPT, candidates: list[JobState]) -> list[JobState]:
        """The candidates' jobs, jobs running stages, and the ``max_jobs`` others with the smallest keys."""
        chosen: dict[int, JobState] = {job.rank: job for job in candidates}
        for job in sim.active.values():
            if RUNNING in job.status:
                chosen[job.rank] = job
        others = sorted(
            (job for job in sim.active.values() if job.rank not in chosen and READY in job.status),
            key=lambda job: (paced.key(job, 0)[0], job.rank),
        )
        for job in others[: self.config.max_jobs]:
            chosen[job.rank] = job
        return [chosen[rank] for rank in sorted(chosen)]


def _rollout_cost(
    specs: list[JobSpec], policy: _FrozenPaced, sim: Simulator, horizon: float, tail: bool
) -> float:
    """Summed completion times of one rollout of ``specs`` on ``sim``'s cluster, stopped at ``horizon``.

    A job unfinished at the stop completes, by the fluid estimate (``tail``), when each pool
    has drained the remaining work of the jobs with keys up to its own; without ``tail``, at
    the stop (the area of jobs in the system up to the horizon).
    """
    finishes: list[float] = []
    holder: list[Simulator] = []

    def stop(job: JobState, stage: int) -> None:
        if holder[0].now >= horizon:
            raise _Stop

    def complete(job: JobState, now: float) -> None:
        finishes.append(now)

    rollout = Simulator(
        specs, policy=policy, cluster=sim.cluster, on_stage_complete=stop, on_complete=complete
    )
    holder.append(rollout)
    with contextlib.suppress(_Stop):
        rollout.run()
    now = rollout.now
    cost = math.fsum(finishes) + now * len(rollout.active)
    if not tail:
        return cost
    counts = rollout.num_executors
    drained = [0.0] * len(counts)
    for job in sorted(rollout.active.values(), key=lambda job: (policy.keys[job.spec.job_id], job.rank)):
        durations, since = job.spec.durations, job.since
        for stage, status in enumerate(job.status):
            if status == RUNNING:
                drained[job.pools[stage]] += durations[stage] - (now - since[stage])
            elif status != DONE:
                drained[job.pools[stage]] += durations[stage]
        cost += max(work / count for work, count in zip(drained, counts, strict=True))
    return cost
