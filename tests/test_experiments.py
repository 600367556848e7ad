"""The experiment runner, its result store, statistics and the table1 / bench commands."""

from __future__ import annotations

import json
import math

import pytest

import llm_sched_env
from llm_sched_env.cli import main
from llm_sched_env.core import Simulator
from llm_sched_env.experiments import (
    CellConfig,
    Grid,
    ResultStore,
    changes,
    mean_ci,
    paired_change,
    run_cell,
    run_cells,
    summarize,
    t_quantile,
)
from llm_sched_env.experiments import backends as backends_module
from llm_sched_env.experiments import policies as policy_registry
from llm_sched_env.experiments.paper import PAPER_TABLE1, paper_value
from llm_sched_env.experiments.policies import PolicyEntry, get_policy
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE, Sorting, paper_apps

SMALL = Grid(policies=("fcfs", "rs", "ps-tcs"), settings=((2, 2), (3, 2)), seeds=(0, 1), num_jobs=(30,))


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the key of every cell the runner actually simulates (in-process runs)."""
    ran: list[str] = []

    def counting_run_cell(config: CellConfig, entry: PolicyEntry) -> dict:
        ran.append(config.key)
        return run_cell(config, entry)

    monkeypatch.setattr(backends_module, "run_cell", counting_run_cell)
    return ran


def _lines(path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


# --------------------------------------------------------------------------- statistics
@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [(0.975, 1, 12.706204736), (0.975, 4, 2.776445105), (0.975, 30, 2.042272456), (0.995, 9, 3.249835542)],
)
def test_t_quantile_matches_published_tables(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-8)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-8)


def test_mean_ci_hand_computed() -> None:
    # mean 14, sample sd sqrt(10); half-width t(0.975, 4) * sqrt(10) / sqrt(5) = 2.776445105 * sqrt(2)
    est = mean_ci([10, 12, 14, 16, 18])
    assert est.value == 14
    assert est.ci == pytest.approx(3.926486, abs=1e-6)
    assert est.n == 5
    assert mean_ci([7.0]).ci is None


def test_paired_change_hand_computed() -> None:
    # ratio q = 170 / 300; residuals t - q*b = -20/3, +20/3; sd = 20*sqrt(2)/3;
    # se = sd / (sqrt(2) * 150) = 2/45; half-width = t(0.975, 1) * 2/45.
    est = paired_change([100, 200], [50, 120])
    assert est.value == pytest.approx(170 / 300 - 1)
    assert est.ci == pytest.approx(12.706204736 * 2 / 45, rel=1e-8)
    # The same relative change on every seed: no uncertainty left. Lower JCT: negative.
    exact = paired_change([100, 300, 500], [53, 159, 265])
    assert exact.value == pytest.approx(-0.47)
    assert exact.ci == pytest.approx(0.0, abs=1e-12)


def test_statistics_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="treatment"):
        paired_change([1, 2], [1])
    with pytest.raises(ValueError, match="values"):
        mean_ci([])
    with pytest.raises(ValueError, match="df"):
        t_quantile(0.975, 0)


# --------------------------------------------------------------------------- cells
def test_cell_key_covers_the_full_config() -> None:
    base = CellConfig("fcfs", 10, 10, 0, 30, 0.9)
    assert base.key == CellConfig("FCFS", 10, 10, 0, 30, 0.9).key
    variants = [
        CellConfig("rs", 10, 10, 0, 30, 0.9),
        CellConfig("fcfs", 11, 10, 0, 30, 0.9),
        CellConfig("fcfs", 10, 11, 0, 30, 0.9),
        CellConfig("fcfs", 10, 10, 1, 30, 0.9),
        CellConfig("fcfs", 10, 10, 0, 31, 0.9),
        CellConfig("fcfs", 10, 10, 0, 30, 0.8),
        CellConfig("fcfs", 10, 10, 0, 30, 0.9, mix=(1, 1, 2)),
        CellConfig("fcfs", 10, 10, 0, 30, 0.9, apps=(*paper_apps()[:2], Sorting(tokens_per_sample=123.0))),
    ]
    assert len({base.key, *(v.key for v in variants)}) == 1 + len(variants)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"policy": "nope"}, "policy"),
        ({"num_regular": 0}, "num_regular"),
        ({"num_llm": 1.5}, "num_llm"),
        ({"seed": -1}, "seed"),
        ({"num_jobs": 0}, "num_jobs"),
        ({"arrival_rate": 0.0}, "arrival_rate"),
        ({"mix": (1.0, 1.0)}, "mix"),
    ],
)
def test_cell_config_errors_name_the_field(kwargs: dict, field: str) -> None:
    config = {"policy": "fcfs", "num_regular": 2, "num_llm": 2, "seed": 0, "num_jobs": 5, "arrival_rate": 1.0}
    with pytest.raises(ValueError, match=field):
        CellConfig(**{**config, **kwargs})


def test_record_is_stamped_with_config_and_version() -> None:
    cell = CellConfig("rs", 2, 2, 3, 30, DEFAULT_ARRIVAL_RATE)
    record = run_cell(cell, get_policy("rs"))
    assert record["key"] == cell.key
    assert record["version"] == llm_sched_env.__version__
    assert record["config"] == json.loads(json.dumps(cell.to_dict()))
    assert [app["constants"]["name"] for app in record["config"]["apps"]] == [a.name for a in paper_apps()]
    assert record["policy"] == "RS"
    assert len(record["jcts"]) == 30
    assert record["mean_jct"] == pytest.approx(sum(record["jcts"]) / 30)
    assert record["p50_jct"] <= record["p95_jct"] <= max(record["jcts"])
    assert record["makespan"] >= max(record["jcts"])


def test_common_random_numbers_and_separate_policy_stream() -> None:
    """Every policy sees the same jobs per seed; RS's randomness does not shift the workload."""
    cells = [CellConfig(p, 2, 2, 5, 30, DEFAULT_ARRIVAL_RATE) for p in ("fcfs", "rs", "ps-tcs")]
    jobs = [list(c.workload().jobs(c.num_jobs, c.seed)) for c in cells]
    assert jobs[0] == jobs[1] == jobs[2]
    assert cells[1].policy_seed() != [cells[1].seed]


def test_cell_is_deterministic_across_runs_and_worker_counts(tmp_path) -> None:
    one = run_cells(SMALL.cells(), ResultStore(tmp_path / "a.jsonl"), workers=1)
    two = run_cells(SMALL.cells(), ResultStore(tmp_path / "b.jsonl"), workers=2)
    again = run_cells(SMALL.cells(), workers=1)
    for a, b, c in zip(one, two, again, strict=True):
        assert a["key"] == b["key"] == c["key"]
        assert a["mean_jct"] == b["mean_jct"] == c["mean_jct"]
        assert a["jcts"] == b["jcts"] == c["jcts"]
    # Seeds matter, policies differ only through scheduling.
    assert len({r["mean_jct"] for r in one if r["policy"] == "FCFS"}) == 4


def test_episode_policy_runs_like_the_same_fast_path_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    class EpisodeFCFS:
        def run_episode(self, jobs, num_regular, num_llm):
            return Simulator(jobs, num_regular, num_llm, get_policy("fcfs").factory(None)).run()

    monkeypatch.setitem(
        policy_registry._REGISTRY,
        "episode-fcfs",
        PolicyEntry("episode-fcfs", "EpFCFS", lambda s: EpisodeFCFS()),
    )
    fast, episode = run_cells([CellConfig(p, 2, 2, 0, 30, 1.0) for p in ("fcfs", "episode-fcfs")], workers=1)
    assert episode["policy"] == "EpFCFS"
    assert episode["jcts"] == fast["jcts"]


# --------------------------------------------------------------------------- store and resume
def test_resume_after_interruption_runs_only_missing_cells(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.jsonl"
    cells = SMALL.cells()
    run_cells(cells[:5], ResultStore(path), workers=1)
    # An interrupted append: the start of a record with no end.
    full = path.read_text()
    last = full.splitlines()[-1]
    path.write_text(full + last[: len(last) // 2])

    store = ResultStore(path)
    assert store.repaired_bytes == len(last) // 2
    assert len(store) == 5
    assert path.read_text() == full

    ran = _count_runs(monkeypatch)
    records = run_cells(cells, store, workers=1)
    assert sorted(ran) == sorted(c.key for c in cells[5:])
    assert [r["key"] for r in records] == [c.key for c in cells]
    assert sorted(r["key"] for r in _lines(path)) == sorted(c.key for c in cells)

    ran.clear()
    run_cells(cells, ResultStore(path), workers=2)
    assert ran == []


def test_unparseable_last_line_is_dropped_and_rewritten(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    cells = SMALL.cells()[:2]
    run_cells(cells[:1], ResultStore(path), workers=1)
    good = path.read_text()
    path.write_text(good + '{"key": "abc", "conf\n')
    store = ResultStore(path)
    assert list(store.records) == [cells[0].key]
    run_cells(cells, store, workers=1)
    assert [r["key"] for r in _lines(path)] == [c.key for c in cells]


def test_corrupt_record_in_the_middle_names_the_line(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    run_cells(SMALL.cells()[:2], ResultStore(path), workers=1)
    first, second = path.read_text().splitlines()
    path.write_text(f"{first}\nnot json\n{second}\n")
    with pytest.raises(ValueError, match=r"results\.jsonl:2"):
        ResultStore(path)


def test_pool_writes_every_record_as_it_finishes(tmp_path) -> None:
    path = tmp_path / "results.jsonl"
    records = run_cells(SMALL.cells(), ResultStore(path), workers=2)
    assert {r["key"] for r in _lines(path)} == {r["key"] for r in records}
    with pytest.raises(ValueError, match="workers"):
        run_cells(SMALL.cells(), workers=0)


def test_failing_cell_names_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(seed):
        raise RuntimeError("boom")

    monkeypatch.setitem(policy_registry._REGISTRY, "broken", PolicyEntry("broken", "Broken", broken))
    with pytest.raises(backends_module.CellError, match=r"broken R=2 L=2 seed=0 .*boom"):
        run_cells([CellConfig("broken", 2, 2, 0, 5, 1.0)], workers=1)


# --------------------------------------------------------------------------- summaries
def _record(policy: str, r: int, seed: int, mean_jct: float, num_jobs: int = 500) -> dict:
    config = CellConfig(policy, r, r, seed, num_jobs, DEFAULT_ARRIVAL_RATE).to_dict()
    return {
        "key": f"{policy}{r}{seed}",
        "config": json.loads(json.dumps(config)),
        "policy": get_policy(policy).name,
        "mean_jct": mean_jct,
        "p50_jct": mean_jct,
        "p95_jct": 2 * mean_jct,
        "makespan": 10 * mean_jct,
        "mean_jct_by_app": {"sorting": mean_jct},
    }


def test_ps_tcs_change_per_setting() -> None:
    records = [
        _record("fcfs", 10, 0, 900.0),
        _record("fcfs", 10, 1, 1000.0),
        _record("rs", 10, 0, 800.0),
        _record("rs", 10, 1, 700.0),
        _record("ps-tcs", 10, 0, 500.0),
        _record("ps-tcs", 10, 1, 450.0),
        _record("ps-tcs", 10, 2, 1.0),  # no FCFS/RS partner: not paired
    ]
    rows = summarize(records, paper_value)
    assert [(row.policy, row.seeds) for row in rows] == [
        ("FCFS", (0, 1)),
        ("RS", (0, 1)),
        ("PS-TCS", (0, 1, 2)),
    ]
    assert [row.paper for row in rows] == [893, 812, 474]
    assert rows[0].deviation == pytest.approx(950 / 893 - 1)
    found = {change.baseline: change for change in changes(rows, "PS-TCS")}
    assert set(found) == {"FCFS", "RS"}
    assert found["FCFS"].estimate.value == pytest.approx(950 / 1900 - 1)
    assert found["FCFS"].estimate.ci == pytest.approx(paired_change([900, 1000], [500, 450]).ci)
    assert found["RS"].estimate.value == pytest.approx(950 / 1500 - 1)
    assert found["FCFS"].paper == pytest.approx(474 / 893 - 1)


def test_paper_values_only_for_the_papers_workload() -> None:
    assert paper_value(_record("rs", 30, 0, 1.0)) == PAPER_TABLE1["RS"][30]
    assert paper_value(_record("rs", 30, 0, 1.0, num_jobs=30)) is None
    assert paper_value(_record("rs", 25, 0, 1.0)) is None


# --------------------------------------------------------------------------- CLI
ROW_KEYS = {"policy", "R", "L", "mean_jct", "ci95", "seeds", "paper"}


def test_table1_json_rows(tmp_path, capsys) -> None:
    out = tmp_path / "table1.json"
    argv = ["table1", "--seeds", "2", "--jobs", "30", "--workers", "2", "--no-progress", "--json", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "PS-TCS vs FCFS: " in printed
    doc = json.loads(out.read_text())
    assert list(doc) == ["rows"]
    rows = doc["rows"]
    assert [(r["policy"], r["R"], r["L"]) for r in rows] == [
        (p, n, n) for n in (10, 20, 30, 40) for p in ("FCFS", "RS", "PS-TCS")
    ]
    for row in rows:
        assert set(row) >= ROW_KEYS
        assert row["seeds"] == 2
        assert math.isfinite(row["mean_jct"]) and row["ci95"] >= 0
        assert row["paper"] is None  # 30 jobs is not the paper's workload
    assert set(rows[2]["change_vs"]) == {"FCFS", "RS"}


def test_bench_json_rows_resume_and_plot(tmp_path, capsys) -> None:
    pytest.importorskip("matplotlib")
    results, out, png = tmp_path / "r.jsonl", tmp_path / "bench.json", tmp_path / "bench.png"
    argv = [
        "bench", "--policies", "fcfs,ps-tcs", "--settings", "2x2,3x2", "--seeds", "2", "--jobs", "30",
        "--workers", "1", "--no-progress", "--results", str(results), "--json", str(out), "--plot", str(png),
    ]  # fmt: skip
    assert main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["policy"], r["R"], r["L"]) for r in rows] == [
        ("FCFS", 2, 2),
        ("PS-TCS", 2, 2),
        ("FCFS", 3, 2),
        ("PS-TCS", 3, 2),
    ]
    assert all(set(r) >= ROW_KEYS and r["paper"] is None for r in rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(argv) == 0
    assert "8 of 8 cells already done" in capsys.readouterr().err
    assert json.loads(out.read_text())["rows"] == rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--settings", "10"], "--settings"),
        (["--policies", "fcfs,nope"], "unknown policy 'nope'"),
        (["--seeds", "0"], "--seeds"),
        (["--mix", "1,x,1"], "--mix"),
        (["--arrival-rate", "-1"], "arrival_rate"),
        (["--treatment", "rs", "--policies", "fcfs,ps-tcs"], "--treatment"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_bench_errors_name_the_option(args: list[str], message: str, capsys) -> None:
    assert main(["bench", "--jobs", "5", "--seeds", "1", "--no-progress", *args]) == 2
    assert message in capsys.readouterr().err
