"""Shortest remaining processing time on what the scheduler sees: SRPT, per-pool SRPT, paced SRPT.

SRPT (Schrage 1968) minimises mean completion time on one machine when sizes are known;
here a job's size is the estimated work of its revealed, unfinished stages (hidden stages
and true durations are unknown). Ties go to the earlier-arrived job (FCFS), then stage order.
"""

from __future__ import annotations

from typing import TypeVar

from llm_sched_env.baselines.state_queue import StatePolicy
from llm_sched_env.baselines.visible import llm_pace, remaining_pool_work, remaining_work

from llm_sched_env.core import JobState

Work = TypeVar("Work")


def paced_work(regular: Work, llm: Work, pace: Work) -> Work:
    """Expected remaining work: regular work at its estimate plus LLM work at its estimate times the pace.

    Works on floats and numpy arrays alike (the behaviour-cloning teacher applies it to observations).
    """
    return regular + pace * llm  # type: ignore[operator]


class SRPT(StatePolicy):
    """The job with the least estimated remaining revealed work (all pools) first."""

    name = "SRPT"

    def key(self, job: JobState, stage: int) -> tuple[float, int, int]:
        return self.per_job(job, _total_work), job.rank, stage


class PoolSRPT(StatePolicy):
    """Per-pool SRPT: the job with the least estimated remaining revealed work on this stage's pool."""

    name = "SRPT-pool"

    def key(self, job: JobState, stage: int) -> tuple[float, int, int]:
        return self.per_job(job, _work_by_pool)[job.pools[stage]], job.rank, stage


class PacedSRPT(StatePolicy):
    """SRPT with LLM work scaled by the job's observed LLM pace (the agents' cloning teacher).

    A job's remaining work is :func:`paced_work` of its revealed, unfinished regular and LLM
    estimates and its pace (:func:`~llm_sched_env.baselines.visible.llm_pace`): an LLM's
    output length depends on the request, so a job whose calls ran long keeps running long.
    This is the rule of ``llm_sched_env.agents.teacher.PacedSRPT`` with every ready stage in
    view, instead of the observation's slots.
    """

    name = "PacedSRPT"

    def key(self, job: JobState, stage: int) -> tuple[float, int, int]:
        return self.per_job(job, _paced), job.rank, stage


def _total_work(job: JobState) -> float:
    regular, llm = remaining_work(job)
    return regular + llm


def _work_by_pool(job: JobState) -> dict[int, float]:
    return {pool: remaining_pool_work(job, pool) for pool in set(job.pools)}


def _paced(job: JobState) -> float:
    regular, llm = remaining_work(job)
    return paced_work(regular, llm, llm_pace(job))
