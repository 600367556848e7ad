"""The observation's features, declared once: one table per row type (stage, executor, pool, system).

A :class:`Feature` is a column: its name, how its value ``v`` is shown, and what it means.
``scale=None`` shows ``v`` as it is (a 0/1 flag, or a fraction in [0, 1]); a number or the
name of a configuration field (``"stage_time_scale"``, ``"job_time_scale"``,
``"token_scale"``) shows ``v / (v + scale)``, which keeps every feature in [0, 1]. From a
:class:`FeatureTable` come the observation space's widths, the encoders' column offsets,
the docstring tables of the environments (:meth:`FeatureTable.describe`), the reference
encoder (:mod:`llm_sched_env.envs.reference`) and the agents' network inputs (which
features are binary).

Stage features come in groups the fast encoder keeps in different ways: ``static`` ones
follow from the visible part of the job specification and are computed once per job, a
column at a time, by their ``value(spec)``: the raw values of all of the job's stages. The
``status``, ``time`` and ``job`` groups are maintained incrementally by
:class:`~llm_sched_env.envs.stage_table.StageTable`. **Adding a static stage feature** is one
line in the table plus its computation, e.g. ::

    Feature("prompt_tokens", "token_scale", doc="prompt tokens of an LLM call", value=prompt_tokens),

with ``def prompt_tokens(spec)`` returning the raw value of each stage, in stage order;
nothing else changes (the space, the offsets, the reference encoder and the networks follow
the table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from llm_sched_env.core import LLM, JobSpec

# The raw values of a static stage feature for every stage of a job, in stage order.
StaticValue = Callable[[JobSpec], Sequence[float]]

GROUPS = ("static", "status", "time", "job", "row")


@dataclass(frozen=True)
class Feature:
    """One column of an observation table.

    ``scale``: None shows the value as it is (``binary`` flags and fractions); a number or
    a configuration field name shows ``v / (v + scale)``. ``group`` says which code keeps
    a stage feature (see the module docstring); executor, pool and system features are
    ``"row"`` features. ``value`` computes a static stage feature of every stage of a job
    from the job's visible specification.
    """

    name: str
    scale: float | str | None = None
    binary: bool = False
    doc: str = ""
    group: str = "row"
    value: StaticValue | None = None

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"feature {self.name!r}: group must be one of {GROUPS}, got {self.group!r}")
        if (self.group == "static") != (self.value is not None):
            raise ValueError(f"feature {self.name!r}: a static stage feature, and only it, has a value()")
        if self.binary and self.scale is not None:
            raise ValueError(f"feature {self.name!r}: a binary feature is shown as it is (scale None)")

    def scale_of(self, settings: Mapping[str, float]) -> float | None:
        """The squashing scale under the configuration ``settings`` (None: shown as it is)."""
        return settings[self.scale] if isinstance(self.scale, str) else self.scale


class FeatureTable:
    """The columns of one row type, in order, with their offsets."""

    def __init__(self, features: Iterable[Feature]) -> None:
        self.features: tuple[Feature, ...] = tuple(features)
        self.names: tuple[str, ...] = tuple(f.name for f in self.features)
        self.index: dict[str, int] = {name: k for k, name in enumerate(self.names)}
        if len(self.index) != len(self.names):
            raise ValueError(f"feature names must be unique: {self.names}")
        self.width = len(self.names)

    def __len__(self) -> int:
        return self.width

    def offset(self, name: str) -> int:
        """Column of feature ``name``."""
        return self.index[name]

    def group(self, group: str) -> slice:
        """The columns of a stage feature group; they must be consecutive."""
        columns = [k for k, f in enumerate(self.features) if f.group == group]
        if columns and columns != list(range(columns[0], columns[-1] + 1)):
            raise ValueError(f"the {group} features must be consecutive columns, got {columns}")
        return slice(columns[0], columns[-1] + 1) if columns else slice(0, 0)

    @property
    def binary(self) -> tuple[bool, ...]:
        return tuple(f.binary for f in self.features)

    def continuous(self, names: Sequence[str] | None = None) -> list[int]:
        """Positions (within ``names``, default all) of the features that are not binary."""
        names = self.names if names is None else names
        return [k for k, name in enumerate(names) if not self.features[self.index[name]].binary]

    def describe(self, indent: str = "") -> str:
        """A text table of the columns: position, name, how shown, meaning."""
        lines = []
        for k, f in enumerate(self.features):
            shown = "0/1" if f.binary else "as is" if f.scale is None else f"v/(v+{f.scale})"
            lines.append(f"{indent}{k:>3} {f.name:<28} {shown:<24} {f.doc}")
        return "\n".join(lines)


# ------------------------------------------------------------------- static values
def is_llm(spec: JobSpec) -> list[float]:
    return [float(kind == LLM) for kind in spec.kinds]


def estimate(spec: JobSpec) -> tuple[float, ...]:
    return spec.estimates


def position(spec: JobSpec) -> range:
    return range(spec.num_stages)


def _call_field(spec: JobSpec, index: int) -> list[float]:
    if spec.calls is None:
        return [0.0] * spec.num_stages
    return [call[index] if call is not None else 0.0 for call in spec.calls]


def prompt_tokens(spec: JobSpec) -> list[float]:
    return _call_field(spec, 0)  # LLMCall.prompt_tokens


def max_tokens(spec: JobSpec) -> list[float]:
    return _call_field(spec, 2)  # LLMCall.max_tokens


def estimate_tokens(spec: JobSpec) -> list[float]:
    return _call_field(spec, 3)  # LLMCall.estimate_tokens (output_tokens, field 1, is hidden)


POSITION_SCALE = 8.0  # position p in its job is shown as p / (p + POSITION_SCALE)
COUNT_SCALE = 4.0  # stage counts c of a job are shown as c / (c + COUNT_SCALE)


def stage_features(app_classes: Sequence[str], tokens: bool = False) -> FeatureTable:
    """Stage rows: the stage's own features, then its job's (``tokens``: an LLM call's tokens too)."""
    static = [
        Feature("is_llm", binary=True, doc="an LLM stage", group="static", value=is_llm),
        *(
            Feature(
                f"app_{name}",
                binary=True,
                doc=f"its job's application is {name}",
                group="static",
                value=_AppIs(name, app_classes),
            )
            for name in app_classes
        ),
        Feature("estimate", "stage_time_scale", doc="estimated duration (s)", group="static", value=estimate),
        Feature("position", POSITION_SCALE, doc="position in its job", group="static", value=position),
    ]
    if tokens:
        static += [
            Feature(
                "prompt_tokens",
                "token_scale",
                doc="prompt tokens (LLM call)",
                group="static",
                value=prompt_tokens,
            ),
            Feature(
                "max_tokens", "token_scale", doc="max_tokens cap (LLM call)", group="static", value=max_tokens
            ),
            Feature(
                "estimate_tokens",
                "token_scale",
                doc="estimated output tokens (LLM call)",
                group="static",
                value=estimate_tokens,
            ),
        ]
    return FeatureTable(
        [
            *static,
            Feature("pending_parents", 1.0, doc="parents not finished", group="status"),
            Feature("blocked", binary=True, doc="status: waits for parents", group="status"),
            Feature("ready", binary=True, doc="status: ready", group="status"),
            Feature("running", binary=True, doc="status: running", group="status"),
            Feature("job_age", "job_time_scale", doc="time since its job arrived (s)", group="time"),
            Feature("waiting", "job_time_scale", doc="time blocked or ready (s); 0 if running", group="time"),
            Feature("elapsed", "stage_time_scale", doc="time running (s); 0 if not", group="time"),
            Feature(
                "job_remaining_work",
                "job_time_scale",
                doc="job's revealed unfinished estimates (s)",
                group="job",
            ),
            Feature(
                "job_remaining_regular_work", "job_time_scale", doc="the same, regular stages", group="job"
            ),
            Feature("job_remaining_llm_work", "job_time_scale", doc="the same, LLM stages", group="job"),
            Feature("job_live_stages", COUNT_SCALE, doc="job's revealed unfinished stages", group="job"),
            Feature("job_done_stages", COUNT_SCALE, doc="job's finished stages", group="job"),
            Feature(
                "job_llm_pace",
                1.0,
                doc="run time / estimate of its finished LLM stages (1 before)",
                group="job",
            ),
        ]
    )


class _AppIs:
    """Static value of column ``app_<name>``: 1 when the job's application class is ``name``."""

    def __init__(self, name: str, app_classes: Sequence[str]) -> None:
        self.name = name
        self.other = app_classes[-1]
        self.known = frozenset(app_classes[:-1])

    def __call__(self, spec: JobSpec) -> list[float]:
        app = spec.app if spec.app in self.known else self.other
        return [float(app == self.name)] * spec.num_stages


def executor_features(app_classes: Sequence[str], batching: bool = False) -> FeatureTable:
    """Executor rows. ``CompoundLLM-v0``: kind, busy, its stage's times and app; ``batching``
    (``CompoundLLMServing-v0``): kind, busy, deciding, batch occupancy, KV used and free, times."""
    apps = [Feature(f"app_{name}", binary=True, doc=f"runs a stage of {name}") for name in app_classes]
    times = [
        Feature("elapsed", "stage_time_scale", doc="running time of its stage (s; single-stream)"),
        Feature("estimate", "stage_time_scale", doc="estimate of its stage (s; single-stream)"),
    ]
    if not batching:
        return FeatureTable(
            [
                Feature("is_llm", binary=True, doc="an LLM executor"),
                Feature("busy", binary=True, doc="runs a stage"),
                *times,
                *apps,
            ]
        )
    return FeatureTable(
        [
            Feature("is_llm", binary=True, doc="an LLM executor"),
            Feature("busy", binary=True, doc="runs at least one stage"),
            Feature("deciding", binary=True, doc="the executor the current choice admits into"),
            Feature("batch", doc="running sequences / max_num_seqs (single-stream: busy)"),
            Feature("kv_used", doc="KV cache held / kv_capacity (0 for single-stream)"),
            Feature("kv_free", "token_scale", doc="KV cache slots free (tokens; 0 for single-stream)"),
            *times,
        ]
    )


def pool_features(batching: bool = False) -> FeatureTable:
    """Pool rows, one per pool of the cluster in order."""
    base = [
        Feature("free", doc="idle executors / executors"),
        Feature("ready", "executors", doc="ready stages (scale: its executor count)"),
        Feature("deciding", binary=True, doc="a choice is open in this pool"),
        Feature("unshown_ready", "stage_slots", doc="ready stages of a deciding pool not shown"),
    ]
    if not batching:
        return FeatureTable(base)
    return FeatureTable(
        [
            Feature("executors", POOL_SIZE_SCALE, doc="executors in the pool"),
            *base,
            Feature("seq_room", doc="free sequence slots / all (single-stream: idle fraction)"),
            Feature("kv_free", doc="free KV cache / all (0 for single-stream)"),
        ]
    )


POOL_SIZE_SCALE = 8.0  # a pool's executor count n is shown as n / (n + POOL_SIZE_SCALE)

SYSTEM_TABLE = FeatureTable(
    [
        Feature("jobs_in_system", "stage_slots", doc="jobs arrived and not finished"),
        Feature("unshown_jobs", "stage_slots", doc="jobs in the system with no stage shown"),
    ]
)


@dataclass(frozen=True)
class Layout:
    """The tables of one environment's observation and the application classes it tells apart.

    ``apps`` are the classes of the one-hot app columns: the configured applications, then
    ``"other"``.
    """

    stages: FeatureTable
    executors: FeatureTable
    pools: FeatureTable
    system: FeatureTable
    apps: tuple[str, ...]

    def widths(self) -> dict[str, int]:
        """Row width of each flat float array of the observation."""
        return {"stages": self.stages.width, "executors": self.executors.width, "pools": self.pools.width}

    def describe(self, indent: str = "") -> str:
        """The docstring table of every row type."""
        parts = []
        for key, table in (
            ("stages", self.stages),
            ("executors", self.executors),
            ("pools", self.pools),
            ("system", self.system),
        ):
            parts.append(f"{indent}``{key}`` rows:\n{table.describe(indent + '  ')}")
        return "\n".join(parts)
