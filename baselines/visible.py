"""What a real scheduler knows of a job, read from its run-time state.

A scheduler sees a job's app and arrival, and for every *revealed* stage its kind, pool,
estimate, parents and the stage that revealed it; a stage's true duration only once it has
finished (then it is its run time on a single-stream executor; on a continuous-batching
executor it is the call's output length in single-stream seconds, known once the call
returns). Unrevealed stages (status ``HIDDEN``), the durations of unfinished stages, the
job's stage count and ``JobSpec.reveals`` are hidden; these helpers read nothing else.
"""

from __future__ import annotations

from llm_sched_env.core import DONE, HIDDEN, LLM, REGULAR, JobState


def remaining_work(job: JobState) -> tuple[float, float]:
    """Estimated work of the job's revealed, unfinished stages: ``(regular, llm)`` by stage kind."""
    work = [0.0, 0.0]
    kinds, estimates = job.spec.kinds, job.spec.estimates
    for stage, status in enumerate(job.status):
        if status != HIDDEN and status != DONE:
            work[kinds[stage]] += estimates[stage]
    return work[REGULAR], work[LLM]


def remaining_pool_work(job: JobState, pool: int) -> float:
    """Estimated work of the job's revealed, unfinished stages on ``pool``."""
    pools, estimates = job.pools, job.spec.estimates
    return sum(
        estimates[stage]
        for stage, status in enumerate(job.status)
        if status != HIDDEN and status != DONE and pools[stage] == pool
    )


def llm_pace(job: JobState) -> float:
    """Run time of the job's finished LLM stages over their estimates (1 before any finishes).

    An LLM's output length depends on the request, so a job whose calls ran long keeps
    running long (the observation's ``job_llm_pace``).
    """
    took = expected = 0.0
    spec = job.spec
    for stage, status in enumerate(job.status):
        if status == DONE and spec.kinds[stage] == LLM:
            took += spec.durations[stage]
            expected += spec.estimates[stage]
    return took / expected if expected else 1.0


def attained_service(job: JobState) -> float:
    """Run time of the job's finished stages (program-level attained service)."""
    durations = job.spec.durations
    return sum(durations[stage] for stage, status in enumerate(job.status) if status == DONE)


def predecessors(job: JobState, stage: int) -> tuple[int, ...]:
    """The stages ``stage`` waited for: its parents and the stage that revealed it."""
    spec = job.spec
    revealer = spec.revealed_by[stage]
    return spec.parents[stage] if revealer is None else (*spec.parents[stage], revealer)


def revealed_children(job: JobState, stage: int) -> list[int]:
    """The revealed children of a stage (``JobSpec.children`` also lists hidden ones)."""
    status = job.status
    return [child for child in job.spec.children[stage] if status[child] != HIDDEN]


def reveal_depth(job: JobState, stage: int) -> int:
    """How many reveals led to ``stage``: 0 if visible at arrival, else its revealer's depth + 1."""
    depth = 0
    revealed_by = job.spec.revealed_by
    revealer = revealed_by[stage]
    while revealer is not None:
        depth += 1
        revealer = revealed_by[revealer]
    return depth
