"""Shared test helpers."""

from __future__ import annotations

from llm_sched_env.core import LLM, REGULAR, JobSpec

KINDS = {"llm": LLM, "reg": REGULAR}


def make_job(job_id: int, app: str, arrival: float, stages: list[tuple]) -> JobSpec:
    """Build a JobSpec from ``(kind, duration, parents[, revealed_by])`` tuples; estimates = 1."""
    return JobSpec(
        job_id=job_id,
        app=app,
        arrival=arrival,
        kinds=tuple(KINDS[s[0]] for s in stages),
        durations=tuple(s[1] for s in stages),
        estimates=(1.0,) * len(stages),
        parents=tuple(tuple(s[2]) for s in stages),
        revealed_by=tuple(s[3] if len(s) > 3 else None for s in stages),
    )
