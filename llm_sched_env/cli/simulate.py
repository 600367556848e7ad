"""``llm-sched simulate``: run one policy on a trace or a generated workload."""

from __future__ import annotations

import argparse
import json

import numpy as np

from llm_sched_env.cli.options import add_command, int_in, output_file
from llm_sched_env.core import Cluster
from llm_sched_env.experiments.policies import get_policy, policy_keys, run_episode
from llm_sched_env.workloads import Workload
from llm_sched_env.workloads.trace import read_trace


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "simulate",
        help="simulate one policy and print the mean JCT",
        description="Run one policy on a trace (--trace) or on jobs of the default workload (--jobs, "
        "--seed) with R regular and L LLM executors; print the mean JCT overall and per application, "
        "or one JSON object (--json), and optionally every job's outcome as CSV. "
        "Example: llm-sched simulate --jobs 500 --seed 0 --policy ps-tcs --regular 10 --llm 10",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", metavar="PATH", help="JSON Lines trace to replay")
    source.add_argument("--jobs", type=int_in(1), help="number of jobs of the default workload")
    p.add_argument("--seed", type=int_in(0), default=0, help="workload seed (with --jobs) and RS seed")
    p.add_argument(
        "--policy", default="fcfs", help=f"a registered policy ({', '.join(policy_keys())}) or agent:PATH"
    )
    p.add_argument("--regular", type=int_in(1), default=10, help="regular executors R")
    p.add_argument("--llm", type=int_in(1), default=10, help="LLM executors L")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--csv",
        metavar="PATH",
        type=output_file,
        help="write per-job results (job_id, app, arrival, finish, jct) here",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    jobs = read_trace(args.trace) if args.trace else Workload().jobs(args.jobs, args.seed)
    entry = get_policy(args.policy)
    cluster = Cluster.paper(args.regular, args.llm)
    results = run_episode(entry.factory(np.random.SeedSequence(args.seed)), jobs, cluster)
    if args.csv:
        results.to_csv(args.csv)
    summary = {
        "policy": entry.name,
        "regular": args.regular,
        "llm": args.llm,
        "jobs": len(results),
        "mean_jct": results.mean_jct,
        "mean_jct_by_app": results.mean_jct_by_app(),
        "makespan": max(results.finishes),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"{entry.name} R={args.regular} L={args.llm}: "
            f"{len(results)} jobs, mean JCT {results.mean_jct:.2f} s"
        )
        by_app = summary["mean_jct_by_app"]
        width = max(16, *(len(app) for app in by_app))
        for app, jct in by_app.items():
            print(f"  {app:<{width}} {jct:10.2f} s")
    return 0
