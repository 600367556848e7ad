"""Experiment configuration: one simulation (a cell) and grids of them."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from llm_sched_env.core import MAX_EXECUTORS, Cluster
from llm_sched_env.core.job import value_text
from llm_sched_env.experiments.policies import get_policy
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE, Application, PoissonArrivals, Workload, paper_apps
from llm_sched_env.workloads.arrivals import check_arrival_rate
from llm_sched_env.workloads.workload import check_mix

Mix = tuple[float, ...] | None  # app weights in the order of the apps; None = equal mix
# A grid setting: the paper's (R, L) executor counts, or a cluster of named pools.
SettingSpec = tuple[int, int] | Cluster


# A cell's record keeps every job's JCT, so its job count is bounded (streaming runs of
# any length: ``llm-sched memory``); executor counts have the simulator's bound.
MAX_CELL_JOBS = 1_000_000


def _check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name}: must be an integer {bound}, got {value_text(value)}")


def app_constants(app: Application) -> dict[str, Any]:
    """An application's class and constants, as recorded with every result."""
    cls = type(app)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "constants": asdict(app)}


@dataclass(frozen=True)
class CellConfig:
    """One simulation: a policy on ``num_regular`` x ``num_llm`` executors for one seed.

    The executors are the paper's (single-stream) unless ``cluster`` gives named pools; then
    ``num_regular`` and ``num_llm`` must be its totals of each kind (:meth:`of_cluster`).
    The workload is ``num_jobs`` jobs of ``apps`` mixed by ``mix``, arriving as a Poisson
    process at ``arrival_rate``. The seed drives the workload (the same jobs for every
    policy: common random numbers); the policy gets its own stream (:meth:`policy_seed`).
    """

    policy: str
    num_regular: int
    num_llm: int
    seed: int
    num_jobs: int
    arrival_rate: float
    mix: Mix = None
    apps: tuple[Application, ...] = field(default_factory=paper_apps)
    cluster: Cluster | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", get_policy(self.policy).key)
        _check_int("num_regular", self.num_regular, 1, MAX_EXECUTORS)
        _check_int("num_llm", self.num_llm, 1, MAX_EXECUTORS)
        if self.cluster is not None:
            if not isinstance(self.cluster, Cluster):
                raise ValueError(f"cluster: expected a Cluster, got {self.cluster!r}")
            totals = (self.cluster.count("regular"), self.cluster.count("llm"))
            if totals != (self.num_regular, self.num_llm):
                raise ValueError(
                    f"cluster: has {totals[0]} regular and {totals[1]} LLM executors, "
                    f"but num_regular={self.num_regular} and num_llm={self.num_llm}"
                )
        _check_int("seed", self.seed, 0)
        _check_int("num_jobs", self.num_jobs, 1, MAX_CELL_JOBS)
        object.__setattr__(self, "arrival_rate", check_arrival_rate(self.arrival_rate, "arrival_rate"))
        if self.mix is not None:
            object.__setattr__(self, "mix", check_mix(self.mix, len(self.apps), "mix"))
        self.workload()  # validates apps

    @classmethod
    def of_cluster(cls, policy: str, cluster: Cluster, seed: int, **workload: Any) -> CellConfig:
        """A cell on ``cluster``; ``workload`` takes ``num_jobs``, ``arrival_rate``, ``mix``, ``apps``."""
        return cls(policy, cluster.count("regular"), cluster.count("llm"), seed, cluster=cluster, **workload)

    def cluster_in_use(self) -> Cluster:
        """The cluster this cell simulates."""
        return self.cluster if self.cluster is not None else Cluster.paper(self.num_regular, self.num_llm)

    def workload(self) -> Workload:
        return Workload(apps=self.apps, mix=self.mix, arrivals=PoissonArrivals(self.arrival_rate))

    def policy_seed(self) -> list[int]:
        """Entropy of the policy's random stream, independent of the workload's (``seed``)."""
        return [self.seed, 1]

    def to_dict(self) -> dict[str, Any]:
        """The full configuration as JSON-ready data, workload constants included."""
        return {
            "policy": self.policy,
            "R": self.num_regular,
            "L": self.num_llm,
            "seed": self.seed,
            "num_jobs": self.num_jobs,
            "arrival_rate": self.arrival_rate,
            "mix": None if self.mix is None else list(self.mix),
            "apps": [app_constants(app) for app in self.apps],
            # only on cluster cells, so the paper's cells keep their keys (and resume)
            **({} if self.cluster is None else {"cluster": self.cluster.to_dict()}),
        }

    @property
    def key(self) -> str:
        """The cell's identity: a hash of its full configuration."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Grid:
    """The product policies x settings x seeds x job counts x arrival rates x mixes.

    ``settings`` are ``(R, L)`` pairs (the paper's executors) or :class:`Cluster` objects.
    Defaults are the paper's workload: 500 jobs, equal mix, the calibrated arrival rate and
    the paper's applications.
    """

    policies: tuple[str, ...]
    settings: tuple[SettingSpec, ...]
    seeds: tuple[int, ...]
    num_jobs: tuple[int, ...] = (500,)
    arrival_rates: tuple[float, ...] = (DEFAULT_ARRIVAL_RATE,)
    mixes: tuple[Mix, ...] = (None,)
    apps: tuple[Application, ...] = field(default_factory=paper_apps)

    def __post_init__(self) -> None:
        for name in ("policies", "settings", "seeds", "num_jobs", "arrival_rates", "mixes"):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"{name}: needs at least one value")
            if len(set(values)) != len(values):
                raise ValueError(f"{name}: duplicate values in {list(values)}")
        for setting in self.settings:
            if not isinstance(setting, Cluster) and len(setting) != 2:
                raise ValueError(f"settings: expected (R, L) pairs or clusters, got {setting!r}")

    def cells(self) -> list[CellConfig]:
        """Every cell of the grid; settings vary slowest, seeds fastest."""
        cells = []
        for setting, n, rate, mix, policy, seed in itertools.product(
            self.settings, self.num_jobs, self.arrival_rates, self.mixes, self.policies, self.seeds
        ):
            if isinstance(setting, Cluster):
                cells.append(
                    CellConfig.of_cluster(
                        policy, setting, seed, num_jobs=n, arrival_rate=rate, mix=mix, apps=self.apps
                    )
                )
            else:
                cells.append(CellConfig(policy, *setting, seed, n, rate, mix, self.apps))
        return cells
