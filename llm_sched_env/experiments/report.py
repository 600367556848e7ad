"""Present summarised results: a text table and the JSON rows document."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_sched_env.experiments.summary import Reduction, Row, Setting


def _mix_text(mix: tuple[float, ...] | None) -> str:
    return "equal" if mix is None else ":".join(f"{w:g}" for w in mix)


def rows_document(rows: Sequence[Row], reds: Sequence[Reduction] = ()) -> dict[str, Any]:
    """``{"rows": [...]}``: one object per row; a treatment's row lists its reductions."""
    by_row: dict[tuple[str, Setting], dict[str, Any]] = {}
    for red in reds:
        by_row.setdefault((red.treatment, red.setting), {})[red.baseline] = {
            "value": red.estimate.value,
            "ci95": red.estimate.ci,
            "seeds": red.estimate.n,
            "paper": red.paper,
        }
    out = []
    for row in rows:
        s = row.setting
        item: dict[str, Any] = {
            "policy": row.policy,
            "R": s.num_regular,
            "L": s.num_llm,
            "mean_jct": row.jct.value,
            "ci95": row.jct.ci,
            "seeds": row.jct.n,
            "paper": row.paper,
            "deviation_from_paper": row.deviation,
            "num_jobs": s.num_jobs,
            "arrival_rate": s.arrival_rate,
            "mix": None if s.mix is None else list(s.mix),
            "p50_jct": row.p50_jct,
            "p95_jct": row.p95_jct,
            "makespan": row.makespan,
            "mean_jct_by_app": dict(row.mean_jct_by_app),
        }
        if (row.policy, s) in by_row:
            item["reduction_vs"] = by_row[(row.policy, s)]
        out.append(item)
    return {"rows": out}


def write_json(document: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``document`` to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _varying_labels(settings: Sequence[Setting]) -> dict[Setting, str]:
    """A label per setting naming only the fields that differ between settings."""
    vary_jobs = len({s.num_jobs for s in settings}) > 1
    vary_rate = len({s.arrival_rate for s in settings}) > 1
    vary_mix = len({s.mix for s in settings}) > 1
    labels = {}
    for s in settings:
        parts = [s.label()]
        if vary_jobs:
            parts.append(f"jobs={s.num_jobs}")
        if vary_rate:
            parts.append(f"rate={s.arrival_rate:g}")
        if vary_mix:
            parts.append(f"mix={_mix_text(s.mix)}")
        labels[s] = " ".join(parts)
    return labels


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f}%"


def format_table(rows: Sequence[Row], reds: Sequence[Reduction] = (), title: str = "") -> str:
    """A text table: mean JCT ± 95 % CI per policy and setting, beside the paper's value.

    Under each setting, the treatment's reductions against the other policies follow.
    """
    settings = list(dict.fromkeys(row.setting for row in rows))
    labels = _varying_labels(settings)
    common = []
    for name, values in (
        ("jobs", {s.num_jobs for s in settings}),
        ("Poisson rate", {f"{s.arrival_rate:g}/s" for s in settings}),
        ("mix", {_mix_text(s.mix) for s in settings}),
    ):
        if len(values) == 1:
            common.append(f"{name} {values.pop()}")
    seeds = sorted({row.jct.n for row in rows})
    lines = [title] if title else []
    lines.append("; ".join([f"mean JCT (s) ± 95% CI over {'/'.join(map(str, seeds))} seeds", *common]))
    width = max(len("setting"), *(len(label) for label in labels.values()))
    header = f"{'setting':<{width}}  {'policy':<10} {'mean JCT':>9} {'± CI':>8} {'paper':>7} {'vs paper':>9}"
    lines += [header, "-" * len(header)]
    for setting in settings:
        first = True
        for row in (r for r in rows if r.setting == setting):
            ci = "" if row.jct.ci is None else f"± {row.jct.ci:.1f}"
            paper = "" if row.paper is None else f"{row.paper:g}"
            lines.append(
                f"{labels[setting] if first else '':<{width}}  {row.policy:<10} {row.jct.value:>9.1f} "
                f"{ci:>8} {paper:>7} {_pct(row.deviation):>9}"
            )
            first = False
        for red in (r for r in reds if r.setting == setting):
            ci = "" if red.estimate.ci is None else f" ± {100 * red.estimate.ci:.1f}"
            paper = "" if red.paper is None else f" (paper {100 * red.paper:.1f})"
            lines.append(
                f"{'':<{width}}  {red.treatment} reduction vs {red.baseline}: "
                f"{100 * red.estimate.value:.1f}{ci} %{paper}"
            )
    return "\n".join(lines)
