"""``llm-sched memory``: peak memory of long fast-path runs, to show it stays flat."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time

from llm_sched_env.baselines import FCFS
from llm_sched_env.cli.bench import _split
from llm_sched_env.cli.options import add_command, int_in
from llm_sched_env.core import Simulator
from llm_sched_env.workloads import Workload


def streaming_run(num_jobs: int, num_executors: int) -> dict[str, float]:
    """One FCFS run that draws jobs lazily; peak resident memory of this process after it."""
    start = time.perf_counter()
    results = Simulator(Workload().jobs(num_jobs, 0), num_executors, num_executors, FCFS()).run()
    return {
        "jobs": len(results),
        "seconds": time.perf_counter() - start,
        "mean_jct": results.mean_jct,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "memory",
        help="peak memory of streaming fast-path runs of growing length",
        description="Run FCFS over each number of jobs of --jobs, each in a fresh process, drawing jobs "
        "lazily and releasing finished ones, and print the peak resident memory of each run: it "
        "should hardly grow with the number of jobs.",
    )
    p.add_argument(
        "--jobs", default="1000,10000,100000", help="comma list of run lengths (each in a fresh process)"
    )
    p.add_argument(
        "--executors",
        type=int_in(1),
        default=40,
        help="R = L; the default load is stable at R = L = 40",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"must be >= 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    lengths = _split("--jobs", args.jobs, _positive)
    context = multiprocessing.get_context("spawn")  # a fresh process per run: clean peak figures
    figures = {}
    with context.Pool(1, maxtasksperchild=1) as pool:
        for n in lengths:
            figures[str(n)] = pool.apply(streaming_run, (n, args.executors))
    if args.json:
        print(json.dumps(figures))
    else:
        for n, f in figures.items():
            print(
                f"{int(n):>8} jobs: peak RSS {f['peak_rss_mb']:7.1f} MB, {f['seconds']:6.1f} s, "
                f"mean JCT {f['mean_jct']:.1f} s"
            )
    return 0
