"""A serving cluster: named pools of executors, each of one kind and one executor model.

A cluster file is JSON::

    {"pools": [
      {"name": "regular", "kind": "regular", "count": 10},
      {"name": "llm", "kind": "llm", "count": 2,
       "executor": {"model": "continuous_batching", "max_num_seqs": 256}}]}

``executor`` defaults to ``{"model": "single_stream"}``; a ``continuous_batching``
executor's keys are ``t_floor``, ``t_token``, ``t_kv`` (seconds), ``kv_capacity``,
``max_num_seqs``, ``max_num_batched_tokens`` and ``context_limit``; omitted ones take the
Llama-2-7B / A100 defaults of :mod:`llm_sched_env.core.executors.continuous_batching`.
A stage runs on the pool its job names for it, by default the pool named after its kind.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from llm_sched_env.core.executors import EXECUTOR_MODELS, ExecutorModel, SingleStream
from llm_sched_env.core.job import DEFAULT_POOLS, KIND_CODES, KIND_NAMES, LLM, REGULAR, JobSpec, JobSpecError

MAX_EXECUTORS = 100_000  # per pool: a bound checked before anything is allocated


@dataclass(frozen=True)
class PoolSpec:
    """One named pool: ``count`` executors of ``kind`` (``"regular"`` or ``"llm"``)."""

    name: str
    kind: str
    count: int
    executor: ExecutorModel = field(default_factory=SingleStream)

    def __post_init__(self) -> None:
        where = f"pool {self.name!r}" if isinstance(self.name, str) else "pool"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"pools[].name: must be a non-empty string, got {self.name!r}")
        if self.kind not in KIND_CODES:
            raise ValueError(f"{where}.kind: must be one of {list(KIND_NAMES)}, got {self.kind!r}")
        count = self.count
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_EXECUTORS:
            raise ValueError(f"{where}.count: must be an integer in [1, {MAX_EXECUTORS}], got {count!r}")
        if not isinstance(self.executor, tuple(EXECUTOR_MODELS.values())):
            raise ValueError(f"{where}.executor: not an executor model: {self.executor!r}")
        if self.kind == "regular" and not isinstance(self.executor, SingleStream):
            raise ValueError(f"{where}.executor: a regular pool runs single_stream, got {self.executor.name}")

    @property
    def kind_code(self) -> int:
        return KIND_CODES[self.kind]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "count": self.count,
            "executor": self.executor.to_dict(),
        }


@dataclass(frozen=True)
class Cluster:
    """The pools of a serving cluster, in order; pool names are unique."""

    pools: tuple[PoolSpec, ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pools = tuple(self.pools)
        object.__setattr__(self, "pools", pools)
        if not pools:
            raise ValueError("pools: a cluster needs at least one pool")
        index: dict[str, int] = {}
        for i, pool in enumerate(pools):
            if not isinstance(pool, PoolSpec):
                raise ValueError(f"pools[{i}]: expected a PoolSpec, got {pool!r}")
            if pool.name in index:
                raise ValueError(f"pools[{i}].name: duplicate pool name {pool.name!r}")
            index[pool.name] = i
        object.__setattr__(self, "index", index)

    @classmethod
    def paper(cls, num_regular: int, num_llm: int) -> Cluster:
        """The paper's cluster: ``num_regular`` regular and ``num_llm`` single-stream LLM executors."""
        for name, value in (("num_regular", num_regular), ("num_llm", num_llm)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXECUTORS:
                raise ValueError(f"{name}: must be an integer in [1, {MAX_EXECUTORS}], got {value!r}")
        return cls((PoolSpec("regular", "regular", num_regular), PoolSpec("llm", "llm", num_llm)))

    @classmethod
    def from_dict(cls, data: object) -> Cluster:
        """Build a cluster from its JSON form (see the module docstring); errors name the field."""
        if not isinstance(data, dict) or set(data) != {"pools"}:
            raise ValueError(f"cluster: expected an object with the single key 'pools', got {_brief(data)}")
        raw_pools = data["pools"]
        if not isinstance(raw_pools, list):
            raise ValueError(f"pools: expected an array, got {_brief(raw_pools)}")
        return cls(tuple(_pool_from_dict(i, raw) for i, raw in enumerate(raw_pools)))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Cluster:
        """Read a cluster file; errors name the file and the field."""
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except ValueError as err:
            raise ValueError(f"{os.fspath(path)}: not valid JSON: {err}") from None
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError(f"{os.fspath(path)}: {err}") from None

    def to_dict(self) -> dict[str, object]:
        return {"pools": [pool.to_dict() for pool in self.pools]}

    @property
    def is_paper(self) -> bool:
        """True for the paper's layout: pool 0 ``regular``, pool 1 ``llm``, both single-stream."""
        return (
            len(self.pools) == 2
            and all(isinstance(p.executor, SingleStream) for p in self.pools)
            and self.index.get("regular") == REGULAR
            and self.index.get("llm") == LLM
        )

    def stage_pools(self, spec: JobSpec) -> list[int]:
        """The index of the pool each stage of ``spec`` runs on.

        Raises :class:`JobSpecError` naming the stage's field (``stages[i].pool``, or the
        field the pool's executor model rejects, see ``check_stage``) when a stage names no
        pool of this cluster, a pool of the other kind, or one whose executors cannot run it.
        """
        names = spec.pools or tuple(DEFAULT_POOLS[kind] for kind in spec.kinds)
        indices = []
        for i, (name, kind) in enumerate(zip(names, spec.kinds, strict=True)):
            index = self.index.get(name)
            if index is None:
                raise JobSpecError(
                    f"stages[{i}].pool", f"no pool {name!r} in the cluster (pools: {list(self.index)})"
                )
            pool = self.pools[index]
            if pool.kind_code != kind:
                raise JobSpecError(f"stages[{i}].pool", f"pool {name!r} runs {pool.kind} stages")
            pool.executor.check_stage(spec, i, name)
            indices.append(index)
        return indices

    def checked_stages(self, indices: Sequence[int]) -> tuple[tuple[int, PoolSpec], ...]:
        """For a mapping ``indices`` from :meth:`stage_pools`, the stages an executor model may
        reject by their tokens (those not on single-stream pools, which run any stage), each
        with its pool: for another job of the same stage kinds and pool names, calling their
        ``check_stage`` is what is left to check."""
        pools = self.pools
        return tuple(
            (i, pools[index])
            for i, index in enumerate(indices)
            if not isinstance(pools[index].executor, SingleStream)
        )

    def count(self, kind: str) -> int:
        """How many executors of ``kind`` (``"regular"`` or ``"llm"``) the cluster has, over its pools."""
        if kind not in KIND_CODES:
            raise ValueError(f"kind: must be one of {list(KIND_NAMES)}, got {kind!r}")
        return sum(p.count for p in self.pools if p.kind == kind)

    def describe(self) -> str:
        """One line per pool, e.g. ``llm: 2 x llm, continuous_batching``."""
        return "; ".join(f"{p.name}: {p.count} x {p.kind}, {p.executor.name}" for p in self.pools)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a finite number")


def _brief(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _pool_from_dict(i: int, raw: object) -> PoolSpec:
    if not isinstance(raw, dict):
        raise ValueError(f"pools[{i}]: expected an object, got {_brief(raw)}")
    unknown = set(raw) - {"name", "kind", "count", "executor"}
    if unknown:
        raise ValueError(f"pools[{i}]: unknown keys {sorted(unknown)}")
    for key in ("name", "kind", "count"):
        if key not in raw:
            raise ValueError(f"pools[{i}].{key}: missing")
    executor = raw.get("executor", {"model": "single_stream"})
    if not isinstance(executor, dict):
        raise ValueError(f"pools[{i}].executor: expected an object, got {_brief(executor)}")
    params = dict(executor)
    model_name = params.pop("model", None)
    model = EXECUTOR_MODELS.get(model_name)  # type: ignore[arg-type]
    if model is None:
        raise ValueError(
            f"pools[{i}].executor.model: must be one of {sorted(EXECUTOR_MODELS)}, got {model_name!r}"
        )
    allowed = {f.name for f in fields(model)}
    if set(params) - allowed:
        raise ValueError(
            f"pools[{i}].executor: unknown keys {sorted(set(params) - allowed)} for {model_name} "
            f"(allowed: {sorted(allowed)})"
        )
    try:
        return PoolSpec(raw["name"], raw["kind"], raw["count"], model(**params))
    except ValueError as err:
        raise ValueError(f"pools[{i}]: {err}") from None
