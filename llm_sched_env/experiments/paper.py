"""The paper's Table I experiment and its published numbers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from llm_sched_env.experiments.config import Grid, app_constants
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE, paper_apps

# Average JCT in seconds, paper Table I ("Towards Efficient Compound LLM System Serving in
# the Wild", Zhu et al.): 500 requests, equal mix of the three apps, Poisson arrivals.
# Keys: policy display name, then R (= L).
PAPER_TABLE1: dict[str, dict[int, float]] = {
    "FCFS": {10: 893, 20: 347, 30: 155, 40: 87},
    "RS": {10: 812, 20: 298, 30: 143, 40: 87},
    "PS-TCS": {10: 474, 20: 197, 30: 119, 40: 86},
}
PAPER_POLICIES = ("fcfs", "rs", "ps-tcs")  # registry keys of the paper's three policies
PAPER_SETTINGS = ((10, 10), (20, 20), (30, 30), (40, 40))  # (R, L)
PAPER_NUM_JOBS = 500


def table1_grid(num_seeds: int, num_jobs: int = PAPER_NUM_JOBS) -> Grid:
    """The paper's grid with seeds ``0..num_seeds-1`` (``num_jobs`` only shrinks it for tests)."""
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or num_seeds < 1:
        raise ValueError(f"seeds: must be an integer >= 1, got {num_seeds!r}")
    return Grid(PAPER_POLICIES, PAPER_SETTINGS, tuple(range(num_seeds)), num_jobs=(num_jobs,))


def is_paper_workload(config: Mapping[str, Any]) -> bool:
    """True for a cell config (``CellConfig.to_dict()``) of the paper's workload.

    That is 500 jobs, an equal mix, the calibrated arrival rate and the default apps.
    """
    return (
        config["num_jobs"] == PAPER_NUM_JOBS
        and config["mix"] is None
        and config["arrival_rate"] == DEFAULT_ARRIVAL_RATE
        # compared as JSON data, as a record read back from a results file holds them
        and config["apps"] == json.loads(json.dumps([app_constants(app) for app in paper_apps()]))
    )


def paper_value(record: Mapping[str, Any]) -> float | None:
    """The paper's mean JCT for a result record's cell, or None when Table I has no such cell."""
    config = record["config"]
    if config["R"] != config["L"] or "cluster" in config or not is_paper_workload(config):
        return None
    return PAPER_TABLE1.get(record["policy"], {}).get(config["R"])
