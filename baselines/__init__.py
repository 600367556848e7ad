"""The paper's scheduling policies: FCFS, RS (random) and PS-TCS (application priority)."""

from llm_sched_env.baselines.heuristics import (
    FCFS,
    PSTCS,
    RS,
    PAPER_APP_PRIORITY,
    AppPriority,
    make_policy,
    POLICY_NAMES,
)

__all__ = ["FCFS", "PSTCS", "RS", "PAPER_APP_PRIORITY", "AppPriority", "POLICY_NAMES", "make_policy"]
