"""What the scheduler sees on a cluster of named pools with continuous-batching LLM replicas.

The layout (:func:`serving_layout`) adds to ``CompoundLLM-v0``'s stage rows an LLM call's
prompt tokens, ``max_tokens`` and output estimate; an executor row shows its batch
occupancy, KV cache used and free and whether it is the executor deciding; a pool row its
size, queue and free capacity. There is a row per executor of every pool and a row per pool,
in the cluster's order, and the one-hot app columns are the configured applications plus
``"other"``.

Slot rule: as in ``CompoundLLM-v0`` with "ready stages of a deciding pool" read as "the
pool's choices": the ready stages that fit now (every ready stage for a single-stream
pool; for a batching replica those whose prompt, plus kept tokens, fit its free sequence
slots, KV cache and token budget). Ready stages that do not fit are shown, not valid, under
rule 3. True output tokens and unrevealed stages are never read.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

import numpy as np

from llm_sched_env.core import LLM, JobState, Simulator
from llm_sched_env.core.executors import BatchingPool
from llm_sched_env.envs.features import (
    POOL_SIZE_SCALE,
    SYSTEM_TABLE,
    Layout,
    executor_features,
    pool_features,
    stage_features,
)
from llm_sched_env.envs.observation import ANY_LIMIT, SlotEncoder, class_heads, with_heads
from llm_sched_env.envs.ready_queue import FcfsReadyQueue
from llm_sched_env.envs.serving_config import ServingConfig


def serving_layout(app_classes: tuple[str, ...]) -> Layout:
    """The feature tables of ``CompoundLLMServing-v0`` for these application classes."""
    return Layout(
        stage_features(app_classes, tokens=True),
        executor_features(app_classes, batching=True),
        pool_features(batching=True),
        SYSTEM_TABLE,
        app_classes,
    )


class ServingObservationEncoder(SlotEncoder):
    """Builds ``CompoundLLMServing-v0`` observations of a decision-mode :class:`Simulator`."""

    def __init__(self, config: ServingConfig) -> None:
        settings = {
            "stage_time_scale": config.stage_time_scale,
            "job_time_scale": config.job_time_scale,
            "token_scale": config.token_scale,
            "stage_slots": config.stage_slots,
            "edge_slots": config.edge_slots,
        }
        pools = config.cluster.pools
        layout = serving_layout(config.app_classes)
        super().__init__(layout, settings, sum(p.count for p in pools), len(pools))
        self.token_scale = config.token_scale
        self.stage_time_scale = config.stage_time_scale
        table = self.layout.executors
        self._width = table.width
        self._col = {name: table.offset(name) for name in table.names}
        # The columns a batching replica's row updates every observation.
        self._replica_columns = tuple(
            self._col[name] for name in ("busy", "deciding", "batch", "kv_used", "kv_free")
        )
        self._pool_width = self.layout.pools.width
        self._first_row = [sum(p.count for p in pools[:i]) for i in range(len(pools))]
        self._counts = [p.count for p in pools]
        self._is_llm = [float(p.kind_code == LLM) for p in pools]
        self._batching = [False] * len(pools)  # per pool: continuous batching (set by bind)
        self._pool_size = [p.count / (p.count + POOL_SIZE_SCALE) for p in pools]
        self._executor_runs: list[dict[int, tuple[JobState, int]]] = [{} for _ in pools]
        self.reset()

    def reset(self) -> None:
        self.table.clear()
        self._executor_runs = [{} for _ in self._counts]
        for pool, first in enumerate(self._first_row):
            for executor in range(self._counts[pool]):
                self._set_idle(first + executor, pool)

    def bind(self, sim: Simulator) -> None:
        self._batching = [isinstance(pool, BatchingPool) for pool in sim.pools]
        for pool, batching in zip(sim.pools, self._batching, strict=True):
            if batching:
                pool.queue.track_contexts(pool)

    # ------------------------------------------------------------------- encoding
    def encode(self, sim: Simulator) -> dict[str, np.ndarray]:
        """The observation of ``sim`` now; also sets ``slot_keys``, ``action_mask`` and the counts."""
        slots = self.slots
        firsts: list[list[int]] = []  # per deciding pool: its first ``slots`` choices, in FCFS order
        counts: list[int] = []  # per pool: its number of choices
        limits: list[int] = []  # per pool: largest context of a choice (-1: none, ANY_LIMIT: any ready stage)
        deciding: list[tuple[FcfsReadyQueue, int]] = []  # per deciding pool: its queue and limit
        for pool, batching in zip(sim.pools, self._batching, strict=True):
            if not pool.needs_decision():
                counts.append(0)
                limits.append(-1)
                continue
            queue = pool.queue
            limit = pool.admission_limit() if batching else ANY_LIMIT
            if limit >= ANY_LIMIT or limit >= pool.queued_contexts[-1]:  # every ready stage fits
                firsts.append(queue.keys[:slots])
                counts.append(len(queue.keys))
                limits.append(ANY_LIMIT)
            else:
                count = bisect_right(pool.queued_contexts, limit)
                firsts.append(_fitting(queue, limit, min(count, slots), count))
                counts.append(count)
                limits.append(limit)
            deciding.append((queue, limits[-1]))
        keys = firsts[0] if len(firsts) == 1 else sorted(key for items in firsts for key in items)[:slots]
        if len(keys) == slots:  # rule 1 may change the slots only when they are full
            keys = with_heads(keys, _heads(deciding))
        unshown = counts
        if len(firsts) == 1 or not firsts:
            for p, count in enumerate(counts):
                if count:
                    unshown[p] = count - len(keys)
        else:
            for p, pool in enumerate(sim.pools):
                if counts[p]:
                    items = pool.queue.items
                    unshown[p] = counts[p] - sum(1 for key in keys if key in items)
        self.hidden_ready = sum(unshown)
        blocked: list[tuple[int, int, tuple[int, ...]]] = []
        actionable = None  # every shown stage is a choice of a deciding pool (a valid action)
        if len(keys) < slots:
            others = self._select_others(sim, limits, slots - len(keys), blocked)
            if others:
                actionable = set(keys)
                keys = sorted(keys + others)
        obs, floats = self._encode_slots(sim, keys, actionable, blocked)
        self._write_executors_and_pools(sim, limits, unshown)
        self._write_context(floats, sim.now)
        return obs

    # ------------------------------------------------------ executors and pools
    def _write_executors_and_pools(self, sim: Simulator, limits: list[int], unshown: list[int]) -> None:
        """The executor and pool rows; ``limits[p]`` is -1 where pool ``p`` does not decide."""
        data = self._context_rows.data
        slots, token_scale = self.slots, self.token_scale
        c_busy, c_deciding, c_batch, c_kv_used, c_kv_free = self._replica_columns
        pool_rows: list[float] = []
        for p, pool in enumerate(sim.pools):
            count = self._counts[p]
            queued = len(pool.queue.keys)
            deciding = limits[p] >= 0
            if self._batching[p]:
                model = pool.model
                capacity, max_seqs = model.kv_capacity, model.max_num_seqs
                deciding_id = pool.deciding_executor()
                busy = seqs = used_total = 0
                for r in pool.replicas:
                    n = len(r.seqs)
                    used = r.need() - n
                    busy += n > 0
                    seqs += n
                    used_total += used
                    o = (self._first_row[p] + r.id) * self._width
                    free = capacity - used
                    data[o + c_busy] = float(n > 0)
                    data[o + c_deciding] = float(r.id == deciding_id)
                    data[o + c_batch] = n / max_seqs
                    data[o + c_kv_used] = used / capacity
                    data[o + c_kv_free] = free / (free + token_scale)
                seq_room = 1.0 - seqs / (count * max_seqs)
                kv_free = 1.0 - used_total / (count * capacity)
            else:
                self._update_single(p, pool)
                busy = len(pool.executors)
                seq_room = 1.0 - busy / count
                kv_free = 0.0
            pool_rows += (
                self._pool_size[p],
                (count - busy) / count,
                queued / (queued + count),
                float(deciding),
                unshown[p] / (unshown[p] + slots),
                seq_room,
                kv_free,
            )
        jobs, hidden_jobs = len(sim.active), self.unshown_jobs
        pool_rows += (jobs / (jobs + slots), hidden_jobs / (hidden_jobs + slots))
        data[self._pools_offset :] = array("f", pool_rows)

    def _update_single(self, p: int, pool: object) -> None:
        """Update the rows of a single-stream pool's executors that started or finished a stage."""
        running = pool.executors  # type: ignore[attr-defined]
        seen = self._executor_runs[p]
        if running == seen:
            return
        first = self._first_row[p]
        for executor in seen:
            if executor not in running:
                self._set_idle(first + executor, p)
        for executor, ref in running.items():
            if seen.get(executor) is not ref:
                self._set_busy(first + executor, ref)
        self._executor_runs[p] = running.copy()

    def _set_idle(self, row: int, pool: int) -> None:
        o = row * self._width
        data = self._context_rows.data
        data[o : o + self._width] = array("f", bytes(4 * self._width))
        data[o + self._col["is_llm"]] = self._is_llm[pool]
        self._stop_clock(row)

    def _set_busy(self, row: int, ref: tuple[JobState, int]) -> None:
        job, stage = ref
        o = row * self._width
        data = self._context_rows.data
        col = self._col
        data[o + col["busy"]] = data[o + col["batch"]] = 1.0
        estimate = job.spec.estimates[stage]
        data[o + col["estimate"]] = estimate / (estimate + self.stage_time_scale)
        self._start_clock(row, job.since[stage])


def _fitting(queue: FcfsReadyQueue, limit: int, wanted: int, count: int) -> list[int]:
    """The first ``wanted`` of the ``count`` queued stages whose context is at most ``limit``, in
    FCFS order (``wanted <= count``)."""
    contexts = queue.contexts
    if wanted == count:  # all of them: one pass over the contexts beats a scan to the last one
        return sorted([key for key, context in contexts.items() if context <= limit])
    items: list[int] = []
    for key in queue.keys:
        if contexts[key] <= limit:
            items.append(key)
            wanted -= 1
            if not wanted:
                break
    return items


def _heads(deciding: list[tuple[FcfsReadyQueue, int]]) -> set[int]:
    """The oldest choice of each app class of each deciding pool, given as its queue and limit."""
    heads = set()
    for queue, limit in deciding:
        if limit >= ANY_LIMIT:
            heads.update(class_heads(queue))
            continue
        contexts = queue.contexts
        for keys in queue.by_class:
            for key in keys:
                if contexts[key] <= limit:
                    heads.add(key)
                    break
    return heads
