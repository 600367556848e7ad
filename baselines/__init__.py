"""The paper's scheduling policies: FCFS, RS (random) and PS-TCS (application priority)."""

from llm_sched_env.baselines.heuristics import (
    FCFS,
    PAPER_APP_PRIORITY,
    PSTCS,
    RS,
    AppPriority,
)
from llm_sched_env.baselines.observation_policies import (
    ObsAppPriority,
    ObservationPolicy,
    ObsFCFS,
    ObsPSTCS,
    ObsRS,
    run_episode,
)

__all__ = [
    "FCFS",
    "PAPER_APP_PRIORITY",
    "PSTCS",
    "RS",
    "AppPriority",
    "ObsAppPriority",
    "ObsFCFS",
    "ObsPSTCS",
    "ObsRS",
    "ObservationPolicy",
    "run_episode",
]
