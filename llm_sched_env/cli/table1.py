"""``llm-sched table1``: reproduce the paper's Table I with confidence intervals."""

from __future__ import annotations

import argparse

from llm_sched_env.cli.bench import add_run_options, execute
from llm_sched_env.experiments.paper import PAPER_NUM_JOBS, table1_grid


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "table1",
        help="reproduce the paper's Table I (500 jobs, R=L in 10..40, FCFS / RS / PS-TCS)",
        description="Run the paper's grid with common random numbers across policies and print mean "
        "JCT ± 95 % CI beside paper Table I, with PS-TCS's reduction against FCFS and RS.",
    )
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1); default 5")
    p.add_argument("--jobs", type=int, default=PAPER_NUM_JOBS, help=argparse.SUPPRESS)  # small runs in tests
    add_run_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise ValueError(f"--seeds: must be >= 1, got {args.seeds}")
    if args.jobs < 1:
        raise ValueError(f"--jobs: must be >= 1, got {args.jobs}")
    return execute(
        table1_grid(args.seeds, args.jobs).cells(),
        args,
        treatment="PS-TCS",
        cdf_setting=(10, 10),
        title="Table I (paper: Zhu et al., average JCT of 500 requests, equal mix, Poisson arrivals)",
    )
