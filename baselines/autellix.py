"""Autellix's program-level schedulers, PLAS and ATLAS (Luo et al. 2025, arXiv 2502.13965).

Autellix treats a program (here: a job) as the unit of scheduling and prioritises calls by
the service their program has already attained, a non-clairvoyant rule in the spirit of
least attained service: short programs finish before long ones without knowing sizes.

* **PLAS** (program-level attained service, for single-threaded programs): a stage's
  priority is its job's attained service, the total run time of its finished stages.
* **ATLAS** (adaptive thread-level attained service, for multi-threaded programs): a
  stage's priority is the attained service along the critical path that leads to it, the
  longest chain of finished run time through its predecessors (parents and revealer).

Choices made here (the paper's engine differs from this simulator): priorities are
continuous, not quantised into Autellix's multi-level queues, and there is no preemption
or anti-starvation promotion (executors here are non-preemptive); service counts stages of
every pool, not only LLM calls, since tools hold executors too; service is counted when a
stage finishes (a running stage's elapsed time is not counted). Ties go FCFS.
"""

from __future__ import annotations

from llm_sched_env.baselines.state_queue import StatePolicy
from llm_sched_env.baselines.visible import attained_service, predecessors

from llm_sched_env.core import JobState, PriorityQueue


class PLAS(StatePolicy):
    """Least program-level attained service first (Autellix, single-threaded programs)."""

    name = "PLAS"

    def key(self, job: JobState, stage: int) -> tuple[float, int, int]:
        return self.per_job(job, attained_service), job.rank, stage


def critical_path_service(job: JobState, stage: int) -> float:
    """Attained service along the longest chain of finished predecessors leading to ``stage``.

    ``stage`` must be ready: all its predecessors have finished, so their run times are known.
    """
    durations = job.spec.durations
    memo: dict[int, float] = {}

    def reach(s: int) -> float:
        if s not in memo:
            memo[s] = max((reach(p) + durations[p] for p in predecessors(job, s)), default=0.0)
        return memo[s]

    return reach(stage)


def atlas_key(job: JobState, stage: int) -> tuple[float, int, int]:
    """ATLAS priority of a ready stage, ties FCFS; fixed once the stage is ready."""
    return critical_path_service(job, stage), job.rank, stage


class ATLAS:
    """Least attained service along the critical path first (Autellix, multi-threaded programs).

    A ready stage's predecessors have all finished, so its priority never changes: a plain
    priority queue keyed when the stage becomes ready is exact.
    """

    name = "ATLAS"
    key = staticmethod(atlas_key)

    def new_queue(self) -> PriorityQueue:
        return PriorityQueue(atlas_key)
