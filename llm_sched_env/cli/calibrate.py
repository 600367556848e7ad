"""``llm-sched calibrate``: fit the arrival rate to the paper's Table I and show how."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from llm_sched_env.cli.bench import add_workers_option, backend_from_args
from llm_sched_env.cli.options import add_command, int_in
from llm_sched_env.experiments.calibration import CALIBRATION_SEEDS, DEFAULT_RATES, fit_arrival_rate
from llm_sched_env.experiments.paper import PAPER_SETTINGS, PAPER_TABLE1
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE, paper_apps


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "calibrate",
        help="fit the arrival rate to the paper's Table I (prints the whole search)",
        description="Run the paper's grid (FCFS, RS, PS-TCS at R=L in 10..40, 500 jobs) at every "
        f"candidate arrival rate {DEFAULT_RATES[0]}..{DEFAULT_RATES[-1]}/s on calibration seeds counted "
        "from 100 (never used by `llm-sched table1`), print mean JCT per rate and cell beside the "
        "paper, and pick the rate minimising the largest relative deviation over the 12 cells. "
        "The full search (11 rates x 20 seeds x 12 cells) takes about 4 minutes on 2 cores.",
    )
    p.add_argument("--seeds", type=int_in(1), default=len(CALIBRATION_SEEDS), help="calibration seeds")
    add_workers_option(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seeds = range(CALIBRATION_SEEDS[0], CALIBRATION_SEEDS[0] + args.seeds)
    backend = backend_from_args(args)
    fits = fit_arrival_rate(DEFAULT_RATES, seeds, backend=backend, progress=not args.no_progress)
    best = min(fits, key=lambda f: f.worst)
    settings = [r for r, _ in PAPER_SETTINGS]
    policies = list(PAPER_TABLE1)
    print("Arrival rate fitted to the paper's Table I: the rate minimising the largest relative")
    print(f"deviation over all 12 cells; 500 jobs, equal mix, seeds {seeds.start}..{seeds.stop - 1}.")
    header = "  ".join(f"{p[:4] + str(r):>7}" for p in policies for r in settings)
    print(f"rate/s  {header}  worst   (mean JCT in s; PS-T = PS-TCS)")
    paper = "  ".join(f"{PAPER_TABLE1[p][r]:7.0f}" for p in policies for r in settings)
    print(f"paper   {paper}")
    for fit in fits:
        cells = "  ".join(f"{fit.jct[(p, r)]:7.1f}" for p in policies for r in settings)
        mark = "  <- best" if fit is best else ""
        print(f"{fit.rate:5.2f}   {cells}  {fit.worst:5.1%}{mark}")
    print(f"\nbest rate {best.rate:.2f}/s (worst deviation {best.worst:.1%}).")
    if abs(best.rate - DEFAULT_ARRIVAL_RATE) > 1e-9:
        print(f"note: the package default is {DEFAULT_ARRIVAL_RATE}/s; set DEFAULT_ARRIVAL_RATE to the fit.")
    print("\nOther open constants (chosen once by a search against the whole table; see README):")
    for app in paper_apps():
        print(f"  {app.name}: {asdict(app)}")
    return 0
