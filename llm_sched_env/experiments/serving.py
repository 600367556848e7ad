"""The serving scenario: the paper's workload on continuous-batching LLM replicas.

The paper's LLM executors run one stream each at 90 tokens/s. Here the LLM pool is a few
vLLM-style replicas of Llama-2-7B on one A100-80GB each (DESIGN.md section 7), next to the
paper's regular executors, at the paper's calibrated arrival rate. The grid crosses how many
regular executors there are with how many replicas serve the LLM calls, so that either pool
can be the bottleneck.
"""

from __future__ import annotations

from llm_sched_env.core import Cluster, ContinuousBatching, PoolSpec
from llm_sched_env.experiments.config import Grid
from llm_sched_env.experiments.paper import PAPER_NUM_JOBS, PAPER_POLICIES

SERVING_REGULAR = (10, 20)  # regular executors: the paper's two loaded settings
SERVING_REPLICAS = (1, 2)  # continuous-batching Llama-2-7B replicas, one A100-80GB each


def serving_cluster(num_regular: int, num_replicas: int) -> Cluster:
    """``num_regular`` regular executors and ``num_replicas`` batching LLM replicas (default constants)."""
    return Cluster(
        (
            PoolSpec("regular", "regular", num_regular),
            PoolSpec("llm", "llm", num_replicas, ContinuousBatching()),
        )
    )


def serving_grid(num_seeds: int, num_jobs: int = PAPER_NUM_JOBS) -> Grid:
    """The paper's policies on every serving cluster, seeds ``0..num_seeds-1``."""
    if isinstance(num_seeds, bool) or not isinstance(num_seeds, int) or num_seeds < 1:
        raise ValueError(f"seeds: must be an integer >= 1, got {num_seeds!r}")
    clusters = tuple(serving_cluster(r, k) for r in SERVING_REGULAR for k in SERVING_REPLICAS)
    return Grid(PAPER_POLICIES, clusters, tuple(range(num_seeds)), num_jobs=(num_jobs,))
