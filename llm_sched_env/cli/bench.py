"""``llm-sched bench``: compare any policies over settings, seeds, job counts, rates and mixes.

Also holds the run-and-report steps ``llm-sched table1`` shares.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from llm_sched_env.cli.options import add_command, cluster_file, int_in, output_file
from llm_sched_env.experiments import (
    BACKENDS,
    Backend,
    CellConfig,
    Grid,
    ResultStore,
    changes,
    comparison_blocks,
    get_policy,
    make_backend,
    policy_keys,
    run_cells,
    summarize,
)
from llm_sched_env.experiments.paper import paper_value
from llm_sched_env.experiments.plots import plot_comparison
from llm_sched_env.experiments.report import format_table, rows_document, write_json
from llm_sched_env.experiments.summary import Setting
from llm_sched_env.extras import require_extra
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE


def add_arrival_rate_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--arrival-rate",
        default=str(DEFAULT_ARRIVAL_RATE),
        help="comma list of Poisson arrival rates in jobs/s; the default is the calibrated rate",
    )


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options of every grid command: outputs, the resumable results file and workers."""
    p.add_argument("--json", metavar="PATH", type=output_file, help='write {"rows": [...]} here')
    p.add_argument(
        "--markdown",
        metavar="PATH",
        type=output_file,
        help="write a Markdown table per rate and mix: a column per setting, its best policy in bold, "
        "every other policy's paired change against it",
    )
    p.add_argument(
        "--plot",
        metavar="PATH",
        type=output_file,
        help="write a PNG: mean JCT bars with CIs, and JCT CDFs (needs the plot extra)",
    )
    p.add_argument(
        "--results",
        metavar="PATH",
        type=output_file,
        help="JSON Lines file of per-cell results; finished cells in it are skipped (resume)",
    )
    add_workers_option(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_cluster_option(p: argparse.ArgumentParser, replaces: str) -> None:
    p.add_argument(
        "--cluster",
        metavar="FILE",
        action="append",
        type=cluster_file,
        help=f"a cluster JSON file of named pools (see README); replaces {replaces}; repeat for several",
    )


def add_workers_option(p: argparse.ArgumentParser) -> None:
    """``--workers`` and where cells run: ``--backend`` and ``--ray-address``."""
    p.add_argument(
        "--workers",
        type=int_in(1),
        default=None,
        help="worker processes, or CPUs of the local Ray instance (when omitted: one per CPU)",
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="run cells in worker processes here, or as Ray tasks (needs the ray extra)",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        default=None,
        help="with --backend ray: the cluster to join (auto: the one started on this node by "
        "`ray start`); when omitted, a local Ray instance is started for the run",
    )


def backend_from_args(args: argparse.Namespace) -> Backend:
    """The backend chosen by ``--backend``, ``--ray-address`` and ``--workers``."""
    return make_backend(args.backend, workers=args.workers, address=args.ray_address)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "bench",
        help="compare policies over a grid of settings and seeds",
        description="Run every combination of policies, RxL settings, seeds (common random numbers), "
        "job counts, arrival rates and mixes; print mean JCT ± 95 % CI per policy and setting, and the "
        "treatment's relative change against each other policy (-20.3 % = 20.3 % lower mean JCT). "
        "Example: llm-sched bench --policies fcfs,ps-tcs --settings 10x10,20x20 --seeds 5",
    )
    p.add_argument(
        "--policies",
        default="fcfs,rs,ps-tcs",
        help=f"comma list of registered policies ({', '.join(policy_keys())}) or agent:PATH",
    )
    p.add_argument(
        "--settings",
        default=None,
        help="comma list of RxL settings of the paper's executors, e.g. 10x10,20x20 (default: 10x10)",
    )
    add_cluster_option(p, "--settings")
    p.add_argument("--seeds", type=int_in(1), default=5, help="number of seeds (0..N-1)")
    p.add_argument("--jobs", default="500", help="comma list of job counts")
    add_arrival_rate_option(p)
    p.add_argument(
        "--mix",
        action="append",
        help="app weights a,b,c in the order task_automation,code_generation,sorting "
        "(when omitted: equal; repeat for several mixes)",
    )
    p.add_argument(
        "--treatment",
        default=None,
        help="policy whose relative change against the others is reported (when omitted: ps-tcs, if run)",
    )
    add_run_options(p)
    p.set_defaults(func=run)


def _split(option: str, text: str, parse: Callable[[str], Any]) -> tuple[Any, ...]:
    try:
        return tuple(parse(part.strip()) for part in text.split(","))
    except ValueError as err:
        raise ValueError(f"{option}: cannot parse {text!r} ({err})") from err


def _setting(text: str) -> tuple[int, int]:
    regular, sep, llm = text.lower().partition("x")
    if not sep:
        raise ValueError(f"expected RxL such as 10x10, got {text!r}")
    return int(regular), int(llm)


def run(args: argparse.Namespace) -> int:
    policies = tuple(get_policy(name).key for name in _split("--policies", args.policies, str))
    mixes = tuple(_split("--mix", mix, float) for mix in args.mix) if args.mix else (None,)
    if args.cluster and args.settings is not None:
        raise ValueError("--cluster: give --settings or --cluster, not both")
    settings = (
        tuple(args.cluster) if args.cluster else _split("--settings", args.settings or "10x10", _setting)
    )
    grid = Grid(
        policies=policies,
        settings=settings,
        seeds=tuple(range(args.seeds)),
        num_jobs=_split("--jobs", args.jobs, int),
        arrival_rates=_split("--arrival-rate", args.arrival_rate, float),
        mixes=mixes,
    )
    if args.treatment is not None:
        treatment = get_policy(args.treatment)
        if treatment.key not in policies:
            raise ValueError(f"--treatment: {args.treatment!r} is not among --policies {args.policies!r}")
    else:
        treatment = get_policy("ps-tcs") if "ps-tcs" in policies else None
    return execute(
        grid.cells(),
        args,
        treatment=None if treatment is None else treatment.name,
        title="llm-sched bench",
    )


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def execute(
    cells: Sequence[CellConfig],
    args: argparse.Namespace,
    *,
    treatment: str | None,
    title: str,
    paper: Callable[[Mapping[str, Any]], float | None] = paper_value,
) -> int:
    """Run ``cells`` (resuming from ``--results``), print the table, write ``--json``/``--plot``.

    The plot's JCT CDFs are those of the first cell's setting.
    """
    if args.plot:
        require_extra("plot", "--plot")
    backend = backend_from_args(args)
    store = ResultStore(args.results) if args.results else ResultStore()
    if store.repaired_bytes:
        print(
            f"{args.results}: removed a partial last record ({store.repaired_bytes} bytes)", file=sys.stderr
        )
    resumed = sum(cell.key in store for cell in cells)
    if resumed:
        print(
            f"{args.results}: {resumed} of {len(cells)} cells already done; running the rest", file=sys.stderr
        )
    start = time.perf_counter()
    try:
        records = run_cells(cells, store, backend=backend, progress=not args.no_progress)
    except KeyboardInterrupt:
        saved = f"; finished cells are in {args.results}, rerun to resume" if args.results else ""
        _note(f"interrupted{saved}")
        return 130
    elapsed = time.perf_counter() - start
    rows = summarize(records, paper)
    found = changes(rows, treatment) if treatment else []
    print(format_table(rows, found, title=title))
    ran = len(cells) - resumed
    print(f"{len(cells)} cells ({ran} run, {resumed} resumed) in {elapsed:.1f} s with {backend.describe()}")
    if args.json:
        write_json(rows_document(rows, found), args.json)
        print(f"wrote {args.json}")
    if args.markdown:
        Path(args.markdown).write_text(comparison_blocks(rows), encoding="utf-8")
        print(f"wrote {args.markdown}")
    if args.plot:
        plot_comparison(rows, records, args.plot, Setting.of(cells[0].to_dict()))
        print(f"wrote {args.plot}")
    return 0
