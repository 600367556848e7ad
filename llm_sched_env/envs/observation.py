"""What the scheduler sees: the observation space and the encoder that fills it.

Every feature is a number in [0, 1]. Times ``t`` (seconds) and counts ``c`` are squashed as
``t / (t + scale)``, which keeps the bounds exact and never overflows. The scales: a stage's
estimate, its running time and an executor's running time use ``stage_time_scale``; the
time a stage has been blocked or ready, a job's age and its remaining work use
``job_time_scale``; pending parents use 1, a stage's position in its job 8, a job's
unfinished and finished stage counts 4, and its LLM pace 1; a pool's ready stages use its
executor count, its unshown ready stages and the system's job counts use ``stage_slots``.

Only what a real scheduler could know is read: revealed stages, their estimates, parents
and statuses, the time each stage entered its status, job arrival times, and how long
finished stages ran. Durations of unfinished stages and hidden stages are never read.

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

from array import array
from collections.abc import Collection

import numpy as np
from gymnasium import spaces

from llm_sched_env.core import BLOCKED, LLM, READY, RUNNING, JobState, Simulator
from llm_sched_env.envs.config import APP_CLASSES, NUM_POOLS, CompoundLLMConfig
from llm_sched_env.envs.features import SYSTEM_TABLE, Layout, executor_features, pool_features
from llm_sched_env.envs.ready_queue import FcfsReadyQueue
from llm_sched_env.envs.stage_table import (
    STAGE_BITS,
    STAGE_TABLE,
    AppClasses,
    Rows,
    StageTable,
    app_class,
)

# The executor, pool and system features of CompoundLLM-v0 (llm_sched_env.envs.features).
EXECUTOR_TABLE = executor_features(APP_CLASSES)
EXECUTOR_FEATURES = EXECUTOR_TABLE.names
E_BUSY, E_ELAPSED, E_ESTIMATE = (EXECUTOR_TABLE.offset(name) for name in ("busy", "elapsed", "estimate"))
E_APP = EXECUTOR_TABLE.offset(f"app_{APP_CLASSES[0]}")
NUM_EXECUTOR_FEATURES = EXECUTOR_TABLE.width

POOL_TABLE = pool_features()
POOL_FEATURES = POOL_TABLE.names
NUM_POOL_FEATURES = POOL_TABLE.width

SYSTEM_FEATURES = SYSTEM_TABLE.names

LAYOUT = Layout(STAGE_TABLE, EXECUTOR_TABLE, POOL_TABLE, SYSTEM_TABLE, APP_CLASSES)


# Maps a status byte to 1 for revealed, unfinished stages (blocked, ready, running), else 0.
_LIVE = bytes(status in (BLOCKED, READY, RUNNING) for status in range(256))
ANY_LIMIT = 1 << 62  # a pool's choice limit when every ready stage is a choice (see _select_others)


def observation_tables(obs: dict[str, np.ndarray], layout: Layout = LAYOUT) -> dict[str, np.ndarray]:
    """Views of the flat feature arrays as tables (``stages`` as slots x stage features, ...).

    Works on a single observation or a batch (leading dimensions are kept); ``layout`` is
    the environment's (default ``CompoundLLM-v0``'s).
    """
    tables = {key: obs[key].reshape(*obs[key].shape[:-1], -1, w) for key, w in layout.widths().items()}
    tables["edges"] = obs["edges"].reshape(*obs["edges"].shape[:-1], 2, -1)
    return tables


class SlotEncoder:
    """What every encoder shares: the stage table and slots, the edges, the masks and the space.

    The float arrays are ``stages``, then the context: ``executors``, ``pools`` and
    ``system`` rows, which follow each other and are kept in one buffer between steps.
    """

    def __init__(
        self, layout: Layout, settings: dict[str, float], num_executors: int, num_pools: int
    ) -> None:
        self.layout = layout
        self.settings = settings
        self.slots = s = int(settings["stage_slots"])
        self.edge_slots = e = int(settings["edge_slots"])
        self.table = StageTable(settings, layout.stages, AppClasses(layout.apps[:-1]))
        # An observation's arrays are consecutive parts of one fresh array per dtype.
        self._floats = _Parts(
            np.float32,
            stages=s * layout.stages.width,
            executors=num_executors * layout.executors.width,
            pools=num_pools * layout.pools.width,
            system=layout.system.width,
        )
        self._ints = _Parts(np.int32, stage_job=s, edges=2 * e)
        # The masks are written as bytes first (cheaper than numpy for a few values).
        self._masks = _Parts(np.int8, stage_mask=s, job_mask=s, edge_mask=e, action_mask=s)
        self._ones = b"\x01" * max(s, e)
        # Where each mask starts in the mask bytes.
        self._stage_mask_at, self._job_mask_at, self._edge_mask_at, self._action_mask_at = (
            self._masks.slices[key].start for key in ("stage_mask", "job_mask", "edge_mask", "action_mask")
        )
        self._stage_shift = np.array(STAGE_BITS)  # a 0-d array: cheaper in numpy arithmetic than an int
        floats = self._floats.slices
        self._context = slice(floats["executors"].start, floats["system"].stop)
        self.space = spaces.Dict(
            {
                **{key: spaces.Box(0.0, 1.0, (n,), np.float32) for key, n in self._floats.sizes.items()},
                **{key: spaces.Box(0, s - 1, (n,), np.int32) for key, n in self._ints.sizes.items()},
                **{key: spaces.MultiBinary(n) for key, n in self._masks.sizes.items()},
            }
        )
        self._context_rows = Rows(1, self._context.stop - self._context.start)
        self._pools_offset = num_executors * layout.executors.width
        # The executors whose row shows a running stage's elapsed time: row -> (the cell of
        # that time in the context rows, since when it runs).
        self._clocks: dict[int, tuple[int, float]] = {}
        elapsed = layout.executors.offset("elapsed")
        self._elapsed_cell = [row * layout.executors.width + elapsed for row in range(num_executors)]
        self._elapsed_scale = layout.executors.features[elapsed].scale_of(settings)

        self._slot_index = np.arange(s, dtype=np.int32)
        self.slot_keys: list[int] = []  # FCFS keys of the shown stages, slot by slot
        self.action_mask = bytes(s)  # valid slots of the last observation, a byte per slot
        self.hidden_ready = 0
        self.unshown_jobs = 0
        self.truncated_edges = 0

    def new_queue(self) -> FcfsReadyQueue:
        return FcfsReadyQueue(self.table)

    def bind(self, sim: Simulator) -> None:
        """Get ready to encode ``sim``, a new simulation whose queues came from :meth:`new_queue`."""

    def release(self, job: JobState) -> None:
        """Forget a finished job."""
        self.table.release(job)

    def _select_others(
        self, sim: Simulator, limits: list[int], room: int, blocked: list[tuple[int, int, tuple[int, ...]]]
    ) -> list[int]:
        """Slot rule 3: up to ``room`` revealed, unfinished stages that are no choice, in FCFS order.

        ``limits[p]`` is the largest context (prompt plus kept tokens) of a choice of pool ``p``:
        -1 when it does not decide, ``ANY_LIMIT`` when every ready stage of it is a choice.
        """
        record_all = self.table.record_all
        contexts = [pool.queue.contexts for pool in sim.pools]
        keys: list[int] = []
        for job in sim.active.values():
            statuses, job_pools = job.status, job.pools
            rank_bits = job.rank << STAGE_BITS
            live = statuses.translate(_LIVE)
            shown: list[int] = []  # the job's stages taken
            stage = live.find(1)
            while stage >= 0:
                status = statuses[stage]
                key = rank_bits | stage
                choice = False
                if status == READY:  # a choice: its pool decides and it fits the pool's limit
                    limit = limits[job_pools[stage]]
                    choice = limit >= ANY_LIMIT or (limit >= 0 and contexts[job_pools[stage]][key] <= limit)
                if not choice:
                    shown.append(stage)
                    keys.append(key)
                    if status == BLOCKED:
                        blocked.append((key, rank_bits, job.spec.parents[stage]))
                    if len(keys) == room:
                        break
                stage = live.find(1, stage + 1)
            if shown:
                record_all(job, shown)
                if len(keys) == room:
                    return keys
        return keys

    def _encode_slots(
        self,
        sim: Simulator,
        keys: list[int],
        actionable: Collection[int] | None,
        blocked: list[tuple[int, int, tuple[int, ...]]],
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """A fresh observation with the stages of ``keys`` in its slots, their edges and masks.

        ``actionable`` holds the keys that are valid actions (``None``: all of ``keys``). Sets
        ``slot_keys``, ``action_mask``, ``unshown_jobs`` and ``truncated_edges``; returns the
        observation and its float array, whose context rows the caller writes.
        """
        self.slot_keys = keys
        obs: dict[str, np.ndarray] = {}
        floats = self._floats.new(obs)
        self._ints.new(obs)
        masks = bytearray(self._masks.total)
        self._masks.new(obs, masks)  # views of ``masks``: writing into it fills them
        num_jobs = self._fill_stages(obs, masks, keys, sim.now)
        valid = self._ones[: len(keys)] if actionable is None else bytes([key in actionable for key in keys])
        self.action_mask = valid + bytes(self.slots - len(keys))
        at = self._action_mask_at
        masks[at : at + len(valid)] = valid
        self.unshown_jobs = len(sim.active) - num_jobs
        self.truncated_edges = self._fill_edges(obs, masks, keys, blocked) if blocked else 0
        return obs, floats

    def _fill_stages(self, obs: dict[str, np.ndarray], masks: bytearray, keys: list[int], now: float) -> int:
        """Stage rows, their jobs and the masks; returns the number of jobs shown."""
        n = len(keys)
        if not n:
            return 0
        table = self.table
        table.update_new()
        key_array = np.fromiter(keys, np.int64, n)
        ranks = key_array >> self._stage_shift
        index = table.stage_offsets.view.take(ranks) + key_array
        stages = obs["stages"].reshape(self.slots, table.width)
        table.stages.view.take(index, axis=0, out=stages[:n])
        elapsed = now - table.origins.view.take(index, axis=0)
        times = table.time_offset
        stages[:n, times : times + 3] = elapsed / (elapsed + table.scales.view.take(index, axis=0))
        at = self._stage_mask_at
        masks[at : at + n] = self._ones[:n]

        # Slots are in FCFS order, so a job's shown stages are consecutive.
        first_slots = obs["stage_job"][:n]
        first_slots[:] = ranks.searchsorted(ranks)
        job_mask = (first_slots == self._slot_index[:n]).tobytes()
        at = self._job_mask_at
        masks[at : at + n] = job_mask
        return job_mask.count(1)

    def _fill_edges(
        self,
        obs: dict[str, np.ndarray],
        masks: bytearray,
        keys: list[int],
        blocked: list[tuple[int, int, tuple[int, ...]]],
    ) -> int:
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
        edges = obs["edges"]
        edges[:m] = sources[:m]
        edges[e : e + m] = targets[:m]
        at = self._edge_mask_at
        masks[at : at + m] = self._ones[:m]
        return len(sources) - m

    def _start_clock(self, row: int, since: float) -> None:
        """Executor ``row`` runs a stage since ``since``: its row shows the elapsed time."""
        self._clocks[row] = (self._elapsed_cell[row], since)

    def _stop_clock(self, row: int) -> None:
        """Executor ``row`` shows no elapsed time (its elapsed cell is left as written)."""
        self._clocks.pop(row, None)

    def _write_context(self, floats: np.ndarray, now: float) -> None:
        """The executor, pool and system rows, with the executors' elapsed times of ``now``."""
        data = self._context_rows.data
        scale = self._elapsed_scale
        for cell, since in self._clocks.values():  # a few executors: cheaper than numpy calls
            elapsed = now - since
            data[cell] = elapsed / (elapsed + scale)
        floats[self._context] = self._context_rows.view


class ObservationEncoder(SlotEncoder):
    """Builds ``CompoundLLM-v0`` observations of a decision-mode :class:`Simulator` whose ready
    queues it made."""

    def __init__(self, config: CompoundLLMConfig) -> None:
        settings = {
            "stage_time_scale": config.stage_time_scale,
            "job_time_scale": config.job_time_scale,
            "stage_slots": config.stage_slots,
            "edge_slots": config.edge_slots,
        }
        x = config.num_regular + config.num_llm
        super().__init__(LAYOUT, settings, x, NUM_POOLS)
        self.num_executors = (config.num_regular, config.num_llm)
        self.stage_time_scale = config.stage_time_scale
        # The executor rows, regular ones first; what each executor runs.
        self._executor_pool = [0] * config.num_regular + [1] * config.num_llm
        self._executor_runs: list[dict[int, tuple[JobState, int]]] = [{} for _ in range(NUM_POOLS)]
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        self.table.clear()
        self._executor_runs = [{} for _ in range(NUM_POOLS)]
        for row, pool in enumerate(self._executor_pool):
            self._set_idle(row, pool)

    # ------------------------------------------------------------------- encoding
    def encode(self, sim: Simulator) -> dict[str, np.ndarray]:
        """The observation of ``sim`` now; also sets ``slot_keys``, ``action_mask`` and the counts."""
        free, ready = [pool.free for pool in sim.pools], sim.ready
        deciding = (
            bool(free[0]) and len(ready[0].keys) > len(free[0]),
            bool(free[1]) and len(ready[1].keys) > len(free[1]),
        )
        ready_keys, unshown = self._select_ready(sim, deciding)
        keys = ready_keys
        self.hidden_ready = unshown[0] + unshown[1]
        blocked: list[tuple[int, int, tuple[int, ...]]] = []
        actionable = None  # every shown stage is a ready stage of a deciding pool (a valid action)
        if len(keys) < self.slots:
            limits = [ANY_LIMIT if pool_decides else -1 for pool_decides in deciding]
            others = self._select_others(sim, limits, self.slots - len(keys), blocked)
            if others:
                keys = sorted(keys + others)
                actionable = set(ready_keys)
        obs, floats = self._encode_slots(sim, keys, actionable, blocked)
        self._update_executors(sim)
        self._write_pools_and_system(sim, deciding, unshown)
        self._write_context(floats, sim.now)
        return obs

    def _select_ready(self, sim: Simulator, deciding: tuple[bool, ...]) -> tuple[list[int], list[int]]:
        """Slot rules 1 and 2: keys of the ready stages shown, and how many each pool leaves out."""
        slots = self.slots
        regular, llm = sim.ready
        if deciding[0] and deciding[1]:
            keys = sorted(regular.keys[:slots] + llm.keys[:slots])[:slots]
            if len(keys) == slots:
                keys = with_heads(keys, class_heads(regular, llm))
            regular_items = regular.items
            shown_regular = sum(1 for key in keys if key in regular_items)
            return keys, [len(regular.keys) - shown_regular, len(llm.keys) - (len(keys) - shown_regular)]
        if deciding[0] or deciding[1]:
            queue = llm if deciding[LLM] else regular
            keys = queue.keys[:slots]
            if len(keys) == slots:
                keys = with_heads(keys, class_heads(queue))
            left_out = len(queue.keys) - len(keys)
            return keys, [0, left_out] if deciding[LLM] else [left_out, 0]
        return [], [0, 0]

    def _update_executors(self, sim: Simulator) -> None:
        """Update the rows of the executors that started or finished a stage since last time."""
        runs = self._executor_runs
        offset = 0
        for pool in range(NUM_POOLS):
            running = sim.pools[pool].executors
            seen = runs[pool]
            if running != seen:
                for executor in seen:
                    if executor not in running:
                        self._set_idle(offset + executor, pool)
                for executor, ref in running.items():
                    if seen.get(executor) is not ref:
                        self._set_busy(offset + executor, pool, ref)
                runs[pool] = running.copy()
            offset += self.num_executors[pool]

    def _set_idle(self, row: int, pool: int) -> None:
        o = row * NUM_EXECUTOR_FEATURES
        self._context_rows.data[o : o + NUM_EXECUTOR_FEATURES] = _IDLE[pool]
        self._stop_clock(row)

    def _set_busy(self, row: int, pool: int, ref: tuple[JobState, int]) -> None:
        job, stage = ref
        o = row * NUM_EXECUTOR_FEATURES
        data = self._context_rows.data
        data[o : o + NUM_EXECUTOR_FEATURES] = _BUSY[pool][app_class(job.spec.app)]
        estimate = job.spec.estimates[stage]
        data[o + E_ESTIMATE] = estimate / (estimate + self.stage_time_scale)
        self._start_clock(row, job.since[stage])

    def _write_pools_and_system(self, sim: Simulator, deciding: tuple[bool, ...], unshown: list[int]) -> None:
        slots = self.slots
        n_regular, n_llm = self.num_executors
        ready_regular, ready_llm = len(sim.ready[0].keys), len(sim.ready[1].keys)
        jobs, hidden_jobs = len(sim.active), self.unshown_jobs
        self._context_rows.data[self._pools_offset :] = array(
            "f",
            (
                len(sim.pools[0].free) / n_regular,
                ready_regular / (ready_regular + n_regular),
                deciding[0],
                unshown[0] / (unshown[0] + slots),
                len(sim.pools[1].free) / n_llm,
                ready_llm / (ready_llm + n_llm),
                deciding[1],
                unshown[1] / (unshown[1] + slots),
                jobs / (jobs + slots),
                hidden_jobs / (hidden_jobs + slots),
            ),
        )


def class_heads(*queues: FcfsReadyQueue) -> list[int]:
    """The queues' oldest ready stage of every app class."""
    return [keys[0] for queue in queues for keys in queue.by_class if keys]


def with_heads(keys: list[int], heads: Collection[int]) -> list[int]:
    """``keys`` (a full set of slots, sorted) with every head (distinct keys): the newest shown
    keys that are no head make room for the heads that ``keys`` misses (slot rule 1)."""
    last = keys[-1]
    extras = [h for h in heads if h > last]
    drop = len(extras)
    if not drop:
        return keys
    extras.sort()
    for i in range(len(keys) - 1, -1, -1):
        if keys[i] not in heads:
            del keys[i]
            drop -= 1
            if not drop:
                break
    return keys + extras


def _executor_row(pool: int, app: int | None = None) -> array:
    """An executor's row without its times: idle, or busy with a stage of app class ``app``."""
    row = array("f", bytes(4 * NUM_EXECUTOR_FEATURES))
    row[EXECUTOR_TABLE.offset("is_llm")] = float(pool)
    if app is not None:
        row[E_BUSY] = row[E_APP + app] = 1.0
    return row


_IDLE = tuple(_executor_row(pool) for pool in range(NUM_POOLS))
_BUSY = tuple(tuple(_executor_row(pool, app) for app in range(len(APP_CLASSES))) for pool in range(NUM_POOLS))


class _Parts:
    """Named consecutive parts of a flat array of one dtype."""

    def __init__(self, dtype: type, **sizes: int) -> None:
        self.dtype = dtype
        self.sizes = sizes
        self.slices: dict[str, slice] = {}
        self.total = 0
        for key, size in sizes.items():
            self.slices[key] = slice(self.total, self.total + size)
            self.total += size

    def new(self, views: dict[str, np.ndarray], data: bytearray | None = None) -> np.ndarray:
        """A zeroed array, or one over ``data``; adds a view of each part to ``views``."""
        array = np.zeros(self.total, self.dtype) if data is None else np.frombuffer(data, self.dtype)
        for key, part in self.slices.items():
            views[key] = array[part]
        return array
