"""Heuristic schedulers: the paper's FCFS, RS and PS-TCS, and stronger fast-path baselines.

SRPT variants (:mod:`.srpt`), Autellix's PLAS and ATLAS (:mod:`.autellix`), an
LLMSched-style scheduler (:mod:`.llmsched`) and critical-path-first (:mod:`.critical_path`)
rank stages by what a real scheduler sees (:mod:`.visible`), through ready queues that
re-key jobs as their stages finish (:mod:`.state_queue`).
"""

from llm_sched_env.baselines.autellix import ATLAS, PLAS
from llm_sched_env.baselines.critical_path import CriticalPathFirst
from llm_sched_env.baselines.heuristics import (
    FCFS,
    PAPER_APP_PRIORITY,
    PSTCS,
    RS,
    AppPriority,
)
from llm_sched_env.baselines.llmsched import LLMSched
from llm_sched_env.baselines.observation_policies import (
    InEnvironment,
    ObsAppPriority,
    ObservationPolicy,
    ObsFCFS,
    ObsPSTCS,
    ObsRS,
    run_episode,
)
from llm_sched_env.baselines.srpt import SRPT, PacedSRPT, PoolSRPT

__all__ = [
    "ATLAS",
    "FCFS",
    "PAPER_APP_PRIORITY",
    "PLAS",
    "PSTCS",
    "RS",
    "SRPT",
    "AppPriority",
    "CriticalPathFirst",
    "InEnvironment",
    "LLMSched",
    "ObsAppPriority",
    "ObsFCFS",
    "ObsPSTCS",
    "ObsRS",
    "ObservationPolicy",
    "PacedSRPT",
    "PoolSRPT",
    "run_episode",
]
