"""The simulator core: jobs, ready queues and the event-driven simulator (no gymnasium, no torch)."""

from llm_sched_env.core.cluster import MAX_EXECUTORS, Cluster, PoolSpec
from llm_sched_env.core.executors import EXECUTOR_MODELS, ContinuousBatching, ExecutorPool, SingleStream
from llm_sched_env.core.job import (
    DEFAULT_POOLS,
    KIND_CODES,
    KIND_NAMES,
    LLM,
    REGULAR,
    JobSpec,
    JobSpecError,
    LLMCall,
)
from llm_sched_env.core.queues import FifoQueue, PriorityQueue, RandomQueue, ReadyQueue
from llm_sched_env.core.results import Results
from llm_sched_env.core.simulator import FastPolicy, ScheduledStage, Simulator
from llm_sched_env.core.state import BLOCKED, DONE, HIDDEN, READY, RUNNING, STATUS_NAMES, JobState

__all__ = [
    "BLOCKED",
    "DEFAULT_POOLS",
    "DONE",
    "EXECUTOR_MODELS",
    "HIDDEN",
    "KIND_CODES",
    "KIND_NAMES",
    "LLM",
    "MAX_EXECUTORS",
    "READY",
    "REGULAR",
    "RUNNING",
    "STATUS_NAMES",
    "Cluster",
    "ContinuousBatching",
    "ExecutorPool",
    "FastPolicy",
    "FifoQueue",
    "JobSpec",
    "JobSpecError",
    "JobState",
    "LLMCall",
    "PoolSpec",
    "PriorityQueue",
    "RandomQueue",
    "ReadyQueue",
    "Results",
    "ScheduledStage",
    "Simulator",
    "SingleStream",
]
