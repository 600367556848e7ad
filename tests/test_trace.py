"""Trace format v1: exact round trips, replay equivalence, and errors that name line and field."""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_sched_env.baselines import FCFS

from llm_sched_env.cli import main
from llm_sched_env.core import LLM, REGULAR, JobSpec, Simulator
from llm_sched_env.core.job import MAX_TIME, MIN_DURATION
from llm_sched_env.workloads import Workload
from llm_sched_env.workloads.trace import TraceError, iter_trace, read_header, read_trace, write_trace

HEADER = {"format": "llm-sched-trace", "version": 1}


def stage(
    sid: int, kind: str = "llm", parents: list[int] | None = None, revealed_by: int | None = None
) -> dict:
    return {
        "id": sid,
        "kind": kind,
        "duration": 2.0,
        "estimate": 1.5,
        "parents": parents or [],
        "revealed_by": revealed_by,
    }


def job(job_id: int = 0, arrival: float = 1.0, stages: list[dict] | None = None) -> dict:
    stages = [stage(0), stage(1, "regular", [0])] if stages is None else stages
    return {"job_id": job_id, "app": "sorting", "arrival": arrival, "stages": stages}


def write_lines(path: Path, lines: list[object]) -> Path:
    """Write each item as one line: strings verbatim, anything else through json.dumps (NaN allowed)."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def with_stage(field: str, value: object, position: int = 1) -> dict:
    """A valid two-stage job whose stage ``position`` has ``field`` set to ``value``."""
    bad = job()
    bad["stages"][position][field] = value
    return bad


def without(obj: dict, key: str) -> dict:
    return {k: v for k, v in obj.items() if k != key}


def without_stage_key(key: str) -> dict:
    bad = job()
    bad["stages"][1] = without(bad["stages"][1], key)
    return bad


def replace(**fields: object) -> dict:
    return {**job(), **fields}


# ------------------------------------------------------------------- round trip
def test_generated_workload_round_trips_exactly_and_replays_identically(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    original = list(Workload().jobs(200, 11))

    assert write_trace(path, iter(original), meta={"seed": 11}) == 200
    replayed = read_trace(path)

    assert replayed == original
    assert read_header(path) == {"format": "llm-sched-trace", "version": 1, "meta": {"seed": 11}}
    direct = Simulator(original, 10, 10, FCFS()).run().jct_by_job()
    again = Simulator(replayed, 10, 10, FCFS()).run().jct_by_job()
    assert again == direct
    assert len(direct) == 200


def test_written_lines_use_positions_as_ids_and_kind_names(tmp_path: Path) -> None:
    spec = JobSpec(
        4, "code_generation", 0.1, (LLM, REGULAR), (0.3, 0.05), (1 / 3, 0.05), ((), (0,)), (None, 0)
    )
    path = tmp_path / "t.jsonl"
    write_trace(path, [spec])

    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [
        HEADER,
        {
            "job_id": 4,
            "app": "code_generation",
            "arrival": 0.1,
            "stages": [
                {
                    "id": 0,
                    "kind": "llm",
                    "duration": 0.3,
                    "estimate": 1 / 3,
                    "parents": [],
                    "revealed_by": None,
                },
                {
                    "id": 1,
                    "kind": "regular",
                    "duration": 0.05,
                    "estimate": 0.05,
                    "parents": [0],
                    "revealed_by": 0,
                },
            ],
        },
    ]


@st.composite
def job_specs(draw: st.DrawFn, job_id: int) -> JobSpec:
    n = draw(st.integers(1, 6))
    numbers = st.floats(min_value=0.0, max_value=MAX_TIME)
    durations = st.just(0.0) | st.floats(min_value=MIN_DURATION, max_value=MAX_TIME)
    parents = tuple(
        tuple(draw(st.lists(st.integers(0, i - 1), unique=True, max_size=i))) if i else () for i in range(n)
    )
    revealed_by = tuple(draw(st.none() | st.integers(0, i - 1)) if i else None for i in range(n))
    return JobSpec(
        job_id,
        draw(st.text(min_size=1, max_size=8)),
        draw(numbers),
        tuple(draw(st.lists(st.sampled_from([LLM, REGULAR]), min_size=n, max_size=n))),
        tuple(draw(st.lists(durations, min_size=n, max_size=n))),
        tuple(draw(st.lists(numbers, min_size=n, max_size=n))),
        parents,
        revealed_by,
    )


@st.composite
def job_lists(draw: st.DrawFn) -> list[JobSpec]:
    ids = draw(st.lists(st.integers(0, 10**12), unique=True, min_size=1, max_size=5))
    return [draw(job_specs(job_id)) for job_id in ids]


@settings(max_examples=60, deadline=None)
@given(job_lists())
def test_any_valid_jobs_round_trip_sorted_by_arrival_then_id(jobs: list[JobSpec]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.jsonl"
        assert write_trace(path, jobs) == len(jobs)
        assert read_trace(path) == sorted(jobs, key=lambda j: (j.arrival, j.job_id))
        pairs = list(itertools.pairwise(jobs))
        if all(a.job_id < b.job_id and a.arrival <= b.arrival for a, b in pairs):
            assert list(iter_trace(path)) == jobs
        else:
            with pytest.raises(TraceError, match="streaming needs"):
                list(iter_trace(path))


def test_custom_stage_ids_extra_fields_and_user_app_load_and_simulate(tmp_path: Path) -> None:
    # Stages listed out of order, with non-positional ids and unknown keys, under a user app.
    lines = [
        {**HEADER, "meta": {"source": "cluster-a"}, "comment": "extra header keys are ignored"},
        {
            "job_id": 7,
            "app": "my_rag_app",
            "arrival": 3.0,
            "tenant": "ignored",
            "stages": [
                {
                    "id": 42,
                    "kind": "llm",
                    "duration": 4.0,
                    "estimate": 5.0,
                    "parents": [3],
                    "revealed_by": 10,
                },
                {
                    "id": 10,
                    "kind": "llm",
                    "duration": 2.0,
                    "estimate": 1.0,
                    "parents": [],
                    "revealed_by": None,
                },
                {
                    "id": 3,
                    "kind": "regular",
                    "duration": 1.0,
                    "estimate": 1.0,
                    "parents": [],
                    "revealed_by": 10,
                    "tool": "search",
                },
            ],
        },
    ]
    path = write_lines(tmp_path / "custom.jsonl", lines)

    (loaded,) = read_trace(path)

    assert loaded == JobSpec(
        7,
        "my_rag_app",
        3.0,
        (LLM, LLM, REGULAR),
        (4.0, 2.0, 1.0),
        (5.0, 1.0, 1.0),
        ((2,), (), ()),
        (1, None, 1),
    )
    assert read_header(path)["meta"] == {"source": "cluster-a"}
    # id 10 runs [3, 5], reveals 3 (runs [5, 6]) and 42 (runs [6, 10]): JCT 7.
    assert Simulator([loaded], 1, 1, FCFS()).run().jct_by_job() == {7: 7.0}


def test_read_trace_sorts_any_order_and_iter_trace_needs_stream_order(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [HEADER, job(5, 2.0), job(9, 1.0), job(1, 2.0)])
    assert [j.job_id for j in read_trace(path)] == [9, 1, 5]
    with pytest.raises(TraceError) as info:
        list(iter_trace(path))
    assert (info.value.line, info.value.field) == (3, "arrival")
    assert info.value.reason == (
        "1.0 is before the previous job's 2.0; streaming needs non-decreasing arrivals "
        "(read_trace accepts any order)"
    )

    path = write_lines(tmp_path / "t.jsonl", [HEADER, job(5, 1.0), job(3, 2.0)])
    with pytest.raises(TraceError) as info:
        list(iter_trace(path))
    assert (info.value.line, info.value.field) == (3, "job_id")
    assert info.value.reason.startswith("decreasing job_id 3 after 5 on line 2")

    path = write_lines(tmp_path / "t.jsonl", [HEADER, job(1, 1.0), job(3, 1.0), job(4, 2.5)])
    assert [j.job_id for j in iter_trace(path)] == [1, 3, 4]
    # Each job: an LLM stage of 2 s, then a regular one of 2 s; one executor of each kind.
    # Job 1 runs [1, 3] + [3, 5]; job 3 [3, 5] + [5, 7]; job 4 (arrives 2.5) [5, 7] + [7, 9].
    assert Simulator(iter_trace(path), 1, 1, FCFS()).run().jct_by_job() == {1: 4.0, 3: 6.0, 4: 6.5}


def test_trailing_blank_lines_are_allowed(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [HEADER, job(0), "", "   ", "\t"])
    assert [j.job_id for j in read_trace(path)] == [0]


# ----------------------------------------------------------------- write safety
def test_failed_write_leaves_previous_file_and_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    original = list(Workload().jobs(3, 0))
    write_trace(path, original)
    before = path.read_bytes()

    def broken():
        yield original[0]
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        write_trace(path, broken())
    with pytest.raises(ValueError, match=r"jobs\[1\]: duplicate job_id 0"):
        write_trace(path, [original[0], original[0]])
    with pytest.raises(ValueError):
        write_trace(path, original, meta={"x": float("nan")})

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["t.jsonl"]


# ----------------------------------------------------------------------- errors
TWO_STAGE_CYCLE = [stage(0, parents=[1]), stage(1, parents=[0])]
REVEAL_CYCLE = [stage(0, revealed_by=1), stage(1, parents=[0])]
CUSTOM_ID_JOB = job(stages=[stage(10), stage(20, parents=[10]), stage(30, parents=[7])])

MALFORMED = [
    # whole-line problems (field None)
    pytest.param([HEADER, job(0), '{"job_id": 1,'], 3, None, id="bad-json"),
    pytest.param([HEADER, job(0), "[1, 2]"], 3, None, id="array-line"),
    pytest.param([HEADER, job(0), "42"], 3, None, id="number-line"),
    pytest.param([HEADER, "", job(0)], 2, None, id="blank-line-inside"),
    # header
    pytest.param([], 1, "header", id="empty-file"),
    pytest.param(["[]"], 1, "header", id="header-not-object"),
    pytest.param([job(0)], 1, "header.format", id="missing-header"),
    pytest.param([{**HEADER, "format": "other"}, job(0)], 1, "header.format", id="wrong-format"),
    pytest.param([without(HEADER, "version"), job(0)], 1, "header.version", id="missing-version"),
    pytest.param([{**HEADER, "version": 3}, job(0)], 1, "header.version", id="unsupported-version"),
    pytest.param([{**HEADER, "version": "1"}, job(0)], 1, "header.version", id="string-version"),
    pytest.param([{**HEADER, "version": True}, job(0)], 1, "header.version", id="bool-version"),
    # missing required fields
    *(
        pytest.param([HEADER, job(0), without(job(1), key)], 3, key, id=f"missing-{key}")
        for key in ("job_id", "app", "arrival", "stages")
    ),
    *(
        pytest.param([HEADER, without_stage_key(key)], 2, f"stages[1].{key}", id=f"missing-stage-{key}")
        for key in ("id", "kind", "duration", "estimate", "parents", "revealed_by")
    ),
    # wrong types
    pytest.param([HEADER, replace(job_id=1.5)], 2, "job_id", id="float-job-id"),
    pytest.param([HEADER, replace(job_id="1")], 2, "job_id", id="string-job-id"),
    pytest.param([HEADER, replace(app=5)], 2, "app", id="number-app"),
    pytest.param([HEADER, replace(app="")], 2, "app", id="empty-app"),
    pytest.param([HEADER, replace(arrival="12")], 2, "arrival", id="string-arrival"),
    pytest.param([HEADER, replace(arrival=None)], 2, "arrival", id="null-arrival"),
    pytest.param([HEADER, replace(stages={"0": stage(0)})], 2, "stages", id="stages-object"),
    pytest.param([HEADER, replace(stages=[stage(0), 3])], 2, "stages[1]", id="stage-not-object"),
    pytest.param([HEADER, with_stage("id", 1.0)], 2, "stages[1].id", id="float-stage-id"),
    pytest.param([HEADER, with_stage("duration", "2")], 2, "stages[1].duration", id="string-duration"),
    pytest.param([HEADER, with_stage("estimate", None)], 2, "stages[1].estimate", id="null-estimate"),
    pytest.param([HEADER, with_stage("parents", 0)], 2, "stages[1].parents", id="parents-not-array"),
    pytest.param([HEADER, with_stage("parents", ["0"])], 2, "stages[1].parents", id="string-parent"),
    pytest.param([HEADER, with_stage("revealed_by", [0])], 2, "stages[1].revealed_by", id="array-revealer"),
    # kinds
    pytest.param([HEADER, with_stage("kind", "gpu")], 2, "stages[1].kind", id="unknown-kind"),
    pytest.param([HEADER, with_stage("kind", "LLM")], 2, "stages[1].kind", id="kind-is-case-sensitive"),
    pytest.param([HEADER, with_stage("kind", 1)], 2, "stages[1].kind", id="kind-code-not-name"),
    # negative and non-finite numbers
    pytest.param([HEADER, replace(job_id=-1)], 2, "job_id", id="negative-job-id"),
    pytest.param([HEADER, replace(arrival=-0.5)], 2, "arrival", id="negative-arrival"),
    pytest.param([HEADER, with_stage("duration", -1)], 2, "stages[1].duration", id="negative-duration"),
    pytest.param([HEADER, with_stage("estimate", -1e-9)], 2, "stages[1].estimate", id="negative-estimate"),
    pytest.param([HEADER, with_stage("id", -1)], 2, "stages[1].id", id="negative-stage-id"),
    pytest.param([HEADER, replace(arrival=float("nan"))], 2, "arrival", id="nan-arrival"),
    pytest.param([HEADER, with_stage("duration", float("inf"))], 2, "stages[1].duration", id="inf-duration"),
    pytest.param(
        [HEADER, with_stage("estimate", float("-inf"))], 2, "stages[1].estimate", id="-inf-estimate"
    ),
    pytest.param(
        [HEADER, json.dumps(job()).replace('"arrival": 1.0', '"arrival": 1e400')], 2, "arrival", id="overflow"
    ),
    # stage ids, parents and reveals
    pytest.param([HEADER, job(stages=[stage(3), stage(3)])], 2, "stages[1].id", id="duplicate-stage-id"),
    pytest.param([HEADER, CUSTOM_ID_JOB], 2, "stages[2].parents", id="unknown-parent"),
    pytest.param([HEADER, with_stage("revealed_by", 9)], 2, "stages[1].revealed_by", id="unknown-revealer"),
    pytest.param([HEADER, with_stage("parents", [0, 0])], 2, "stages[1].parents", id="duplicate-parent"),
    pytest.param([HEADER, with_stage("parents", [1])], 2, "stages[1].parents", id="own-parent"),
    pytest.param([HEADER, with_stage("revealed_by", 1)], 2, "stages[1].revealed_by", id="reveals-itself"),
    pytest.param([HEADER, job(stages=TWO_STAGE_CYCLE)], 2, "stages", id="parent-cycle"),
    pytest.param([HEADER, job(stages=REVEAL_CYCLE)], 2, "stages", id="reveal-cycle"),
    pytest.param([HEADER, job(stages=[])], 2, "stages", id="no-stages"),
    # job ids across lines
    pytest.param([HEADER, job(4), job(5), job(4)], 4, "job_id", id="duplicate-job-id"),
    # booleans are not integers
    pytest.param([HEADER, replace(job_id=True)], 2, "job_id", id="bool-job-id"),
    pytest.param([HEADER, with_stage("id", True)], 2, "stages[1].id", id="bool-stage-id"),
    pytest.param([HEADER, with_stage("parents", [False])], 2, "stages[1].parents", id="bool-parent"),
    pytest.param([HEADER, with_stage("revealed_by", False)], 2, "stages[1].revealed_by", id="bool-revealer"),
    pytest.param([HEADER, with_stage("duration", True)], 2, "stages[1].duration", id="bool-duration"),
]


@pytest.mark.parametrize("reader", [read_trace, lambda path: list(iter_trace(path))], ids=["read", "iter"])
@pytest.mark.parametrize(("lines", "line", "field"), MALFORMED)
def test_malformed_trace_names_line_and_field(
    tmp_path: Path, lines: list[object], line: int, field: str, reader
) -> None:
    path = write_lines(tmp_path / "trace.jsonl", lines)

    with pytest.raises(TraceError) as info:
        reader(path)

    assert (info.value.line, info.value.field) == (line, field)
    where = f"{path} line {line}" if field is None else f"{path} line {line}, field {field}"
    assert str(info.value) == f"{where}: {info.value.reason}"


def test_error_message_names_file_line_field_and_reason(tmp_path: Path) -> None:
    lines = [HEADER, job(0), job(1), job(2), CUSTOM_ID_JOB]
    path = write_lines(tmp_path / "trace.jsonl", lines)

    with pytest.raises(TraceError) as info:
        read_trace(path)

    assert str(info.value) == f"{path} line 5, field stages[2].parents: unknown parent 7"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (
            [HEADER, '{"job_id": 1,'],
            "invalid JSON: Expecting property name enclosed in double quotes (column 14)",
        ),
        ([HEADER, "[1, 2]"], "expected a job object, got an array"),
        ([{**HEADER, "version": 3}], "unsupported version 3; this reader reads 1 and 2"),
        ([HEADER, job(stages=[stage(3), stage(3)])], "duplicate stage id 3 (also stages[0])"),
        ([HEADER, job(4), job(4)], "duplicate job_id 4 (first on line 2)"),
        ([HEADER, with_stage("revealed_by", 9)], "unknown stage id 9"),
        ([HEADER, with_stage("parents", [True])], "expected an integer stage id, got True"),
        ([HEADER, with_stage("kind", "gpu")], "unknown kind 'gpu'; expected one of ['llm', 'regular']"),
        ([HEADER, without_stage_key("estimate")], "missing required field"),
        ([HEADER, replace(arrival=float("nan"))], "must be finite, got nan"),
    ],
)
def test_error_reasons(tmp_path: Path, lines: list[object], reason: str) -> None:
    path = write_lines(tmp_path / "trace.jsonl", lines)
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert info.value.reason == reason


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    path.write_bytes(json.dumps(HEADER).encode() + b'\n{"app": "\xff"}\n')

    with pytest.raises(TraceError) as info:
        read_trace(path)

    assert (info.value.line, info.value.field) == (2, None)


# -------------------------------------------------------------------------- CLI
def test_cli_generate_then_simulate_matches_direct_simulation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.jsonl"
    assert main(["generate", "--jobs", "50", "--seed", "3", "--out", str(out)]) == 0
    capsys.readouterr()

    args = ["simulate", "--trace", str(out), "--policy", "fcfs", "--regular", "10", "--llm", "10", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)

    direct = Simulator(Workload().jobs(50, 3), 10, 10, FCFS()).run()
    assert summary["jobs"] == 50
    assert summary["mean_jct"] == direct.mean_jct
    assert read_header(out)["meta"] == {"seed": 3, "jobs": 50}


def test_cli_reports_a_bad_trace_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_lines(tmp_path / "bad.jsonl", [HEADER, replace(arrival=-1)])

    assert main(["simulate", "--trace", str(path), "--json"]) == 2

    assert capsys.readouterr().err == (
        f"llm-sched simulate: error: {path} line 2, field arrival: must be >= 0, got -1\n"
    )
