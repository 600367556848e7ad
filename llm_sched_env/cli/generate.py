"""``llm-sched generate``: write a trace of the default workload."""

from __future__ import annotations

import argparse

from llm_sched_env.cli.options import add_command, int_in, output_file
from llm_sched_env.workloads import Workload
from llm_sched_env.workloads.trace import write_trace


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "generate",
        help="write a JSON Lines trace of the default workload",
        description="Draw --jobs jobs of the default workload (the paper's three applications, equal "
        "mix, Poisson arrivals at the calibrated rate) from --seed and write them as a trace: version 2 "
        "when the jobs carry LLM calls in tokens or pool names, else version 1 (format: the docstring of "
        "llm_sched_env.workloads.trace), replayable with "
        "`llm-sched simulate --trace`. Example: llm-sched generate --jobs 500 --seed 0 --out trace.jsonl",
    )
    p.add_argument("--jobs", type=int_in(1), required=True, help="number of jobs")
    p.add_argument("--seed", type=int_in(0), required=True, help="workload seed")
    p.add_argument(
        "--out", type=output_file, required=True, metavar="PATH", help="trace file to write (.jsonl)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    workload = Workload()
    write_trace(args.out, workload.jobs(args.jobs, args.seed), meta={"seed": args.seed, "jobs": args.jobs})
    print(f"wrote {args.jobs} jobs to {args.out}")
    return 0
