"""The paper's executor: one stage at a time, for the stage's duration in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_sched_env.core.executors.base import ScheduleEvent, StageRef
from llm_sched_env.core.state import RUNNING

if TYPE_CHECKING:
    from llm_sched_env.core.job import JobSpec
    from llm_sched_env.core.queues import ReadyQueue
    from llm_sched_env.core.state import JobState


@dataclass(frozen=True)
class SingleStream:
    """Each executor runs one stage at a time, non-preemptively, for its ``duration``.

    For LLM stages that is the paper's testbed: Llama-2-7B on one A100/A800 decodes about
    90 tokens/s for a single stream (DESIGN.md section 2).
    """

    name = "single_stream"

    def build(self, name: str, count: int, queue: ReadyQueue, schedule: ScheduleEvent) -> SingleStreamPool:
        return SingleStreamPool(name, count, queue, schedule)

    def to_dict(self) -> dict[str, object]:
        return {"model": self.name}

    def check_stage(self, spec: JobSpec, stage: int, pool: str) -> None:
        """Any stage runs in seconds: nothing to check."""


class SingleStreamPool:
    """Runtime of a single-stream pool: free executors popped lowest id first."""

    def __init__(self, name: str, count: int, queue: ReadyQueue, schedule: ScheduleEvent) -> None:
        self.name = name
        self.count = count
        self.queue = queue
        self.push = queue.push
        self.free: list[int] = list(range(count - 1, -1, -1))  # a stack: pop() gives the lowest id
        self.executors: dict[int, StageRef] = {}  # executor -> the stage it runs
        self._schedule = schedule

    def start(self, now: float, decide: bool) -> bool:
        free, queue = self.free, self.queue
        if not (free and queue):
            return False
        if decide and len(queue) > len(free):
            return True
        executors = self.executors
        schedule = self._schedule
        while free and queue:
            job, stage = queue.pop()
            executor = free.pop()
            job.status[stage] = RUNNING
            job.since[stage] = now
            executors[executor] = ref = (job, stage)
            schedule(now + job.spec.durations[stage], executor, ref)
        return False

    def on_event(self, executor: int, token: object, now: float, finished: list[StageRef]) -> None:
        del self.executors[executor]
        self.free.append(executor)
        finished.append(token)  # type: ignore[arg-type]

    def needs_decision(self) -> bool:
        free = self.free
        return bool(free) and len(self.queue) > len(free)

    def choices(self) -> list[StageRef]:
        return list(self.queue)

    def dispatch(self, job: JobState, stage: int, now: float) -> None:
        if not self.free:
            raise ValueError(f"no free {self.name} executor for stage {stage} of job {job.spec.job_id}")
        self.queue.remove(job, stage)
        self._run(job, stage, now)

    def running(self) -> Iterator[tuple[int, JobState, int]]:
        return ((executor, job, stage) for executor, (job, stage) in self.executors.items())

    def busy_executors(self) -> int:
        return len(self.executors)

    def _run(self, job: JobState, stage: int, now: float) -> None:
        executor = self.free.pop()
        job.status[stage] = RUNNING
        job.since[stage] = now
        self.executors[executor] = (job, stage)
        self._schedule(now + job.spec.durations[stage], executor, (job, stage))
