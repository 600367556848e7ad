"""The runtime of a continuous-batching pool: its replicas' runs of iterations and admissions.

It follows the rules of :mod:`llm_sched_env.core.executors.continuous_batching`. Between
admissions, completions and preemptions the batch is fixed and ``n_kv`` grows by the batch
size every iteration, so a whole run of iterations is one event whose length is an
arithmetic series (:func:`run_seconds`). A stage pushed during a run cuts it at the first
boundary where the stage fits, only on the replicas whose such boundary comes first (the
others are checked again then). The plain iteration-by-iteration reference in
``tests/batching_reference.py`` checks that this gives the same times.

``setup.py`` compiles this module with mypyc when the machine can (a ``CompoundLLMServing-v0``
step then costs about 6 % fewer instructions); the compiled build runs only while this source
is the one it was built from (:mod:`llm_sched_env.core.executors.compiled`), and
``tests/test_compiled.py`` checks that both give the same results. Compiled classes differ
from Python ones in three ways that matter here: their methods cannot be replaced on an
instance (subclass instead), ``copy.deepcopy`` copies their bound methods by reference (keep
the pool, not ``pool.push``), and arguments must have their declared types (an ``int``, not a
numpy integer). mypy must accept the module, else the install falls back to Python (which
``tests/test_compiled.py`` reports in CI).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterator
from functools import partial
from heapq import heappop, heappush
from operator import attrgetter
from typing import TYPE_CHECKING

from mypy_extensions import mypyc_attr

from llm_sched_env.core.executors.base import ScheduleEvent, StageRef
from llm_sched_env.core.state import READY, RUNNING

if TYPE_CHECKING:
    from llm_sched_env.core.executors.continuous_batching import ContinuousBatching
    from llm_sched_env.core.queues import ReadyQueue
    from llm_sched_env.core.state import JobState

# Within ``_TOLERANCE * (now + 1)`` seconds of a run's real boundary, ``now`` is compared with
# the boundary's float time (BatchingPool._position); farther away it cannot be on it.
_TOLERANCE = 1e-9


def run_seconds(first: float, decode: float, t_kv: float, kv0: int, batch: int, iterations: int) -> float:
    """Total time of ``iterations`` iterations of a fixed batch.

    The first takes ``first`` seconds (it may carry prefills); each later one ``decode +
    t_kv * n_kv``, where ``n_kv`` starts at ``kv0 + batch`` and grows by ``batch``.
    """
    j = iterations - 1
    return first + j * decode + t_kv * (j * kv0 + batch * j * (j + 1) / 2)


def _arrival_order(ref: StageRef) -> tuple[int, int]:
    """FCFS order of a ready stage: its job's arrival rank, then its position."""
    return ref[0].rank, ref[1]


def _is(ref: StageRef, job: JobState, stage: int) -> bool:
    return job is ref[0] and stage == ref[1]


def _fits(queued: dict[tuple[int, int], int], limit: int, job: JobState, stage: int) -> bool:
    """Whether a queued stage's context is at most ``limit``."""
    return queued[(job.spec.job_id, stage)] <= limit


# One admitted LLM stage, admitted at iteration ``i0`` with context ``p + g0``:
# ``(job, stage, kv_base, generated_base)``. After ``it`` iterations of its replica it has
# generated ``generated_base + it`` tokens (``g0 - i0 + it``) and needs ``kv_base + it`` KV
# slots (``p + g + 1``) in the next iteration.
_Sequence = tuple["JobState", int, int, int]


# Both classes pickle and deep-copy when compiled: ``serializable`` (which, in mypyc 2.4, leaves
# instances without their attributes unless interpreted subclasses are allowed too). No
# ``__slots__``: pickles then carry the same state dict in both builds.
@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
class _Replica:
    """One executor. After ``iterations`` iterations, a sequence admitted at iteration ``i0``
    with ``g0`` tokens has ``g0 + iterations - i0``; ``need_base + len(seqs) * iterations`` is
    the KV the running sequences need in the next iteration (sum of ``p + g + 1``)."""

    def __init__(self, executor_id: int) -> None:
        self.id = executor_id
        self.seqs: dict[int, _Sequence] = {}  # by admission order: the last is preempted first
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


_by_id = attrgetter("id")


@mypyc_attr(serializable=True, allow_interpreted_subclasses=True)
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
        # Context p + g of every queued stage: the queue's stages, so that a plain dict says whether
        # the queue is empty and how long it is.
        self._queued: dict[tuple[int, int], int] = {}
        self._queued_total = 0  # their sum
        self.queued_contexts: list[int] = []  # the queued stages' contexts, sorted (read-only outside)
        self._new_ctx = math.inf  # smallest context pushed since the last start
        self._boundary: list[_Replica] = []  # replicas whose run ended at the current instant
        self._round: list[_Replica] | None = None  # replicas forming an iteration now
        self._idle = list(self.replicas)  # replicas left without sequences by their last round
        self._deciding: _Replica | None = None
        self._limit = -1  # the largest context the open choice admits (see _threshold)
        self._deferred = False  # a run that a queued stage may cut was left for a later check
        # Runs that stages pushed at this instant may join or cut, with where ``now`` falls in each.
        self._runs: list[tuple[_Replica, float, float]] | None = None
        self._instant = -math.inf  # the time of the last start
        self._seq_keys = 0
        self.preemptions = 0

    @property
    def iterations(self) -> int:
        """Iterations run, summed over replicas."""
        return sum(r.iterations for r in self.replicas)

    # ------------------------------------------------------------ queue bookkeeping
    def context(self, job: JobState, stage: int) -> int:
        """Tokens to prefill when queued ``stage`` is admitted: prompt plus tokens kept by a preemption."""
        return self._queued[(job.spec.job_id, stage)]

    def push(self, job: JobState, stage: int) -> None:
        key = (job.spec.job_id, stage)
        ctx = job.spec.calls[stage].prompt_tokens  # type: ignore[index, union-attr]  # an LLM call (check_stage)
        if self._kept:
            ctx += self._kept.get(key, 0)
        self._queued[key] = ctx
        self._queued_total += ctx
        insort(self.queued_contexts, ctx)
        if ctx < self._new_ctx:
            self._new_ctx = ctx
        self.queue.push(job, stage)

    def _min_ctx(self) -> float:
        contexts = self.queued_contexts
        return contexts[0] if contexts else math.inf

    def _threshold(self, r: _Replica) -> int:
        """Largest context a new sequence may have to be admitted to ``r`` now (-1: none)."""
        m = self.model
        batch = len(r.seqs)
        if batch >= m.max_num_seqs:
            return -1
        kv_room = m.kv_capacity - r.need_base - batch * r.iterations - 1
        token_room = m.max_num_batched_tokens - r.decoders - r.prefill
        return kv_room if kv_room < token_room else token_room

    # ---------------------------------------------------------------- the protocol
    def start(self, now: float, decide: bool) -> bool:
        # Runs pass their boundaries at ``now`` in the first round of admissions at ``now``; a later
        # round there (after stages that took no time) finds them in their next iteration.
        later = now == self._instant
        self._instant = now
        if self._round is None:
            if not self._boundary and self._new_ctx == math.inf:
                return False  # nothing ended or was pushed since the last start: no replica is idle with work
            boundary = self._boundary
            self._boundary = []
            if len(boundary) > 1:
                boundary.sort(key=_by_id)
            capacity = self.model.kv_capacity
            for r in boundary:
                if r.need_base + len(r.seqs) * r.iterations > capacity:
                    self._grow(r, now)
                else:  # what _grow does when the running sequences' KV fits
                    r.decoders, r.prefill = len(r.seqs), 0
            if self._new_ctx != math.inf:  # stages pushed at this instant, some perhaps just preempted
                self._runs = runs = self._open_runs(now)
                if not later:
                    # (Every stage pushed since the last start is still queued: _new_ctx is their smallest.)
                    boundary += self._join_now(runs, now, self._new_ctx)
            if self._queued and self._idle:  # idle replicas take ready stages too
                boundary += self._idle
            if not boundary:
                self._cut_runs(now)
                return False
            if len(boundary) > 1:
                boundary.sort(key=_by_id)
            self._round = boundary
        if self._queued and self._admit(self._round, now, decide):
            return True
        idle = self._idle
        for r in self._round:
            if r.seqs:
                self._plan(r, now)
                if idle and r in idle:
                    idle.remove(r)
            elif r not in idle:
                idle.append(r)
        self._round = None
        if self._deferred or self._new_ctx != math.inf:
            self._cut_runs(now)
        return False

    def on_event(self, executor: int, token: object, now: float, finished: list[StageRef]) -> None:
        r = self.replicas[executor]
        if token != r.version:
            return
        r.iterations = it = r.iterations + r.planned
        r.planned = 0
        heap, seqs = r.finish_heap, r.seqs
        while heap and heap[0][0] <= it:
            seq = seqs.pop(heappop(heap)[1], None)
            if seq is not None:  # else preempted since
                r.need_base -= seq[2]
                finished.append((seq[0], seq[1]))
        self._boundary.append(r)

    def needs_decision(self) -> bool:
        return self._deciding is not None

    def deciding_executor(self) -> int | None:
        """The executor the open choice admits a stage into (None when no choice is open)."""
        return self._deciding.id if self._deciding is not None else None

    def choices(self) -> list[StageRef]:
        if self._deciding is None:
            return []
        limit = self._limit
        return [(job, stage) for job, stage in self.queue if self.context(job, stage) <= limit]

    def admission_limit(self) -> int:
        """The largest context (prompt plus kept tokens) a stage may have to be among the open
        choice's stages (-1 when no choice is open). At ``model.context_limit`` or more,
        every ready stage fits."""
        return self._limit if self._deciding is not None else -1

    def dispatch(self, job: JobState, stage: int, now: float) -> None:
        r = self._deciding
        if r is None:
            raise ValueError(
                f"no {self.name} executor is admitting now (stage {stage} of job {job.spec.job_id})"
            )
        ctx = self._queued.get((job.spec.job_id, stage))
        if ctx is None:
            raise ValueError(f"stage {stage} of job {job.spec.job_id} is not ready in {self.name}")
        if ctx > self._limit:
            raise ValueError(
                f"stage {stage} of job {job.spec.job_id} does not fit executor {r.id} of {self.name}"
            )
        self.queue.remove(job, stage)  # type: ignore[attr-defined]  # decisions use an FcfsReadyQueue
        self._deciding = None
        self._admit_one(r, job, stage, now)

    def running(self) -> Iterator[tuple[int, JobState, int]]:
        return ((r.id, job, stage) for r in self.replicas for job, stage, _, _ in r.seqs.values())

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
        while r.need_base + len(seqs) * r.iterations > capacity:
            _, (job, stage, kv_base, generated_base) = seqs.popitem()
            r.need_base -= kv_base
            self._kept[(job.spec.job_id, stage)] = generated_base + r.iterations
            job.status[stage] = READY
            job.since[stage] = now
            self.preemptions += 1
            self.push(job, stage)
        r.decoders = len(seqs)
        r.prefill = 0

    def _admit(self, round_: list[_Replica], now: float, decide: bool) -> bool:
        """Admit ready stages into the forming iterations of ``round_``; True when a choice is left
        to the caller."""
        queue, queued, contexts = self.queue, self._queued, self.queued_contexts
        any_stage = self.model.context_limit  # a room this large takes any ready stage (check_stage)
        while queued:
            target = None
            for r in round_:
                if target is None or len(r.seqs) < len(target.seqs):
                    room = self._threshold(r)
                    if room >= any_stage or room >= contexts[0]:  # the smallest queued context
                        target, limit = r, room
            if target is None:
                return False
            if len(queued) == 1:  # the one ready stage fits ``target``: no choice
                job, stage = queue.pop()
            elif self._all_fit(target):
                # No choice: every ready stage joins. They join oldest first whatever the
                # policy, so that the order (which decides later preemptions and replicas)
                # is the same on the fast path and in decision mode.
                job, stage = queue.pop_first(partial(_is, min(queue, key=_arrival_order)))
            elif decide:
                self._deciding, self._limit = target, limit
                return True
            else:
                job, stage = queue.pop_first(partial(_fits, queued, limit))
            self._admit_one(target, job, stage, now)
        return False

    def _all_fit(self, r: _Replica) -> bool:
        """True when every ready stage could join ``r``'s forming iteration together."""
        m = self.model
        queued, total = len(self._queued), self._queued_total
        batch = len(r.seqs)
        return (
            batch + queued <= m.max_num_seqs
            and r.need_base + batch * r.iterations + total + queued <= m.kv_capacity
            and r.decoders + r.prefill + total <= m.max_num_batched_tokens
        )

    def _admit_one(self, r: _Replica, job: JobState, stage: int, now: float) -> None:
        key = (job.spec.job_id, stage)
        ctx = self._queued.pop(key)
        contexts = self.queued_contexts
        del contexts[bisect_left(contexts, ctx)]
        self._queued_total -= ctx
        generated = self._kept.pop(key, 0) if self._kept else 0
        it = r.iterations
        self._seq_keys = seq_key = self._seq_keys + 1
        kv_base = ctx - it + 1
        r.seqs[seq_key] = (job, stage, kv_base, generated - it)
        heappush(r.finish_heap, (it + job.spec.calls[stage].output_tokens - generated, seq_key))  # type: ignore[index, union-attr]
        r.need_base += kv_base
        r.prefill += ctx
        job.status[stage] = RUNNING
        job.since[stage] = now

    def _plan(self, r: _Replica, now: float) -> None:
        """Schedule ``r``'s run of iterations up to its next completion, preemption or admission."""
        m = self.model
        seqs = r.seqs
        batch = len(seqs)
        it = r.iterations
        need = r.need_base + batch * it
        heap = r.finish_heap
        while heap[0][1] not in seqs:
            heappop(heap)
        iterations = heap[0][0] - it  # until the first completion
        # Iteration k needs need + k * batch KV slots; the first that does not fit preempts.
        preempting = (m.kv_capacity - need) // batch + 1
        if preempting < iterations:
            iterations = preempting
        # A queued stage that did not fit this iteration's token budget may fit the next one.
        if iterations > 1 and batch < m.max_num_seqs and self._queued:
            next_limit = min(m.kv_capacity - need - batch - 1, m.max_num_batched_tokens - batch)
            if next_limit >= m.context_limit or self._min_ctx() <= next_limit:
                iterations = 1
        r.batch_kv0 = kv0 = need - batch
        t_floor, compute = m.t_floor, m.t_token * (r.decoders + r.prefill)
        r.batch_first = first = (compute if compute > t_floor else t_floor) + m.t_kv * kv0
        compute = m.t_token * batch
        r.decode = decode = compute if compute > t_floor else t_floor
        r.start = now
        # The first iteration as iteration_seconds has it; the run ends where _first_boundary_after has it.
        self._set_run(r, iterations, now + run_seconds(first, decode, m.t_kv, kv0, batch, iterations))

    def _set_run(self, r: _Replica, iterations: int, end: float) -> None:
        """Let ``r``'s current run stop after ``iterations`` iterations, at ``end``."""
        r.planned = iterations
        r.version += 1
        self._schedule(end, r.id, r.version)

    def _open_runs(self, now: float) -> list[tuple[_Replica, float, float]]:
        """The runs a new sequence could still join at a later boundary (more than one iteration
        left, a free sequence slot), each with where ``now`` falls in it (:meth:`_position`)."""
        max_num_seqs = self.model.max_num_seqs
        runs = []
        for r in self.replicas:
            if r.planned > 1 and len(r.seqs) < max_num_seqs:
                j, gap = self._position(r, now)
                runs.append((r, j, gap))
        return runs

    def _fitting_boundaries(
        self, now: float, runs: list[tuple[_Replica, float, float]]
    ) -> list[tuple[_Replica, int, float]]:
        """Of ``runs``, those that pass an iteration boundary after ``now`` at which a stage that
        may cut a run (:meth:`_cutting_context`) would fit: each with the first such boundary and its time."""
        any_stage = self.model.context_limit
        smallest = None
        cuts = []
        for r, j, gap in runs:
            # The room for a new sequence shrinks from boundary to boundary (the KV need grows by
            # the batch size per iteration): only the first boundary after ``now`` can take the stage.
            k, end = self._first_boundary_after(r, now, True, j, gap)
            if k >= r.planned:
                continue
            room = self._room_at(r, k)
            if room < any_stage:
                if smallest is None:
                    smallest = self._cutting_context()
                if room < smallest:
                    continue
            cuts.append((r, k, end))
        return cuts

    def _cutting_context(self) -> float:
        """The smallest context of a queued stage that may cut a run now: one pushed at this
        instant or, after a deferred check, any."""
        smallest = self._min_ctx()
        if not self._deferred and self._new_ctx > smallest:
            smallest = self._new_ctx  # the stages queued before were checked when they came
        return smallest

    def _room_at(self, r: _Replica, k: int) -> int:
        """The largest context a new sequence may have to join ``r`` after ``k`` more iterations
        of its run (as :meth:`_threshold`)."""
        m = self.model
        batch = len(r.seqs)
        kv_room = m.kv_capacity - r.need_base - (r.iterations + k) * batch - 1
        token_room = m.max_num_batched_tokens - batch
        return kv_room if kv_room < token_room else token_room

    def _join_now(
        self, runs: list[tuple[_Replica, float, float]], now: float, smallest: float
    ) -> list[_Replica]:
        """Of ``runs`` (:meth:`_open_runs`), the replicas whose run has an iteration ending exactly
        ``now`` at which a stage of context ``smallest``, pushed at this instant, fits: their run
        stops at that boundary and they join this instant's round (every executor with an
        iteration ending at an instant admits at that instant)."""
        joining = []
        tolerance = _TOLERANCE * (now + 1.0)
        for run in runs:
            r, j, gap = run
            if gap > tolerance:  # no boundary at ``now``
                continue
            k, end = self._first_boundary_after(r, now, False, j, gap)
            if end == now and k < r.planned and smallest <= self._room_at(r, k):
                r.version += 1  # the event planned for the end of the run is stale
                r.iterations += k
                r.planned = 0
                self._grow(r, now)  # preempts nothing: the run's next iteration fits
                joining.append(r)
        if joining:
            self._runs = [run for run in runs if run[0].planned]
        return joining

    def _position(self, r: _Replica, now: float) -> tuple[float, float]:
        """Where ``now`` falls in ``r``'s run: ``(j, gap)``, with ``j`` the real number of
        iterations past the first boundary and ``gap`` a lower bound on the seconds from ``now``
        to the nearest boundary.

        Boundaries lie at whole ``j`` (the run's arithmetic series, solved for ``j``), at least
        ``decode`` seconds apart, so ``now`` is at least ``decode`` times the distance from ``j``
        to the nearest whole number away from each. The float error of the event times is many
        orders of magnitude below the tolerance ``_TOLERANCE * (now + 1)`` that callers allow it.
        """
        rest = now - r.start - r.batch_first
        if rest <= 0:
            return rest, -rest
        q = self.model.t_kv * len(r.seqs) / 2
        lin = r.decode + self.model.t_kv * r.batch_kv0 + q
        j = 2 * rest / (lin + math.sqrt(lin * lin + 4 * q * rest))  # q j^2 + lin j = rest
        fraction = j - math.floor(j)
        return j, (fraction if fraction < 0.5 else 1.0 - fraction) * r.decode

    def _cut_runs(self, now: float) -> None:
        """Once this instant's admissions are done, cut the runs that first reach a boundary at
        which a stage still queued fits: one pushed now or, after a deferred check, any.

        Only the runs with the earliest such boundary are cut; the others are checked again at
        this pool's next boundary, which comes no later than theirs (what is still queued then
        decides whether they are cut).
        """
        cuts = []
        if self._queued and (self._deferred or self._new_ctx != math.inf):
            # (Runs planned at this instant, which _open_runs may list here, stop at their first
            # boundary where a queued stage fits already: see _plan.)
            runs = self._runs if self._runs is not None else self._open_runs(now)
            cuts = self._fitting_boundaries(now, runs)
        self._deferred = False
        self._new_ctx = math.inf
        self._runs = None
        if cuts:
            first = min(cut[2] for cut in cuts)
            for r, k, end in cuts:
                if end == first:
                    self._set_run(r, k, end)
                else:
                    self._deferred = True

    def _first_boundary_after(
        self, r: _Replica, now: float, after: bool, j: float, gap: float
    ) -> tuple[int, float]:
        """The smallest number of iterations of ``r``'s run that ends at or after ``now`` (after
        it if ``after``; >= 1), and when they end (the float time the run's events use);
        ``(j, gap)`` is :meth:`_position` at ``now``."""
        start, first, decode, kv0, batch = r.start, r.batch_first, r.decode, r.batch_kv0, len(r.seqs)
        t_kv = self.model.t_kv
        if gap > _TOLERANCE * (now + 1.0):  # no boundary is near ``now``: the next one is clear
            k = math.floor(j) + 2 if j > 0 else 1
            return k, start + run_seconds(first, decode, t_kv, kv0, batch, k)
        # Settle on the float times near ``now``, from the boundary nearest to it.
        k = max(round(j) + 1, 1)
        end = start + run_seconds(first, decode, t_kv, kv0, batch, k)
        while end < now or (after and end == now):
            k += 1
            end = start + run_seconds(first, decode, t_kv, kv0, batch, k)
        while k > 1:
            before = start + run_seconds(first, decode, t_kv, kv0, batch, k - 1)
            if before < now or (after and before == now):
                break
            k, end = k - 1, before
        return k, end
