"""Continuous batching with KV-cache memory, iteration by iteration (vLLM v0 semantics).

The rules (DESIGN.md section 7), per executor (a model replica):

1. An iteration starts when the executor has running sequences, or when it is idle and
   a stage of its pool is ready. Stages that become ready during an iteration wait for
   its end; all events of an instant are applied before any admission at that instant.
2. KV growth first: every running sequence needs one more KV slot in this iteration.
   While they do not all fit, the most recently admitted sequence is preempted by
   recompute: its KV is freed and it goes back to ready with its generated tokens ``g``
   kept, to be prefilled again as ``p + g``.
3. Admission: while ``len(running) < max_num_seqs``, the new sequence's KV need
   ``p + g + 1`` fits in what is left, and this iteration's prefill tokens plus its
   decoders stay within ``max_num_batched_tokens``, a ready stage is admitted. The policy
   picks among the stages that fit (no head-of-line blocking). When several executors
   start an iteration at one instant, each admission goes to the one with the fewest
   running sequences (ties: lowest id) that can take a stage.
4. The iteration takes ``max(t_floor, t_token * n_tokens) + t_kv * n_kv`` seconds, where
   ``n_tokens`` is the decoders plus the prefill tokens and ``n_kv`` the context ``p + g``
   summed over the batch. At its end every sequence has one more token; those with
   ``g == output_tokens`` finish.

Between admissions, completions and preemptions the batch is fixed and ``n_kv`` grows by
the batch size every iteration, so a whole run of iterations is one event whose length
is an arithmetic series (:func:`run_seconds`); the plain iteration-by-iteration reference
in the tests checks that this gives the same times.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial
from heapq import heappop, heappush
from typing import TYPE_CHECKING

from llm_sched_env.core.executors.base import ScheduleEvent, StageRef
from llm_sched_env.core.job import JobSpec, JobSpecError
from llm_sched_env.core.state import READY, RUNNING

if TYPE_CHECKING:
    from llm_sched_env.core.queues import ReadyQueue
    from llm_sched_env.core.state import JobState

# Llama-2-7B fp16 on one A100-80GB (DESIGN.md section 7):
T_FLOOR = 10.8e-3  # Vidur a100 Llama-2-7b mlp.csv: 9.0-9.7 ms up to 64 tokens; batch 1 at ~1k context 11.1 ms
T_TOKEN = 0.063e-3  # Vidur a100 Llama-2-7b mlp.csv: +0.063 ms per token beyond 256 (67.9 ms at 1,024)
T_KV = 0.33e-6  # 512 KiB of KV per token (2 x 32 layers x 4,096 x 2 B) read at ~1.6 TB/s (A100-80GB)
KV_CAPACITY = 111_580  # (0.9 x 80 GB - 13.5 GB of weights) / 512 KiB; vLLM gpu_memory_utilization 0.9
MAX_NUM_SEQS = 256  # vLLM's default max_num_seqs
MAX_NUM_BATCHED_TOKENS = 8192  # vLLM's default max_num_batched_tokens (DESIGN.md section 7)
CONTEXT_LIMIT = 4096  # Llama-2's context window: prompt_tokens + max_tokens must fit in it


@dataclass(frozen=True)
class ContinuousBatching:
    """A vLLM-style engine: iteration-level batching bounded by sequences, KV memory and tokens."""

    t_floor: float = T_FLOOR
    t_token: float = T_TOKEN
    t_kv: float = T_KV
    kv_capacity: int = KV_CAPACITY
    max_num_seqs: int = MAX_NUM_SEQS
    max_num_batched_tokens: int = MAX_NUM_BATCHED_TOKENS
    context_limit: int = CONTEXT_LIMIT

    name = "continuous_batching"

    def __post_init__(self) -> None:
        for field_name in ("t_floor", "t_token", "t_kv"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e3:
                raise ValueError(
                    f"executor.{field_name}: must be a number of seconds in [0, 1000), got {value!r}"
                )
        if self.t_floor == 0 and self.t_token == 0:
            raise ValueError(
                "executor.t_floor: t_floor and t_token cannot both be 0 (iterations would take no time)"
            )
        for field_name in ("kv_capacity", "max_num_seqs", "max_num_batched_tokens", "context_limit"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**40:
                raise ValueError(f"executor.{field_name}: must be an integer in [1, 2**40], got {value!r}")
        if self.context_limit > self.max_num_batched_tokens:
            raise ValueError(
                f"executor.context_limit: {self.context_limit} exceeds max_num_batched_tokens "
                f"{self.max_num_batched_tokens}, so a full prompt could never be prefilled"
            )
        if self.context_limit > self.kv_capacity:
            raise ValueError(
                f"executor.context_limit: {self.context_limit} exceeds kv_capacity {self.kv_capacity}, "
                "so a full context could never be cached"
            )

    def build(self, name: str, count: int, queue: ReadyQueue, schedule: ScheduleEvent) -> BatchingPool:
        return BatchingPool(self, name, count, queue, schedule)

    def to_dict(self) -> dict[str, object]:
        return {"model": self.name, **asdict(self)}

    def check_stage(self, spec: JobSpec, stage: int, pool: str) -> None:
        """A stage needs its tokens, and prompt plus ``max_tokens`` must fit the context."""
        call = spec.calls[stage] if spec.calls is not None else None
        if call is None:
            raise JobSpecError(
                f"stages[{stage}].prompt_tokens",
                f"pool {pool!r} runs {self.name} and needs the stage in tokens",
            )
        if call.prompt_tokens + call.max_tokens > self.context_limit:
            raise JobSpecError(
                f"stages[{stage}].max_tokens",
                f"prompt_tokens {call.prompt_tokens} + max_tokens {call.max_tokens} exceeds "
                f"the context limit {self.context_limit} of pool {pool!r}",
            )

    def iteration_seconds(self, n_tokens: int, n_kv: int) -> float:
        """One iteration: ``max(t_floor, t_token * n_tokens) + t_kv * n_kv``."""
        return max(self.t_floor, self.t_token * n_tokens) + self.t_kv * n_kv


def run_seconds(first: float, decode: float, t_kv: float, kv0: int, batch: int, iterations: int) -> float:
    """Total time of ``iterations`` iterations of a fixed batch.

    The first takes ``first`` seconds (it may carry prefills); each later one ``decode +
    t_kv * n_kv``, where ``n_kv`` starts at ``kv0 + batch`` and grows by ``batch``.
    """
    j = iterations - 1
    return first + j * decode + t_kv * (j * kv0 + batch * j * (j + 1) / 2)


class _Sequence:
    """One admitted LLM stage: prompt ``p``, tokens generated by iteration ``start_iteration``."""

    __slots__ = ("job", "output", "prompt", "stage", "start_generated", "start_iteration")

    def __init__(self, job: JobState, stage: int, prompt: int, generated: int, output: int, it: int) -> None:
        self.job = job
        self.stage = stage
        self.prompt = prompt
        self.output = output
        self.start_generated = generated
        self.start_iteration = it

    def generated(self, it: int) -> int:
        return self.start_generated + it - self.start_iteration


class _Replica:
    """One executor. After ``iterations`` iterations, a sequence admitted at iteration ``i0``
    with ``g0`` tokens has ``g0 + iterations - i0``; ``need_base + len(seqs) * iterations`` is
    the KV the running sequences need in the next iteration (sum of ``p + g + 1``)."""

    __slots__ = (
        "batch_first",
        "batch_kv0",
        "decode",
        "decoders",
        "finish_heap",
        "id",
        "iterations",
        "need_base",
        "planned",
        "prefill",
        "seqs",
        "start",
        "version",
    )

    def __init__(self, executor_id: int) -> None:
        self.id = executor_id
        self.seqs: dict[int, _Sequence] = {}  # admission order: the last is preempted first
        self.finish_heap: list[tuple[int, int]] = []  # (iteration count at which it finishes, seq key)
        self.iterations = 0
        self.need_base = 0
        self.version = 0  # bumps when the planned run is replaced; stale events are ignored
        self.planned = 0  # iterations of the current run (0: idle or at a boundary)
        self.start = 0.0  # start time of the current run
        self.batch_first = 0.0
        self.decode = 0.0
        self.batch_kv0 = 0
        self.decoders = 0  # sequences carried into the iteration being formed
        self.prefill = 0  # prefill tokens admitted into the iteration being formed

    def need(self) -> int:
        return self.need_base + len(self.seqs) * self.iterations


class BatchingPool:
    """Runtime of a continuous-batching pool: replicas, the ready queue and its contexts."""

    def __init__(
        self, model: ContinuousBatching, name: str, count: int, queue: ReadyQueue, schedule: ScheduleEvent
    ) -> None:
        self.model = model
        self.name = name
        self.count = count
        self.queue = queue
        self.replicas = [_Replica(e) for e in range(count)]
        self._schedule = schedule
        self._kept: dict[tuple[int, int], int] = {}  # tokens kept by preempted stages
        self._queued: dict[tuple[int, int], int] = {}  # context p + g of every queued stage
        self._ctx_heap: list[tuple[int, int, int]] = []  # (context, job_id, stage); stale entries skipped
        self._new_ctx = math.inf  # smallest context pushed since the last start
        self._boundary: list[_Replica] = []  # replicas whose run ended at the current instant
        self._round: list[_Replica] | None = None  # replicas forming an iteration now
        self._deciding: _Replica | None = None
        self._seq_keys = 0
        self.preemptions = 0
        self.iterations = 0  # iterations run, summed over replicas

    # ------------------------------------------------------------ queue bookkeeping
    def context(self, job: JobState, stage: int) -> int:
        """Tokens to prefill when ``stage`` is admitted: its prompt plus tokens kept by a preemption."""
        return job.spec.calls[stage].prompt_tokens + self._kept.get((job.spec.job_id, stage), 0)

    def push(self, job: JobState, stage: int) -> None:
        ctx = self.context(job, stage)
        key = (job.spec.job_id, stage)
        self._queued[key] = ctx
        heappush(self._ctx_heap, (ctx, *key))
        if ctx < self._new_ctx:
            self._new_ctx = ctx
        self.queue.push(job, stage)

    def _min_ctx(self) -> float:
        heap, queued = self._ctx_heap, self._queued
        while heap:
            ctx, job_id, stage = heap[0]
            if queued.get((job_id, stage)) == ctx:
                return ctx
            heappop(heap)
        return math.inf

    def _threshold(self, r: _Replica) -> int:
        """Largest context a new sequence may have to be admitted to ``r`` now (-1: none)."""
        m = self.model
        if len(r.seqs) >= m.max_num_seqs:
            return -1
        return min(m.kv_capacity - r.need() - 1, m.max_num_batched_tokens - r.decoders - r.prefill)

    # ---------------------------------------------------------------- the protocol
    def start(self, now: float, decide: bool) -> bool:
        if self._round is None:
            boundary = self._boundary
            if self.queue:
                boundary += [r for r in self.replicas if not r.seqs and not r.planned and r not in boundary]
            if not boundary:
                if self._new_ctx != math.inf:
                    self._interrupt(now)
                return False
            self._boundary = []
            boundary.sort(key=lambda r: r.id)
            for r in boundary:
                self._grow(r, now)
            self._round = boundary
        if self._admit(now, decide):
            return True
        for r in self._round:
            if r.seqs:
                self._plan(r, now)
        self._round = None
        if self._new_ctx != math.inf:
            self._interrupt(now)
        return False

    def on_event(self, executor: int, token: object, now: float, finished: list[StageRef]) -> None:
        r = self.replicas[executor]
        if token != r.version:
            return
        r.iterations += r.planned
        self.iterations += r.planned
        r.planned = 0
        heap, seqs = r.finish_heap, r.seqs
        while heap and heap[0][0] <= r.iterations:
            _, key = heappop(heap)
            seq = seqs.pop(key, None)
            if seq is not None:
                r.need_base -= seq.prompt + seq.start_generated - seq.start_iteration + 1
                finished.append((seq.job, seq.stage))
        self._boundary.append(r)

    def needs_decision(self) -> bool:
        return self._deciding is not None

    def choices(self) -> list[StageRef]:
        if self._deciding is None:
            return []
        limit = self._threshold(self._deciding)
        return [(job, stage) for job, stage in self.queue if self.context(job, stage) <= limit]

    def dispatch(self, job: JobState, stage: int, now: float) -> None:
        r = self._deciding
        if r is None:
            raise ValueError(
                f"no {self.name} executor is admitting now (stage {stage} of job {job.spec.job_id})"
            )
        if self.context(job, stage) > self._threshold(r):
            raise ValueError(
                f"stage {stage} of job {job.spec.job_id} does not fit executor {r.id} of {self.name}"
            )
        self.queue.remove(job, stage)
        self._deciding = None
        self._admit_one(r, job, stage, now)

    def running(self) -> Iterator[tuple[int, JobState, int]]:
        return ((r.id, s.job, s.stage) for r in self.replicas for s in r.seqs.values())

    def busy_executors(self) -> int:
        return sum(1 for r in self.replicas if r.seqs)

    def kv_used(self, executor: int) -> int:
        """KV slots the running sequences of ``executor`` hold now (sum of ``p + g``)."""
        r = self.replicas[executor]
        return r.need() - len(r.seqs)

    # ------------------------------------------------------------------ internals
    def _grow(self, r: _Replica, now: float) -> None:
        """KV growth for the next iteration, preempting the newest sequences while it does not fit."""
        capacity = self.model.kv_capacity
        seqs = r.seqs
        while r.need() > capacity:
            _, seq = seqs.popitem()
            r.need_base -= seq.prompt + seq.start_generated - seq.start_iteration + 1
            job, stage = seq.job, seq.stage
            self._kept[(job.spec.job_id, stage)] = seq.generated(r.iterations)
            job.status[stage] = READY
            job.since[stage] = now
            self.preemptions += 1
            self.push(job, stage)
        r.decoders = len(seqs)
        r.prefill = 0

    def _admit(self, now: float, decide: bool) -> bool:
        """Admit ready stages into the forming iterations; True when a choice is left to the caller."""
        round_ = self._round
        queue = self.queue
        while queue:
            smallest = self._min_ctx()
            target = None
            for r in round_:
                if self._threshold(r) >= smallest and (target is None or len(r.seqs) < len(target.seqs)):
                    target = r
            if target is None:
                return False
            limit = self._threshold(target)
            if decide and not self._all_fit(target):
                self._deciding = target
                return True
            job, stage = queue.pop_first(partial(self._fits, limit))
            self._admit_one(target, job, stage, now)
        return False

    def _fits(self, limit: int, job: JobState, stage: int) -> bool:
        return self.context(job, stage) <= limit

    def _all_fit(self, r: _Replica) -> bool:
        """True when every ready stage could join ``r``'s forming iteration together."""
        m = self.model
        contexts = [self.context(job, stage) for job, stage in self.queue]
        return (
            len(r.seqs) + len(contexts) <= m.max_num_seqs
            and r.need() + sum(contexts) + len(contexts) <= m.kv_capacity
            and r.decoders + r.prefill + sum(contexts) <= m.max_num_batched_tokens
        )

    def _admit_one(self, r: _Replica, job: JobState, stage: int, now: float) -> None:
        key = (job.spec.job_id, stage)
        ctx = self._queued.pop(key)
        generated = self._kept.pop(key, 0)
        call = job.spec.calls[stage]
        it = r.iterations
        self._seq_keys += 1
        r.seqs[self._seq_keys] = _Sequence(job, stage, call.prompt_tokens, generated, call.output_tokens, it)
        heappush(r.finish_heap, (it + call.output_tokens - generated, self._seq_keys))
        r.need_base += ctx - it + 1
        r.prefill += ctx
        job.status[stage] = RUNNING
        job.since[stage] = now

    def _plan(self, r: _Replica, now: float) -> None:
        """Schedule ``r``'s run of iterations up to its next completion, preemption or admission."""
        m = self.model
        batch = len(r.seqs)
        need = r.need()
        heap = r.finish_heap
        while heap[0][1] not in r.seqs:
            heappop(heap)
        iterations = heap[0][0] - r.iterations  # until the first completion
        # Iteration k needs need + k * batch KV slots; the first that does not fit preempts.
        iterations = min(iterations, (m.kv_capacity - need) // batch + 1)
        # A queued stage that did not fit this iteration's token budget may fit the next one.
        next_limit = min(m.kv_capacity - need - batch - 1, m.max_num_batched_tokens - batch)
        if iterations > 1 and batch < m.max_num_seqs and self._min_ctx() <= next_limit:
            iterations = 1
        r.batch_kv0 = need - batch
        r.batch_first = m.iteration_seconds(r.decoders + r.prefill, r.batch_kv0)
        r.decode = max(m.t_floor, m.t_token * batch)
        r.start = now
        self._set_run(r, iterations)

    def _set_run(self, r: _Replica, iterations: int) -> None:
        r.planned = iterations
        r.version += 1
        end = r.start + run_seconds(
            r.batch_first, r.decode, self.model.t_kv, r.batch_kv0, len(r.seqs), iterations
        )
        self._schedule(end, r.id, r.version)

    def _interrupt(self, now: float) -> None:
        """Cut runs that pass an iteration boundary at which a stage pushed now would fit."""
        # A lower bound on the context of the stages pushed now that are still queued.
        smallest = max(self._new_ctx, self._min_ctx())
        self._new_ctx = math.inf
        m = self.model
        for r in self.replicas:
            batch = len(r.seqs)
            if r.planned <= 1 or batch >= m.max_num_seqs:
                continue
            k = self._first_boundary_after(r, now)
            if k >= r.planned:
                continue
            need = r.need() + k * batch  # KV needed by the running sequences in iteration k
            if smallest <= min(m.kv_capacity - need - 1, m.max_num_batched_tokens - batch):
                self._set_run(r, k)

    def _first_boundary_after(self, r: _Replica, now: float) -> int:
        """The smallest number of iterations of ``r``'s run that ends at or after ``now`` (>= 1)."""
        elapsed = now - r.start
        if elapsed <= r.batch_first:
            return 1
        batch, t_kv = len(r.seqs), self.model.t_kv
        q = t_kv * batch / 2
        lin = r.decode + t_kv * r.batch_kv0 + q
        rest = elapsed - r.batch_first
        j = (
            math.ceil((math.sqrt(lin * lin + 4 * q * rest) - lin) / (2 * q))
            if q > 0
            else math.ceil(rest / lin)
        )

        def ends(iterations: int) -> float:
            return run_seconds(r.batch_first, r.decode, t_kv, r.batch_kv0, batch, iterations)

        k = max(j + 1, 1)
        while r.start + ends(k) < now:
            k += 1
        while k > 1 and r.start + ends(k - 1) >= now:
            k -= 1
        return k
