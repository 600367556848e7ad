"""Workloads: the paper's three applications, arrival processes and the trace format."""

from llm_sched_env.workloads.application import DECODE_TOKENS_PER_SECOND, Application
from llm_sched_env.workloads.arrivals import ArrivalProcess, PoissonArrivals
from llm_sched_env.workloads.code_generation import CodeGeneration
from llm_sched_env.workloads.sorting import Sorting
from llm_sched_env.workloads.task_automation import TaskAutomation
from llm_sched_env.workloads.workload import DEFAULT_ARRIVAL_RATE, Workload, paper_apps

__all__ = [
    "DECODE_TOKENS_PER_SECOND",
    "DEFAULT_ARRIVAL_RATE",
    "Application",
    "ArrivalProcess",
    "CodeGeneration",
    "PoissonArrivals",
    "Sorting",
    "TaskAutomation",
    "Workload",
    "paper_apps",
]
