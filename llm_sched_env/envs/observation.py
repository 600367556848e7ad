"""What the scheduler sees: the observation space and the encoder that fills it.

Every feature is a number in [0, 1]. Times ``t`` (seconds) and counts ``c`` are squashed as
``t / (t + scale)``, which keeps the bounds exact and never overflows. Only what a real
scheduler could know is read: revealed stages, their estimates, parents and statuses, the
time each stage entered its status, and job arrival times. True durations and hidden stages
are never read.

Slot rule (which stages are shown when more are revealed than ``stage_slots``):
    1. for each pool that needs a decision and each application class, its oldest (FCFS)
       ready stage;
    2. the other ready stages of pools that need a decision, oldest first;
    3. the other revealed, unfinished stages (blocked, running, or ready in a pool with no
       free executor), oldest first.
Oldest means FCFS order: job arrival, then the stage's position in its job. Shown stages
fill the slots in FCFS order, so the first actionable slot is the FCFS choice, and rule 1
keeps every application's FCFS choice visible (enough for any app-priority policy).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from llm_sched_env.core import BLOCKED, DONE, HIDDEN, LLM, POOLS, READY, Simulator
from llm_sched_env.envs.config import APP_CLASSES, NUM_POOLS, CompoundLLMConfig
from llm_sched_env.envs.ready_queue import FcfsReadyQueue
from llm_sched_env.envs.stage_table import (
    NUM_STAGE_FEATURES,
    S_READY,
    S_TIMES,
    S_WORK,
    STAGE_BITS,
    STAGE_MASK,
    StageTable,
    app_class,
)

COUNT_SCALE = 4.0  # stage counts c of a job are shown as c / (c + COUNT_SCALE)

JOB_FEATURES = (
    *(f"app_{name}" for name in APP_CLASSES),
    "age",
    "remaining_regular_work",
    "remaining_llm_work",
    "live_stages",
    "done_stages",
)
J_AGE = len(APP_CLASSES)
J_WORK = J_AGE + 1
NUM_JOB_FEATURES = len(JOB_FEATURES)

EXECUTOR_FEATURES = ("is_llm", "busy", "elapsed", "estimate", *(f"app_{name}" for name in APP_CLASSES))
E_BUSY, E_ELAPSED, E_ESTIMATE, E_APP = 1, 2, 3, 4
NUM_EXECUTOR_FEATURES = len(EXECUTOR_FEATURES)

POOL_FEATURES = ("free", "ready", "deciding", "unshown_ready")
NUM_POOL_FEATURES = len(POOL_FEATURES)

SYSTEM_FEATURES = ("jobs_in_system", "unshown_jobs")


def observation_tables(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Views of the flat feature arrays as tables (``stages`` as slots x STAGE_FEATURES, ...).

    Works on a single observation or a batch (leading dimensions are kept).
    """
    widths = {
        "stages": NUM_STAGE_FEATURES,
        "jobs": NUM_JOB_FEATURES,
        "executors": NUM_EXECUTOR_FEATURES,
        "pools": NUM_POOL_FEATURES,
    }
    tables = {key: obs[key].reshape(*obs[key].shape[:-1], -1, w) for key, w in widths.items()}
    tables["edges"] = obs["edges"].reshape(*obs["edges"].shape[:-1], 2, -1)
    return tables


class ObservationEncoder:
    """Builds observations of a decision-mode :class:`Simulator` whose ready queues it made."""

    def __init__(self, config: CompoundLLMConfig) -> None:
        self.slots = s = config.stage_slots
        self.edge_slots = e = config.edge_slots
        self.num_executors = (config.num_regular, config.num_llm)
        x = config.num_regular + config.num_llm
        self.stage_time_scale = config.stage_time_scale
        self.job_time_scale = config.job_time_scale
        self.table = StageTable(config.stage_time_scale)
        self._time_scales = np.array([config.job_time_scale, config.job_time_scale, config.stage_time_scale])

        # One working buffer per dtype; the observation's arrays are views of a copy of it.
        float_sizes = {
            "stages": s * NUM_STAGE_FEATURES,
            "jobs": s * NUM_JOB_FEATURES,
            "executors": x * NUM_EXECUTOR_FEATURES,
            "pools": NUM_POOLS * NUM_POOL_FEATURES,
            "system": len(SYSTEM_FEATURES),
        }
        int_sizes = {"stage_job": s, "edges": 2 * e}
        mask_sizes = {"stage_mask": s, "job_mask": s, "edge_mask": e, "action_mask": s}
        self._floats, self._float_views, float_slices = _buffer(float_sizes, np.float32)
        self._ints, self._int_views, int_slices = _buffer(int_sizes, np.int32)
        self._masks, self._mask_views, mask_slices = _buffer(mask_sizes, np.int8)
        self._slices = (float_slices, int_slices, mask_slices)
        self.action_mask = self._mask_views["action_mask"]  # valid slots of the last observation
        v = self._float_views
        self._stages = v["stages"].reshape(s, NUM_STAGE_FEATURES)
        self._jobs = v["jobs"].reshape(s, NUM_JOB_FEATURES)
        self._executors = v["executors"].reshape(x, NUM_EXECUTOR_FEATURES)
        self._executors[config.num_regular :, 0] = 1.0
        self._executor_start = np.zeros(x)
        self._executor_refs: list[object] = [None] * x

        spaces_: dict[str, spaces.Space] = {}
        for key, size in float_sizes.items():
            spaces_[key] = spaces.Box(0.0, 1.0, (size,), np.float32)
        for key, size in int_sizes.items():
            spaces_[key] = spaces.Box(0, s - 1, (size,), np.int32)
        for key, size in mask_sizes.items():
            spaces_[key] = spaces.MultiBinary(size)
        self.space = spaces.Dict(spaces_)

        self._job_cache: dict[int, tuple[int, np.ndarray]] = {}  # rank -> (remaining, row)
        self.slot_keys: list[int] = []  # FCFS keys of the shown stages, slot by slot
        self.hidden_ready = 0
        self.unshown_jobs = 0
        self.truncated_edges = 0

    # ------------------------------------------------------------------ lifecycle
    def new_queue(self) -> FcfsReadyQueue:
        return FcfsReadyQueue(self.table)

    def reset(self) -> None:
        self.table.clear()
        self._job_cache.clear()
        self._executors[:, 1:] = 0.0
        self._executor_refs = [None] * len(self._executor_refs)

    def release(self, rank: int) -> None:
        """Forget a finished job (by arrival rank)."""
        job = self.table.jobs.get(rank)
        if job is not None:
            self.table.release(job)
        self._job_cache.pop(rank, None)

    # ------------------------------------------------------------------- encoding
    def encode(self, sim: Simulator) -> dict[str, np.ndarray]:
        """The observation of ``sim`` now; also sets ``slot_keys`` and the unshown counts."""
        deciding = tuple(bool(sim.free[p]) and len(sim.ready[p]) > len(sim.free[p]) for p in POOLS)
        keys, unshown = self._select_ready(sim, deciding)
        self.hidden_ready = unshown[0] + unshown[1]
        blocked: list[tuple[int, int, tuple[int, ...]]] = []
        if len(keys) < self.slots:
            others = self._select_others(sim, deciding, self.slots - len(keys), blocked)
            if others:
                keys = sorted(keys + others)
        self.slot_keys = keys

        self._stages.fill(0.0)
        self._jobs.fill(0.0)
        self._ints.fill(0)
        self._masks.fill(0)
        now = sim.now
        num_jobs = self._fill_stages_and_jobs(keys, now, deciding)
        self.unshown_jobs = len(sim.active) - num_jobs
        self.truncated_edges = self._fill_edges(keys, blocked) if blocked else 0
        self._fill_executors(sim, now)
        self._fill_pools(sim, deciding, unshown)
        return self._snapshot()

    def _select_ready(self, sim: Simulator, deciding: tuple[bool, ...]) -> tuple[list[int], list[int]]:
        """Slot rules 1 and 2: keys of the ready stages shown, and how many each pool leaves out."""
        slots = self.slots
        queues = [sim.ready[p] for p in POOLS if deciding[p]]
        if not queues:
            return [], [0, 0]
        heads = [key for queue in queues for key in queue.heads()]
        if len(queues) == 1:
            keys = queues[0].keys[:slots]
        else:
            keys = sorted(queues[0].keys[:slots] + queues[1].keys[:slots])[:slots]
        if len(keys) == slots:
            extras = [h for h in heads if h > keys[-1]]
            if extras:
                head_set = set(heads)
                drop = len(extras)
                for i in range(slots - 1, -1, -1):
                    if keys[i] not in head_set:
                        del keys[i]
                        drop -= 1
                        if not drop:
                            break
                keys += sorted(extras)
        if len(queues) == 1:
            left_out = len(queues[0]) - len(keys)
            return keys, [0, left_out] if deciding[LLM] else [left_out, 0]
        regular_items = queues[0].items
        shown_regular = sum(1 for key in keys if key in regular_items)
        return keys, [len(queues[0]) - shown_regular, len(queues[1]) - (len(keys) - shown_regular)]

    def _select_others(
        self,
        sim: Simulator,
        deciding: tuple[bool, ...],
        room: int,
        blocked: list[tuple[int, int, tuple[int, ...]]],
    ) -> list[int]:
        """Slot rule 3: up to ``room`` other revealed, unfinished stages in FCFS order."""
        record = self.table.record
        keys: list[int] = []
        for job in sim.active.values():
            kinds = job.spec.kinds
            rank_bits = job.rank << STAGE_BITS
            for stage, status in enumerate(job.status):
                if status in (HIDDEN, DONE) or (status == READY and deciding[kinds[stage]]):
                    continue
                record(job, stage, status)
                key = rank_bits | stage
                keys.append(key)
                if status == BLOCKED:
                    blocked.append((key, rank_bits, job.spec.parents[stage]))
                if len(keys) == room:
                    return keys
        return keys

    def _fill_stages_and_jobs(self, keys: list[int], now: float, deciding: tuple[bool, ...]) -> int:
        """Stage rows, their job index, the job rows and the masks; returns the number of jobs."""
        table = self.table
        base = table.base
        rows: list[int] = []
        stage_job: list[int] = []
        job_rows: list[np.ndarray] = []
        previous = -1
        for key in keys:
            rank = key >> STAGE_BITS
            if rank != previous:
                previous = rank
                first_row = base[rank]
                job_rows.append(self._job_row(rank))
            rows.append(first_row + (key & STAGE_MASK))
            stage_job.append(len(job_rows) - 1)
        n, num_jobs = len(rows), len(job_rows)
        if not n:
            return 0
        jobs = np.array(job_rows)
        age = now - jobs[:, J_AGE]
        jobs[:, J_AGE] = age / (age + self.job_time_scale)
        self._jobs[:num_jobs] = jobs[:, :NUM_JOB_FEATURES]

        index = np.array(rows)
        stages = self._stages[:n]
        np.take(table.features, index, axis=0, out=stages)
        times = np.subtract(now, table.times[index])
        times /= times + self._time_scales
        stages[:, S_TIMES : S_TIMES + 3] *= times
        job_index = self._int_views["stage_job"]
        job_index[:n] = stage_job
        stages[:, S_WORK] = jobs[job_index[:n], NUM_JOB_FEATURES]

        masks = self._mask_views
        masks["stage_mask"][:n] = 1
        masks["job_mask"][:num_jobs] = 1
        actionable = masks["action_mask"][:n]
        if deciding[0] and deciding[1]:
            actionable[:] = stages[:, S_READY]
        else:
            is_llm = stages[:, 0] if deciding[LLM] else 1.0 - stages[:, 0]
            actionable[:] = stages[:, S_READY] * is_llm
        return num_jobs

    def _job_row(self, rank: int) -> np.ndarray:
        """A job's features (age column holding its arrival), plus its squashed remaining work."""
        job = self.table.jobs[rank]
        cached = self._job_cache.get(rank)
        if cached is not None and cached[0] == job.remaining:
            return cached[1]
        spec = job.spec
        work = [0.0, 0.0]
        live = 0
        for stage, status in enumerate(job.status):
            if status != HIDDEN and status != DONE:
                live += 1
                work[spec.kinds[stage]] += spec.estimates[stage]
        done = spec.num_stages - job.remaining
        row = np.zeros(NUM_JOB_FEATURES + 1)
        row[app_class(spec.app)] = 1.0
        row[J_AGE] = spec.arrival
        scale = self.job_time_scale
        total = work[0] + work[1]
        row[J_WORK:] = (
            work[0] / (work[0] + scale),
            work[1] / (work[1] + scale),
            live / (live + COUNT_SCALE),
            done / (done + COUNT_SCALE),
            total / (total + scale),
        )
        self._job_cache[rank] = (job.remaining, row)
        return row

    def _fill_edges(self, keys: list[int], blocked: list[tuple[int, int, tuple[int, ...]]]) -> int:
        """Parent -> child edges into shown blocked stages; returns how many did not fit."""
        slot_of = {key: slot for slot, key in enumerate(keys)}
        sources: list[int] = []
        targets: list[int] = []
        for key, rank_bits, parents in blocked:
            for parent in parents:
                source = slot_of.get(rank_bits | parent)
                if source is not None:
                    sources.append(source)
                    targets.append(slot_of[key])
        e = self.edge_slots
        m = min(len(sources), e)
        edges = self._int_views["edges"]
        edges[:m] = sources[:m]
        edges[e : e + m] = targets[:m]
        self._mask_views["edge_mask"][:m] = 1
        return len(sources) - m

    def _fill_executors(self, sim: Simulator, now: float) -> None:
        features = self._executors
        refs = self._executor_refs
        start = self._executor_start
        offset = 0
        for pool in POOLS:
            running = sim.running[pool]
            for executor in range(self.num_executors[pool]):
                ref = running.get(executor)
                row = offset + executor
                if ref is not refs[row]:
                    refs[row] = ref
                    f = features[row]
                    f[1:] = 0.0
                    if ref is not None:
                        job, stage = ref
                        estimate = job.spec.estimates[stage]
                        f[E_BUSY] = 1.0
                        f[E_ESTIMATE] = estimate / (estimate + self.stage_time_scale)
                        f[E_APP + app_class(job.spec.app)] = 1.0
                        start[row] = job.since[stage]
            offset += self.num_executors[pool]
        elapsed = now - start
        features[:, E_ELAPSED] = features[:, E_BUSY] * (elapsed / (elapsed + self.stage_time_scale))

    def _fill_pools(self, sim: Simulator, deciding: tuple[bool, ...], unshown: list[int]) -> None:
        values: list[float] = []
        for pool in POOLS:
            n = self.num_executors[pool]
            ready = len(sim.ready[pool])
            values += (
                len(sim.free[pool]) / n,
                ready / (ready + n),
                float(deciding[pool]),
                unshown[pool] / (unshown[pool] + self.slots),
            )
        self._float_views["pools"][:] = values
        jobs, hidden_jobs = len(sim.active), self.unshown_jobs
        self._float_views["system"][:] = (
            jobs / (jobs + self.slots),
            hidden_jobs / (hidden_jobs + self.slots),
        )

    def _snapshot(self) -> dict[str, np.ndarray]:
        obs: dict[str, np.ndarray] = {}
        for buffer, slices in zip((self._floats, self._ints, self._masks), self._slices, strict=True):
            copy = buffer.copy()
            for key, part in slices.items():
                obs[key] = copy[part]
        return obs


def _buffer(sizes: dict[str, int], dtype: type) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, slice]]:
    """One zeroed array holding consecutive parts of the given sizes, with a view of each."""
    slices: dict[str, slice] = {}
    offset = 0
    for key, size in sizes.items():
        slices[key] = slice(offset, offset + size)
        offset += size
    buffer = np.zeros(offset, dtype)
    return buffer, {key: buffer[part] for key, part in slices.items()}, slices
