"""Critical-path-first, the classic DAG list-scheduling rule.

List schedulers such as HLFET (Adam, Chandy and Dickson 1974) and HEFT's upward rank
(Topcuoglu et al. 2002) start the ready task with the longest path to the end of its DAG
first. Here a stage's path is the longest chain of estimates through its revealed,
unfinished descendants (parent and reveal edges of revealed stages only), so it grows as
stages are revealed. Across jobs the rule favours long jobs, the opposite of SRPT: it
minimises a single DAG's makespan, not mean completion time. Ties go FCFS.
"""

from __future__ import annotations

from llm_sched_env.baselines.state_queue import StatePolicy
from llm_sched_env.baselines.visible import revealed_children

from llm_sched_env.core import DONE, HIDDEN, JobState


def remaining_paths(job: JobState) -> list[float]:
    """Per stage, the longest chain of estimates from it (included) through its revealed descendants.

    Meaningful for revealed, unfinished stages (their descendants are revealed or hidden, never done).
    """
    estimates = job.spec.estimates
    memo: dict[int, float] = {}

    def path(s: int) -> float:
        if s not in memo:
            memo[s] = estimates[s] + max((path(c) for c in revealed_children(job, s)), default=0.0)
        return memo[s]

    status = job.status
    return [path(s) if status[s] != HIDDEN and status[s] != DONE else 0.0 for s in range(len(status))]


class CriticalPathFirst(StatePolicy):
    """The ready stage with the longest estimated remaining path first."""

    name = "CPF"

    def key(self, job: JobState, stage: int) -> tuple[float, int, int]:
        return -self.per_job(job, remaining_paths)[stage], job.rank, stage
