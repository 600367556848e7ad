"""Trace formats v1 and v2: exact round trips, replay equivalence, and errors that name line and field."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llm_sched_env.baselines import FCFS

from llm_sched_env.cli import main
from llm_sched_env.core import (
    LLM,
    REGULAR,
    Cluster,
    ContinuousBatching,
    JobSpec,
    JobSpecError,
    LLMCall,
    PoolSpec,
    Simulator,
    SingleStream,
)
from llm_sched_env.core.job import MAX_TIME, MAX_TOKENS, MIN_DURATION
from llm_sched_env.workloads import DECODE_TOKENS_PER_SECOND, Workload
from llm_sched_env.workloads import trace as trace_module
from llm_sched_env.workloads.trace import TraceError, iter_trace, read_header, read_trace, write_trace

REPO = Path(__file__).resolve().parent.parent

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
    # The applications draw their LLM calls in tokens, so the trace is version 2.
    assert read_header(path) == {"format": "llm-sched-trace", "version": 2, "meta": {"seed": 11}}
    assert all(job.calls is not None for job in replayed)
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


# ============================================================== trace format v2
HEADER_V2 = {"format": "llm-sched-trace", "version": 2}
# A cluster with a batching LLM pool and a single-stream one (e.g. a planner on another model).
CLUSTER = Cluster(
    (
        PoolSpec("regular", "regular", 2),
        PoolSpec("llm", "llm", 1, ContinuousBatching()),
        PoolSpec("planner", "llm", 1, SingleStream()),
    )
)


def llm_stage(sid: int, parents: list[int] | None = None, revealed_by: int | None = None, **fields) -> dict:
    """An LLM stage in tokens: 1,000-token prompt, 450 of at most 1,024 output tokens."""
    return {
        "id": sid,
        "kind": "llm",
        "pool": "llm",
        "prompt_tokens": 1000,
        "output_tokens": 450,
        "max_tokens": 1024,
        "estimate_tokens": 400,
        "parents": parents or [],
        "revealed_by": revealed_by,
        **fields,
    }


def job_v2(job_id: int = 0, arrival: float = 1.0, stages: list[dict] | None = None) -> dict:
    return job(job_id, arrival, [llm_stage(0), stage(1, "regular", [0])] if stages is None else stages)


def with_v2_stage(field: str, value: object, position: int = 0) -> dict:
    """A valid v2 job whose stage ``position`` (0: in tokens, 1: regular) has ``field`` = ``value``."""
    bad = job_v2()
    bad["stages"][position][field] = value
    return bad


def without_v2_stage_key(key: str) -> dict:
    bad = job_v2()
    bad["stages"][0] = without(bad["stages"][0], key)
    return bad


def test_a_v2_trace_loads_pools_and_calls_with_default_durations(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [HEADER_V2, job_v2()])

    (loaded,) = read_trace(path)

    assert loaded == JobSpec(
        0,
        "sorting",
        1.0,
        (LLM, REGULAR),
        (450 / DECODE_TOKENS_PER_SECOND, 2.0),  # output_tokens / 90 tokens/s
        (400 / DECODE_TOKENS_PER_SECOND, 1.5),  # estimate_tokens / 90 tokens/s
        ((), (0,)),
        (None, None),
        pools=("llm", "regular"),  # the regular stage names no pool: its kind's default
        calls=(LLMCall(1000, 450, 1024, 400.0), None),
    )
    assert DECODE_TOKENS_PER_SECOND == 90.0


def test_explicit_duration_and_estimate_override_the_token_defaults(tmp_path: Path) -> None:
    line = job_v2(stages=[llm_stage(0, duration=4.9, estimate=4.5)])
    (loaded,) = read_trace(write_lines(tmp_path / "t.jsonl", [HEADER_V2, line]))
    assert (loaded.durations, loaded.estimates) == ((4.9,), (4.5,))
    assert loaded.calls == (LLMCall(1000, 450, 1024, 400.0),)


def test_a_v2_trace_without_pools_or_tokens_reads_like_v1(tmp_path: Path) -> None:
    v1 = read_trace(write_lines(tmp_path / "v1.jsonl", [HEADER, job(0), job(1)]))
    v2 = read_trace(write_lines(tmp_path / "v2.jsonl", [HEADER_V2, job(0), job(1)]))
    assert v2 == v1
    assert all(j.pools is None and j.calls is None for j in v2)


def _docstring_examples() -> list[list[str]]:
    """The example traces of the module docstring, each job joined back onto one line."""
    examples = []
    for block in re.findall(r"::\n\n((?:    .*\n)+)", trace_module.__doc__):
        lines: list[str] = []
        for text in block.splitlines():
            if text.startswith("    {"):
                lines.append(text.strip())
            else:
                lines[-1] += text.strip()
        examples.append(lines)
    return examples


def test_the_docstring_examples_load_and_describe_the_same_job(tmp_path: Path) -> None:
    v1_lines, v2_lines = _docstring_examples()
    (v1,) = read_trace(write_lines(tmp_path / "v1.jsonl", v1_lines))
    (v2,) = read_trace(write_lines(tmp_path / "v2.jsonl", v2_lines))

    assert read_header(tmp_path / "v2.jsonl")["version"] == 2
    # 549 / 90 = 6.1 s, 378 / 90 = 4.2 s, 450 / 90 = 5.0 s and 360 / 90 = 4.0 s: the v1 job exactly.
    assert v2 == dataclasses.replace(
        v1,
        pools=("planner", "regular", "regular", "llm"),
        calls=(LLMCall(1800, 549, 1024, 450.0), None, None, LLMCall(900, 378, 1024, 360.0)),
    )
    assert read_trace(tmp_path / "v2.jsonl", CLUSTER) == [v2]


def test_written_v2_lines_carry_every_key(tmp_path: Path) -> None:
    spec = JobSpec(
        4,
        "code_generation",
        0.1,
        (LLM, REGULAR),
        (5.05, 0.05),
        (5.0, 0.05),
        ((), (0,)),
        (None, 0),
        pools=("planner", "regular"),
        calls=(LLMCall(700, 455, 2048, 450.0), None),
    )
    path = tmp_path / "t.jsonl"
    write_trace(path, [spec], meta={"seed": 1})

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {**HEADER_V2, "meta": {"seed": 1}},
        {
            "job_id": 4,
            "app": "code_generation",
            "arrival": 0.1,
            "stages": [
                {
                    "id": 0,
                    "kind": "llm",
                    "pool": "planner",
                    "prompt_tokens": 700,
                    "output_tokens": 455,
                    "max_tokens": 2048,
                    "estimate_tokens": 450.0,
                    "duration": 5.05,
                    "estimate": 5.0,
                    "parents": [],
                    "revealed_by": None,
                },
                {
                    "id": 1,
                    "kind": "regular",
                    "pool": "regular",
                    "duration": 0.05,
                    "estimate": 0.05,
                    "parents": [0],
                    "revealed_by": 0,
                },
            ],
        },
    ]
    assert read_trace(path) == [spec]


def test_one_job_with_tokens_makes_the_whole_trace_v2(tmp_path: Path) -> None:
    seconds = [dataclasses.replace(job, calls=None) for job in Workload().jobs(5, 0)]
    in_tokens = JobSpec(
        99, "x", 1e6, (LLM,), (1.0,), (1.0,), ((),), (None,), calls=(LLMCall(10, 90, 90, 90.0),)
    )
    path = tmp_path / "t.jsonl"

    write_trace(path, seconds)
    assert read_header(path)["version"] == 1
    write_trace(path, [*seconds, in_tokens])
    assert read_header(path)["version"] == 2
    assert read_trace(path) == [*seconds, in_tokens]


pool_names = st.sampled_from(["regular", "llm", "planner", "größer-modell"])


@st.composite
def v2_job_specs(draw: st.DrawFn, job_id: int) -> JobSpec:
    """Any valid job, with pools, calls, both or neither."""
    spec = draw(job_specs(job_id))
    pools = draw(st.none() | st.lists(pool_names, min_size=spec.num_stages, max_size=spec.num_stages))

    def call() -> LLMCall:
        cap = draw(st.integers(1, MAX_TOKENS))
        output = draw(st.integers(1, cap))
        estimate = draw(st.integers(0, MAX_TOKENS) | st.floats(0.0, MAX_TIME))
        return LLMCall(draw(st.integers(1, MAX_TOKENS)), output, cap, estimate)

    calls = None
    if LLM in spec.kinds and draw(st.booleans()):
        calls = tuple(call() if kind == LLM else None for kind in spec.kinds)
    return dataclasses.replace(spec, pools=None if pools is None else tuple(pools), calls=calls)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**12), unique=True, min_size=1, max_size=5), st.data())
def test_any_valid_v2_jobs_round_trip_exactly(ids: list[int], data: st.DataObject) -> None:
    jobs = [data.draw(v2_job_specs(job_id)) for job_id in sorted(ids)]
    jobs.sort(key=lambda j: (j.arrival, j.job_id))
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.jsonl"
        assert write_trace(path, jobs) == len(jobs)
        needs_v2 = any(j.pools is not None or j.calls is not None for j in jobs)
        assert read_header(path)["version"] == (2 if needs_v2 else 1)
        assert read_trace(path) == jobs
        if all(a.job_id < b.job_id for a, b in itertools.pairwise(jobs)):
            assert list(iter_trace(path)) == jobs


MALFORMED_V2 = [
    # token counts
    pytest.param(with_v2_stage("output_tokens", 1025), "stages[0].output_tokens", id="output-over-max"),
    pytest.param(with_v2_stage("output_tokens", 0), "stages[0].output_tokens", id="output-zero"),
    pytest.param(with_v2_stage("output_tokens", -3), "stages[0].output_tokens", id="output-negative"),
    pytest.param(with_v2_stage("prompt_tokens", 0), "stages[0].prompt_tokens", id="prompt-zero"),
    pytest.param(with_v2_stage("max_tokens", 0), "stages[0].max_tokens", id="max-zero"),
    pytest.param(with_v2_stage("prompt_tokens", 1000.0), "stages[0].prompt_tokens", id="float-prompt"),
    pytest.param(with_v2_stage("output_tokens", 450.5), "stages[0].output_tokens", id="fractional-output"),
    pytest.param(with_v2_stage("max_tokens", "1024"), "stages[0].max_tokens", id="string-max"),
    pytest.param(with_v2_stage("max_tokens", True), "stages[0].max_tokens", id="bool-max"),
    pytest.param(with_v2_stage("output_tokens", None), "stages[0].output_tokens", id="null-output"),
    pytest.param(with_v2_stage("max_tokens", MAX_TOKENS + 1), "stages[0].max_tokens", id="max-beyond-bound"),
    pytest.param(with_v2_stage("estimate_tokens", -1), "stages[0].estimate_tokens", id="negative-estimate"),
    pytest.param(with_v2_stage("estimate_tokens", "400"), "stages[0].estimate_tokens", id="string-estimate"),
    pytest.param(
        with_v2_stage("estimate_tokens", float("nan")), "stages[0].estimate_tokens", id="nan-estimate"
    ),
    *(
        pytest.param(without_v2_stage_key(key), f"stages[0].{key}", id=f"missing-{key}")
        for key in ("prompt_tokens", "output_tokens", "max_tokens", "estimate_tokens")
    ),
    # which stages carry tokens
    pytest.param(with_v2_stage("prompt_tokens", 10, 1), "stages[1].prompt_tokens", id="tokens-on-regular"),
    pytest.param(with_v2_stage("max_tokens", 10, 1), "stages[1].max_tokens", id="cap-on-regular"),
    pytest.param(
        job_v2(stages=[llm_stage(0), stage(1, "llm", [0])]),
        "stages[1].prompt_tokens",
        id="tokens-and-seconds",
    ),
    # durations: optional in tokens, checked when given; required in seconds
    pytest.param(with_v2_stage("duration", -1), "stages[0].duration", id="negative-duration"),
    pytest.param(with_v2_stage("estimate", "5"), "stages[0].estimate", id="string-estimate-seconds"),
    pytest.param(
        job_v2(stages=[without(stage(0), "duration")]), "stages[0].duration", id="seconds-no-duration"
    ),
    # pools
    pytest.param(with_v2_stage("pool", ""), "stages[0].pool", id="empty-pool"),
    pytest.param(with_v2_stage("pool", 5), "stages[0].pool", id="number-pool"),
    pytest.param(with_v2_stage("pool", None), "stages[0].pool", id="null-pool"),
    pytest.param(with_v2_stage("pool", ["llm"], 1), "stages[1].pool", id="array-pool"),
]


@pytest.mark.parametrize("reader", [read_trace, lambda path: list(iter_trace(path))], ids=["read", "iter"])
@pytest.mark.parametrize(("bad", "field"), MALFORMED_V2)
def test_malformed_v2_field_names_line_and_field(tmp_path: Path, bad: dict, field: str, reader) -> None:
    path = write_lines(tmp_path / "trace.jsonl", [HEADER_V2, job_v2(0, 0.5), job_v2(1), {**bad, "job_id": 2}])

    with pytest.raises(TraceError) as info:
        reader(path)

    assert (info.value.line, info.value.field) == (4, field)
    assert str(info.value) == f"{path} line 4, field {field}: {info.value.reason}"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (with_v2_stage("output_tokens", 1025), "1025 exceeds max_tokens 1024"),
        (with_v2_stage("output_tokens", 0), "must be an integer in [1, 1,000,000,000], got 0"),
        (with_v2_stage("prompt_tokens", 1000.0), "expected an integer, got 1000.0"),
        (
            without_v2_stage_key("max_tokens"),
            "missing required field (the stage has prompt_tokens; an LLM stage in tokens has "
            "prompt_tokens, output_tokens, max_tokens, estimate_tokens)",
        ),
        (with_v2_stage("prompt_tokens", 10, 1), "only LLM stages carry tokens"),
        (
            job_v2(stages=[llm_stage(0), stage(1, "llm", [0])]),
            "missing required field: stages[0] is in tokens, so every LLM stage of the job must be",
        ),
        (with_v2_stage("pool", ""), "must be a non-empty string, got ''"),
    ],
)
def test_v2_error_reasons(tmp_path: Path, bad: dict, reason: str) -> None:
    with pytest.raises(TraceError) as info:
        read_trace(write_lines(tmp_path / "trace.jsonl", [HEADER_V2, bad]))
    assert info.value.reason == reason


@pytest.mark.parametrize("key", ["pool", "prompt_tokens", "output_tokens", "max_tokens", "estimate_tokens"])
def test_v2_fields_in_a_v1_trace_are_errors_not_ignored(tmp_path: Path, key: str) -> None:
    path = write_lines(tmp_path / "trace.jsonl", [HEADER, job(0), with_stage(key, 5, 0)])
    with pytest.raises(TraceError) as info:
        read_trace(path)
    assert (info.value.line, info.value.field) == (3, f"stages[0].{key}")
    assert info.value.reason == "a version 2 field, in a trace whose header says version 1"


# Errors that depend on the cluster: (lines, line, field, reason); all load without a cluster.
FOR_CLUSTER = [
    pytest.param(
        [HEADER_V2, job_v2(0), with_v2_stage("pool", "gpt-4") | {"job_id": 1}],
        3,
        "stages[0].pool",
        "no pool 'gpt-4' in the cluster (pools: ['regular', 'llm', 'planner'])",
        id="unknown-pool",
    ),
    pytest.param(
        [HEADER_V2, with_v2_stage("pool", "llm", 1)],
        2,
        "stages[1].pool",
        "pool 'llm' runs llm stages",
        id="pool-of-the-other-kind",
    ),
    pytest.param(
        [HEADER_V2, with_v2_stage("prompt_tokens", 3073)],
        2,
        "stages[0].max_tokens",
        "prompt_tokens 3073 + max_tokens 1024 exceeds the context limit 4096 of pool 'llm'",
        id="over-the-context-limit",
    ),
    pytest.param(
        [HEADER_V2, job(0)],
        2,
        "stages[0].prompt_tokens",
        "pool 'llm' runs continuous_batching and needs the stage in tokens",
        id="seconds-on-batching-pool",
    ),
    pytest.param(
        [HEADER, job(0)],
        2,
        "stages[0].prompt_tokens",
        "pool 'llm' runs continuous_batching and needs the stage in tokens",
        id="v1-trace-on-batching-pool",
    ),
]


@pytest.mark.parametrize(
    "reader", [read_trace, lambda path, c: list(iter_trace(path, c))], ids=["read", "iter"]
)
@pytest.mark.parametrize(("lines", "line", "field", "reason"), FOR_CLUSTER)
def test_cluster_errors_name_line_and_field_and_agree_with_the_simulator(
    tmp_path: Path, lines: list[object], line: int, field: str, reason: str, reader
) -> None:
    path = write_lines(tmp_path / "trace.jsonl", lines)

    with pytest.raises(TraceError) as info:
        reader(path, CLUSTER)
    assert (info.value.line, info.value.field, info.value.reason) == (line, field, reason)

    # Without the cluster the trace loads; the simulator then rejects the same job and stage.
    jobs = read_trace(path)
    bad = jobs[line - 2]
    with pytest.raises(JobSpecError) as at_bind:
        Simulator(jobs, cluster=CLUSTER, policy=FCFS()).run()
    assert (at_bind.value.field, at_bind.value.reason) == (f"job {bad.job_id} {field}", reason)


def test_context_limit_and_seconds_stages_are_fine_where_the_pool_allows_them(tmp_path: Path) -> None:
    at_limit = with_v2_stage("prompt_tokens", 3072)  # 3,072 + 1,024 = 4,096: fits exactly
    seconds_on_single_stream = job(1, 1.0, [{**stage(0), "pool": "planner"}, stage(1, "regular", [0])])
    path = write_lines(tmp_path / "trace.jsonl", [HEADER_V2, at_limit, seconds_on_single_stream])

    jobs = read_trace(path, CLUSTER)

    assert [j.job_id for j in jobs] == [0, 1]
    assert len(Simulator(jobs, cluster=CLUSTER, policy=FCFS()).run()) == 2


def test_a_v2_stage_alone_on_a_batching_pool_runs_at_about_90_tokens_per_second(tmp_path: Path) -> None:
    # DESIGN.md section 7: 900 output tokens after a 1,000-token prompt take about 10 s.
    line = job_v2(0, 0.0, [llm_stage(0, prompt_tokens=1000, output_tokens=900, max_tokens=1024)])
    jobs = read_trace(write_lines(tmp_path / "t.jsonl", [HEADER_V2, line]), CLUSTER)
    (jct,) = Simulator(jobs, cluster=CLUSTER, policy=FCFS()).run().jcts.tolist()
    assert 9.5 < jct < 10.5
    # On a single-stream pool it runs for its default duration, 900 / 90 = 10 s exactly.
    assert Simulator(jobs, 1, 1, FCFS()).run().jcts.tolist() == [10.0]


# ---------------------------------------------------------------- CLI, version 2
DOCS_TRACE = REPO / "docs" / "trace_v2.jsonl"
DOCS_CLUSTER = REPO / "docs" / "cluster_batching.json"


def test_cli_simulates_the_docs_v2_trace_on_the_docs_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--trace", str(DOCS_TRACE), "--cluster", str(DOCS_CLUSTER), "--policy", "fcfs"]
    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)

    cluster = Cluster.load(DOCS_CLUSTER)
    assert [(p.name, p.kind, p.count, p.executor.name) for p in cluster.pools] == [
        ("regular", "regular", 10, "single_stream"),
        ("llm", "llm", 2, "continuous_batching"),
    ]
    jobs = read_trace(DOCS_TRACE, cluster)
    assert all(j.calls is not None and j.pools is not None for j in jobs)
    direct = Simulator(jobs, cluster=cluster, policy=FCFS()).run()
    assert summary["cluster"] == cluster.to_dict()
    assert Cluster.from_dict(summary["cluster"]) == cluster
    assert (summary["regular"], summary["llm"], summary["jobs"]) == (10, 2, len(jobs))
    assert summary["mean_jct"] == direct.mean_jct
    assert summary["makespan"] == max(direct.finishes)

    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        f"FCFS regular: 10 x regular, single_stream; llm: 2 x llm, continuous_batching: "
        f"{len(jobs)} jobs, mean JCT {direct.mean_jct:.2f} s"
    )


def test_cli_without_cluster_reports_the_papers_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--trace", str(DOCS_TRACE), "--llm", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cluster"] == Cluster.paper(10, 3).to_dict()
    assert (summary["regular"], summary["llm"]) == (10, 3)
    jobs = read_trace(DOCS_TRACE)
    assert summary["mean_jct"] == Simulator(jobs, 10, 3, FCFS()).run().mean_jct


@pytest.mark.parametrize("option", ["--regular", "--llm"])
def test_cli_cluster_excludes_executor_counts(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["simulate", "--trace", str(DOCS_TRACE), "--cluster", str(DOCS_CLUSTER), option, "4"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        f"llm-sched simulate: error: argument --cluster: not allowed with {option} "
        "(the cluster file sets every pool)\n"
    )


def test_cli_bad_cluster_file_names_the_option_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"pools": [{"name": "llm", "kind": "llm", "count": 0}]}', encoding="utf-8")
    assert main(["simulate", "--trace", str(DOCS_TRACE), "--cluster", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        f"llm-sched simulate: error: argument --cluster: {path}: pools[0]: pool 'llm'.count: "
        "must be an integer in [1, 100000], got 0\n"
    )
    assert main(["simulate", "--trace", str(DOCS_TRACE), "--cluster", str(tmp_path / "none.json")]) == 2
    assert "argument --cluster: cannot read" in capsys.readouterr().err


def test_cli_names_the_trace_line_of_a_stage_the_cluster_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(
        tmp_path / "t.jsonl", [HEADER_V2, job_v2(0), with_v2_stage("max_tokens", 3500) | {"job_id": 1}]
    )
    assert main(["simulate", "--trace", str(path), "--cluster", str(DOCS_CLUSTER)]) == 2
    assert capsys.readouterr().err == (
        f"llm-sched simulate: error: {path} line 3, field stages[0].max_tokens: prompt_tokens 1000 + "
        "max_tokens 3500 exceeds the context limit 4096 of pool 'llm'\n"
    )


def test_cli_generate_writes_v2_that_simulates_on_a_batching_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "w.jsonl"
    assert main(["generate", "--jobs", "20", "--seed", "5", "--out", str(out)]) == 0

    cluster = Cluster.load(DOCS_CLUSTER)
    assert read_header(out) == {**HEADER_V2, "meta": {"seed": 5, "jobs": 20}}
    assert read_trace(out, cluster) == list(Workload().jobs(20, 5))
    capsys.readouterr()
    assert main(["simulate", "--trace", str(out), "--cluster", str(DOCS_CLUSTER), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    direct = Simulator(Workload().jobs(20, 5), cluster=cluster, policy=FCFS()).run()
    assert (summary["jobs"], summary["mean_jct"]) == (20, direct.mean_jct)


def test_the_readme_examples_load_and_describe_the_same_job(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Trace format") :]
    v1_line, v2_line = re.findall(r"```json\n(.*)\n```", section)[:2]
    (v1,) = read_trace(write_lines(tmp_path / "v1.jsonl", [HEADER, v1_line]))
    (v2,) = read_trace(write_lines(tmp_path / "v2.jsonl", [HEADER_V2, v2_line]), Cluster.load(DOCS_CLUSTER))
    assert v2 == dataclasses.replace(
        v1, pools=("llm", "regular"), calls=(LLMCall(600, 549, 2048, 450.0), None)
    )
