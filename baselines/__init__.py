"""The paper's scheduling policies: FCFS, RS (random) and PS-TCS (application priority)."""

from llm_sched_env.baselines.heuristics import (
    FCFS,
    PAPER_APP_PRIORITY,
    POLICY_NAMES,
    PSTCS,
    RS,
    AppPriority,
    make_policy,
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
    "POLICY_NAMES",
    "PSTCS",
    "RS",
    "AppPriority",
    "ObsAppPriority",
    "ObsFCFS",
    "ObsPSTCS",
    "ObsRS",
    "ObservationPolicy",
    "make_policy",
    "run_episode",
]
