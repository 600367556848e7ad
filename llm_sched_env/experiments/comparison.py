"""Compare every policy with the best one of each setting: paired changes and a Markdown table."""

from __future__ import annotations

from collections.abc import Sequence

from llm_sched_env.experiments.report import mix_text
from llm_sched_env.experiments.summary import Change, Row, Setting, changes


def best_policies(rows: Sequence[Row]) -> dict[Setting, str]:
    """The policy with the lowest mean JCT in each setting (first listed on a tie)."""
    best: dict[Setting, Row] = {}
    for row in rows:
        if row.setting not in best or row.jct.value < best[row.setting].jct.value:
            best[row.setting] = row
    return {setting: row.policy for setting, row in best.items()}


def versus_best(rows: Sequence[Row], level: float = 0.95) -> list[Change]:
    """Each policy's paired relative change against its setting's best policy.

    ``treatment`` is the policy, ``baseline`` the best: +8.0 % means an 8.0 % higher mean JCT
    than the best policy's, on the seeds both ran.
    """
    best = best_policies(rows)
    out = []
    for policy in dict.fromkeys(row.policy for row in rows):
        out += [c for c in changes(rows, policy, level) if c.baseline == best[c.setting]]
    return out


def _column_label(setting: Setting, varying: set[str]) -> str:
    parts = [setting.label()]
    if "jobs" in varying:
        parts.append(f"{setting.num_jobs} jobs")
    if "rate" in varying:
        parts.append(f"{setting.arrival_rate:g}/s")
    if "mix" in varying:
        parts.append(f"mix {mix_text(setting.mix)}")
    return ", ".join(parts)


def comparison_markdown(rows: Sequence[Row], level: float = 0.95) -> str:
    """A Markdown table: a row per policy, a column per setting, the best mean JCT of each column in bold.

    Other cells give the mean JCT and, in brackets, the paired relative change against the
    column's best policy with its CI half-width (``+8.0 ± 3.1 %``: 8.0 % higher mean JCT).
    """
    settings = list(dict.fromkeys(row.setting for row in rows))
    varying = {
        name
        for name, values in (
            ("jobs", {s.num_jobs for s in settings}),
            ("rate", {s.arrival_rate for s in settings}),
            ("mix", {s.mix for s in settings}),
        )
        if len(values) > 1
    }
    best = best_policies(rows)
    found = {(c.treatment, c.setting): c.estimate for c in versus_best(rows, level)}
    by_cell = {(row.policy, row.setting): row for row in rows}
    lines = [
        "| policy | " + " | ".join(_column_label(s, varying) for s in settings) + " |",
        "|---|" + "---|" * len(settings),
    ]
    for policy in dict.fromkeys(row.policy for row in rows):
        cells = []
        for setting in settings:
            row = by_cell.get((policy, setting))
            if row is None:
                cells.append("")
            elif best[setting] == policy:
                cells.append(f"**{row.jct.value:.0f}**")
            else:
                change = found.get((policy, setting))
                ci = "" if change is None or change.ci is None else f" ± {100 * change.ci:.1f}"
                cells.append(
                    f"{row.jct.value:.0f}" + ("" if change is None else f" ({100 * change.value:+.1f}{ci} %)")
                )
        lines.append(f"| {policy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_blocks(rows: Sequence[Row], level: float = 0.95) -> str:
    """:func:`comparison_markdown` per job count, arrival rate and mix, each under a heading line."""
    groups: dict[tuple[int, float, tuple[float, ...] | None], list[Row]] = {}
    for row in rows:
        s = row.setting
        groups.setdefault((s.num_jobs, s.arrival_rate, s.mix), []).append(row)
    blocks = []
    for (jobs, rate, mix), group in groups.items():
        seeds = sorted({row.jct.n for row in group})
        blocks.append(
            f"**{jobs} jobs, Poisson {rate:g} jobs/s, mix {mix_text(mix)}** "
            f"(mean JCT in s over {'/'.join(map(str, seeds))} seeds; change vs the column's best, paired, "
            f"95 % CI)\n\n{comparison_markdown(group, level)}"
        )
    return "\n\n".join(blocks) + "\n"
