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

__all__ = ["FCFS", "PAPER_APP_PRIORITY", "POLICY_NAMES", "PSTCS", "RS", "AppPriority", "make_policy"]
