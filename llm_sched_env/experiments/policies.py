"""Pluggable policies for experiments: a registry of names to seeded factories.

A policy in an experiment is anything a factory builds from a
:class:`numpy.random.SeedSequence` (its own random stream, independent of the workload's):

* a **fast-path policy** (:class:`~llm_sched_env.core.FastPolicy`: ``new_queue()``), run
  directly inside the simulator, like the paper's FCFS, RS and PS-TCS; or
* an **episode policy** (:class:`EpisodePolicy`: ``run_episode(jobs, num_regular, num_llm)``
  returning :class:`~llm_sched_env.core.Results`), for schedulers that need the decision
  loop, e.g. a learned agent stepping the Gym environment with ``act(obs)``.

Register a new one with :func:`register_policy`; ``llm-sched bench`` and ``llm-sched table1``
then accept its key. A *family* of policies parameterized by an argument (e.g. a model file)
is registered with :func:`register_policy_family`: keys ``prefix:ARG`` then resolve to an
entry built from ``ARG``; ``agent:PATH`` names a model trained by ``llm-sched train``.
Factories must be picklable (module-level functions or ``functools.partial`` of them) to run
in worker processes, and a key must identify the policy fully (e.g. include a model
checkpoint's name), because results are resumed by key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from llm_sched_env.baselines import (
    ATLAS,
    FCFS,
    PLAS,
    PSTCS,
    RS,
    SRPT,
    CriticalPathFirst,
    InEnvironment,
    LLMSched,
    PacedSRPT,
    PoolSRPT,
)
from llm_sched_env.core import Cluster, FastPolicy, JobSpec, Results, Simulator
from llm_sched_env.extras import require_extra


@runtime_checkable
class EpisodePolicy(Protocol):
    """A scheduler that runs a whole episode itself and reports per-job outcomes."""

    def run_episode(self, jobs: Iterable[JobSpec], num_regular: int, num_llm: int) -> Results:
        """Schedule every job of ``jobs`` on ``num_regular`` + ``num_llm`` executors."""


Policy = FastPolicy | EpisodePolicy
PolicyFactory = Callable[[np.random.SeedSequence], Policy]


@dataclass(frozen=True)
class PolicyEntry:
    """A registered policy: its lookup key, display name (used in tables) and factory."""

    key: str
    name: str
    factory: PolicyFactory


_REGISTRY: dict[str, PolicyEntry] = {}
_FAMILIES: dict[str, Callable[[str], PolicyEntry]] = {}


def register_policy(key: str, name: str, factory: PolicyFactory, *, replace: bool = False) -> None:
    """Make ``factory`` available to experiments under ``key`` (case-insensitive)."""
    norm = key.lower()
    if not norm or "," in norm:
        raise ValueError(f"key: must be non-empty and free of commas, got {key!r}")
    if norm in _REGISTRY and not replace:
        raise ValueError(f"key: policy {norm!r} is already registered")
    _REGISTRY[norm] = PolicyEntry(norm, name, factory)


def register_policy_family(prefix: str, resolve: Callable[[str], PolicyEntry]) -> None:
    """Resolve keys ``prefix:ARG`` (prefix case-insensitive) to ``resolve(ARG)``.

    The entry's key must resolve to an equal entry again, as results are resumed by key.
    """
    _FAMILIES[prefix.lower()] = resolve


def get_policy(key: str) -> PolicyEntry:
    """The registered policy for ``key`` or its display name (case-insensitive), or a family's entry."""
    norm = key.lower()
    if norm in _REGISTRY:
        return _REGISTRY[norm]
    prefix, sep, argument = key.partition(":")
    if sep and prefix.lower() in _FAMILIES:
        return _FAMILIES[prefix.lower()](argument)
    for entry in _REGISTRY.values():
        if entry.name.lower() == norm:
            return entry
    raise ValueError(f"policy: unknown policy {key!r}; registered: {', '.join(policy_keys())}")


def policy_keys() -> list[str]:
    """Registered policy keys, in registration order."""
    return list(_REGISTRY)


def run_episode(policy: Policy, jobs: Iterable[JobSpec], cluster: Cluster) -> Results:
    """Run ``policy`` on ``jobs`` on ``cluster``, on the fast path when it is a fast-path policy.

    Episode policies (learned agents) run on the paper's cluster, and on any other when they
    have ``run_on_cluster(jobs, cluster)`` (agents trained on ``CompoundLLMServing-v0``).
    """
    if isinstance(policy, EpisodePolicy):
        if cluster.is_paper:
            return policy.run_episode(jobs, cluster.count("regular"), cluster.count("llm"))
        run_on_cluster = getattr(policy, "run_on_cluster", None)
        if run_on_cluster is None:
            raise ValueError(f"cluster: {type(policy).__name__} runs on the paper's cluster only")
        return run_on_cluster(jobs, cluster)
    if callable(getattr(policy, "new_queue", None)):
        return Simulator(jobs, policy=policy, cluster=cluster).run()
    raise TypeError(f"policy: {policy!r} has neither new_queue() nor run_episode()")


def _fcfs(seed: np.random.SeedSequence) -> FCFS:
    return FCFS()


def _rs(seed: np.random.SeedSequence) -> RS:
    return RS(seed)


def _ps_tcs(seed: np.random.SeedSequence) -> PSTCS:
    return PSTCS()


def _srpt(seed: np.random.SeedSequence) -> SRPT:
    return SRPT()


def _pool_srpt(seed: np.random.SeedSequence) -> PoolSRPT:
    return PoolSRPT()


def _paced_srpt(seed: np.random.SeedSequence) -> PacedSRPT:
    return PacedSRPT()


def _paced_srpt_window(seed: np.random.SeedSequence) -> InEnvironment:
    from llm_sched_env.agents.teacher import PacedSRPT as ObsPacedSRPT  # numpy only, no torch

    return InEnvironment(ObsPacedSRPT, "PacedSRPT-32")


def _plas(seed: np.random.SeedSequence) -> PLAS:
    return PLAS()


def _atlas(seed: np.random.SeedSequence) -> ATLAS:
    return ATLAS()


def _llmsched(seed: np.random.SeedSequence) -> LLMSched:
    return LLMSched(seed)


def _cpf(seed: np.random.SeedSequence) -> CriticalPathFirst:
    return CriticalPathFirst()


def _agent(spec: str) -> PolicyEntry:
    require_extra("rl", f"policy agent:{spec}")
    from llm_sched_env.agents.files import resolve_model  # torch is imported only when a policy is built

    return PolicyEntry(*resolve_model(spec))


register_policy("fcfs", "FCFS", _fcfs)
register_policy("rs", "RS", _rs)
register_policy("ps-tcs", "PS-TCS", _ps_tcs)
register_policy("srpt", "SRPT", _srpt)
register_policy("srpt-pool", "SRPT-pool", _pool_srpt)
register_policy("paced-srpt", "PacedSRPT", _paced_srpt)
register_policy("paced-srpt-32", "PacedSRPT-32", _paced_srpt_window)
register_policy("plas", "PLAS", _plas)
register_policy("atlas", "ATLAS", _atlas)
register_policy("llmsched", "LLMSched", _llmsched)
register_policy("cpf", "CPF", _cpf)
register_policy_family("agent", _agent)
