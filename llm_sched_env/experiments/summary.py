"""Aggregate cell records across seeds: table rows and paired relative changes between policies."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_sched_env.experiments.stats import Estimate, mean_ci, paired_change


@dataclass(frozen=True)
class Setting:
    """Everything a row's cells share apart from the policy and the seed."""

    num_regular: int
    num_llm: int
    num_jobs: int
    arrival_rate: float
    mix: tuple[float, ...] | None
    cluster: str | None = None  # a cluster cell's cluster, as canonical JSON

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Setting:
        mix = config["mix"]
        cluster = config.get("cluster")
        return cls(
            config["R"],
            config["L"],
            config["num_jobs"],
            config["arrival_rate"],
            None if mix is None else tuple(mix),
            None if cluster is None else json.dumps(cluster, sort_keys=True),
        )

    def label(self) -> str:
        if self.cluster is not None:  # e.g. "regular=10 llm=2cb" (cb: continuous batching)
            return " ".join(
                f"{p['name']}={p['count']}{'cb' if p['executor']['model'] == 'continuous_batching' else ''}"
                for p in json.loads(self.cluster)["pools"]
            )
        if self.num_regular == self.num_llm:
            return f"R=L={self.num_regular}"
        return f"R={self.num_regular} L={self.num_llm}"


@dataclass(frozen=True)
class Row:
    """One policy in one setting: mean JCT over seeds with its 95 % CI."""

    policy: str
    setting: Setting
    jct: Estimate
    seeds: tuple[int, ...]
    per_seed: Mapping[int, float] = field(repr=False)  # seed -> that cell's mean JCT
    p50_jct: float
    p95_jct: float
    makespan: float
    mean_jct_by_app: Mapping[str, float]
    paper: float | None = None

    @property
    def deviation(self) -> float | None:
        """Relative deviation of the mean JCT from the paper's value."""
        return None if self.paper is None else self.jct.value / self.paper - 1.0


@dataclass(frozen=True)
class Change:
    """The relative change of ``treatment``'s mean JCT against ``baseline``'s in one setting.

    ``mean(treatment) / mean(baseline) - 1``: negative when the treatment's JCT is lower.
    """

    treatment: str
    baseline: str
    setting: Setting
    estimate: Estimate  # paired over common seeds
    paper: float | None = None


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values)


def summarize(
    records: Sequence[Mapping[str, Any]],
    paper: Callable[[Mapping[str, Any]], float | None] | None = None,
    level: float = 0.95,
) -> list[Row]:
    """One row per (policy, setting), in order of first appearance in ``records``.

    ``paper(record)``, when given, is the published mean JCT for a record's cell, or None.
    """
    groups: dict[tuple[str, Setting], list[Mapping[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["policy"], Setting.of(record["config"])), []).append(record)
    rows = []
    for (policy, setting), group in groups.items():
        per_seed = {r["config"]["seed"]: r["mean_jct"] for r in group}
        if len(per_seed) != len(group):
            raise ValueError(f"records: several records for one seed of {policy} {setting.label()}")
        apps = {app for r in group for app in r["mean_jct_by_app"]}
        rows.append(
            Row(
                policy=policy,
                setting=setting,
                jct=mean_ci(list(per_seed.values()), level),
                seeds=tuple(per_seed),
                per_seed=per_seed,
                p50_jct=_mean(r["p50_jct"] for r in group),
                p95_jct=_mean(r["p95_jct"] for r in group),
                makespan=_mean(r["makespan"] for r in group),
                mean_jct_by_app={
                    app: _mean(r["mean_jct_by_app"][app] for r in group if app in r["mean_jct_by_app"])
                    for app in sorted(apps)
                },
                paper=None if paper is None else paper(group[0]),
            )
        )
    return rows


def changes(rows: Sequence[Row], treatment: str, level: float = 0.95) -> list[Change]:
    """``treatment``'s relative change against every other policy of the same setting.

    Seeds are paired: only seeds both rows ran are compared (common random numbers).
    """
    by_setting: dict[Setting, dict[str, Row]] = {}
    for row in rows:
        by_setting.setdefault(row.setting, {})[row.policy] = row
    out = []
    for setting, policies in by_setting.items():
        treated = policies.get(treatment)
        if treated is None:
            continue
        for name, base in policies.items():
            seeds = [s for s in base.seeds if s in treated.per_seed]
            if name == treatment or not seeds:
                continue
            estimate = paired_change(
                [base.per_seed[s] for s in seeds], [treated.per_seed[s] for s in seeds], level
            )
            paper = None
            if base.paper is not None and treated.paper is not None:
                paper = treated.paper / base.paper - 1.0
            out.append(Change(treatment, name, setting, estimate, paper))
    return out
