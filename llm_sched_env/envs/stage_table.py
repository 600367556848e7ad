"""Per-stage feature rows of the jobs in the system, kept up to date between observations.

Each job gets a block of rows (one per stage) when it is first seen. A row holds the
stage's step-invariant features (kind, app, estimate, position) and its last recorded
status; times are stored raw so an observation turns them into features in one vectorized
pass. Rows of hidden stages exist but are only ever read once their stage is revealed.
"""

from __future__ import annotations

import numpy as np

from llm_sched_env.core import BLOCKED, LLM, READY, RUNNING, JobState
from llm_sched_env.envs.config import APP_CLASSES, APP_NAMES

STAGE_BITS = 24  # a stage key is (arrival rank << STAGE_BITS) | position: FCFS order as one int
STAGE_MASK = (1 << STAGE_BITS) - 1
POSITION_SCALE = 8.0  # position p in its job is shown as p / (p + POSITION_SCALE)

APP_CLASS = {name: k for k, name in enumerate(APP_NAMES)}
OTHER_APP = len(APP_NAMES)

# Stage feature columns (see CompoundLLMEnv's docstring for their meaning).
STAGE_FEATURES = (
    "is_llm",
    *(f"app_{name}" for name in APP_CLASSES),
    "estimate",
    "position",
    "blocked",
    "ready",
    "running",
    "pending_parents",
    "job_age",
    "waiting",
    "elapsed",
    "job_remaining_work",
)
S_APP = 1
S_ESTIMATE = S_APP + len(APP_CLASSES)
S_POSITION = S_ESTIMATE + 1
S_STATUS = S_POSITION + 1  # blocked, ready, running one-hot
S_READY = S_STATUS + 1
S_RUNNING = S_STATUS + 2
S_PENDING = S_STATUS + 3
S_TIMES = S_PENDING + 1  # job_age, waiting, elapsed
S_WORK = S_TIMES + 3
NUM_STAGE_FEATURES = len(STAGE_FEATURES)
assert S_WORK == NUM_STAGE_FEATURES - 1

# Status one-hot and the masks that pick which time feature applies, per status code.
_STATUS_COLUMNS = {BLOCKED: (1, 0, 0), READY: (0, 1, 0), RUNNING: (0, 0, 1)}
_TIME_MASKS = {BLOCKED: (1, 1, 0), READY: (1, 1, 0), RUNNING: (1, 0, 1)}  # age, waiting, elapsed


def app_class(app: str) -> int:
    """Index of ``app`` in ``APP_CLASSES``."""
    return APP_CLASS.get(app, OTHER_APP)


class StageTable:
    """Feature rows for the stages of every job seen since the last :meth:`clear`."""

    def __init__(self, stage_time_scale: float, capacity: int = 1024) -> None:
        self.stage_time_scale = stage_time_scale
        # Columns up to S_TIMES are features; S_TIMES..S_TIMES+3 hold the 0/1 masks that an
        # observation multiplies with the squashed (age, time in status, time in status).
        self.features = np.zeros((capacity, NUM_STAGE_FEATURES), np.float32)
        # arrival, since, since: subtracted from ``now`` to give age and time in status.
        self.times = np.zeros((capacity, 3), np.float64)
        self.base: dict[int, int] = {}  # arrival rank -> first row of the job's block
        self.jobs: dict[int, JobState] = {}  # arrival rank -> job
        self._top = 0
        self._live_rows = 0

    def clear(self) -> None:
        self.base.clear()
        self.jobs.clear()
        self._top = self._live_rows = 0

    def row(self, job: JobState, stage: int) -> int:
        base = self.base.get(job.rank)
        if base is None:
            base = self._add(job)
        return base + stage

    def release(self, job: JobState) -> None:
        """Forget a finished job."""
        if self.base.pop(job.rank, None) is not None:
            del self.jobs[job.rank]
            self._live_rows -= job.spec.num_stages

    def record(self, job: JobState, stage: int, status: int) -> int:
        """Store the status of a revealed stage and when it entered it; returns its row."""
        row = self.row(job, stage)
        f = self.features[row]
        f[S_STATUS : S_STATUS + 3] = _STATUS_COLUMNS[status]
        f[S_PENDING] = job.pending_parents[stage] / (job.pending_parents[stage] + 1.0)
        f[S_TIMES : S_TIMES + 3] = _TIME_MASKS[status]
        self.times[row, 1:] = job.since[stage]
        return row

    def _add(self, job: JobState) -> int:
        spec = job.spec
        n = spec.num_stages
        if self._top + n > len(self.features):
            self._compact(n)
        base = self._top
        self._top += n
        self._live_rows += n
        self.base[job.rank] = base
        self.jobs[job.rank] = job
        block = self.features[base : base + n]
        block[:] = 0.0
        block[:, 0] = np.equal(spec.kinds, LLM)
        block[:, S_APP + app_class(spec.app)] = 1.0
        estimates = np.asarray(spec.estimates)
        block[:, S_ESTIMATE] = estimates / (estimates + self.stage_time_scale)
        positions = np.arange(n, dtype=np.float64)
        block[:, S_POSITION] = positions / (positions + POSITION_SCALE)
        self.times[base : base + n, 0] = spec.arrival
        return base

    def _compact(self, needed: int) -> None:
        """Move live blocks to the front, growing the arrays if they would stay over half full."""
        capacity = len(self.features)
        while 2 * (self._live_rows + needed) > capacity:
            capacity *= 2
        features = np.zeros((capacity, NUM_STAGE_FEATURES), np.float32)
        times = np.zeros((capacity, 3), np.float64)
        top = 0
        for rank, base in self.base.items():
            n = self.jobs[rank].spec.num_stages
            features[top : top + n] = self.features[base : base + n]
            times[top : top + n] = self.times[base : base + n]
            self.base[rank] = top
            top += n
        self.features, self.times, self._top = features, times, top
