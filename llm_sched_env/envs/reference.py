"""The reference encoder: every observation value computed plainly from the simulator's state.

It follows the definitions (the feature tables of :mod:`llm_sched_env.envs.features`, the
slot rule of :mod:`llm_sched_env.envs.observation`) one value at a time, with no caches,
and reads only what a real scheduler knows. The fast encoders are tested against it; it is
far too slow to train with. Each feature that is not a static stage feature has its plain
computation here, under its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from llm_sched_env.core import BLOCKED, DONE, HIDDEN, LLM, READY, RUNNING, JobState, Simulator
from llm_sched_env.core.executors import BatchingPool
from llm_sched_env.envs.features import Layout

StageRef = tuple[JobState, int]


def squash(value: float, scale: float | None) -> float:
    """``value / (value + scale)``; the value itself when ``scale`` is None."""
    return value if scale is None else value / (value + scale)


@dataclass
class Slots:
    """What the slot rule shows: stages in FCFS order, the valid ones, and what is left out."""

    shown: list[StageRef]
    valid: set[tuple[int, int]]  # (rank, stage) of the shown choices
    unshown_choices: list[int]  # per pool: choices not shown
    deciding: list[bool]  # per pool


def slot_rule(sim: Simulator, slots: int, apps: tuple[str, ...]) -> Slots:
    """The documented slot rule, step by step.

    1. for each pool with an open choice and each application class, its oldest choice;
    2. the other choices of those pools, oldest first;
    3. the other revealed, unfinished stages, oldest first.
    """
    deciding = [pool.needs_decision() for pool in sim.pools]
    choices = {
        (job.rank, stage): p
        for p, pool in enumerate(sim.pools)
        if deciding[p]
        for job, stage in pool.choices()
    }
    jobs = sorted(sim.active.values(), key=lambda j: j.rank)
    live = [(j, s) for j in jobs for s, st in enumerate(j.status) if st not in (HIDDEN, DONE)]
    ready = [(j, s) for j, s in live if (j.rank, s) in choices]
    heads: dict[tuple[int, int], StageRef] = {}
    for j, s in ready:
        heads.setdefault((choices[(j.rank, s)], app_index(apps, j.spec.app)), (j, s))
    shown = list(heads.values())
    shown += [ref for ref in ready if ref not in shown][: slots - len(shown)]
    shown += [ref for ref in live if ref not in ready][: slots - len(shown)]
    shown.sort(key=lambda ref: (ref[0].rank, ref[1]))
    keys = {(j.rank, s) for j, s in shown}
    unshown = [0] * len(sim.pools)
    for key, p in choices.items():
        unshown[p] += key not in keys
    return Slots(shown, keys & set(choices), unshown, deciding)


# ------------------------------------------------------------- stage features
def _live(job: JobState) -> list[int]:
    return [s for s, st in enumerate(job.status) if st not in (HIDDEN, DONE)]


def _pace(job: JobState) -> float:
    spec = job.spec
    finished = [s for s, st in enumerate(job.status) if st == DONE and spec.kinds[s] == LLM]
    expected = sum(spec.estimates[s] for s in finished)
    return sum(spec.durations[s] for s in finished) / expected if expected else 1.0


StageValue = Callable[[JobState, int, float], float]

# Raw values of the stage features that are not static: (job, stage, now) -> value.
STAGE_VALUES: dict[str, StageValue] = {
    "pending_parents": lambda j, s, now: j.pending_parents[s],
    "blocked": lambda j, s, now: float(j.status[s] == BLOCKED),
    "ready": lambda j, s, now: float(j.status[s] == READY),
    "running": lambda j, s, now: float(j.status[s] == RUNNING),
    "job_age": lambda j, s, now: now - j.spec.arrival,
    "waiting": lambda j, s, now: now - j.since[s] if j.status[s] != RUNNING else 0.0,
    "elapsed": lambda j, s, now: now - j.since[s] if j.status[s] == RUNNING else 0.0,
    "job_remaining_work": lambda j, s, now: sum(j.spec.estimates[k] for k in _live(j)),
    "job_remaining_regular_work": lambda j, s, now: sum(
        j.spec.estimates[k] for k in _live(j) if j.spec.kinds[k] != LLM
    ),
    "job_remaining_llm_work": lambda j, s, now: sum(
        j.spec.estimates[k] for k in _live(j) if j.spec.kinds[k] == LLM
    ),
    "job_live_stages": lambda j, s, now: len(_live(j)),
    "job_done_stages": lambda j, s, now: j.spec.num_stages - j.remaining,
    "job_llm_pace": lambda j, s, now: _pace(j),
}


def stage_row(
    layout: Layout, settings: Mapping[str, float], job: JobState, stage: int, now: float
) -> list[float]:
    """One stage's row, feature by feature."""
    row = []
    for f in layout.stages.features:
        raw = f.value(job.spec)[stage] if f.value is not None else STAGE_VALUES[f.name](job, stage, now)
        row.append(squash(raw, f.scale_of(settings)))
    return row


# ---------------------------------------------------------- executor features
@dataclass
class ExecutorView:
    """One executor as a scheduler sees it."""

    pool: object
    is_llm: bool
    executor: int
    stages: list[StageRef]  # what it runs now


def _single(e: ExecutorView) -> StageRef | None:
    return e.stages[0] if e.stages and not isinstance(e.pool, BatchingPool) else None


def _kv_used(e: ExecutorView) -> int:
    return e.pool.kv_used(e.executor) if isinstance(e.pool, BatchingPool) else 0


ExecutorValue = Callable[[ExecutorView, float], float]

EXECUTOR_VALUES: dict[str, ExecutorValue] = {
    "is_llm": lambda e, now: float(e.is_llm),
    "busy": lambda e, now: float(bool(e.stages)),
    "deciding": lambda e, now: float(
        isinstance(e.pool, BatchingPool) and e.pool.deciding_executor() == e.executor
    ),
    "batch": lambda e, now: (
        len(e.stages) / e.pool.model.max_num_seqs
        if isinstance(e.pool, BatchingPool)
        else float(bool(e.stages))
    ),
    "kv_used": lambda e, now: (
        _kv_used(e) / e.pool.model.kv_capacity if isinstance(e.pool, BatchingPool) else 0.0
    ),
    "kv_free": lambda e, now: (
        e.pool.model.kv_capacity - _kv_used(e) if isinstance(e.pool, BatchingPool) else 0.0
    ),
    "elapsed": lambda e, now: now - _single(e)[0].since[_single(e)[1]] if _single(e) else 0.0,
    "estimate": lambda e, now: _single(e)[0].spec.estimates[_single(e)[1]] if _single(e) else 0.0,
}


def app_index(apps: tuple[str, ...], app: str) -> int:
    """Class of ``app`` among ``apps`` (the configured applications, then ``"other"``)."""
    return apps.index(app) if app in apps[:-1] else len(apps) - 1


def _executor_value(name: str, e: ExecutorView, now: float, layout: Layout) -> float:
    if name.startswith("app_"):
        ref = _single(e)
        return float(
            ref is not None and app_index(layout.apps, ref[0].spec.app) == layout.apps.index(name[4:])
        )
    return EXECUTOR_VALUES[name](e, now)


# --------------------------------------------------------------- pool features
PoolValue = Callable[[object, int, Slots], float]


def _seq_room(pool: object) -> float:
    if isinstance(pool, BatchingPool):
        seqs = sum(1 for _ in pool.running())
        return 1.0 - seqs / (pool.count * pool.model.max_num_seqs)
    return 1.0 - pool.busy_executors() / pool.count


def _kv_free(pool: object) -> float:
    if not isinstance(pool, BatchingPool):
        return 0.0
    used = sum(pool.kv_used(e) for e in range(pool.count))
    return 1.0 - used / (pool.count * pool.model.kv_capacity)


POOL_VALUES: dict[str, PoolValue] = {
    "executors": lambda pool, p, sl: pool.count,
    "free": lambda pool, p, sl: (pool.count - pool.busy_executors()) / pool.count,
    "ready": lambda pool, p, sl: len(pool.queue),
    "deciding": lambda pool, p, sl: float(sl.deciding[p]),
    "unshown_ready": lambda pool, p, sl: sl.unshown_choices[p],
    "seq_room": lambda pool, p, sl: _seq_room(pool),
    "kv_free": lambda pool, p, sl: _kv_free(pool),
}


# ------------------------------------------------------------------ the encoder
def reference_observation(
    sim: Simulator, layout: Layout, settings: Mapping[str, float], edge_slots: int
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The observation of ``sim`` now, and the info counts (``hidden_ready``, ``unshown_jobs``,
    ``truncated_edges``). Edges are listed in slot order of their child, then parent.

    ``settings`` holds the configuration's scales and ``stage_slots``.
    """
    slots = int(settings["stage_slots"])
    now = sim.now
    rule = slot_rule(sim, slots, layout.apps)
    shown = rule.shown
    n = len(shown)
    stages = np.zeros((slots, layout.stages.width), np.float32)
    stage_job = np.zeros(slots, np.int32)
    first_slot: dict[int, int] = {}
    for k, (job, stage) in enumerate(shown):
        stages[k] = stage_row(layout, settings, job, stage, now)
        stage_job[k] = first_slot.setdefault(job.rank, k)
    slot_of = {(j.rank, s): k for k, (j, s) in enumerate(shown)}
    edges = [
        (slot_of[(job.rank, parent)], k)
        for k, (job, stage) in enumerate(shown)
        if job.status[stage] == BLOCKED
        for parent in job.spec.parents[stage]
        if (job.rank, parent) in slot_of
    ]
    kept = edges[:edge_slots]
    edge_array = np.zeros(2 * edge_slots, np.int32)
    edge_array[: len(kept)] = [p for p, _ in kept]
    edge_array[edge_slots : edge_slots + len(kept)] = [c for _, c in kept]

    executor_rows = []
    for p, pool in enumerate(sim.pools):
        running: dict[int, list[StageRef]] = {}
        for executor, job, stage in pool.running():
            running.setdefault(executor, []).append((job, stage))
        is_llm = sim.cluster.pools[p].kind_code == LLM
        for executor in range(pool.count):
            view = ExecutorView(pool, is_llm, executor, running.get(executor, []))
            executor_rows.append(
                [
                    squash(_executor_value(f.name, view, now, layout), f.scale_of(settings))
                    for f in layout.executors.features
                ]
            )
    pool_rows = []
    for p, pool in enumerate(sim.pools):
        scales = {**settings, "executors": pool.count}
        pool_rows.append(
            [squash(POOL_VALUES[f.name](pool, p, rule), f.scale_of(scales)) for f in layout.pools.features]
        )
    unshown_jobs = len(sim.active) - len(first_slot)
    system_values = {"jobs_in_system": len(sim.active), "unshown_jobs": unshown_jobs}
    system = [squash(system_values[f.name], f.scale_of(settings)) for f in layout.system.features]
    obs = {
        "stages": stages.reshape(-1),
        "stage_mask": (np.arange(slots) < n).astype(np.int8),
        "stage_job": stage_job,
        "job_mask": np.array([k < n and stage_job[k] == k for k in range(slots)], np.int8),
        "edges": edge_array,
        "edge_mask": (np.arange(edge_slots) < len(kept)).astype(np.int8),
        "executors": np.array(executor_rows, np.float32).reshape(-1),
        "pools": np.array(pool_rows, np.float32).reshape(-1),
        "system": np.array(system, np.float32),
        "action_mask": np.array(
            [k < n and (shown[k][0].rank, shown[k][1]) in rule.valid for k in range(slots)], np.int8
        ),
    }
    counts = {
        "hidden_ready": sum(rule.unshown_choices),
        "unshown_jobs": unshown_jobs,
        "truncated_edges": len(edges) - len(kept),
    }
    return obs, counts
