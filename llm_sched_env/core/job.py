"""Realized jobs: the full DAG of a compound-LLM request, including its hidden parts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

REGULAR = 0
LLM = 1
KIND_NAMES = ("regular", "llm")
KIND_CODES = {name: code for code, name in enumerate(KIND_NAMES)}
DEFAULT_POOLS = KIND_NAMES  # a stage with no pool runs on the pool named after its kind


class LLMCall(NamedTuple):
    """An LLM stage in tokens, as an OpenAI-style request sees it.

    ``output_tokens`` is hidden (the true generation length); ``prompt_tokens``,
    ``max_tokens`` (the request's cap) and ``estimate_tokens`` (a profiled mean) are
    visible to schedulers.
    """

    prompt_tokens: int
    output_tokens: int
    max_tokens: int
    estimate_tokens: float


class JobSpecError(ValueError):
    """A job specification is malformed; the message names the offending field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.reason = message


# Bounds on a job's numbers. Times are float64 seconds, at most MAX_TIME (about 31.7
# years; below 2**30, where one ulp is 2**-23 s = 1.2e-7 s). A nonzero duration is at least
# MIN_DURATION, so adding it to any time up to MAX_TIME changes that time: a stage that
# runs for a nonzero time never finishes at the instant it starts, and a job's JCT is 0
# only when its durations are. A run's sums stay finite (far below float64's 1.8e308).
# Job ids fit the signed 64-bit result arrays.
MAX_TIME = 1e9
MIN_DURATION = 1e-6
MAX_JOB_ID = 2**63 - 1
# Token counts of an LLM call are integers in [1, MAX_TOKENS]: far beyond any context
# window, and small enough that a count / 90 tokens/s stays a valid time.
MAX_TOKENS = 10**9


def value_text(value: object) -> str:
    """``repr(value)``, except that an integer of more than 30 digits is described by its length.

    Python refuses to print integers of more than 4,300 digits, and error messages must not fail.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        digits = int((abs(value).bit_length() - 1) * math.log10(2)) + 1  # exact or one short
        digits += abs(value) >= 10**digits
        return f"{'-' if value < 0 else ''}an integer of {digits} digits"
    return repr(value)


def _check_number(value: object, field_name: str, minimum_nonzero: float = 0.0) -> float:
    """``value`` as a float in ``[0, MAX_TIME]``; a nonzero value must be >= ``minimum_nonzero``.

    Integers of any size are compared exactly (never converted to float before the check).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JobSpecError(field_name, f"expected a number, got {value_text(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise JobSpecError(field_name, f"must be finite, got {value!r}")
    if value < 0:
        raise JobSpecError(field_name, f"must be >= 0, got {value_text(value)}")
    if value > MAX_TIME:
        raise JobSpecError(field_name, f"must be <= {MAX_TIME:,.0f}, got {value_text(value)}")
    if 0 < value < minimum_nonzero:
        raise JobSpecError(field_name, f"must be 0 or >= {minimum_nonzero:g}, got {value!r}")
    return float(value)


def _check_stage_numbers(values: object, name: str, minimum_nonzero: float = 0.0) -> tuple[float, ...]:
    """``stages[i].<name>`` of every stage, each checked as :func:`_check_number` checks it."""
    values = tuple(values)  # type: ignore[arg-type]
    # The common case (floats in range), without building a field name per stage.
    if all(type(v) is float and 0 <= v <= MAX_TIME and (v == 0 or v >= minimum_nonzero) for v in values):
        return values
    return tuple(_check_number(v, f"stages[{i}].{name}", minimum_nonzero) for i, v in enumerate(values))


@dataclass(frozen=True, eq=True)
class JobSpec:
    """One realized job: every stage it will ever run, with true durations.

    Stages are indexed by their position ``0..n-1``. A stage with ``revealed_by[i] = k``
    does not exist for the scheduler until stage ``k`` finishes (topological uncertainty);
    ``None`` means it is visible when the job arrives. ``durations`` are hidden from
    schedulers until a stage finishes; ``estimates`` are what a scheduler may see.

    ``pools`` names the pool each stage runs on (``None``: the pool named after its kind,
    ``"regular"`` or ``"llm"``). ``calls`` gives every LLM stage in tokens (``None`` for
    regular stages; ``calls=None`` for a job in seconds only, and for a job without LLM
    stages). Single-stream executors run ``durations``; continuous-batching executors run
    ``calls``.
    """

    job_id: int
    app: str
    arrival: float
    kinds: tuple[int, ...]
    durations: tuple[float, ...]
    estimates: tuple[float, ...]
    parents: tuple[tuple[int, ...], ...]
    revealed_by: tuple[int | None, ...]
    pools: tuple[str, ...] | None = None
    calls: tuple[LLMCall | None, ...] | None = None
    children: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)
    reveals: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)
    visible_at_arrival: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (
            isinstance(self.job_id, bool)
            or not isinstance(self.job_id, int)
            or not 0 <= self.job_id <= MAX_JOB_ID
        ):
            raise JobSpecError(
                "job_id", f"must be an integer in [0, 2**63 - 1], got {value_text(self.job_id)}"
            )
        if not isinstance(self.app, str) or not self.app:
            raise JobSpecError("app", f"must be a non-empty string, got {self.app!r}")
        object.__setattr__(self, "arrival", _check_number(self.arrival, "arrival"))
        n = len(self.kinds)
        if n == 0:
            raise JobSpecError("stages", "a job needs at least one stage")
        for name in ("durations", "estimates", "parents", "revealed_by"):
            if len(getattr(self, name)) != n:
                raise JobSpecError(name, f"has {len(getattr(self, name))} entries for {n} stages")
        for i, kind in enumerate(self.kinds):
            if type(kind) is not int or kind not in (REGULAR, LLM):
                raise JobSpecError(f"stages[{i}].kind", f"unknown kind {kind!r}")
        object.__setattr__(self, "kinds", tuple(self.kinds))
        object.__setattr__(self, "parents", tuple(tuple(ps) for ps in self.parents))
        object.__setattr__(self, "revealed_by", tuple(self.revealed_by))
        object.__setattr__(self, "durations", _check_stage_numbers(self.durations, "duration", MIN_DURATION))
        object.__setattr__(self, "estimates", _check_stage_numbers(self.estimates, "estimate"))
        children: list[list[int]] = [[] for _ in range(n)]
        reveals: list[list[int]] = [[] for _ in range(n)]
        backward = False  # an edge into an earlier stage: only then can the edges form a cycle
        for i, (parents, revealer) in enumerate(zip(self.parents, self.revealed_by, strict=True)):
            if len(set(parents)) != len(parents):
                raise JobSpecError(f"stages[{i}].parents", f"duplicate parent in {list(parents)}")
            for p in parents:
                if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < n:
                    raise JobSpecError(f"stages[{i}].parents", f"unknown parent {p!r}")
                if p >= i:
                    if p == i:
                        raise JobSpecError(f"stages[{i}].parents", "a stage cannot be its own parent")
                    backward = True
                children[p].append(i)
            if revealer is not None:
                if not isinstance(revealer, int) or isinstance(revealer, bool) or not 0 <= revealer < n:
                    raise JobSpecError(f"stages[{i}].revealed_by", f"unknown stage {revealer!r}")
                if revealer >= i:
                    if revealer == i:
                        raise JobSpecError(f"stages[{i}].revealed_by", "a stage cannot reveal itself")
                    backward = True
                reveals[revealer].append(i)
        if backward:
            _check_acyclic(self.parents, self.revealed_by)
        if self.pools is not None:
            object.__setattr__(self, "pools", _check_pools(self.pools, n))
        if self.calls is not None:
            calls = _check_calls(self.calls, self.kinds)
            object.__setattr__(self, "calls", calls if any(c is not None for c in calls) else None)
        object.__setattr__(self, "children", tuple(map(tuple, children)))
        object.__setattr__(self, "reveals", tuple(map(tuple, reveals)))
        object.__setattr__(
            self, "visible_at_arrival", tuple(i for i, r in enumerate(self.revealed_by) if r is None)
        )

    @property
    def num_stages(self) -> int:
        return len(self.kinds)

    def critical_path(self) -> float:
        """Longest chain of true durations through parent and reveal edges.

        No schedule can finish the job sooner after its arrival.
        """
        finish = [0.0] * self.num_stages
        for i in _topological_order(self.parents, self.revealed_by):
            start = max((finish[p] for p in self.parents[i]), default=0.0)
            revealer = self.revealed_by[i]
            if revealer is not None:
                start = max(start, finish[revealer])
            finish[i] = start + self.durations[i]
        return max(finish)

    def work(self, kind: int) -> float:
        """Total true duration of the stages of one executor kind."""
        return sum(d for d, k in zip(self.durations, self.kinds, strict=True) if k == kind)


def _check_pools(pools: object, n: int) -> tuple[str, ...]:
    pools = tuple(pools)  # type: ignore[arg-type]
    if len(pools) != n:
        raise JobSpecError("pools", f"has {len(pools)} entries for {n} stages")
    for i, name in enumerate(pools):
        if not isinstance(name, str) or not name:
            raise JobSpecError(f"stages[{i}].pool", f"must be a non-empty string, got {name!r}")
    return pools


def _check_count(value: object, stage: int, name: str) -> int:
    """``value`` of ``stages[stage].<name>`` as a token count in ``[1, MAX_TOKENS]``."""
    if type(value) is int and 1 <= value <= MAX_TOKENS:  # the common case, without building the field name
        return value
    field_name = f"stages[{stage}].{name}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobSpecError(field_name, f"expected an integer, got {value_text(value)}")
    if not 1 <= value <= MAX_TOKENS:
        raise JobSpecError(field_name, f"must be an integer in [1, {MAX_TOKENS:,}], got {value_text(value)}")
    return value


def check_call(call: LLMCall, stage: int) -> LLMCall:
    """``call`` of stage ``stage`` with its numbers checked (``estimate_tokens`` as a float).

    Token counts are integers in ``[1, MAX_TOKENS]``, ``output_tokens <= max_tokens``, and
    ``estimate_tokens`` a number in ``[0, MAX_TIME]``; errors name ``stages[stage].<field>``.
    """
    prompt, output, cap, estimate = call
    prompt = _check_count(prompt, stage, "prompt_tokens")
    output = _check_count(output, stage, "output_tokens")
    cap = _check_count(cap, stage, "max_tokens")
    if output > cap:
        raise JobSpecError(f"stages[{stage}].output_tokens", f"{output} exceeds max_tokens {cap}")
    if type(call) is LLMCall and type(estimate) is float and 0 <= estimate <= MAX_TIME:
        return call  # already what the checks below would build
    return LLMCall(prompt, output, cap, _check_number(estimate, f"stages[{stage}].estimate_tokens"))


def _check_calls(calls: object, kinds: tuple[int, ...]) -> tuple[LLMCall | None, ...]:
    calls = tuple(calls)  # type: ignore[arg-type]
    if len(calls) != len(kinds):
        raise JobSpecError("calls", f"has {len(calls)} entries for {len(kinds)} stages")
    checked: list[LLMCall | None] = []
    for i, (call, kind) in enumerate(zip(calls, kinds, strict=True)):
        if kind != LLM:
            if call is not None:
                raise JobSpecError(f"stages[{i}].prompt_tokens", "only LLM stages carry tokens")
            checked.append(None)
        elif call is None:
            raise JobSpecError(f"stages[{i}].prompt_tokens", "an LLM stage of a job in tokens needs tokens")
        else:
            checked.append(check_call(call, i))
    return tuple(checked)


def _predecessors(
    parents: tuple[tuple[int, ...], ...], revealed_by: tuple[int | None, ...]
) -> list[list[int]]:
    return [list(ps) + ([r] if r is not None else []) for ps, r in zip(parents, revealed_by, strict=True)]


def _topological_order(
    parents: tuple[tuple[int, ...], ...], revealed_by: tuple[int | None, ...]
) -> list[int]:
    """Kahn's order over parent and reveal edges; shorter than n when there is a cycle."""
    preds = _predecessors(parents, revealed_by)
    succs: list[list[int]] = [[] for _ in preds]
    indegree = [len(p) for p in preds]
    for i, ps in enumerate(preds):
        for p in ps:
            succs[p].append(i)
    order = [i for i, d in enumerate(indegree) if d == 0]
    for i in order:
        for s in succs[i]:
            indegree[s] -= 1
            if indegree[s] == 0:
                order.append(s)
    return order


def _check_acyclic(parents: tuple[tuple[int, ...], ...], revealed_by: tuple[int | None, ...]) -> None:
    order = _topological_order(parents, revealed_by)
    if len(order) < len(parents):
        stuck = sorted(set(range(len(parents))) - set(order))
        raise JobSpecError("stages", f"parent/revealed_by edges form a cycle through stages {stuck}")
