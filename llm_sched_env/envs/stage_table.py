"""Feature rows of the stages of the jobs in the system, kept up to date incrementally.

Each job gets a block of stage rows (one per stage) when it is first seen. A stage row
holds the stage's step-invariant features (kind, app, estimate, position), its last
recorded status and its job's features (remaining work, stage counts, LLM pace); the time
it entered its status is kept beside it, so an observation computes every time feature in
one vectorized pass. Rows of hidden stages exist but are only read once their stage is
revealed.

Rows live in ``array.array`` buffers (cheap to write one value at a time from Python)
with numpy views of the same memory (cheap to gather from).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from math import frexp
from typing import Any

import numpy as np

from llm_sched_env.core import BLOCKED, DONE, HIDDEN, LLM, READY, RUNNING, JobState
from llm_sched_env.envs.config import APP_CLASSES, APP_NAMES, MAX_JOB_STAGES
from llm_sched_env.envs.features import FeatureTable, stage_features

# A stage key is (arrival rank << STAGE_BITS) | position: FCFS order as one int.
STAGE_BITS = (MAX_JOB_STAGES - 1).bit_length()
STAGE_MASK = (1 << STAGE_BITS) - 1

# The stage features of CompoundLLM-v0 (see llm_sched_env.envs.features for their meaning).
STAGE_TABLE = stage_features(APP_CLASSES)
STAGE_FEATURES = STAGE_TABLE.names
NUM_STAGE_FEATURES = STAGE_TABLE.width

# The groups the table keeps incrementally, in this column order.
STATUS_GROUP = ("pending_parents", "blocked", "ready", "running")
TIME_GROUP = ("job_age", "waiting", "elapsed")
JOB_GROUP = (
    "job_remaining_work",
    "job_remaining_regular_work",
    "job_remaining_llm_work",
    "job_live_stages",
    "job_done_stages",
    "job_llm_pace",
)

_STATUS_ONE_HOT = {
    BLOCKED: array("f", (1.0, 0.0, 0.0)),
    READY: array("f", (0.0, 1.0, 0.0)),
    RUNNING: array("f", (0.0, 0.0, 1.0)),
}


class AppClasses:
    """Application classes an observation tells apart: ``names`` then ``"other"``.

    The class of ``app`` is ``index.get(app, other)``.
    """

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.classes = (*self.names, "other")
        self.index = {name: k for k, name in enumerate(self.names)}
        self.other = len(self.names)

    def __call__(self, app: str) -> int:
        """Index of ``app`` in ``classes``."""
        return self.index.get(app, self.other)


app_class = AppClasses(APP_NAMES)


class Rows:
    """A growable table of ``width`` numbers per row: an ``array.array`` and a numpy view of it."""

    def __init__(self, width: int, capacity: int, typecode: str = "f") -> None:
        self.width = width
        self.data = array(typecode, bytes(array(typecode).itemsize * width * capacity))
        self.view = self._make_view()

    def __len__(self) -> int:
        return len(self.view)

    def grow(self, capacity: int) -> None:
        """Make room for ``capacity`` rows, keeping the current ones."""
        rows = len(self.view)
        self.view = None  # release the buffer so that the array may grow
        self.data.frombytes(bytes(self.data.itemsize * self.width * (capacity - rows)))
        self.view = self._make_view()

    def _make_view(self) -> np.ndarray:
        view = np.frombuffer(self.data, self.data.typecode)
        return view.reshape(-1, self.width) if self.width > 1 else view

    def __getstate__(self) -> dict[str, Any]:
        return {"width": self.width, "data": self.data}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.width, self.data = state["width"], state["data"]
        self.view = self._make_view()


_TWO_53 = float(2**53)


def exact_units(values: Sequence[float]) -> tuple[list[int], int]:
    """``values`` as integer multiples of one unit ``2**-k`` (exactly), and ``2**k``."""
    # value = m * 2**e with m * 2**53 an integer (math.frexp; cheaper than as_integer_ratio)
    parts = [frexp(value) for value in values]
    low = min(min([e for _, e in parts]), 53)  # the unit 2**(low - 53) is at most 1
    return [int(m * _TWO_53) << (e - low) for m, e in parts], 1 << (53 - low)


class JobEntry:
    """Where a job's stage rows are (its first stage row), and the sums its job features show.

    The sums (revealed unfinished work per pool; run time and estimates of finished LLM
    stages) are kept as exact integers in the unit of :func:`exact_units`, so that updating
    them as stages finish gives the exact sums, each rounded once when shown.
    """

    __slots__ = (
        "base",
        "durations",
        "estimates",
        "expected",
        "job",
        "live",
        "ready",
        "took",
        "unit",
        "work",
    )

    def __init__(self, job: JobState, base: int) -> None:
        self.job = job
        self.base = base
        self.ready = False  # the sums are computed when the job's state is next consistent
        spec = job.spec
        n = spec.num_stages
        # Only the durations of LLM stages are used, once they finish.
        llm_durations = [
            d if kind == LLM else 0.0 for d, kind in zip(spec.durations, spec.kinds, strict=True)
        ]
        exact, self.unit = exact_units(spec.estimates + tuple(llm_durations))
        self.estimates = exact[:n]
        self.durations = exact[n:]
        self.work = [0, 0]
        self.live = self.took = self.expected = 0


class StageTable:
    """Feature rows of every job seen since the last :meth:`clear` that is still in the system.

    ``origins`` and ``scales`` hold what a stage's time features (job age, waiting, elapsed)
    are computed from: three origins and three squashing scales (separate, contiguous tables
    for fast vectorized arithmetic); an infinite scale shows as 0 (waiting while running,
    elapsed while waiting). Indexed by a job's arrival rank, ``stage_offsets`` holds its
    first stage row minus ``rank << STAGE_BITS``, so the stage row of key ``k`` is
    ``stage_offsets[k >> STAGE_BITS] + k``.

    A job's features are computed by :meth:`update_new` once its job was added, and kept up
    to date by :meth:`stage_completed`, which must be told of every stage completion; they
    are written into the job's stage rows by :meth:`update_new`, which must be called before
    the rows are read.
    """

    def __init__(
        self,
        settings: Mapping[str, float],
        features: FeatureTable = STAGE_TABLE,
        apps: AppClasses = app_class,
        capacity: int = 1024,
    ) -> None:
        self.features = features
        self.apps = apps
        self.width = width = features.width
        for group, names in (("status", STATUS_GROUP), ("time", TIME_GROUP), ("job", JOB_GROUP)):
            if features.names[features.group(group)] != names:
                raise ValueError(f"stage features: the {group} group must be {names}")
        self.status_offset = features.group("status").start
        self.time_offset = features.group("time").start
        self.job_columns = features.group("job")
        self._time_scales = [f.scale_of(settings) for f in features.features[features.group("time")]]
        # The scales of the waiting and elapsed times in each status: one of them shows as 0.
        waiting, elapsed = self._time_scales[1:]
        self._status_scales = {
            BLOCKED: array("d", (waiting, math.inf)),
            READY: array("d", (waiting, math.inf)),
            RUNNING: array("d", (math.inf, elapsed)),
        }
        self._job_scales = [f.scale_of(settings) for f in features.features[self.job_columns]]
        self._pending_scale = features.features[self.status_offset].scale_of(settings)
        static = features.group("static")
        self._static = static
        self._static_values = [f.value for f in features.features[static]]
        scales = [f.scale_of(settings) for f in features.features[static]]
        # Per static feature (a column each): whether it is squashed, and by what scale.
        self._squashed = np.array([[scale is not None] for scale in scales])
        self._static_scales = np.array([[scale or 0.0] for scale in scales], np.float64)
        self.stages = Rows(width, capacity)
        self.origins = Rows(3, capacity, "d")  # arrival, since, since
        self.scales = Rows(3, capacity, "d")
        self._marks = [-1] * capacity  # status and pending parents last recorded, by row
        self.entries: dict[int, JobEntry] = {}  # by arrival rank
        self.stage_offsets = Rows(1, capacity, "q")  # by arrival rank
        self._new: list[JobEntry] = []  # entries whose sums are not computed yet
        self._stale: dict[int, JobEntry] = {}  # by arrival rank: entries whose rows show older sums
        self._top = 0
        self._live_rows = 0
        self.clear()

    def clear(self) -> None:
        self.entries.clear()
        self._top = self._live_rows = 0
        self._new.clear()
        self._stale.clear()

    def stage_completed(self, job: JobState, stage: int) -> None:
        """Update the sums of ``job``'s features after its ``stage`` finished (and revealed stages)."""
        entry = self.entries.get(job.rank)
        if entry is None or not entry.ready or not job.remaining:
            return
        kinds = job.spec.kinds
        work, estimates = entry.work, entry.estimates
        work[kinds[stage]] -= estimates[stage]
        entry.live -= 1
        for revealed in job.spec.reveals[stage]:
            work[kinds[revealed]] += estimates[revealed]
            entry.live += 1
        if kinds[stage] == LLM:
            entry.took += entry.durations[stage]
            entry.expected += estimates[stage]
        self._stale[job.rank] = entry

    def update_new(self) -> None:
        """Bring the job features in the stage rows up to date: compute those of the jobs added
        since the last call, and write those of the jobs whose stages finished since (once per job)."""
        entries = self.entries
        for entry in self._new:
            if entries.get(entry.job.rank) is entry:
                self._compute_sums(entry)
                self._write_job_features(entry)
        self._new.clear()
        for rank, entry in self._stale.items():
            if entries.get(rank) is entry:  # not released since
                self._write_job_features(entry)
        self._stale.clear()

    def record(self, job: JobState, stage: int, status: int) -> None:
        """Store the status of a revealed stage and when it entered it."""
        entry = self.entries.get(job.rank)
        row = (entry.base if entry is not None else self._add(job).base) + stage
        pending = job.pending_parents[stage]
        mark = status | pending << 3
        if self._marks[row] != mark:
            self._write_status(job, stage, row, status, pending, mark)

    def record_all(self, job: JobState, stages: Iterable[int]) -> None:
        """:meth:`record` each of ``stages`` (revealed stages of ``job``) with its current status."""
        entry = self.entries.get(job.rank)
        base = entry.base if entry is not None else self._add(job).base
        marks, statuses, pending_parents = self._marks, job.status, job.pending_parents
        for stage in stages:
            status, pending = statuses[stage], pending_parents[stage]
            mark = status | pending << 3
            if marks[base + stage] != mark:
                self._write_status(job, stage, base + stage, status, pending, mark)

    def _write_status(
        self, job: JobState, stage: int, row: int, status: int, pending: int, mark: int
    ) -> None:
        """Write the status features of ``stage`` (row ``row``) and remember them as ``mark``."""
        self._marks[row] = mark
        o = row * self.width + self.status_offset
        data = self.stages.data
        data[o] = pending / (pending + self._pending_scale)
        data[o + 1 : o + 4] = _STATUS_ONE_HOT[status]
        o = 3 * row
        origins = self.origins.data
        origins[o + 1] = origins[o + 2] = job.since[stage]
        self.scales.data[o + 1 : o + 3] = self._status_scales[status]

    def left_queue(self, job: JobState, stage: int) -> None:
        """A ready stage left its queue (it starts): its next :meth:`record` is written even if the
        status it records is READY again (a preempted LLM stage re-enters the queue)."""
        entry = self.entries.get(job.rank)
        if entry is not None:
            self._marks[entry.base + stage] = -1

    def _compute_sums(self, entry: JobEntry) -> None:
        job = entry.job
        kinds = job.spec.kinds
        work = [0, 0]
        live = took = expected = 0
        for stage, status in enumerate(job.status):
            if status == HIDDEN:
                continue
            if status != DONE:
                live += 1
                work[kinds[stage]] += entry.estimates[stage]
            elif kinds[stage] == LLM:
                took += entry.durations[stage]
                expected += entry.estimates[stage]
        entry.work, entry.live, entry.took, entry.expected = work, live, took, expected
        entry.ready = True

    def _write_job_features(self, entry: JobEntry) -> None:
        """The job features in the job's stage rows, from the sums."""
        job, unit = entry.job, entry.unit
        regular_work, llm_work = entry.work
        total = (regular_work + llm_work) / unit
        regular_work /= unit
        llm_work /= unit
        # LLM pace: how long the finished LLM stages ran (known once they finish) against their
        # estimates; an LLM's output length depends on the request, so it predicts the rest.
        pace = entry.took / entry.expected if entry.expected else 1.0
        n = len(job.status)  # its stages
        live, done = entry.live, n - job.remaining
        s_total, s_regular, s_llm, s_live, s_done, s_pace = self._job_scales
        base = entry.base
        self.stages.view[base : base + n, self.job_columns] = (
            total / (total + s_total),
            regular_work / (regular_work + s_regular),
            llm_work / (llm_work + s_llm),
            live / (live + s_live),
            done / (done + s_done),
            pace / (pace + s_pace),
        )

    def release(self, job: JobState) -> None:
        """Forget a finished job."""
        entry = self.entries.pop(job.rank, None)
        if entry is not None:
            self._live_rows -= job.spec.num_stages

    # ------------------------------------------------------------------ internals
    def _add(self, job: JobState) -> JobEntry:
        spec = job.spec
        n = spec.num_stages
        if self._top + n > len(self.stages):
            self._compact(n)
        base = self._top
        self._top += n
        self._live_rows += n
        entry = self.entries[job.rank] = JobEntry(job, base)
        self._new.append(entry)
        if job.rank >= len(self.stage_offsets):
            self.stage_offsets.grow(2 ** math.ceil(math.log2(job.rank + 1)))
        self._place(entry, base)
        self._marks[base : base + n] = [-1] * n
        block = self.stages.view[base : base + n]
        block[:] = 0.0
        values = np.array([value(spec) for value in self._static_values], np.float64)  # a row per feature
        np.divide(values, values + self._static_scales, out=values, where=self._squashed)
        block[:, self._static] = values.T
        self.origins.view[base : base + n, 0] = spec.arrival
        self.scales.view[base : base + n, 0] = self._time_scales[0]
        return entry

    def _place(self, entry: JobEntry, base: int) -> None:
        """Make ``base`` the first stage row of ``entry``'s job."""
        entry.base = base
        self.stage_offsets.data[entry.job.rank] = base - (entry.job.rank << STAGE_BITS)

    def _compact(self, needed: int) -> None:
        """Move live stage blocks to the front, growing the rows if they would stay over half full."""
        capacity = len(self.stages)
        if 2 * (self._live_rows + needed) > capacity:
            capacity = 2 ** math.ceil(math.log2(2 * (self._live_rows + needed)))
            self.stages.grow(capacity)
            self.origins.grow(capacity)
            self.scales.grow(capacity)
            self._marks += [-1] * (capacity - len(self._marks))
        top = 0
        for entry in sorted(self.entries.values(), key=lambda e: e.base):
            n, base = entry.job.spec.num_stages, entry.base
            self.stages.view[top : top + n] = self.stages.view[base : base + n]
            self.origins.view[top : top + n] = self.origins.view[base : base + n]
            self.scales.view[top : top + n] = self.scales.view[base : base + n]
            self._marks[top : top + n] = self._marks[base : base + n]
            self._place(entry, top)
            top += n
        self._top = top
