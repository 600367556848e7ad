"""Per-job outcomes of a simulation, kept in compact arrays."""

from __future__ import annotations

import csv
from array import array

import numpy as np


class Results:
    """Completed jobs in completion order: id, app, arrival and finish time."""

    __slots__ = ("_app_codes", "app_names", "arrivals", "finishes", "job_ids")

    def __init__(self) -> None:
        self.job_ids = array("q")
        self.arrivals = array("d")
        self.finishes = array("d")
        self._app_codes = array("H")
        self.app_names: list[str] = []

    def __len__(self) -> int:
        return len(self.job_ids)

    def record(self, job_id: int, app: str, arrival: float, finish: float) -> None:
        try:
            code = self.app_names.index(app)
        except ValueError:
            code = len(self.app_names)
            self.app_names.append(app)
        self.job_ids.append(job_id)
        self._app_codes.append(code)
        self.arrivals.append(arrival)
        self.finishes.append(finish)

    @property
    def jcts(self) -> np.ndarray:
        """Job completion times (finish - arrival), in completion order."""
        return np.asarray(self.finishes) - np.asarray(self.arrivals)

    @property
    def apps(self) -> list[str]:
        return [self.app_names[c] for c in self._app_codes]

    @property
    def mean_jct(self) -> float:
        if not self.job_ids:
            raise ValueError("no job has completed")
        return float(self.jcts.mean())

    def jct_by_job(self) -> dict[int, float]:
        return {j: f - a for j, a, f in zip(self.job_ids, self.arrivals, self.finishes, strict=True)}

    def mean_jct_by_app(self) -> dict[str, float]:
        jcts = self.jcts
        codes = np.asarray(self._app_codes)
        return {name: float(jcts[codes == c].mean()) for c, name in enumerate(self.app_names)}

    def to_csv(self, path) -> None:
        """Write one row per job: job_id, app, arrival, finish, jct."""
        rows = zip(self.job_ids, self.apps, self.arrivals, self.finishes, strict=True)
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["job_id", "app", "arrival", "finish", "jct"])
            writer.writerows((j, app, repr(a), repr(fin), repr(fin - a)) for j, app, a, fin in rows)
