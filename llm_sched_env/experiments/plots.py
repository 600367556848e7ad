"""The comparison figure: mean JCT bars with CIs and paper marks, and JCT CDFs (needs matplotlib)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from llm_sched_env.experiments.report import MIN_SEEDS_FOR_CI
from llm_sched_env.experiments.summary import Row, Setting


def plot_comparison(
    rows: Sequence[Row],
    records: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    cdf_setting: Setting,
) -> None:
    """Write a PNG: grouped mean-JCT bars per setting with 95 % CIs and the paper's values
    marked (left), and per-policy CDFs of job JCTs pooled over seeds at ``cdf_setting`` (right).

    Error bars are clipped at 0 below; with fewer than ``MIN_SEEDS_FOR_CI`` seeds the title says
    that the intervals are not meaningful.
    """
    from matplotlib.figure import Figure  # optional dependency; Figure needs no pyplot backend

    fig = Figure(figsize=(13, 4.8), layout="constrained")
    bars_ax, cdf_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    settings = list(dict.fromkeys(row.setting for row in rows))
    policies = list(dict.fromkeys(row.policy for row in rows))
    cell = {(row.policy, row.setting): row for row in rows}
    width = 0.8 / len(policies)
    x = np.arange(len(settings))
    paper_labelled = False
    for k, policy in enumerate(policies):
        pos = x - 0.4 + width * (k + 0.5)
        got = [cell.get((policy, s)) for s in settings]
        means = [np.nan if r is None else r.jct.value for r in got]
        errs = [0.0 if r is None or r.jct.ci is None else r.jct.ci for r in got]
        # A JCT is never negative: the drawn bar stops at 0 (the printed CI is the full one).
        below = [min(err, mean) if np.isfinite(mean) else 0.0 for err, mean in zip(errs, means, strict=True)]
        bars_ax.bar(pos, means, width, yerr=[below, errs], capsize=3, label=policy)
        papers = [(p, r.paper) for p, r in zip(pos, got, strict=True) if r and r.paper is not None]
        if papers:
            px, py = zip(*papers, strict=True)
            bars_ax.scatter(
                px,
                py,
                marker="_",
                s=300,
                linewidths=2.5,
                color="black",
                zorder=3,
                label=None if paper_labelled else "paper Table I",
            )
            paper_labelled = True
    bars_ax.set_xticks(x, [s.label() for s in settings])
    bars_ax.set_ylabel("mean JCT (s), 95 % CI over seeds")
    fewest = min(row.jct.n for row in rows)
    few = f"\n(only {fewest} seed{'s' * (fewest > 1)}: no meaningful CI)" if fewest < MIN_SEEDS_FOR_CI else ""
    bars_ax.set_title("Mean job completion time" + few)
    bars_ax.legend()

    for policy in policies:
        chunks = [
            r["jcts"] for r in records if r["policy"] == policy and Setting.of(r["config"]) == cdf_setting
        ]
        if chunks:
            jcts = np.sort(np.concatenate(chunks))
            cdf_ax.step(jcts, np.arange(1, jcts.size + 1) / jcts.size, where="post", label=policy)
    cdf_ax.set_xscale("log")
    cdf_ax.set_xlabel("JCT (s)")
    cdf_ax.set_ylabel("fraction of jobs")
    cdf_ax.set_title(f"JCT CDF at {cdf_setting.label()} (all seeds)")
    cdf_ax.grid(alpha=0.3)
    cdf_ax.legend()
    fig.savefig(path, dpi=120)
