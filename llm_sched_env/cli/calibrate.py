"""``llm-sched calibrate``: fit the arrival rate to the paper's FCFS column and show how."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from llm_sched_env.experiments.calibration import CALIBRATION_SEEDS, DEFAULT_RATES, fit_arrival_rate
from llm_sched_env.experiments.paper import PAPER_SETTINGS, PAPER_TABLE1
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE, paper_apps


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate", help="fit the arrival rate to the paper's FCFS column (prints the whole search)"
    )
    p.add_argument("--seeds", type=int, default=len(CALIBRATION_SEEDS), help="calibration seeds (from 100)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    seeds = range(CALIBRATION_SEEDS[0], CALIBRATION_SEEDS[0] + args.seeds)
    fits = fit_arrival_rate(DEFAULT_RATES, seeds, args.workers, progress=not args.no_progress)
    best = min(fits, key=lambda f: f.worst)
    settings = [r for r, _ in PAPER_SETTINGS]
    print("Arrival rate fitted to the paper's FCFS column (Table I): minimise the largest")
    print(
        f"relative deviation over R=L in {settings}; FCFS, 500 jobs, seeds {seeds.start}..{seeds.stop - 1}."
    )
    print("rate/s  " + "  ".join(f"R=L={r:<3}" for r in settings) + "  worst")
    paper = "  ".join(f"{PAPER_TABLE1['FCFS'][r]:7.0f}" for r in settings)
    print(f"paper   {paper}")
    for fit in fits:
        cells = "  ".join(f"{fit.fcfs[r]:7.1f}" for r in settings)
        mark = "  <- best" if fit is best else ""
        print(f"{fit.rate:5.2f}   {cells}  {fit.worst:5.1%}{mark}")
    print(f"\nbest rate {best.rate:.2f}/s (worst FCFS deviation {best.worst:.1%}).")
    if abs(best.rate - DEFAULT_ARRIVAL_RATE) > 1e-9:
        print(f"note: the package default is {DEFAULT_ARRIVAL_RATE}/s; set DEFAULT_ARRIVAL_RATE to the fit.")
    print("\nOther open constants (set by a one-off search against the whole table; see README):")
    for app in paper_apps():
        print(f"  {app.name}: {asdict(app)}")
    return 0
