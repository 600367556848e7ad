"""Trace formats v1 and v2: realized jobs as JSON Lines, for saving and replaying workloads.

Format
------
A trace is a UTF-8 text file of JSON values, one per line (lines end with ``\\n``).

Line 1 is the **header**, an object with

- ``"format"``: the string ``"llm-sched-trace"``;
- ``"version"``: the integer ``1`` or ``2``. Version 2 adds named pools and LLM stages in
  tokens (below); everything else is the same in both;
- any other keys, which readers ignore. :func:`write_trace` stores its ``meta`` argument
  under ``"meta"``; :func:`read_header` returns the whole header.

Every following line is one **job**, an object with these required keys:

- ``"job_id"``: an integer in ``[0, 2**63 - 1]``, unique in the trace;
- ``"app"``: the application name, a non-empty string. ``"task_automation"``,
  ``"code_generation"`` and ``"sorting"`` are the built-in applications; any other name is
  allowed (priority policies rank unknown apps last);
- ``"arrival"``: the arrival time in seconds, a number in ``[0, 1e9]``;
- ``"stages"``: a non-empty array of stage objects.

Each **stage** object has these required keys:

- ``"id"``: an integer in ``[0, 2**63 - 1]``, unique within the job. Ids only name stages
  for ``parents`` and ``revealed_by``; they need not be positions or contiguous;
- ``"kind"``: ``"llm"`` (runs on an LLM executor) or ``"regular"`` (a regular executor);
- ``"duration"``: the true running time in seconds: 0, or a number in ``[1e-6, 1e9]``.
  Schedulers learn it only when the stage finishes. On an LLM stage in tokens (version 2)
  it is optional, see below;
- ``"estimate"``: the duration a scheduler may see in advance, a number in ``[0, 1e9]``;
  optional on an LLM stage in tokens;
- ``"parents"``: an array of stage ids (of the same job, no repeats) that must finish
  before this stage can start;
- ``"revealed_by"``: ``null`` if the stage is visible when the job arrives, else the id
  of the stage whose completion reveals it (the DAG grows at run time).

Parent and ``revealed_by`` edges together must form no cycle. Keys not listed here, on
jobs and on stages, are ignored, except that the version 2 stage keys below are errors in
a version 1 trace (never silently dropped). Numbers must be finite: the ``NaN`` and
``Infinity`` literals that Python's ``json`` accepts are rejected. Booleans are not
integers here. Blank lines are allowed only at the end of the file. A trace has at least
one job.

Version 2
---------
A version 2 stage may name its **pool** (DESIGN.md section 7):

- ``"pool"``: the name of the pool of the cluster that runs the stage, a non-empty string.
  Optional, on any stage; without it the stage runs on the pool named after its kind,
  ``"regular"`` or ``"llm"`` (the paper's cluster has just these two).

An LLM stage may be **in tokens**, as an OpenAI-style request sees the call; then it has
all four of

- ``"prompt_tokens"``: the prompt's length, an integer in ``[1, 1e9]``;
- ``"output_tokens"``: the true number of tokens generated, an integer in
  ``[1, max_tokens]``. Hidden from schedulers, like ``duration``;
- ``"max_tokens"``: the request's cap on its output, an integer in ``[1, 1e9]``;
- ``"estimate_tokens"``: the output length a scheduler may see in advance, a number in
  ``[0, 1e9]``;

and its ``"duration"`` and ``"estimate"`` become optional. ``duration`` is the stage's
time on a single-stream pool (the paper's executor); it defaults to ``output_tokens / 90``
and ``estimate`` to ``estimate_tokens / 90``: 90 tokens/s is Llama-2-7B's single-stream
decoding speed on the paper's testbed (:data:`~llm_sched_env.workloads.DECODE_TOKENS_PER_SECOND`).
The built-in applications draw an output length as a real number of tokens whose ceiling
is ``output_tokens``, and keep ``duration`` = the real length / 90, so their traces carry
``duration`` explicitly. A continuous-batching pool runs the tokens and ignores
``duration``. An LLM stage with none of the four keys is in seconds, as in version 1. In
one job either every LLM stage is in tokens or none is, and a regular stage carries no
tokens.

Whether a pool exists, is of the stage's kind and can run the stage depends on the cluster
(:class:`~llm_sched_env.core.Cluster`, read from a cluster file). Given ``cluster=``,
:func:`read_trace` and :func:`iter_trace` check every job against it as the simulator
does: the pool must exist and be of the stage's kind, and its executor model must accept
the stage; a ``continuous_batching`` pool needs its LLM stages in tokens (an LLM stage in
seconds on it is an error) with ``prompt_tokens + max_tokens`` at most its
``context_limit`` (4,096 by default: Llama-2's context). Without a cluster these checks
happen when the simulator takes the job, and the error names the job and the stage instead
of the line.

Bounds. Times are at most 1e9 s (``MAX_TIME``, about 31.7 years) and a nonzero duration
is at least 1e-6 s (``MIN_DURATION``): then every sum the simulator forms stays finite,
and a nonzero duration is never lost when added to a time (see
:mod:`llm_sched_env.core.job`). Token counts are at most 1e9 (``MAX_TOKENS``), so their
default durations are valid times. Integer literals of any length are read: one outside
its field's range is an error naming the line and the field, never an overflow.

Order. :func:`read_trace` loads the whole file, so its jobs may appear in any order (it
sorts them). :func:`iter_trace` streams the file in constant memory and therefore needs
stream order: ``job_id`` strictly increasing and ``arrival`` non-decreasing from line to
line (the order :func:`write_trace` leaves a generated workload in, and the simulator's
``(arrival, job_id)`` order). Comparing each job with the previous one then detects
repeated ids without remembering every id.

Example, version 1 (one job; a planner stage reveals two tools, which feed a final LLM
stage)::

    {"format":"llm-sched-trace","version":1,"meta":{"source":"my-cluster"}}
    {"job_id":0,"app":"task_automation","arrival":12.5,"stages":[
      {"id":0,"kind":"llm","duration":6.1,"estimate":5.0,"parents":[],"revealed_by":null},
      {"id":1,"kind":"regular","duration":2.0,"estimate":1.5,"parents":[],"revealed_by":0},
      {"id":2,"kind":"regular","duration":0.4,"estimate":1.5,"parents":[1],"revealed_by":0},
      {"id":3,"kind":"llm","duration":4.2,"estimate":4.0,"parents":[1,2],"revealed_by":0}]}

The same job in version 2, in tokens, with its planner on a pool ``"planner"`` (its
durations default to 549 / 90 = 6.1 s and 378 / 90 = 4.2 s)::

    {"format":"llm-sched-trace","version":2}
    {"job_id":0,"app":"task_automation","arrival":12.5,"stages":[
      {"id":0,"kind":"llm","pool":"planner","prompt_tokens":1800,"output_tokens":549,
       "max_tokens":1024,"estimate_tokens":450,"parents":[],"revealed_by":null},
      {"id":1,"kind":"regular","duration":2.0,"estimate":1.5,"parents":[],"revealed_by":0},
      {"id":2,"kind":"regular","duration":0.4,"estimate":1.5,"parents":[1],"revealed_by":0},
      {"id":3,"kind":"llm","prompt_tokens":900,"output_tokens":378,"max_tokens":1024,
       "estimate_tokens":360,"parents":[1,2],"revealed_by":0}]}

(each job is shown wrapped; in a trace it is a single line). A stage at position ``i`` of
``"stages"`` becomes stage ``i`` of the loaded :class:`~llm_sched_env.core.JobSpec`, with
ids translated to positions; its ``pools`` are set when any stage of the job names a pool
(the others get their kind's default) and its ``calls`` when its LLM stages are in tokens.

Writing. :func:`write_trace` writes version 2 when any job has ``pools`` or ``calls``, and
version 1 otherwise (a workload in seconds gives the same file as before version 2). It
writes ids equal to positions, every key (``duration`` and ``estimate`` included, in
version 2 too) and floats in their shortest exact form, so writing and reading back gives
equal ``JobSpec`` objects.

Errors
------
Reading validates every line and raises :class:`TraceError` for the first problem,
naming the file, the 1-based line number and the field, e.g.
``trace.jsonl line 5, field stages[2].parents: unknown parent 7``. Fields are written as
in the JSON (``arrival``, ``stages[2].duration``, ``stages[0].max_tokens``,
``header.version``), with stages counted by position in ``"stages"``; stage numbers in
the explanation of a parent or cycle problem found after id translation are positions too.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from typing import IO, Any

from llm_sched_env.core import (
    DEFAULT_POOLS,
    KIND_CODES,
    KIND_NAMES,
    LLM,
    Cluster,
    JobSpec,
    JobSpecError,
    LLMCall,
)
from llm_sched_env.core.job import check_call, value_text
from llm_sched_env.workloads.application import DECODE_TOKENS_PER_SECOND

FORMAT = "llm-sched-trace"
VERSIONS = (1, 2)  # the versions this module reads; it writes the lowest that holds the jobs
TOKEN_KEYS = LLMCall._fields  # an LLM stage in tokens has all of them (version 2)
V2_KEYS = ("pool", *TOKEN_KEYS)
MAX_STAGE_ID = 2**63 - 1
_EXACT_DIGITS = 40  # integer literals up to this many digits are read exactly

_dumps = functools.partial(json.dumps, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
_MISSING = object()


class TraceError(ValueError):
    """A trace file is malformed.

    ``path`` is the file, ``line`` the 1-based line number and ``field`` the offending
    field (``None`` when the whole line is at fault: not UTF-8, not JSON, a blank line
    before the end, or a job line that is not an object). ``reason`` says what is wrong.
    """

    def __init__(self, path: str, line: int, field: str | None, reason: str) -> None:
        where = f"{path} line {line}" if field is None else f"{path} line {line}, field {field}"
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.field = field
        self.reason = reason


def write_trace(
    path: str | os.PathLike[str], jobs: Iterable[JobSpec], meta: dict[str, Any] | None = None
) -> int:
    """Write ``jobs`` in their given order as a trace at ``path``; return how many were written.

    The trace is version 2 when any job has ``pools`` or ``calls``, else version 1.
    ``meta`` (JSON-serialisable, finite numbers only) is stored in the header. Jobs are
    consumed lazily, so a generator of any length works. The file appears only when
    complete: it replaces ``path`` atomically, and nothing is left behind on error.
    Raises ``ValueError`` on a repeated ``job_id`` (the trace would not load).
    """
    header: dict[str, Any] = {"format": FORMAT, "version": 1}
    if meta is not None:
        header["meta"] = meta
    header_line = _dumps(header).encode("utf-8")
    # The version is known only once every job is written: it is written as 1 and, if a job
    # needs version 2, overwritten in place (one byte), so the jobs still stream.
    version_at = header_line.index(b'"version":1') + len(b'"version":')
    target = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(target))
    temp = os.path.join(directory, f".{name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header_line + b"\n")
            count, version = _write_jobs(f, jobs)
            if version != 1:
                f.seek(version_at)
                f.write(str(version).encode("ascii"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    return count


def read_trace(path: str | os.PathLike[str], cluster: Cluster | None = None) -> list[JobSpec]:
    """Load and validate every job of the trace at ``path``, sorted by ``(arrival, job_id)``.

    Jobs may appear in the file in any order; the result is in the order
    :class:`~llm_sched_env.core.Simulator` requires. With ``cluster``, every stage is also
    checked against the cluster it will run on (pool names, executor models; see the
    module docstring). Raises :class:`TraceError` on the first malformed line (a repeated
    ``job_id`` names the line of its first use).
    """
    name = os.fspath(path)
    first_line_of: dict[int, int] = {}
    jobs = []
    for number, job in _jobs(name, cluster):
        if job.job_id in first_line_of:
            raise TraceError(
                name,
                number,
                "job_id",
                f"duplicate job_id {job.job_id} (first on line {first_line_of[job.job_id]})",
            )
        first_line_of[job.job_id] = number
        jobs.append(job)
    return sorted(jobs, key=lambda job: (job.arrival, job.job_id))


def iter_trace(path: str | os.PathLike[str], cluster: Cluster | None = None) -> Iterator[JobSpec]:
    """Lazily yield the trace's jobs in file order, validating each line as it is read.

    For traces too large to hold in memory: memory stays constant however long the file.
    The file must be in stream order (``job_id`` strictly increasing, ``arrival``
    non-decreasing; see the module docstring), which is also the order the simulator
    needs. ``cluster`` is as for :func:`read_trace`. Raises :class:`TraceError` when it
    reaches a malformed line or a job out of that order (a repeated ``job_id`` is one).
    """
    name = os.fspath(path)
    previous: JobSpec | None = None
    for number, job in _jobs(name, cluster):
        if previous is not None:
            if job.job_id <= previous.job_id:
                what = "duplicate" if job.job_id == previous.job_id else "decreasing"
                raise TraceError(
                    name,
                    number,
                    "job_id",
                    f"{what} job_id {job.job_id} after {previous.job_id} on line {number - 1}; "
                    "streaming needs strictly increasing job ids (read_trace accepts any order)",
                )
            if job.arrival < previous.arrival:
                raise TraceError(
                    name,
                    number,
                    "arrival",
                    f"{job.arrival!r} is before the previous job's {previous.arrival!r}; streaming "
                    "needs non-decreasing arrivals (read_trace accepts any order)",
                )
        previous = job
        yield job


def read_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The validated header object of the trace at ``path`` (with ``"meta"`` if it was written)."""
    name = os.fspath(path)
    with open(name, "rb") as f:
        return _check_header(name, next(_json_lines(f, name), None))[1]


# ----------------------------------------------------------------------- writing
def _write_jobs(f: IO[bytes], jobs: Iterable[JobSpec]) -> tuple[int, int]:
    """Write the job lines; return how many, and the trace version they need."""
    seen: set[int] = set()
    version = 1
    for count, job in enumerate(jobs):
        if not isinstance(job, JobSpec):
            raise TypeError(f"jobs[{count}]: expected a JobSpec, got {type(job).__name__}")
        if job.job_id in seen:
            raise ValueError(f"jobs[{count}]: duplicate job_id {job.job_id}")
        seen.add(job.job_id)
        if job.pools is not None or job.calls is not None:
            version = 2
        stages = [_stage_object(job, i) for i in range(job.num_stages)]
        line = _dumps({"job_id": job.job_id, "app": job.app, "arrival": job.arrival, "stages": stages})
        f.write(line.encode("utf-8") + b"\n")
    return len(seen), version


def _stage_object(job: JobSpec, i: int) -> dict[str, Any]:
    stage: dict[str, Any] = {"id": i, "kind": KIND_NAMES[job.kinds[i]]}
    if job.pools is not None:
        stage["pool"] = job.pools[i]
    call = job.calls[i] if job.calls is not None else None
    if call is not None:
        stage.update(call._asdict())
    stage["duration"] = job.durations[i]
    stage["estimate"] = job.estimates[i]
    stage["parents"] = list(job.parents[i])
    stage["revealed_by"] = job.revealed_by[i]
    return stage


# ----------------------------------------------------------------------- reading
def _jobs(name: str, cluster: Cluster | None) -> Iterator[tuple[int, JobSpec]]:
    """``(line number, job)`` of every job line after a valid header; at least one job."""
    with open(name, "rb") as f:
        lines = _json_lines(f, name)
        header_line, header = _check_header(name, next(lines, None))
        found = False
        for number, value in lines:
            found = True
            yield number, _parse_job(name, number, value, header["version"], cluster)
    if not found:
        raise TraceError(name, header_line + 1, None, "trace has no jobs (only the header)")


def _json_lines(f: IO[bytes], name: str) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` of each line; blank lines only at the end."""
    first_blank: int | None = None
    for number, raw in enumerate(f, start=1):
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as err:
            raise TraceError(
                name, number, None, f"not valid UTF-8 (byte {err.start + 1} of the line)"
            ) from None
        if not text.strip(" \t\r\n"):
            if first_blank is None:
                first_blank = number
            continue
        if first_blank is not None:
            raise TraceError(name, first_blank, None, "blank line (allowed only at the end of the file)")
        try:
            value = _DECODER.decode(text)
        except json.JSONDecodeError as err:
            raise TraceError(name, number, None, f"invalid JSON: {err.msg} (column {err.colno})") from None
        except RecursionError:
            raise TraceError(name, number, None, "invalid JSON: nested too deeply") from None
        yield number, value


def _check_header(name: str, numbered: tuple[int, Any] | None) -> tuple[int, dict[str, Any]]:
    """The header's line number and object, validated."""
    expected = f'the first line must be the header {{"format": "{FORMAT}", "version": 1 or 2}}'
    if numbered is None:
        raise TraceError(name, 1, "header", f"missing: the file is empty; {expected}")
    number, header = numbered
    if not isinstance(header, dict):
        raise TraceError(name, number, "header", f"expected an object, got {_json_type(header)}; {expected}")
    if header.get("format", _MISSING) != FORMAT:
        got = "missing" if "format" not in header else f"got {header['format']!r}"
        raise TraceError(name, number, "header.format", f"{got}; {expected}")
    version = header.get("version", _MISSING)
    if version is _MISSING:
        raise TraceError(name, number, "header.version", f"missing; {expected}")
    if not _is_int(version):
        raise TraceError(name, number, "header.version", f"expected an integer, got {version!r}")
    if version not in VERSIONS:
        raise TraceError(
            name,
            number,
            "header.version",
            f"unsupported version {value_text(version)}; this reader reads 1 and 2",
        )
    return number, header


def _parse_job(name: str, number: int, value: Any, version: int, cluster: Cluster | None) -> JobSpec:
    if not isinstance(value, dict):
        raise TraceError(name, number, None, f"expected a job object, got {_json_type(value)}")
    try:
        job = _job_from_object(value, version)
        if cluster is not None:
            cluster.stage_pools(job)
    except JobSpecError as err:
        raise TraceError(name, number, err.field, err.reason) from None
    return job


def _job_from_object(job: dict[str, Any], version: int) -> JobSpec:
    """Translate stage ids to positions; :class:`JobSpec` checks everything else."""
    job_id, app, arrival, stages = (_require(job, key, key) for key in ("job_id", "app", "arrival", "stages"))
    if not isinstance(stages, list):
        raise JobSpecError("stages", f"expected an array, got {_json_type(stages)}")
    position: dict[int, int] = {}
    for i, stage in enumerate(stages):
        if not isinstance(stage, dict):
            raise JobSpecError(f"stages[{i}]", f"expected a stage object, got {_json_type(stage)}")
        stage_id = _require(stage, "id", f"stages[{i}].id")
        if not _is_int(stage_id) or not 0 <= stage_id <= MAX_STAGE_ID:
            raise JobSpecError(
                f"stages[{i}].id", f"must be an integer in [0, 2**63 - 1], got {value_text(stage_id)}"
            )
        if stage_id in position:
            raise JobSpecError(
                f"stages[{i}].id", f"duplicate stage id {stage_id} (also stages[{position[stage_id]}])"
            )
        position[stage_id] = i
    kinds: list[int] = []
    durations: list[Any] = []
    estimates: list[Any] = []
    parents: list[tuple[int, ...]] = []
    revealed_by: list[int | None] = []
    pools: list[Any] = []
    calls: list[LLMCall | None] = []
    for i, stage in enumerate(stages):
        kind = _require(stage, "kind", f"stages[{i}].kind")
        if not isinstance(kind, str) or kind not in KIND_CODES:
            raise JobSpecError(
                f"stages[{i}].kind", f"unknown kind {kind!r}; expected one of {sorted(KIND_CODES)}"
            )
        kinds.append(KIND_CODES[kind])
        if version == 1:
            for key in V2_KEYS:
                if key in stage:
                    raise JobSpecError(
                        f"stages[{i}].{key}", "a version 2 field, in a trace whose header says version 1"
                    )
        pools.append(stage.get("pool", _MISSING))
        call = _call(stage, i, kinds[-1])
        calls.append(call)
        if call is None:
            durations.append(_require(stage, "duration", f"stages[{i}].duration"))
            estimates.append(_require(stage, "estimate", f"stages[{i}].estimate"))
        else:
            durations.append(stage.get("duration", call.output_tokens / DECODE_TOKENS_PER_SECOND))
            estimates.append(stage.get("estimate", call.estimate_tokens / DECODE_TOKENS_PER_SECOND))
        field = f"stages[{i}].parents"
        parent_ids = _require(stage, "parents", field)
        if not isinstance(parent_ids, list):
            raise JobSpecError(field, f"expected an array of stage ids, got {_json_type(parent_ids)}")
        parents.append(tuple(_position_of(p, position, field, "unknown parent") for p in parent_ids))
        field = f"stages[{i}].revealed_by"
        revealer = _require(stage, "revealed_by", field)
        revealed_by.append(
            None if revealer is None else _position_of(revealer, position, field, "unknown stage id")
        )
    return JobSpec(
        job_id,
        app,
        arrival,
        tuple(kinds),
        tuple(durations),
        tuple(estimates),
        tuple(parents),
        tuple(revealed_by),
        pools=_job_pools(pools, kinds),
        calls=_job_calls(calls, kinds),
    )


def _call(stage: dict[str, Any], i: int, kind: int) -> LLMCall | None:
    """The stage's call when it is in tokens (all of ``TOKEN_KEYS``), else ``None``."""
    present = [key for key in TOKEN_KEYS if key in stage]
    if not present:
        return None
    if kind != LLM:
        raise JobSpecError(f"stages[{i}].{present[0]}", "only LLM stages carry tokens")
    for key in TOKEN_KEYS:
        if key not in stage:
            raise JobSpecError(
                f"stages[{i}].{key}",
                f"missing required field (the stage has {present[0]}; an LLM stage in tokens has "
                f"{', '.join(TOKEN_KEYS)})",
            )
    return check_call(LLMCall(*(stage[key] for key in TOKEN_KEYS)), i)


def _job_pools(pools: list[Any], kinds: list[int]) -> tuple[Any, ...] | None:
    """Every stage's pool (its kind's default where unnamed), or ``None`` when no stage names one."""
    if all(pool is _MISSING for pool in pools):
        return None
    return tuple(
        DEFAULT_POOLS[kind] if pool is _MISSING else pool for pool, kind in zip(pools, kinds, strict=True)
    )


def _job_calls(calls: list[LLMCall | None], kinds: list[int]) -> tuple[LLMCall | None, ...] | None:
    """The job's calls when its LLM stages are in tokens; all of them must be, or none."""
    in_tokens = [i for i, call in enumerate(calls) if call is not None]
    if not in_tokens:
        return None
    for i, (call, kind) in enumerate(zip(calls, kinds, strict=True)):
        if kind == LLM and call is None:
            raise JobSpecError(
                f"stages[{i}].prompt_tokens",
                f"missing required field: stages[{in_tokens[0]}] is in tokens, so every LLM stage of the "
                "job must be",
            )
    return tuple(calls)


def _require(obj: dict[str, Any], key: str, field: str) -> Any:
    value = obj.get(key, _MISSING)
    if value is _MISSING:
        raise JobSpecError(field, "missing required field")
    return value


def _position_of(stage_id: Any, position: dict[int, int], field: str, unknown: str) -> int:
    if not _is_int(stage_id):
        raise JobSpecError(field, f"expected an integer stage id, got {stage_id!r}")
    if stage_id not in position:
        raise JobSpecError(field, f"{unknown} {value_text(stage_id)}")
    return position[stage_id]


class _LongInteger(int):
    """The stand-in for an integer literal too long to read exactly (see :func:`_parse_int`).

    It prints as its length, so that messages naming it (even inside a list) never hit
    Python's limit on printing long integers.
    """

    def __repr__(self) -> str:
        return value_text(int(self))

    __str__ = __repr__


def _parse_int(literal: str) -> int:
    """A JSON integer literal as an int, without Python's limit on conversion digits.

    Every integer field of a trace lies far below 10**_EXACT_DIGITS, so a longer literal
    is out of range whatever its digits: it becomes ``±10**(digits - 1)``, which keeps its
    sign and length for the error that its field check then raises.
    """
    digits = len(literal) - literal.startswith("-")
    if digits <= _EXACT_DIGITS:
        return int(literal)
    return _LongInteger((-1 if literal.startswith("-") else 1) * 10 ** (digits - 1))


_DECODER = json.JSONDecoder(parse_int=_parse_int)  # one instance: json.loads with options builds one a call


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), "a number")
