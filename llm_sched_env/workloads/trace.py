"""Trace format v1: realized jobs as JSON Lines, for saving and replaying workloads.

Format
------
A trace is a UTF-8 text file of JSON values, one per line (lines end with ``\\n``).

Line 1 is the **header**, an object with

- ``"format"``: the string ``"llm-sched-trace"``;
- ``"version"``: the integer ``1``;
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
  Schedulers learn it only when the stage finishes;
- ``"estimate"``: the duration a scheduler may see in advance, a number in ``[0, 1e9]``;
- ``"parents"``: an array of stage ids (of the same job, no repeats) that must finish
  before this stage can start;
- ``"revealed_by"``: ``null`` if the stage is visible when the job arrives, else the id
  of the stage whose completion reveals it (the DAG grows at run time).

Parent and ``revealed_by`` edges together must form no cycle. Keys not listed above, on
jobs and on stages, are ignored. Numbers must be finite: the ``NaN`` and ``Infinity``
literals that Python's ``json`` accepts are rejected. Booleans are not integers here.
Blank lines are allowed only at the end of the file. A trace has at least one job.

Bounds. Times are at most 1e9 s (``MAX_TIME``, about 31.7 years) and a nonzero duration
is at least 1e-6 s (``MIN_DURATION``): then every sum the simulator forms stays finite,
and a nonzero duration is never lost when added to a time (see
:mod:`llm_sched_env.core.job`). Integer literals of any length are read: one outside its
field's range is an error naming the line and the field, never an overflow.

Order. :func:`read_trace` loads the whole file, so its jobs may appear in any order (it
sorts them). :func:`iter_trace` streams the file in constant memory and therefore needs
stream order: ``job_id`` strictly increasing and ``arrival`` non-decreasing from line to
line (the order :func:`write_trace` leaves a generated workload in, and the simulator's
``(arrival, job_id)`` order). Comparing each job with the previous one then detects
repeated ids without remembering every id.

Example (one job; a planner stage reveals two tools, which feed a final LLM stage)::

    {"format":"llm-sched-trace","version":1,"meta":{"source":"my-cluster"}}
    {"job_id":0,"app":"task_automation","arrival":12.5,"stages":[
      {"id":0,"kind":"llm","duration":6.1,"estimate":5.0,"parents":[],"revealed_by":null},
      {"id":1,"kind":"regular","duration":2.0,"estimate":1.5,"parents":[],"revealed_by":0},
      {"id":2,"kind":"regular","duration":0.4,"estimate":1.5,"parents":[1],"revealed_by":0},
      {"id":3,"kind":"llm","duration":4.2,"estimate":4.0,"parents":[1,2],"revealed_by":0}]}

(the job is shown wrapped; in a trace it is a single line). A stage at position ``i`` of
``"stages"`` becomes stage ``i`` of the loaded :class:`~llm_sched_env.core.JobSpec`, with
ids translated to positions. :func:`write_trace` writes ids equal to positions, and floats
in their shortest exact form, so writing and reading back gives equal ``JobSpec`` objects.

Errors
------
Reading validates every line and raises :class:`TraceError` for the first problem,
naming the file, the 1-based line number and the field, e.g.
``trace.jsonl line 5, field stages[2].parents: unknown parent 7``. Fields are written as
in the JSON (``arrival``, ``stages[2].duration``, ``header.version``), with stages
counted by position in ``"stages"``; stage numbers in the explanation of a parent or
cycle problem found after id translation are positions too.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
from collections.abc import Iterable, Iterator
from typing import IO, Any

from llm_sched_env.core import KIND_CODES, KIND_NAMES, JobSpec, JobSpecError
from llm_sched_env.core.job import value_text

FORMAT = "llm-sched-trace"
VERSION = 1
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
    """Write ``jobs`` in their given order as a v1 trace at ``path``; return how many were written.

    ``meta`` (JSON-serialisable, finite numbers only) is stored in the header. Jobs are
    consumed lazily, so a generator of any length works. The file appears only when
    complete: it replaces ``path`` atomically, and nothing is left behind on error.
    Raises ``ValueError`` on a repeated ``job_id`` (the trace would not load).
    """
    header = {"format": FORMAT, "version": VERSION}
    if meta is not None:
        header["meta"] = meta
    header_line = _dumps(header)
    target = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(target))
    temp = os.path.join(directory, f".{name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(header_line + "\n")
            count = _write_jobs(f, jobs)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    return count


def read_trace(path: str | os.PathLike[str]) -> list[JobSpec]:
    """Load and validate every job of the trace at ``path``, sorted by ``(arrival, job_id)``.

    Jobs may appear in the file in any order; the result is in the order
    :class:`~llm_sched_env.core.Simulator` requires. Raises :class:`TraceError` on the
    first malformed line (a repeated ``job_id`` names the line of its first use).
    """
    name = os.fspath(path)
    first_line_of: dict[int, int] = {}
    jobs = []
    for number, job in _jobs(name):
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


def iter_trace(path: str | os.PathLike[str]) -> Iterator[JobSpec]:
    """Lazily yield the trace's jobs in file order, validating each line as it is read.

    For traces too large to hold in memory: memory stays constant however long the file.
    The file must be in stream order (``job_id`` strictly increasing, ``arrival``
    non-decreasing; see the module docstring), which is also the order the simulator
    needs. Raises :class:`TraceError` when it reaches a malformed line or a job out of
    that order (a repeated ``job_id`` is one).
    """
    name = os.fspath(path)
    previous: JobSpec | None = None
    for number, job in _jobs(name):
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
def _write_jobs(f: IO[str], jobs: Iterable[JobSpec]) -> int:
    seen: set[int] = set()
    for count, job in enumerate(jobs):
        if not isinstance(job, JobSpec):
            raise TypeError(f"jobs[{count}]: expected a JobSpec, got {type(job).__name__}")
        if job.job_id in seen:
            raise ValueError(f"jobs[{count}]: duplicate job_id {job.job_id}")
        seen.add(job.job_id)
        stages = [
            {
                "id": i,
                "kind": KIND_NAMES[kind],
                "duration": duration,
                "estimate": estimate,
                "parents": list(parents),
                "revealed_by": revealer,
            }
            for i, (kind, duration, estimate, parents, revealer) in enumerate(
                zip(job.kinds, job.durations, job.estimates, job.parents, job.revealed_by, strict=True)
            )
        ]
        f.write(
            _dumps({"job_id": job.job_id, "app": job.app, "arrival": job.arrival, "stages": stages}) + "\n"
        )
    return len(seen)


# ----------------------------------------------------------------------- reading
def _jobs(name: str) -> Iterator[tuple[int, JobSpec]]:
    """``(line number, job)`` of every job line after a valid header; at least one job."""
    with open(name, "rb") as f:
        lines = _json_lines(f, name)
        header_line, _ = _check_header(name, next(lines, None))
        found = False
        for number, value in lines:
            found = True
            yield number, _parse_job(name, number, value)
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
    expected = f'the first line must be the header {{"format": "{FORMAT}", "version": {VERSION}}}'
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
    if version != VERSION:
        raise TraceError(
            name,
            number,
            "header.version",
            f"unsupported version {value_text(version)}; this reader reads {VERSION}",
        )
    return number, header


def _parse_job(name: str, number: int, value: Any) -> JobSpec:
    if not isinstance(value, dict):
        raise TraceError(name, number, None, f"expected a job object, got {_json_type(value)}")
    try:
        return _job_from_object(value)
    except JobSpecError as err:
        raise TraceError(name, number, err.field, err.reason) from None


def _job_from_object(job: dict[str, Any]) -> JobSpec:
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
    for i, stage in enumerate(stages):
        kind = _require(stage, "kind", f"stages[{i}].kind")
        if not isinstance(kind, str) or kind not in KIND_CODES:
            raise JobSpecError(
                f"stages[{i}].kind", f"unknown kind {kind!r}; expected one of {sorted(KIND_CODES)}"
            )
        kinds.append(KIND_CODES[kind])
        durations.append(_require(stage, "duration", f"stages[{i}].duration"))
        estimates.append(_require(stage, "estimate", f"stages[{i}].estimate"))
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
    )


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
