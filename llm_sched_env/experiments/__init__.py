"""Experiments: grids of simulations run in parallel, resumable result files, statistics, reports.

Typical use::

    from llm_sched_env.experiments import Grid, ResultStore, run_cells, summarize
    grid = Grid(policies=("fcfs", "ps-tcs"), settings=((10, 10),), seeds=(0, 1, 2))
    records = run_cells(grid.cells(), ResultStore("results.jsonl"), workers=2)
    rows = summarize(records)
"""

from llm_sched_env.experiments.backends import BACKENDS, Backend, CellError, LocalBackend, make_backend
from llm_sched_env.experiments.cell import run_cell
from llm_sched_env.experiments.comparison import best_policies, comparison_blocks, versus_best
from llm_sched_env.experiments.config import CellConfig, Grid
from llm_sched_env.experiments.paper import PAPER_TABLE1, table1_grid
from llm_sched_env.experiments.policies import (
    EpisodePolicy,
    Policy,
    PolicyEntry,
    PolicyFactory,
    get_policy,
    policy_keys,
    register_policy,
    run_episode,
)
from llm_sched_env.experiments.runner import run_cells
from llm_sched_env.experiments.stats import Estimate, mean_ci, paired_change, t_quantile
from llm_sched_env.experiments.store import ResultStore
from llm_sched_env.experiments.summary import Change, Row, Setting, changes, summarize

__all__ = [
    "BACKENDS",
    "PAPER_TABLE1",
    "Backend",
    "CellConfig",
    "CellError",
    "Change",
    "EpisodePolicy",
    "Estimate",
    "Grid",
    "LocalBackend",
    "Policy",
    "PolicyEntry",
    "PolicyFactory",
    "ResultStore",
    "Row",
    "Setting",
    "best_policies",
    "changes",
    "comparison_blocks",
    "get_policy",
    "make_backend",
    "mean_ci",
    "paired_change",
    "policy_keys",
    "register_policy",
    "run_cell",
    "run_cells",
    "run_episode",
    "summarize",
    "t_quantile",
    "table1_grid",
    "versus_best",
]
