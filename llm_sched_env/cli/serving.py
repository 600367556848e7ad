"""``llm-sched serving``: the paper's policies on continuous-batching LLM replicas."""

from __future__ import annotations

import argparse

from llm_sched_env.cli.bench import add_run_options, execute
from llm_sched_env.cli.options import add_command, int_in
from llm_sched_env.experiments.paper import PAPER_NUM_JOBS
from llm_sched_env.experiments.serving import SERVING_REGULAR, SERVING_REPLICAS, serving_grid


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "serving",
        help="FCFS / RS / PS-TCS when the LLM executors are vLLM-style batching replicas",
        description="The paper's workload (500 jobs, equal mix, the calibrated arrival rate) on "
        f"{'/'.join(map(str, SERVING_REGULAR))} regular executors and "
        f"{'/'.join(map(str, SERVING_REPLICAS))} continuous-batching Llama-2-7B replicas (one A100-80GB "
        "each, vLLM semantics); print mean JCT ± 95 % CI and PS-TCS's relative change against FCFS "
        "and RS. Example: llm-sched serving --seeds 10 --json serving.json --plot serving.png",
    )
    p.add_argument("--seeds", type=int_in(1), default=10, help="number of seeds (0..N-1)")
    p.add_argument(
        "--jobs", type=int_in(1), default=PAPER_NUM_JOBS, help=argparse.SUPPRESS
    )  # small test runs
    add_run_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return execute(
        serving_grid(args.seeds, args.jobs).cells(),
        args,
        treatment="PS-TCS",
        title="Serving: the paper's workload on continuous-batching LLM replicas (cb)",
    )
