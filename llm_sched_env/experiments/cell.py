"""Run one cell: simulate one configuration and summarise it as a result record."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import llm_sched_env
from llm_sched_env.experiments.config import CellConfig
from llm_sched_env.experiments.policies import PolicyEntry, run_episode


def run_cell(config: CellConfig, entry: PolicyEntry) -> dict[str, Any]:
    """Simulate ``config`` with ``entry``'s policy and return its JSON-ready record.

    The record holds the cell's key, full config and package version, the policy's
    display name, mean / p50 / p95 JCT, makespan, mean JCT per app and every job's JCT
    in job-id order (for CDFs and paired comparisons).
    """
    if entry.key != config.policy:
        raise ValueError(f"entry: policy {entry.key!r} does not match the cell's {config.policy!r}")
    start = time.perf_counter()
    policy = entry.factory(np.random.SeedSequence(config.policy_seed()))
    jobs = config.workload().jobs(config.num_jobs, config.seed)
    results = run_episode(policy, jobs, config.cluster_in_use())
    if len(results) != config.num_jobs:
        raise RuntimeError(f"policy {entry.name}: {len(results)} of {config.num_jobs} jobs finished")
    by_job = results.jct_by_job()
    jcts = np.array([by_job[j] for j in sorted(by_job)])
    p50, p95 = np.percentile(jcts, [50, 95])
    return {
        "key": config.key,
        "version": llm_sched_env.__version__,
        "config": config.to_dict(),
        "policy": entry.name,
        "mean_jct": float(jcts.mean()),
        "p50_jct": float(p50),
        "p95_jct": float(p95),
        "makespan": max(results.finishes),
        "mean_jct_by_app": results.mean_jct_by_app(),
        "jcts": jcts.tolist(),
        "wall_seconds": time.perf_counter() - start,
    }
