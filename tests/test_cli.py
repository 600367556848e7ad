"""The command line as a new user meets it: help, option errors, missing extras, output paths, tables."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import pytest

from llm_sched_env.cli import COMMAND_MODULES, build_parser, main
from llm_sched_env.cli import evaluate as evaluate_command
from llm_sched_env.experiments import Estimate, changes, summarize
from llm_sched_env.experiments import backends as backends_module
from llm_sched_env.experiments.report import MIN_SEEDS_FOR_CI, format_table
from llm_sched_env.experiments.summary import Row, Setting

REPO = Path(__file__).resolve().parent.parent
SHIPPED_MODEL = "agents/models/dagger_ppo_gnn.zip"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


# -------------------------------------------------------------------------- help
def test_every_subcommand_has_a_description_and_shows_its_defaults() -> None:
    parsers = subcommands()
    assert sorted(parsers) == sorted(COMMAND_MODULES)
    for name, parser in parsers.items():
        assert parser.description, f"{name} has no description"
        text = parser.format_help()
        for action in parser._actions:
            if action.help in (None, argparse.SUPPRESS) or not action.option_strings:
                continue
            assert action.help, f"{name} {action.option_strings[0]} has no help"
            shown = action.default not in (None, False, []) and action.default is not argparse.SUPPRESS
            if shown and not action.required:
                assert f"(default: {action.default})" in " ".join(text.split()), (name, action.dest)


def test_evaluate_help_example_names_the_shipped_model() -> None:
    description = subcommands()["evaluate"].description
    example = re.search(r"Example: llm-sched evaluate --model (\S+)", description)
    assert example is not None and example.group(1) == SHIPPED_MODEL == evaluate_command.EXAMPLE_MODEL
    assert (REPO / SHIPPED_MODEL).is_file()


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table1", "--help"]) == 0
    assert "(default: 5)" in capsys.readouterr().out


# ----------------------------------------------------------------- option errors
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["simulate", "--jobs", "5", "--seed", "-1"], "--seed"),
        (["simulate", "--jobs", "0"], "--jobs"),
        (["simulate", "--jobs", "5", "--regular", "x"], "--regular"),
        (["generate", "--jobs", "5", "--seed", "-3", "--out", "t.jsonl"], "--seed"),
        (["table1", "--seeds", "0"], "--seeds"),
        (["evaluate", "--model", SHIPPED_MODEL, "--seeds", "1001"], "--seeds"),
        (["speed", "--repeats", "0"], "--repeats"),
        (["calibrate", "--workers", "0"], "--workers"),
    ],
)
def test_bad_option_values_name_the_option(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: " in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- missing extras
RL_HINT = 'needs torch (the rl extra): python -m pip install -e ".[rl]"'


AGENT = f"agent:{SHIPPED_MODEL}"


@pytest.mark.parametrize(
    ("argv", "purpose"),
    [
        (["train", "--out", "{tmp}/run"], "training"),
        (["evaluate", "--model", SHIPPED_MODEL, "--no-progress"], f"policy {AGENT}"),
        (["bench", "--policies", f"fcfs,{AGENT}", "--no-progress"], f"policy {AGENT}"),
        (["simulate", "--jobs", "5", "--policy", AGENT], f"policy {AGENT}"),
    ],
)
def test_without_torch_agent_commands_print_a_one_line_hint(
    argv: list[str], purpose: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # as on a core-only install
    monkeypatch.chdir(REPO)
    assert main([arg.replace("{tmp}", str(tmp_path)) for arg in argv]) == 2
    command = argv[0]
    assert capsys.readouterr().err == f"llm-sched {command}: error: {purpose} {RL_HINT}\n"


def test_without_matplotlib_plot_prints_a_one_line_hint_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(backends_module, "run_named", _no_work)
    assert main(["table1", "--plot", str(tmp_path / "t.png"), "--workers", "1"]) == 2
    assert capsys.readouterr().err == (
        "llm-sched table1: error: --plot needs matplotlib (the plot extra): "
        'python -m pip install -e ".[plot]"\n'
    )


@pytest.mark.parametrize("command", ["table1", "bench", "calibrate", "evaluate"])
def test_without_ray_backend_ray_prints_a_one_line_hint_before_any_work(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as on an install without the ray extra
    monkeypatch.setattr(backends_module, "run_named", _no_work)
    monkeypatch.chdir(REPO)
    model = ["--model", SHIPPED_MODEL] if command == "evaluate" else []
    assert main([command, *model, "--backend", "ray", "--workers", "1"]) == 2
    assert capsys.readouterr().err == (
        f"llm-sched {command}: error: --backend ray needs ray (the ray extra): "
        'python -m pip install -e ".[ray]"\n'
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--ray-address", "auto"], "--ray-address: applies to --backend ray only"),
        (["--backend", "ray", "--ray-address", "auto", "--workers", "2"], "--workers: with --ray-address"),
    ],
)
def test_backend_options_that_do_not_fit_together_are_named(
    options: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(backends_module, "run_named", _no_work)
    assert main(["bench", *options]) == 2
    assert f"llm-sched bench: error: {message}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--framework", "rllib", "--bc-steps", "5"], "--bc-steps: applies to --framework sb3 only"),
        (["--framework", "rllib", "--policy", "mlp"], "--policy: applies to --framework sb3 only"),
        (["--ray-address", "auto"], "--ray-address: applies to --framework rllib only"),
    ],
)
def test_train_options_of_the_other_framework_are_named(
    options: list[str], message: str, tmp_path, capsys
) -> None:
    assert main(["train", *options, "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"llm-sched train: error: {message}\n"
    assert not (tmp_path / "run").exists()


def test_without_ray_train_with_rllib_prints_a_one_line_hint(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["train", "--framework", "rllib", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (
        "llm-sched train: error: --framework rllib needs ray (the ray extra): "
        'python -m pip install -e ".[ray]"\n'
    )


def _no_work(*args: object) -> None:
    raise AssertionError("a cell ran before the command checked its options")


# ------------------------------------------------------------------ output paths
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["table1", "--json", "{missing}/t.json"], "--json"),
        (["table1", "--plot", "{missing}/t.png"], "--plot"),
        (["bench", "--results", "{missing}/r.jsonl"], "--results"),
        (["evaluate", "--model", SHIPPED_MODEL, "--json", "{missing}/e.json"], "--json"),
        (["simulate", "--jobs", "5", "--csv", "{missing}/j.csv"], "--csv"),
        (["generate", "--jobs", "5", "--seed", "0", "--out", "{missing}/t.jsonl"], "--out"),
    ],
)
def test_output_paths_are_checked_before_any_work(
    argv: list[str], option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(backends_module, "run_named", _no_work)
    missing = tmp_path / "no" / "such"
    assert main([arg.replace("{missing}", str(missing)) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: directory {str(missing)!r} does not exist" in err


def test_output_paths_that_are_directories_or_files_in_the_way_are_named(tmp_path: Path, capsys) -> None:
    assert main(["table1", "--json", str(tmp_path)]) == 2
    assert f"argument --json: {str(tmp_path)!r} is a directory, not a file" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["train", "--out", str(blocker / "run")]) == 2
    assert f"argument --out: directory {str(blocker)!r} is not a directory" in capsys.readouterr().err


def test_train_out_may_be_a_new_nested_directory() -> None:
    parser = subcommands()["train"]
    assert parser.parse_args(["--out", "runs/a/b/c"]).out == "runs/a/b/c"


# ------------------------------------------------------------------------ tables
def _row(policy: str, jct: float, ci: float | None, n: int, setting: Setting) -> Row:
    return Row(policy, setting, Estimate(jct, ci, n), tuple(range(n)), {}, jct, jct, jct, {})


def test_table_columns_fit_names_longer_than_their_header() -> None:
    setting = Setting(10, 10, 500, 0.58, None)
    rows = [
        _row("FCFS", 1097.25, 50.0, 10, setting),
        _row("DAgger+PPO-GNN-with-a-long-name", 446.0, 12.5, 10, setting),
        _row("PS-TCS", 123456789.5, 1.0, 10, setting),
    ]
    lines = format_table(rows).splitlines()
    header = lines[1]
    table = [line for line in lines[3:] if not line.startswith("note")]
    # Every right-aligned number ends where its header ends.
    for label in ("mean JCT", "± CI"):
        end = header.index(label) + len(label)
        for line in table:
            assert line[end - 1] != " " and (len(line) == end or line[end] == " "), (label, line)
    assert table[1].split()[0] == "DAgger+PPO-GNN-with-a-long-name"  # no setting label: same setting
    assert table[2].split()[0:2] == ["PS-TCS", "123456789.5"]


def _records(jcts_by_policy: dict[str, list[float]]) -> list[dict]:
    return [
        {
            "policy": policy,
            "config": {"R": 2, "L": 2, "num_jobs": 30, "arrival_rate": 0.5, "mix": None, "seed": seed},
            "mean_jct": jct,
            "p50_jct": jct,
            "p95_jct": jct,
            "makespan": jct,
            "mean_jct_by_app": {},
        }
        for policy, jcts in jcts_by_policy.items()
        for seed, jct in enumerate(jcts)
    ]


def test_relative_change_is_treatment_vs_baseline_and_negative_when_lower() -> None:
    rows = summarize(_records({"FCFS": [100, 110, 120, 130, 140], "PS-TCS": [80, 88, 96, 104, 112]}))
    text = format_table(rows, changes(rows, "PS-TCS"))
    # 0.8 of FCFS on every seed: -20.0 % with no spread.
    assert "PS-TCS vs FCFS: -20.0 ± 0.0 %" in text
    assert "note" not in text  # five seeds and narrow intervals


def test_too_few_seeds_and_intervals_wider_than_the_mean_are_noted() -> None:
    rows = summarize(_records({"FCFS": [100, 102], "PS-TCS": [10, 200]}))
    notes = [line for line in format_table(rows).splitlines() if line.startswith("note")]
    assert notes == [
        f"note: 2 seeds are too few for a meaningful 95 % CI (± 12.7 standard errors with 1 degree of "
        f"freedom); run {MIN_SEEDS_FOR_CI} or more seeds",
        "note: the CI is wider than the mean for PS-TCS R=L=2; run more seeds",
    ]
    one = summarize(_records({"FCFS": [100]}))
    last = format_table(one).splitlines()[-1]
    assert last == "note: 1 seed gives no confidence interval; run 5 or more seeds"


def test_plot_error_bars_stop_at_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    from llm_sched_env.experiments.plots import plot_comparison

    drawn: list[object] = []
    real_bar = Axes.bar

    def bar(self, *args, **kwargs):
        drawn.append(kwargs["yerr"])
        return real_bar(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "bar", bar)
    records = _records({"FCFS": [100, 102], "PS-TCS": [10, 200]})
    for record in records:
        record["jcts"] = [record["mean_jct"]]
    rows = summarize(records)
    plot_comparison(rows, records, tmp_path / "p.png", rows[0].setting)
    fcfs, ps_tcs = rows
    assert drawn == [[[fcfs.jct.ci], [fcfs.jct.ci]], [[ps_tcs.jct.value], [ps_tcs.jct.ci]]]
    assert ps_tcs.jct.ci > ps_tcs.jct.value  # the printed interval stays the full one


def test_json_change_follows_the_same_convention(tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    argv = ["bench", "--policies", "fcfs,ps-tcs", "--settings", "2x2", "--seeds", "2", "--jobs", "30"]
    assert main([*argv, "--workers", "1", "--no-progress", "--json", str(out)]) == 0
    fcfs, ps_tcs = json.loads(out.read_text())["rows"]
    change = ps_tcs["change_vs"]["FCFS"]["value"]
    assert change == pytest.approx(ps_tcs["mean_jct"] / fcfs["mean_jct"] - 1)


def test_simulate_per_app_lines_fit_long_application_names(tmp_path: Path, capsys) -> None:
    stage = {"id": 0, "kind": "llm", "duration": 1.0, "estimate": 1.0, "parents": [], "revealed_by": None}
    lines = [{"format": "llm-sched-trace", "version": 1}]
    lines += [
        {"job_id": k, "app": app, "arrival": 0.0, "stages": [{**stage, "duration": float(k + 1)}]}
        for k, app in enumerate(["a-user-application-with-a-long-name", "rag"])
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["simulate", "--trace", str(path)]) == 0
    long_row, short_row = capsys.readouterr().out.splitlines()[1:]
    assert long_row.endswith(" 1.00 s") and short_row.endswith(" 2.00 s")
    assert len(long_row) == len(short_row)


def test_masked_random_episode_runs_an_episode_without_decisions():
    """With so few jobs that every ready stage fits, no decision is asked: one step ends it."""
    from llm_sched_env.cli.speed import masked_random_episode
    from llm_sched_env.envs import CompoundLLMEnv

    env = CompoundLLMEnv(num_jobs=1)
    _, info = env.reset(seed=0)
    assert not info["decision"]
    steps, _ = masked_random_episode(env, 0)
    assert steps == 1
    assert len(env.results) == 1
