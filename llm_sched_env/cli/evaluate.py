"""``llm-sched evaluate``: a trained agent beside every heuristic baseline on held-out seeds."""

from __future__ import annotations

import argparse

from llm_sched_env.agents.seeds import VALIDATION_SEED_START
from llm_sched_env.cli.bench import _setting, _split, add_arrival_rate_option, add_run_options, execute
from llm_sched_env.cli.options import add_command, int_in
from llm_sched_env.experiments import Grid, get_policy, policy_keys
from llm_sched_env.experiments.paper import PAPER_NUM_JOBS

EXAMPLE_MODEL = "agents/models/dagger_ppo_gnn.zip"  # the shipped model, relative to the repository


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "evaluate",
        help="evaluate a trained agent beside the heuristic baselines on held-out seeds",
        description="Run the agent of --model and the baselines on workload seeds 0..N-1, which "
        "training never uses (training draws seeds >= 10000, validation 1000..9999), with common random "
        "numbers; print mean JCT ± 95 % CI and the agent's paired relative change against each "
        "baseline (-20.3 % = 20.3 % lower mean JCT), in the row format of `llm-sched table1`. The same "
        "agent can join `llm-sched bench` as --policies agent:PATH. Needs the rl extra. "
        f"Example: llm-sched evaluate --model {EXAMPLE_MODEL} --settings 10x10,20x20 --json eval.json",
    )
    p.add_argument("--model", required=True, metavar="PATH", help="model zip written by `llm-sched train`")
    p.add_argument(
        "--seeds", type=int_in(1, VALIDATION_SEED_START), default=5, help="number of held-out seeds (0..N-1)"
    )
    p.add_argument("--settings", default="10x10", help="comma list of RxL settings")
    p.add_argument("--jobs", type=int_in(1), default=PAPER_NUM_JOBS, help="jobs per episode")
    p.add_argument(
        "--baselines",
        default=None,
        help=f"comma list of policies to compare with (when omitted: all of {', '.join(policy_keys())})",
    )
    add_arrival_rate_option(p)
    add_run_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    agent = get_policy(f"agent:{args.model}")
    names = ",".join(policy_keys()) if args.baselines is None else args.baselines
    baselines = tuple(get_policy(name).key for name in _split("--baselines", names, str))
    grid = Grid(
        policies=(*baselines, agent.key),
        settings=_split("--settings", args.settings, _setting),
        seeds=tuple(range(args.seeds)),
        num_jobs=(args.jobs,),
        arrival_rates=_split("--arrival-rate", args.arrival_rate, float),
    )
    return execute(
        grid.cells(),
        args,
        treatment=agent.name,
        title=f"llm-sched evaluate: {agent.name} ({args.model}) on held-out seeds 0..{args.seeds - 1}",
    )
