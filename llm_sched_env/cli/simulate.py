"""``llm-sched simulate``: run one policy on a trace or a generated workload."""

from __future__ import annotations

import argparse
import json

import numpy as np

from llm_sched_env.cli.options import add_command, cluster_file, int_in, output_file
from llm_sched_env.core import KIND_NAMES, Cluster
from llm_sched_env.experiments.policies import get_policy, policy_keys, run_episode
from llm_sched_env.workloads import Workload
from llm_sched_env.workloads.trace import read_trace

DEFAULT_EXECUTORS = 10  # per kind, without --cluster: the paper's R = L = 10 (Table I)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "simulate",
        help="simulate one policy and print the mean JCT",
        description="Run one policy on a trace (--trace, version 1 or 2) or on jobs of the default "
        "workload (--jobs, --seed) with R regular and L LLM executors, or on the pools of a cluster file "
        "(--cluster, instead of --regular/--llm); print the mean JCT overall and per application, "
        "or one JSON object (--json), and optionally every job's outcome as CSV. "
        "Example: llm-sched simulate --jobs 500 --seed 0 --policy ps-tcs --regular 10 --llm 10; "
        "llm-sched simulate --trace docs/trace_v2.jsonl --cluster docs/cluster_batching.json",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", metavar="PATH", help="JSON Lines trace to replay")
    source.add_argument("--jobs", type=int_in(1), help="number of jobs of the default workload")
    p.add_argument("--seed", type=int_in(0), default=0, help="workload seed (with --jobs) and RS seed")
    p.add_argument(
        "--policy", default="fcfs", help=f"a registered policy ({', '.join(policy_keys())}) or agent:PATH"
    )
    p.add_argument(
        "--regular",
        type=int_in(1),
        help=f"regular executors R (default: {DEFAULT_EXECUTORS}; not with --cluster)",
    )
    p.add_argument(
        "--llm", type=int_in(1), help=f"LLM executors L (default: {DEFAULT_EXECUTORS}; not with --cluster)"
    )
    p.add_argument(
        "--cluster",
        metavar="FILE",
        type=cluster_file,
        help="cluster file (JSON: named pools and their executor models, e.g. docs/cluster_batching.json) "
        "to run on instead of --regular/--llm",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object (it includes the cluster)")
    p.add_argument(
        "--csv",
        metavar="PATH",
        type=output_file,
        help="write per-job results (job_id, app, arrival, finish, jct) here",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cluster = _cluster(args)
    jobs = read_trace(args.trace, cluster) if args.trace else Workload().jobs(args.jobs, args.seed)
    entry = get_policy(args.policy)
    results = run_episode(entry.factory(np.random.SeedSequence(args.seed)), jobs, cluster)
    if args.csv:
        results.to_csv(args.csv)
    executors = {kind: cluster.count(kind) for kind in KIND_NAMES}
    summary = {
        "policy": entry.name,
        **executors,
        "cluster": cluster.to_dict(),
        "jobs": len(results),
        "mean_jct": results.mean_jct,
        "mean_jct_by_app": results.mean_jct_by_app(),
        "makespan": max(results.finishes),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        where = cluster.describe() if args.cluster else f"R={executors['regular']} L={executors['llm']}"
        print(f"{entry.name} {where}: {len(results)} jobs, mean JCT {results.mean_jct:.2f} s")
        by_app = summary["mean_jct_by_app"]
        width = max(16, *(len(app) for app in by_app))
        for app, jct in by_app.items():
            print(f"  {app:<{width}} {jct:10.2f} s")
    return 0


def _cluster(args: argparse.Namespace) -> Cluster:
    """The cluster file's, or the paper's cluster of --regular and --llm executors."""
    if args.cluster is None:
        regular, llm = (DEFAULT_EXECUTORS if n is None else n for n in (args.regular, args.llm))
        return Cluster.paper(regular, llm)
    if args.regular is not None or args.llm is not None:
        given = "--regular" if args.regular is not None else "--llm"
        raise ValueError(f"argument --cluster: not allowed with {given} (the cluster file sets every pool)")
    return args.cluster
