"""The comparison against each setting's best policy: paired changes, bold best, the --markdown output."""

from __future__ import annotations

import json

import pytest

from llm_sched_env.cli import main
from llm_sched_env.experiments import (
    CellConfig,
    best_policies,
    comparison_blocks,
    paired_change,
    summarize,
    versus_best,
)
from llm_sched_env.experiments.comparison import comparison_markdown
from llm_sched_env.experiments.policies import get_policy


def record(policy: str, r: int, seed: int, mean_jct: float, rate: float = 0.5) -> dict:
    config = CellConfig(policy, r, r, seed, 100, rate).to_dict()
    return {
        "key": f"{policy}{r}{seed}{rate}",
        "config": json.loads(json.dumps(config)),
        "policy": get_policy(policy).name,
        "mean_jct": mean_jct,
        "p50_jct": mean_jct,
        "p95_jct": mean_jct,
        "makespan": mean_jct,
        "mean_jct_by_app": {},
    }


RECORDS = [
    record("fcfs", 10, 0, 900.0),
    record("fcfs", 10, 1, 1000.0),
    record("srpt", 10, 0, 500.0),
    record("srpt", 10, 1, 520.0),
    record("plas", 10, 0, 600.0),
    record("plas", 10, 1, 560.0),
    record("fcfs", 20, 0, 100.0),
    record("fcfs", 20, 1, 110.0),
    record("srpt", 20, 0, 120.0),
    record("srpt", 20, 1, 121.0),
    record("plas", 20, 0, 130.0),
    record("plas", 20, 1, 100.0),
]


def test_each_setting_is_compared_with_its_own_best_policy() -> None:
    rows = summarize(RECORDS)
    assert {s.num_regular: name for s, name in best_policies(rows).items()} == {10: "SRPT", 20: "FCFS"}
    found = {(c.treatment, c.setting.num_regular): c for c in versus_best(rows)}
    assert set(found) == {("FCFS", 10), ("PLAS", 10), ("SRPT", 20), ("PLAS", 20)}
    assert all(c.baseline == ("SRPT" if r == 10 else "FCFS") for (_, r), c in found.items())
    assert found[("PLAS", 10)].estimate == paired_change([500.0, 520.0], [600.0, 560.0])
    assert found[("PLAS", 10)].estimate.value == pytest.approx(1160 / 1020 - 1)


def test_the_markdown_table_bolds_the_best_of_each_column() -> None:
    table = comparison_markdown(summarize(RECORDS))
    lines = table.splitlines()
    assert lines[0] == "| policy | R=L=10 | R=L=20 |"
    ci = 100 * paired_change([500.0, 520.0], [600.0, 560.0]).ci
    assert lines[2].startswith("| FCFS | 950 (+86.3 ± ")
    assert lines[2].endswith("| **105** |")
    assert lines[3].startswith("| SRPT | **510** | 120 (+14.8 ± ")
    assert lines[4].startswith(f"| PLAS | 580 (+13.7 ± {ci:.1f} %) |")


def test_blocks_split_by_rate_and_name_their_setting() -> None:
    text = comparison_blocks(summarize([*RECORDS, record("fcfs", 10, 0, 50.0, rate=0.25)]))
    assert "**100 jobs, Poisson 0.5 jobs/s, mix equal**" in text
    assert "**100 jobs, Poisson 0.25 jobs/s, mix equal**" in text
    assert "| FCFS | **50** |" in text


def test_bench_writes_the_markdown_comparison(tmp_path, capsys) -> None:
    out = tmp_path / "table.md"
    argv = ["bench", "--policies", "fcfs,srpt,llmsched", "--settings", "2x2", "--seeds", "2", "--jobs", "20"]
    assert main([*argv, "--workers", "1", "--no-progress", "--markdown", str(out)]) == 0
    text = out.read_text()
    assert text.count("**") == 4  # the heading and one best cell
    assert "| LLMSched | " in text


def test_table1_takes_more_policies_beside_the_papers(tmp_path) -> None:
    out = tmp_path / "t.json"
    argv = [
        "table1",
        "--policies",
        "fcfs,ps-tcs,paced-srpt",
        "--seeds",
        "2",
        "--jobs",
        "20",
        "--json",
        str(out),
    ]
    assert main([*argv, "--workers", "1", "--no-progress"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["policy"] for r in rows if r["R"] == 10] == ["FCFS", "PS-TCS", "PacedSRPT"]
    ps_tcs = next(r for r in rows if r["policy"] == "PS-TCS" and r["R"] == 10)
    assert set(ps_tcs["change_vs"]) == {"FCFS", "PacedSRPT"}
