"""Bad input never gives a wrong answer or a traceback: property tests for each class of it.

Each class comes from a fuzzing run over traces and configs (issue 10): numbers that
overflow, finite values that make the arithmetic meaningless, a trace with no jobs,
config values that break the model, sizes that exhaust memory, and streaming memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llm_sched_env.baselines import FCFS

from llm_sched_env.cli import main
from llm_sched_env.core import Cluster, ContinuousBatching, JobSpec, JobSpecError, PoolSpec, Simulator
from llm_sched_env.core.job import MAX_TIME, MAX_TOKENS, MIN_DURATION
from llm_sched_env.envs import CompoundLLMConfig, CompoundLLMEnv
from llm_sched_env.envs.config import (
    MAX_EDGE_SLOTS,
    MAX_ENV_EXECUTORS,
    MAX_JOB_STAGES,
    MAX_JOBS,
    MAX_SCALE,
    MAX_STAGE_SLOTS,
    MIN_SCALE,
)
from llm_sched_env.envs.stage_table import STAGE_BITS, STAGE_MASK
from llm_sched_env.experiments import CellConfig
from llm_sched_env.workloads import PoissonArrivals, Workload
from llm_sched_env.workloads.arrivals import MAX_ARRIVAL_RATE, MIN_ARRIVAL_RATE
from llm_sched_env.workloads.trace import TraceError, iter_trace, read_trace
from llm_sched_env.workloads.workload import MAX_MIX_WEIGHT, MIN_MIX_WEIGHT

HEADER = '{"format": "llm-sched-trace", "version": 1}'
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
READERS = [read_trace, lambda path: list(iter_trace(path))]


def job_line(
    job_id: str = "0", arrival: str = "1.0", duration: str = "2.0", estimate: str = "1.5", stage_id: str = "1"
) -> str:
    """A two-stage job line with the given literal texts spliced into its fields."""
    return (
        f'{{"job_id": {job_id}, "app": "sorting", "arrival": {arrival}, "stages": ['
        '{"id": 0, "kind": "llm", "duration": 1.0, "estimate": 1.0, "parents": [], "revealed_by": null}, '
        f'{{"id": {stage_id}, "kind": "regular", "duration": {duration}, "estimate": {estimate}, '
        '"parents": [0], "revealed_by": null}]}'
    )


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "trace.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def trace_error(path: Path) -> TraceError:
    """The error both readers raise on ``path``; they must agree."""
    errors = []
    for reader in READERS:
        with pytest.raises(TraceError) as info:
            reader(path)
        errors.append(info.value)
    assert str(errors[0]) == str(errors[1])
    return errors[0]


# ------------------------------------------------------------ numbers that overflow
long_integers = st.builds(
    lambda sign, first, rest: f"{sign}{first}{rest}",
    st.sampled_from(["", "-"]),
    st.sampled_from("123456789"),
    st.integers(30, 6000).flatmap(lambda n: st.text("0123456789", min_size=n, max_size=n)),
)


@SLOW
@given(
    literal=long_integers,
    where=st.sampled_from(["job_id", "arrival", "duration", "estimate", "stage_id", "version"]),
)
def test_integer_literals_of_any_length_are_field_errors(tmp_path: Path, literal: str, where: str) -> None:
    digits = len(literal.lstrip("-"))
    negative = literal.startswith("-")
    if where == "version":
        path = write(tmp_path, HEADER.replace(": 1}", f": {literal}}}"), job_line())
        line, field = 1, "header.version"
    else:
        path = write(tmp_path, HEADER, job_line(**{where: literal}))
        line = 2
        field = {
            "duration": "stages[1].duration",
            "estimate": "stages[1].estimate",
            "stage_id": "stages[1].id",
        }
        field = field.get(where, where)
    error = trace_error(path)
    assert (error.line, error.field) == (line, field)
    assert f"{'-' if negative else ''}an integer of {digits} digits" in error.reason
    if where in ("arrival", "duration", "estimate"):
        assert error.reason.startswith("must be >= 0" if negative else "must be <= 1,000,000,000")


@SLOW
@given(job_id=st.integers(2**63, 2**200) | st.integers(-(2**200), -1))
def test_job_ids_beyond_64_bits_are_rejected(tmp_path: Path, job_id: int) -> None:
    error = trace_error(write(tmp_path, HEADER, job_line(job_id=str(job_id))))
    assert (error.line, error.field) == (2, "job_id")
    assert error.reason.startswith("must be an integer in [0, 2**63 - 1], got ")
    with pytest.raises(JobSpecError, match=r"^job_id: "):
        JobSpec(job_id, "a", 0.0, (0,), (1.0,), (1.0,), ((),), (None,))


@SLOW
@given(exponent=st.integers(309, 100_000), field=st.sampled_from(["arrival", "duration", "estimate"]))
def test_float_literals_beyond_float_range_are_non_finite_errors(
    tmp_path: Path, exponent: int, field: str
) -> None:
    error = trace_error(write(tmp_path, HEADER, job_line(**{field: f"1.5e{exponent}"})))
    assert error.field == ("arrival" if field == "arrival" else f"stages[1].{field}")
    assert error.reason == "must be finite, got inf"


# ----------------------------------------- finite values that make arithmetic meaningless
@SLOW
@given(
    value=st.floats(min_value=MAX_TIME, max_value=1.7976931348623157e308, exclude_min=True),
    field=st.sampled_from(["arrival", "duration", "estimate"]),
)
def test_times_beyond_the_horizon_are_rejected(tmp_path: Path, value: float, field: str) -> None:
    error = trace_error(write(tmp_path, HEADER, job_line(**{field: repr(value)})))
    assert error.field == ("arrival" if field == "arrival" else f"stages[1].{field}")
    assert error.reason == f"must be <= 1,000,000,000, got {value!r}"


@SLOW
@given(value=st.floats(min_value=0.0, max_value=MIN_DURATION, exclude_min=True, exclude_max=True))
def test_nonzero_durations_below_a_microsecond_are_rejected(tmp_path: Path, value: float) -> None:
    error = trace_error(write(tmp_path, HEADER, job_line(duration=repr(value))))
    assert (error.field, error.reason) == ("stages[1].duration", f"must be 0 or >= 1e-06, got {value!r}")


times = st.floats(min_value=0.0, max_value=MAX_TIME)
durations = st.just(0.0) | st.floats(min_value=MIN_DURATION, max_value=MAX_TIME)


@settings(max_examples=200, deadline=None)
@given(arrival=times, chain=st.lists(durations, min_size=1, max_size=6))
def test_any_accepted_job_has_a_finite_jct_that_is_zero_only_without_work(
    arrival: float, chain: list[float]
) -> None:
    # A chain of stages alone on the cluster: its JCT is the sum of its durations, up to one
    # rounding per stage at the finish time's magnitude; never 0 when it has work, never inf.
    n = len(chain)
    job = JobSpec(
        0,
        "a",
        arrival,
        (0,) * n,
        tuple(chain),
        (1.0,) * n,
        ((), *((i,) for i in range(n - 1))),
        (None,) * n,
    )
    (jct,) = Simulator([job], 1, 1, FCFS()).run().jcts.tolist()
    assert math.isfinite(jct)
    assert (jct > 0) == (sum(chain) > 0)
    finish = arrival + math.fsum(chain)
    assert abs(jct - math.fsum(chain)) <= (n + 1) * math.ulp(finish)


def _has_cycle(n: int, edges: set[tuple[int, int]]) -> bool:
    """Plain reference: some stage reaches itself (transitive closure, Warshall)."""
    reach = [[(a, b) in edges for b in range(n)] for a in range(n)]
    for k in range(n):
        for a in range(n):
            if reach[a][k]:
                for b in range(n):
                    reach[a][b] = reach[a][b] or reach[k][b]
    return any(reach[a][a] for a in range(n))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(2, 6))
def test_a_job_is_accepted_exactly_when_its_parent_and_reveal_edges_have_no_cycle(
    data: st.DataObject, n: int
) -> None:
    """Stages may be listed in any order; only edges into earlier stages can close a cycle."""
    other = [st.sampled_from([s for s in range(n) if s != i]) for i in range(n)]
    parents = [tuple(sorted(data.draw(st.sets(other[i], max_size=3)))) for i in range(n)]
    revealed_by = [data.draw(st.none() | other[i]) for i in range(n)]
    edges = {(p, i) for i in range(n) for p in parents[i]}
    edges |= {(r, i) for i, r in enumerate(revealed_by) if r is not None}
    args = (0, "a", 0.0, (0,) * n, (1.0,) * n, (1.0,) * n, tuple(parents), tuple(revealed_by))
    if _has_cycle(n, edges):
        with pytest.raises(JobSpecError, match="form a cycle"):
            JobSpec(*args)
    else:
        assert JobSpec(*args).num_stages == n


@settings(max_examples=50, deadline=None)
@given(arrivals=st.lists(times, min_size=1, max_size=8), work=durations.filter(lambda d: d > 0))
def test_every_accepted_job_appears_in_the_results(arrivals: list[float], work: float) -> None:
    jobs = [
        JobSpec(i, "a", t, (0, 1), (work, work), (1.0, 1.0), ((), (0,)), (None, None))
        for i, t in enumerate(sorted(arrivals))
    ]
    results = Simulator(jobs, 1, 1, FCFS()).run()
    assert sorted(results.job_ids) == list(range(len(jobs)))
    assert all(math.isfinite(j) and j > 0 for j in results.jcts.tolist())


# ------------------------------------------------------------- LLM stages in tokens (v2)
HEADER_V2 = '{"format": "llm-sched-trace", "version": 2}'
TOKEN_FIELDS = ("prompt_tokens", "output_tokens", "max_tokens", "estimate_tokens")


def v2_job_line(**literals: str) -> str:
    """A v2 job whose stage 0 is in tokens, with the given literal texts spliced into its token fields."""
    values = {"prompt_tokens": "1000", "output_tokens": "450", "max_tokens": "1024", "estimate_tokens": "400"}
    values.update(literals)
    tokens = ", ".join(f'"{key}": {values[key]}' for key in TOKEN_FIELDS)
    return (
        '{"job_id": 0, "app": "sorting", "arrival": 1.0, "stages": ['
        f'{{"id": 0, "kind": "llm", {tokens}, "parents": [], "revealed_by": null}}, '
        '{"id": 1, "kind": "regular", "duration": 0.05, "estimate": 0.05, "parents": [0], '
        '"revealed_by": null}]}'
    )


@SLOW
@given(literal=long_integers, field=st.sampled_from(TOKEN_FIELDS))
def test_token_literals_of_any_length_are_field_errors(tmp_path: Path, literal: str, field: str) -> None:
    error = trace_error(write(tmp_path, HEADER_V2, v2_job_line(**{field: literal})))
    assert (error.line, error.field) == (2, f"stages[0].{field}")
    digits = len(literal.lstrip("-"))
    assert error.reason.endswith(f"got {'-' if literal.startswith('-') else ''}an integer of {digits} digits")


@SLOW
@given(
    value=st.floats(allow_nan=False, allow_infinity=False),
    field=st.sampled_from(TOKEN_FIELDS[:3]),
)
def test_token_counts_must_be_integer_literals(tmp_path: Path, value: float, field: str) -> None:
    # Even 1000.0: a count written as a float is a typo or a unit mix-up, not a count.
    error = trace_error(write(tmp_path, HEADER_V2, v2_job_line(**{field: repr(value)})))
    assert (error.field, error.reason) == (f"stages[0].{field}", f"expected an integer, got {value!r}")


@SLOW
@given(cap=st.integers(1, MAX_TOKENS - 1), excess=st.integers(1, MAX_TOKENS))
def test_output_tokens_beyond_max_tokens_are_rejected(tmp_path: Path, cap: int, excess: int) -> None:
    output = min(cap + excess, MAX_TOKENS)
    error = trace_error(
        write(tmp_path, HEADER_V2, v2_job_line(output_tokens=str(output), max_tokens=str(cap)))
    )
    assert (error.field, error.reason) == ("stages[0].output_tokens", f"{output} exceeds max_tokens {cap}")


@SLOW
@given(
    limit=st.integers(2, 8192),
    data=st.data(),
)
def test_prompt_plus_max_tokens_over_the_pools_context_limit_is_rejected_at_the_limit_accepted(
    tmp_path: Path, limit: int, data: st.DataObject
) -> None:
    prompt = data.draw(st.integers(1, limit - 1), label="prompt")
    cap = limit - prompt + data.draw(st.integers(0, 1), label="over")
    cluster = Cluster(
        (
            PoolSpec("regular", "regular", 1),
            PoolSpec("llm", "llm", 1, ContinuousBatching(context_limit=limit)),
        )
    )
    line = v2_job_line(prompt_tokens=str(prompt), output_tokens="1", max_tokens=str(cap))
    path = write(tmp_path, HEADER_V2, line)
    if prompt + cap <= limit:
        (job,) = read_trace(path, cluster)
        assert len(Simulator([job], cluster=cluster, policy=FCFS()).run()) == 1
        return
    for reader in (read_trace, lambda p, c: list(iter_trace(p, c))):
        with pytest.raises(TraceError) as info:
            reader(path, cluster)
        assert (info.value.line, info.value.field) == (2, "stages[0].max_tokens")
        assert info.value.reason == (
            f"prompt_tokens {prompt} + max_tokens {cap} exceeds the context limit {limit} of pool 'llm'"
        )
    read_trace(path)  # without a cluster there is no context limit to check


# -------------------------------------------------------------------- no jobs at all
@SLOW
@given(
    meta=st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    blank_lines=st.integers(0, 3),
)
def test_a_header_only_trace_says_it_has_no_jobs(tmp_path: Path, meta: dict, blank_lines: int) -> None:
    header = json.dumps({"format": "llm-sched-trace", "version": 1, "meta": meta})
    path = write(tmp_path, header, *[""] * blank_lines)
    error = trace_error(path)
    assert str(error) == f"{path} line 2: trace has no jobs (only the header)"


def test_simulate_names_the_file_of_a_trace_without_jobs(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, HEADER)
    assert main(["simulate", "--trace", str(path)]) == 2
    expected = f"llm-sched simulate: error: {path} line 2: trace has no jobs (only the header)\n"
    assert capsys.readouterr().err == expected


@SLOW
@given(seed=st.integers(max_value=-1))
def test_a_negative_seed_names_the_option(seed: int) -> None:
    # argparse prints "llm-sched simulate: error: argument --seed: must be an integer >= 0, got -1".
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["simulate", "--jobs", "5", "--seed", str(seed)]) == 2
    assert f"error: argument --seed: must be an integer >= 0, got {seed}" in err.getvalue()


# ------------------------------------------------- config values that break the model
def out_of_range(low: float, high: float) -> st.SearchStrategy[float]:
    """Finite floats outside ``[low, high]`` (positive ones, including subnormals, and huge ones)."""
    return st.floats(min_value=5e-324, max_value=low, exclude_max=True) | st.floats(
        min_value=high, max_value=1.7976931348623157e308, exclude_min=True
    )


@settings(max_examples=100, deadline=None)
@given(
    weights=st.lists(st.just(0.0) | st.floats(MIN_MIX_WEIGHT, MAX_MIX_WEIGHT), min_size=3, max_size=3),
    bad=out_of_range(MIN_MIX_WEIGHT, MAX_MIX_WEIGHT) | st.floats(max_value=-5e-324) | st.just(math.inf),
    position=st.integers(0, 2),
)
def test_mix_weights_outside_their_range_are_named(weights: list[float], bad: float, position: int) -> None:
    weights[position] = bad
    with pytest.raises(ValueError, match=rf"^app_mix: weight {position} must be 0 or in \[1e-06, 1e\+06\]"):
        CompoundLLMConfig(app_mix=weights)
    with pytest.raises(ValueError, match=rf"^Workload.mix: weight {position} must be 0 or in"):
        Workload(mix=tuple(weights))
    with pytest.raises(ValueError, match=rf"^mix: weight {position} must be 0 or in"):
        CellConfig("fcfs", 2, 2, 0, 5, 1.0, mix=tuple(weights))


@settings(max_examples=30, deadline=None)
@given(weights=st.lists(st.just(0.0) | st.floats(MIN_MIX_WEIGHT, MAX_MIX_WEIGHT), min_size=3, max_size=3))
def test_mix_weights_in_range_are_accepted_and_zero_weights_never_drawn(weights: list[float]) -> None:
    if not any(weights):
        with pytest.raises(ValueError, match=r"^app_mix: weights must not all be 0"):
            CompoundLLMConfig(app_mix=weights)
        return
    assert CompoundLLMConfig(app_mix=weights).app_mix == tuple(weights)
    jobs = list(Workload(mix=tuple(weights)).jobs(100, 0))
    names = ("task_automation", "code_generation", "sorting")
    assert {job.app for job in jobs} <= {app for app, w in zip(names, weights, strict=True) if w}


def test_the_largest_equal_weights_draw_exactly_the_equal_mix() -> None:
    # Weights of 1e308 once overflowed their sum and made every job a sorting job.
    big = Workload(mix=(MAX_MIX_WEIGHT,) * 3).jobs(300, 4)
    assert list(big) == list(Workload().jobs(300, 4))


@settings(max_examples=60, deadline=None)
@given(rate=out_of_range(MIN_ARRIVAL_RATE, MAX_ARRIVAL_RATE))
def test_arrival_rates_outside_their_range_are_named(rate: float) -> None:
    message = r"must be a number of jobs/s in \[0.001, 1e\+06\]"
    with pytest.raises(ValueError, match=rf"^arrival_rate: {message}"):
        CompoundLLMConfig(arrival_rate=rate)
    with pytest.raises(ValueError, match=rf"^arrival_rate: {message}"):
        CellConfig("fcfs", 2, 2, 0, 5, rate)
    with pytest.raises(ValueError, match=r"^PoissonArrivals.rate: "):
        PoissonArrivals(rate)


def test_the_slowest_accepted_rate_gives_meaningful_jcts() -> None:
    # At 1e-3 jobs/s the cluster is empty between jobs: each JCT is its job's critical path.
    jobs = list(Workload(arrivals=PoissonArrivals(MIN_ARRIVAL_RATE)).jobs(50, 0))
    results = Simulator(jobs, 10, 10, FCFS()).run().jct_by_job()
    for job in jobs:
        assert results[job.job_id] == pytest.approx(job.critical_path(), rel=1e-9)
        assert results[job.job_id] > 0


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["reward_scale", "stage_time_scale", "job_time_scale"]),
    value=out_of_range(MIN_SCALE, MAX_SCALE),
)
def test_scales_outside_their_range_are_named(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: must be a number in \[0.001, 1e\+09\], got "):
        CompoundLLMConfig(**{name: value})


# ------------------------------------------------------------- sizes that exhaust memory
SIZE_BOUNDS = {
    "num_jobs": MAX_JOBS,
    "num_regular": MAX_ENV_EXECUTORS,
    "num_llm": MAX_ENV_EXECUTORS,
    "stage_slots": MAX_STAGE_SLOTS,
    "edge_slots": MAX_EDGE_SLOTS,
}


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(sorted(SIZE_BOUNDS)),
    excess=st.integers(1, 10**12) | st.sampled_from([2**63, 2**64, 10**5000]),
)
def test_sizes_beyond_their_bound_are_named_before_anything_is_allocated(name: str, excess: int) -> None:
    value = SIZE_BOUNDS[name] + excess if excess < 2**63 else excess
    tracemalloc.start()
    try:
        with pytest.raises(
            ValueError, match=rf"^{name}: must be an integer in \[\d+, {SIZE_BOUNDS[name]}\], got "
        ):
            CompoundLLMConfig(**{name: value})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200_000


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(["num_regular", "num_llm", "num_jobs"]), value=st.integers(2_000_000, 2**70))
def test_cell_sizes_beyond_their_bound_are_named(name: str, value: int) -> None:
    fields = {"num_regular": 2, "num_llm": 2, "num_jobs": 5, name: value}
    with pytest.raises(ValueError, match=rf"^{name}: must be an integer in \[1, \d+\], got "):
        CellConfig("fcfs", fields["num_regular"], fields["num_llm"], 0, fields["num_jobs"], 1.0)


def test_sizes_at_their_bound_are_accepted() -> None:
    config = CompoundLLMConfig(
        num_regular=MAX_ENV_EXECUTORS, num_llm=MAX_ENV_EXECUTORS, stage_slots=MAX_STAGE_SLOTS
    )
    assert (config.num_regular, config.stage_slots) == (MAX_ENV_EXECUTORS, MAX_STAGE_SLOTS)


def _chain_job(job_id: int, num_stages: int) -> JobSpec:
    """A chain of ``num_stages`` regular stages of 1 ms."""
    parents = ((), *((i,) for i in range(num_stages - 1)))
    return JobSpec(
        job_id,
        "a",
        0.0,
        (0,) * num_stages,
        (1e-3,) * num_stages,
        (1e-3,) * num_stages,
        parents,
        (None,) * num_stages,
    )


def test_a_trace_job_over_the_stage_bound_is_named_and_one_at_it_runs_to_the_end() -> None:
    with pytest.raises(
        ValueError, match=r"^trace\[1\]: job 1 has 8,193 stages; the environments take at most 8,192$"
    ):
        CompoundLLMConfig.from_trace([_chain_job(0, 3), _chain_job(1, MAX_JOB_STAGES + 1)])
    env = CompoundLLMEnv(CompoundLLMConfig.from_trace([_chain_job(0, 2), _chain_job(1, MAX_JOB_STAGES)]))
    env.reset()
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(0)
    assert sorted(env.results.jct_by_job()) == [0, 1]


def test_stage_keys_of_the_largest_episode_are_one_digit_ints() -> None:
    # (rank << STAGE_BITS) | position below 2**30: Python keeps such ints in one digit.
    assert (MAX_JOBS << STAGE_BITS) | STAGE_MASK < 2**30
    assert STAGE_MASK + 1 == MAX_JOB_STAGES


# ---------------------------------------------------------------- streaming memory
def write_long_trace(path: Path, num_jobs: int) -> None:
    """``num_jobs`` one-stage jobs, one every 2 s, written on the fly."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(HEADER + "\n")
        for i in range(num_jobs):
            f.write(
                f'{{"job_id":{i},"app":"a","arrival":{2.0 * i},"stages":[{{"id":0,"kind":"llm",'
                '"duration":1.0,"estimate":1.0,"parents":[],"revealed_by":null}]}\n'
            )


def test_streaming_a_long_trace_into_the_simulator_keeps_memory_flat(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    write_long_trace(path, 10_000)
    window = 1_000
    peaks: list[int] = []  # peak traced memory over each window of 1,000 jobs

    def measured(jobs: Iterator[JobSpec]) -> Iterator[JobSpec]:
        for count, job in enumerate(jobs, start=1):
            yield job
            if count % window == 0:
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.reset_peak()

    tracemalloc.start()
    try:
        results = Simulator(measured(iter_trace(path)), 1, 1, FCFS()).run()
    finally:
        tracemalloc.stop()
    assert len(results) == 10_000 and results.mean_jct == 1.0
    # From the 2nd to the 10th window, 8,000 more jobs have passed. Only the simulator's
    # per-job result arrays (26 bytes a job) may grow; remembering every job id, as the
    # reader once did, costs about 175 bytes a job.
    assert (peaks[-1] - peaks[1]) / (8 * window) < 40
