"""The protocol every executor model implements: the runtime of one pool in a simulation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from llm_sched_env.core.queues import ReadyQueue
    from llm_sched_env.core.state import JobState

StageRef = tuple["JobState", int]
# Puts an event of this pool on the simulator's heap: (time, executor, token).
ScheduleEvent = Callable[[float, int, object], None]


class ExecutorPool(Protocol):
    """The executors of one named pool and its ready stages, inside one simulation.

    The simulator owns time and the event heap; a pool starts work at an instant
    (:meth:`start`), is told of its own events (:meth:`on_event`) and reports the stages
    that finished. All events of an instant are applied before any pool starts work.
    """

    name: str
    count: int
    queue: ReadyQueue

    def push(self, job: JobState, stage: int) -> None:
        """Add a stage that became ready."""

    def start(self, now: float, decide: bool) -> bool:
        """Start what can start at ``now``.

        With ``decide`` (decision mode) stop and return True when a choice among ready
        stages matters; :meth:`choices` then lists them and :meth:`dispatch` takes one.
        Otherwise the queue's ``pop`` is the policy's choice, and this returns False.
        """

    def on_event(self, executor: int, token: object, now: float, finished: list[StageRef]) -> None:
        """Apply one of this pool's events at ``now``; append the stages that finished."""

    def needs_decision(self) -> bool:
        """True when :meth:`start` stopped for a choice that is still open."""

    def choices(self) -> list[StageRef]:
        """The ready stages the open decision is among."""

    def dispatch(self, job: JobState, stage: int, now: float) -> None:
        """Start ``stage`` of ``job``, one of :meth:`choices` (decision mode)."""

    def running(self) -> Iterator[tuple[int, JobState, int]]:
        """``(executor, job, stage)`` for every stage running now."""

    def busy_executors(self) -> int:
        """How many executors are running something."""
