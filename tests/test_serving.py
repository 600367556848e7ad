"""Experiments on clusters of named pools: cluster cells, --cluster, and `llm-sched serving`."""

from __future__ import annotations

import json

import pytest
from llm_sched_env.baselines import FCFS

from llm_sched_env.cli import main
from llm_sched_env.core import Simulator
from llm_sched_env.experiments import CellConfig, Grid, run_cells, summarize
from llm_sched_env.experiments.paper import paper_value
from llm_sched_env.experiments.policies import run_episode
from llm_sched_env.experiments.serving import serving_cluster, serving_grid

BATCHING = serving_cluster(3, 1)


def test_a_cluster_cell_simulates_its_cluster_and_has_its_own_key() -> None:
    cell = CellConfig.of_cluster("fcfs", BATCHING, 0, num_jobs=40, arrival_rate=0.58)
    paper_cell = CellConfig("fcfs", 3, 1, 0, 40, 0.58)
    assert (cell.num_regular, cell.num_llm) == (3, 1)
    assert cell.key != paper_cell.key
    assert "cluster" not in paper_cell.to_dict()  # the paper's cells keep their keys
    assert cell.to_dict()["cluster"] == BATCHING.to_dict()
    (record,) = run_cells([cell], workers=1)
    direct = Simulator(cell.workload().jobs(40, 0), policy=FCFS(), cluster=BATCHING).run().jct_by_job()
    assert record["jcts"] == [direct[j] for j in sorted(direct)]
    assert paper_value(record) is None


def test_cluster_cell_executor_counts_must_match_the_cluster() -> None:
    with pytest.raises(ValueError, match=r"cluster: has 3 regular and 1 LLM executors, but num_regular=4"):
        CellConfig("fcfs", 4, 1, 0, 40, 0.58, cluster=BATCHING)


def test_cluster_settings_are_rows_of_their_own_labelled_by_pools() -> None:
    grid = Grid(("fcfs", "ps-tcs"), (BATCHING, serving_cluster(3, 2), (3, 1)), (0, 1), num_jobs=(30,))
    rows = summarize(run_cells(grid.cells(), workers=1))
    labels = {row.setting.label() for row in rows}
    assert labels == {"regular=3 llm=1cb", "regular=3 llm=2cb", "R=3 L=1"}


def test_episode_policies_refuse_a_cluster_other_than_the_papers() -> None:
    class Episode:
        def run_episode(self, jobs, num_regular, num_llm):  # pragma: no cover - never reached
            raise AssertionError

    with pytest.raises(ValueError, match=r"cluster: Episode runs on the paper.s cluster only"):
        run_episode(Episode(), [], BATCHING)


def test_serving_grid_covers_both_bottlenecks() -> None:
    cells = serving_grid(2, num_jobs=20).cells()
    clusters = {json.dumps(c.cluster.to_dict()) for c in cells}
    assert len(clusters) == 4 and len(cells) == 4 * 3 * 2


def test_bench_takes_cluster_files_and_refuses_settings_beside_them(tmp_path, capsys) -> None:
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(BATCHING.to_dict()))
    assert main(["bench", "--cluster", str(path), "--jobs", "20", "--seeds", "2", "--no-progress"]) == 0
    assert "regular=3 llm=1cb" in capsys.readouterr().out
    code = main(["bench", "--cluster", str(path), "--settings", "2x2", "--jobs", "20", "--seeds", "2"])
    assert code == 2
    assert "--cluster: give --settings or --cluster, not both" in capsys.readouterr().err


def test_cluster_option_names_the_file_and_field_of_a_bad_cluster(tmp_path, capsys) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"pools": [{"name": "llm", "kind": "llm", "count": 0}]}')
    assert main(["table1", "--cluster", str(path)]) == 2
    assert (
        "bad.json: pools[0]: pool 'llm'.count: must be an integer in [1, 100000], got 0"
        in capsys.readouterr().err
    )


def test_table1_and_serving_run_on_batching_clusters(tmp_path, capsys) -> None:
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(BATCHING.to_dict()))
    out = tmp_path / "t.json"
    assert (
        main(
            [
                "table1",
                "--cluster",
                str(path),
                "--jobs",
                "20",
                "--seeds",
                "2",
                "--no-progress",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())["rows"]
    assert {r["policy"] for r in rows} == {"FCFS", "RS", "PS-TCS"}
    assert all(r["paper"] is None for r in rows)
    assert main(["serving", "--jobs", "20", "--seeds", "2", "--no-progress"]) == 0
    assert "regular=20 llm=2cb" in capsys.readouterr().out
