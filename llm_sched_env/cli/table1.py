"""``llm-sched table1``: reproduce the paper's Table I with confidence intervals."""

from __future__ import annotations

import argparse
from dataclasses import replace

from llm_sched_env.cli.bench import _split, add_cluster_option, add_run_options, execute
from llm_sched_env.cli.options import add_command, int_in
from llm_sched_env.experiments import get_policy
from llm_sched_env.experiments.paper import PAPER_NUM_JOBS, PAPER_POLICIES, table1_grid


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "table1",
        help="reproduce the paper's Table I (500 jobs, R=L in 10..40, FCFS / RS / PS-TCS)",
        description="Run the paper's grid with common random numbers across policies and print mean "
        "JCT ± 95 % CI beside paper Table I, with PS-TCS's relative change against FCFS and RS "
        "(-48.8 % = 48.8 % lower mean JCT). Takes a few seconds on 2 cores. "
        "Example: llm-sched table1 --json table1.json --plot table1.png",
    )
    p.add_argument("--seeds", type=int_in(1), default=5, help="number of seeds (0..N-1)")
    p.add_argument(
        "--jobs", type=int_in(1), default=PAPER_NUM_JOBS, help=argparse.SUPPRESS
    )  # small test runs
    p.add_argument(
        "--policies",
        default=",".join(PAPER_POLICIES),
        help="comma list of registered policies or agent:PATH; others than the paper's get rows "
        "without paper values",
    )
    add_cluster_option(p, "the R=L columns (the paper's values are then not shown)")
    add_run_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    policies = tuple(get_policy(name).key for name in _split("--policies", args.policies, str))
    grid = replace(table1_grid(args.seeds, args.jobs), policies=policies)
    if args.cluster:
        grid = replace(grid, settings=tuple(args.cluster))
    return execute(
        grid.cells(),
        args,
        treatment="PS-TCS" if "ps-tcs" in policies else None,
        title="Table I (paper: Zhu et al., average JCT of 500 requests, equal mix, Poisson arrivals)",
    )
