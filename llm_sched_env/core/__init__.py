"""The simulator core: jobs, ready queues and the event-driven simulator (no gymnasium, no torch)."""

from llm_sched_env.core.job import KIND_CODES, KIND_NAMES, LLM, REGULAR, JobSpec, JobSpecError
from llm_sched_env.core.queues import FifoQueue, PriorityQueue, RandomQueue, ReadyQueue
from llm_sched_env.core.results import Results
from llm_sched_env.core.simulator import POOLS, FastPolicy, ScheduledStage, Simulator
from llm_sched_env.core.state import BLOCKED, DONE, HIDDEN, READY, RUNNING, STATUS_NAMES, JobState

__all__ = [
    "BLOCKED",
    "DONE",
    "HIDDEN",
    "KIND_CODES",
    "KIND_NAMES",
    "LLM",
    "POOLS",
    "READY",
    "REGULAR",
    "RUNNING",
    "STATUS_NAMES",
    "FastPolicy",
    "FifoQueue",
    "JobSpec",
    "JobSpecError",
    "JobState",
    "PriorityQueue",
    "RandomQueue",
    "ReadyQueue",
    "Results",
    "ScheduledStage",
    "Simulator",
]
