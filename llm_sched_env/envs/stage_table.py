"""Feature rows of the jobs in the system and of their stages, kept up to date incrementally.

Each job gets a job row and a block of stage rows (one per stage) when it is first seen. A
stage row holds the stage's step-invariant features (kind, app, estimate, position), its
last recorded status and its job's remaining work; the time it entered its status is kept
beside it, so an observation computes every time feature in one vectorized pass. Rows of
hidden stages exist but are only read once their stage is revealed.

Rows live in ``array.array`` buffers (cheap to write one value at a time from Python)
with numpy views of the same memory (cheap to gather from).
"""

from __future__ import annotations

import math
from array import array
from functools import reduce
from itertools import compress
from operator import add
from typing import Any

import numpy as np

from llm_sched_env.core import BLOCKED, DONE, HIDDEN, LLM, READY, RUNNING, JobState
from llm_sched_env.envs.config import APP_CLASSES, APP_NAMES

STAGE_BITS = 24  # a stage key is (arrival rank << STAGE_BITS) | position: FCFS order as one int
STAGE_MASK = (1 << STAGE_BITS) - 1
POSITION_SCALE = 8.0  # position p in its job is shown as p / (p + POSITION_SCALE)
COUNT_SCALE = 4.0  # stage counts c of a job are shown as c / (c + COUNT_SCALE)

APP_CLASS = {name: k for k, name in enumerate(APP_NAMES)}
OTHER_APP = len(APP_NAMES)

# Stage feature columns (see CompoundLLMEnv's docstring for their meaning).
STAGE_FEATURES = (
    "is_llm",
    *(f"app_{name}" for name in APP_CLASSES),
    "estimate",
    "position",
    "pending_parents",
    "blocked",
    "ready",
    "running",
    "job_age",
    "waiting",
    "elapsed",
    "job_remaining_work",
)
S_APP = 1
S_ESTIMATE = S_APP + len(APP_CLASSES)
S_POSITION = S_ESTIMATE + 1
S_PENDING = S_POSITION + 1
S_STATUS = S_PENDING + 1  # blocked, ready, running one-hot
S_READY = S_STATUS + 1
S_TIMES = S_STATUS + 3  # job_age, waiting, elapsed
S_WORK = S_TIMES + 3
NUM_STAGE_FEATURES = len(STAGE_FEATURES)

# Job feature columns, for the jobs of the shown stages.
JOB_FEATURES = (
    *(f"app_{name}" for name in APP_CLASSES),
    "age",
    "remaining_regular_work",
    "remaining_llm_work",
    "live_stages",
    "done_stages",
    "llm_pace",
)
J_AGE = len(APP_CLASSES)
NUM_JOB_FEATURES = len(JOB_FEATURES)

# Maps a status byte to 1 for revealed, unfinished stages (blocked, ready, running), else 0.
_LIVE = bytes(1 if status not in (HIDDEN, DONE) else 0 for status in range(256))
_DONE = bytes(1 if status == DONE else 0 for status in range(256))
_STATUS_ONE_HOT = {BLOCKED: (1.0, 0.0, 0.0), READY: (0.0, 1.0, 0.0), RUNNING: (0.0, 0.0, 1.0)}


def app_class(app: str) -> int:
    """Index of ``app`` in ``APP_CLASSES``."""
    return APP_CLASS.get(app, OTHER_APP)


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


class JobRows:
    """Where a job's rows are: its first stage row, its job row, and the ``job.remaining`` they reflect.

    Also, per stage, its estimate split by pool and its duration if an LLM stage (0.0
    otherwise), which :meth:`StageTable.refresh` sums.
    """

    __slots__ = ("base", "job", "llm_durations", "llm_estimates", "regular_estimates", "row", "version")

    def __init__(self, job: JobState, base: int, row: int) -> None:
        self.job = job
        self.base = base
        self.row = row
        self.version = -1  # no job features computed yet
        spec = job.spec
        kinds, estimates = spec.kinds, spec.estimates
        self.regular_estimates = tuple(e if k != LLM else 0.0 for k, e in zip(kinds, estimates, strict=True))
        self.llm_estimates = tuple(e if k == LLM else 0.0 for k, e in zip(kinds, estimates, strict=True))
        self.llm_durations = tuple(d if k == LLM else 0.0 for k, d in zip(kinds, spec.durations, strict=True))


class StageTable:
    """Feature rows of every job seen since the last :meth:`clear` that is still in the system.

    ``times`` holds what a stage's time features (job age, waiting, elapsed) are computed
    from: three origins, then three squashing scales; an infinite scale shows as 0 (waiting
    while running, elapsed while waiting). ``locations`` maps a job's arrival rank to its
    rows: ``(first stage row - (rank << STAGE_BITS), job row)``, so that the stage row of
    key ``k`` is ``locations[k >> STAGE_BITS, 0] + k``.

    Job rows are brought up to date by :meth:`refresh_changed`, which needs to be told of
    every stage completion (:meth:`stage_completed`).
    """

    def __init__(self, stage_time_scale: float, job_time_scale: float, capacity: int = 1024) -> None:
        self.stage_time_scale = stage_time_scale
        self.job_time_scale = job_time_scale
        self.stages = Rows(NUM_STAGE_FEATURES, capacity)
        self.times = Rows(6, capacity, "d")  # origins (arrival, since, since), then scales
        self._marks = [-1] * capacity  # status and pending parents last recorded, by row
        self.job_features = Rows(NUM_JOB_FEATURES, capacity)
        self.entries: dict[int, JobRows] = {}  # by arrival rank
        self.locations = Rows(2, capacity, "q")  # by arrival rank
        self._changed: list[JobState] = []  # jobs whose row may be out of date
        self._free_job_rows: list[int] = []
        self._top = 0
        self._live_rows = 0
        self.clear()

    def clear(self) -> None:
        self.entries.clear()
        self._free_job_rows = list(range(len(self.job_features) - 1, -1, -1))
        self._top = self._live_rows = 0
        self._changed.clear()

    def stage_completed(self, job: JobState, stage: int) -> None:
        """Note that a stage of ``job`` finished (its job row is refreshed later)."""
        self._changed.append(job)

    def refresh_changed(self) -> None:
        """Recompute the rows of the jobs that changed since the last call."""
        entries = self.entries
        for job in self._changed:
            entry = entries.get(job.rank)
            if entry is not None and entry.version != job.remaining:
                self.refresh(entry)
        self._changed.clear()

    def record(self, job: JobState, stage: int, status: int) -> None:
        """Store the status of a revealed stage and when it entered it."""
        entry = self.entries.get(job.rank)
        row = (entry.base if entry is not None else self._add(job).base) + stage
        pending = job.pending_parents[stage]
        mark = status | pending << 3
        if self._marks[row] == mark:
            return
        self._marks[row] = mark
        o = row * NUM_STAGE_FEATURES + S_PENDING
        data = self.stages.data
        data[o] = pending / (pending + 1.0)
        data[o + 1], data[o + 2], data[o + 3] = _STATUS_ONE_HOT[status]
        o = 6 * row
        times = self.times.data
        times[o + 1] = times[o + 2] = job.since[stage]
        running = status == RUNNING
        times[o + 4] = math.inf if running else self.job_time_scale
        times[o + 5] = self.stage_time_scale if running else math.inf

    def refresh(self, entry: JobRows) -> None:
        """Recompute a job's row and its stages' remaining work (after one of its stages finished)."""
        job = entry.job
        spec = job.spec
        entry.version = job.remaining
        # Sums in stage order, as plain float additions (``compress`` skips the other stages;
        # the per-pool tuples hold 0.0, which adds nothing, for stages of the other pool).
        live_flags = job.status.translate(_LIVE)
        live = live_flags.count(1)
        regular_work = reduce(add, compress(entry.regular_estimates, live_flags), 0.0)
        llm_work = reduce(add, compress(entry.llm_estimates, live_flags), 0.0)
        done = spec.num_stages - job.remaining
        # LLM pace: how long the finished LLM stages ran (known once they finish) against their
        # estimates; an LLM's output length depends on the request, so it predicts the rest.
        done_flags = job.status.translate(_DONE)
        took = reduce(add, compress(entry.llm_durations, done_flags), 0.0)
        expected = reduce(add, compress(entry.llm_estimates, done_flags), 0.0)
        pace = took / expected if expected > 0 else 1.0
        scale = self.job_time_scale
        data = self.job_features.data
        o = entry.row * NUM_JOB_FEATURES + J_AGE + 1
        data[o] = regular_work / (regular_work + scale)
        data[o + 1] = llm_work / (llm_work + scale)
        data[o + 2] = live / (live + COUNT_SCALE)
        data[o + 3] = done / (done + COUNT_SCALE)
        data[o + 4] = pace / (pace + 1.0)
        total = regular_work + llm_work
        base = entry.base
        self.stages.view[base : base + spec.num_stages, S_WORK] = total / (total + scale)

    def release(self, job: JobState) -> None:
        """Forget a finished job."""
        entry = self.entries.pop(job.rank, None)
        if entry is not None:
            self._free_job_rows.append(entry.row)
            self._live_rows -= job.spec.num_stages

    # ------------------------------------------------------------------ internals
    def _add(self, job: JobState) -> JobRows:
        spec = job.spec
        n = spec.num_stages
        if self._top + n > len(self.stages):
            self._compact(n)
        base = self._top
        self._top += n
        self._live_rows += n
        if not self._free_job_rows:
            self._grow_jobs()
        entry = self.entries[job.rank] = JobRows(job, base, self._free_job_rows.pop())
        self._changed.append(job)
        if job.rank >= len(self.locations):
            self.locations.grow(2 ** math.ceil(math.log2(job.rank + 1)))
        self.locations.view[job.rank] = (base - (job.rank << STAGE_BITS), entry.row)
        self._marks[base : base + n] = [-1] * n
        block = self.stages.view[base : base + n]
        block[:] = 0.0
        block[:, 0] = np.equal(spec.kinds, LLM)
        block[:, S_APP + app_class(spec.app)] = 1.0
        estimates = np.asarray(spec.estimates)
        block[:, S_ESTIMATE] = estimates / (estimates + self.stage_time_scale)
        positions = np.arange(n, dtype=np.float64)
        block[:, S_POSITION] = positions / (positions + POSITION_SCALE)
        times = self.times.view[base : base + n]
        times[:, 0] = spec.arrival
        times[:, 3] = self.job_time_scale
        features = self.job_features.view[entry.row]
        features[:] = 0.0
        features[app_class(spec.app)] = 1.0
        return entry

    def _grow_jobs(self) -> None:
        old = len(self.job_features)
        self.job_features.grow(2 * old)
        self._free_job_rows = list(range(2 * old - 1, old - 1, -1))

    def _compact(self, needed: int) -> None:
        """Move live stage blocks to the front, growing the rows if they would stay over half full."""
        capacity = len(self.stages)
        if 2 * (self._live_rows + needed) > capacity:
            capacity = 2 ** math.ceil(math.log2(2 * (self._live_rows + needed)))
            self.stages.grow(capacity)
            self.times.grow(capacity)
            self._marks += [-1] * (capacity - len(self._marks))
        top = 0
        for entry in sorted(self.entries.values(), key=lambda e: e.base):
            n, base = entry.job.spec.num_stages, entry.base
            self.stages.view[top : top + n] = self.stages.view[base : base + n]
            self.times.view[top : top + n] = self.times.view[base : base + n]
            self._marks[top : top + n] = self._marks[base : base + n]
            entry.base = top
            self.locations.view[entry.job.rank, 0] = top - (entry.job.rank << STAGE_BITS)
            top += n
        self._top = top
