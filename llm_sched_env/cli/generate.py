"""``llm-sched generate``: write a trace of the default workload."""

from __future__ import annotations

import argparse

from llm_sched_env.workloads import Workload
from llm_sched_env.workloads.trace import write_trace


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("generate", help="write a JSON Lines trace of the default workload")
    p.add_argument("--jobs", type=int, required=True, help="number of jobs")
    p.add_argument("--seed", type=int, required=True, help="workload seed")
    p.add_argument("--out", required=True, help="trace file to write (.jsonl)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    workload = Workload()
    write_trace(args.out, workload.jobs(args.jobs, args.seed), meta={"seed": args.seed, "jobs": args.jobs})
    print(f"wrote {args.jobs} jobs to {args.out}")
    return 0
