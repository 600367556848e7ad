"""Present summarised results: a text table and the JSON rows document."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llm_sched_env.experiments.stats import t_quantile
from llm_sched_env.experiments.summary import Change, Row, Setting

MIN_SEEDS_FOR_CI = 5  # fewer seeds: the t quantile alone makes a 95 % CI too wide to read


def mix_text(mix: tuple[float, ...] | None) -> str:
    """A mix as text: ``equal`` or its weights, e.g. ``2:1:1``."""
    return "equal" if mix is None else ":".join(f"{w:g}" for w in mix)


def rows_document(rows: Sequence[Row], changes: Sequence[Change] = ()) -> dict[str, Any]:
    """``{"rows": [...]}``: one object per row; a treatment's row lists its relative changes.

    ``change_vs[baseline]["value"]`` is ``mean(treatment) / mean(baseline) - 1`` (negative:
    lower JCT), with its 95 % CI half-width and the paper's change where it has one.
    """
    by_row: dict[tuple[str, Setting], dict[str, Any]] = {}
    for change in changes:
        by_row.setdefault((change.treatment, change.setting), {})[change.baseline] = {
            "value": change.estimate.value,
            "ci95": change.estimate.ci,
            "seeds": change.estimate.n,
            "paper": change.paper,
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
            item["change_vs"] = by_row[(row.policy, s)]
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
            parts.append(f"mix={mix_text(s.mix)}")
        labels[s] = " ".join(parts)
    return labels


def _pct(value: float | None) -> str:
    """A relative change as a signed percentage, e.g. ``-20.3 %`` (empty for None)."""
    return "" if value is None else f"{100 * value:+.1f} %"


def ci_notes(rows: Sequence[Row]) -> list[str]:
    """Warnings for rows whose confidence intervals say little: too few seeds, or wider than the mean."""
    if not rows:
        return []
    fewest = min(row.jct.n for row in rows)
    if fewest < 2:
        return [f"note: 1 seed gives no confidence interval; run {MIN_SEEDS_FOR_CI} or more seeds"]
    notes = []
    if fewest < MIN_SEEDS_FOR_CI:
        t = t_quantile(0.975, fewest - 1)
        notes.append(
            f"note: {fewest} seeds are too few for a meaningful 95 % CI (± {t:.1f} standard errors "
            f"with {fewest - 1} degree{'s' if fewest > 2 else ''} of freedom); run {MIN_SEEDS_FOR_CI} or "
            "more seeds"
        )
    wide = [row for row in rows if row.jct.ci is not None and row.jct.ci > row.jct.value]
    if wide:
        names = ", ".join(f"{row.policy} {row.setting.label()}" for row in wide)
        notes.append(f"note: the CI is wider than the mean for {names}; run more seeds")
    return notes


def format_table(rows: Sequence[Row], changes: Sequence[Change] = (), title: str = "") -> str:
    """A text table: mean JCT ± 95 % CI per policy and setting, beside the paper's value.

    Under each setting, the treatment's relative changes against the other policies follow
    (``-20.3 %``: the treatment's mean JCT is 20.3 % lower). Columns fit their widest
    entry; notes at the end say when the CIs rest on too few seeds.
    """
    settings = list(dict.fromkeys(row.setting for row in rows))
    labels = _varying_labels(settings)
    common = []
    for name, values in (
        ("jobs", {s.num_jobs for s in settings}),
        ("Poisson rate", {f"{s.arrival_rate:g}/s" for s in settings}),
        ("mix", {mix_text(s.mix) for s in settings}),
    ):
        if len(values) == 1:
            common.append(f"{name} {values.pop()}")
    seeds = sorted({row.jct.n for row in rows})
    lines = [title] if title else []
    lines.append("; ".join([f"mean JCT (s) ± 95 % CI over {'/'.join(map(str, seeds))} seeds", *common]))
    header = ("setting", "policy", "mean JCT", "± CI", "paper", "vs paper")
    body: list[tuple[str, ...] | str] = []  # table rows, or the text of a change line
    for setting in settings:
        first = True
        for row in (r for r in rows if r.setting == setting):
            body.append(
                (
                    labels[setting] if first else "",
                    row.policy,
                    f"{row.jct.value:.1f}",
                    "" if row.jct.ci is None else f"± {row.jct.ci:.1f}",
                    "" if row.paper is None else f"{row.paper:g}",
                    _pct(row.deviation),
                )
            )
            first = False
        for change in (c for c in changes if c.setting == setting):
            ci = "" if change.estimate.ci is None else f" ± {100 * change.estimate.ci:.1f}"
            paper = "" if change.paper is None else f" (paper {_pct(change.paper)})"
            body.append(
                f"{change.treatment} vs {change.baseline}: {100 * change.estimate.value:+.1f}{ci} %{paper}"
            )
    cells = [header, *(item for item in body if isinstance(item, tuple))]
    widths = [max(len(cell[k]) for cell in cells) for k in range(len(header))]

    def join(cell: tuple[str, ...]) -> str:
        left = [f"{text:<{w}}" for text, w in zip(cell[:2], widths, strict=False)]
        right = [f"{text:>{w}}" for text, w in zip(cell[2:], widths[2:], strict=True)]
        return "  ".join(left + right).rstrip()

    head = join(header)
    lines += [head, "-" * len(head)]
    indent = " " * (widths[0] + 2)
    lines += [join(item) if isinstance(item, tuple) else indent + item for item in body]
    lines += ci_notes(rows)
    return "\n".join(lines)
