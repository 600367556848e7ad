"""Run-time state of a job inside the simulator."""

from __future__ import annotations

from llm_sched_env.core.job import JobSpec

HIDDEN = 0
BLOCKED = 1
READY = 2
RUNNING = 3
DONE = 4
STATUS_NAMES = ("hidden", "blocked", "ready", "running", "done")


class JobState:
    """A job in the system: which stages are revealed, ready, running or done.

    ``since[i]`` is the time stage ``i`` entered its current status. ``rank`` is the
    job's position in arrival order (ties broken by ``job_id``). ``pools[i]`` is the index
    of the cluster pool stage ``i`` runs on.
    """

    __slots__ = ("pending_parents", "pools", "rank", "remaining", "since", "spec", "status")

    def __init__(self, spec: JobSpec, rank: int, now: float) -> None:
        self.spec = spec
        self.rank = rank
        n = spec.num_stages
        self.status = bytearray(n)
        self.since = [now] * n
        self.pending_parents = [len(p) for p in spec.parents]
        self.remaining = n
        self.pools: tuple[int, ...] | list[int] = spec.kinds

    @property
    def job_id(self) -> int:
        return self.spec.job_id

    @property
    def app(self) -> str:
        return self.spec.app

    @property
    def arrival(self) -> float:
        return self.spec.arrival
