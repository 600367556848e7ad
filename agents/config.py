"""Configuration of a training run (no torch import, so the CLI can show defaults cheaply)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llm_sched_env.agents.seeds import validation_seeds

from llm_sched_env.envs import ENVIRONMENTS, CompoundLLMConfig, ServingConfig

ALGORITHMS = ("maskable-ppo",)
POLICY_KINDS = ("mlp", "gnn")  # the features extractors of agents.extractors.EXTRACTORS
# Environment fields that shape the observation: a model runs with the values it learned on.
OBSERVATION_FIELDS = ("stage_slots", "edge_slots", "stage_time_scale", "job_time_scale")
SERVING_OBSERVATION_FIELDS = (*OBSERVATION_FIELDS, "token_scale", "apps")


def observation_fields(env_id: str) -> tuple[str, ...]:
    """The observation-shaping fields of environment ``env_id``."""
    return SERVING_OBSERVATION_FIELDS if env_id == "CompoundLLMServing-v0" else OBSERVATION_FIELDS


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name}: must be an integer >= {minimum}, got {value!r}")


def _check_real(name: str, value: object, low: float, high: float, low_open: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > high or value < low or (low_open and value == low):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name}: must be a number in {interval}, got {value!r}")


@dataclass(frozen=True)
class CloningConfig:
    """Behaviour cloning (DAgger): ``steps`` labelled states over ``rounds`` rounds.

    After each round the network is fitted for ``epochs`` passes over all labels so far.
    """

    steps: int = 60_000
    rounds: int = 3
    epochs: int = 3
    batch_size: int = 256
    learning_rate: float = 1e-3
    value_coef: float = 0.5

    def __post_init__(self) -> None:
        for name in ("steps", "rounds", "epochs", "batch_size"):
            _check_int(f"cloning.{name}", getattr(self, name), 1)
        _check_real("cloning.learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        _check_real("cloning.value_coef", self.value_coef, 0.0, math.inf, low_open=False)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; with the package version it is reproducible.

    ``env`` overrides the training environment's configuration (e.g. fewer jobs per
    episode); ``validation_env`` overrides the validation setting (default: the paper's,
    with the training observation settings). ``cloning`` None skips behaviour cloning.
    PPO fields are MaskablePPO's arguments of the same names; ``normalize_reward`` scales
    rewards by a running estimate of the return's spread (SB3's ``VecNormalize``).
    """

    policy: str = "gnn"
    env_id: str = "CompoundLLM-v0"
    algo: str = "maskable-ppo"
    timesteps: int = 300_000
    n_envs: int = 8
    seed: int = 0
    env: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    hidden: int = 32
    cloning: CloningConfig | None = field(default_factory=CloningConfig)
    learning_rate: float = 1e-4
    n_steps: int = 256
    batch_size: int = 512
    n_epochs: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.1
    ent_coef: float = 0.0
    normalize_reward: bool = True
    checkpoint_every: int = 50_000
    validate_every: int = 50_000
    validation_seeds: int = 3
    validation_env: Mapping[str, Any] = field(default_factory=dict)
    threads: int = 1
    subprocess: bool = False

    def __post_init__(self) -> None:
        if self.policy not in POLICY_KINDS:
            raise ValueError(f"policy: expected one of {POLICY_KINDS}, got {self.policy!r}")
        if self.env_id not in ENVIRONMENTS:
            raise ValueError(f"env_id: expected one of {sorted(ENVIRONMENTS)}, got {self.env_id!r}")
        if self.algo not in ALGORITHMS:
            raise ValueError(f"algo: expected one of {ALGORITHMS}, got {self.algo!r}")
        for name in ("timesteps", "seed"):
            _check_int(name, getattr(self, name), 0)
        for name in ("n_envs", "hidden", "n_steps", "batch_size", "n_epochs", "threads"):
            _check_int(name, getattr(self, name), 1)
        for name in ("checkpoint_every", "validate_every"):
            _check_int(name, getattr(self, name), 1)
        _check_real("learning_rate", self.learning_rate, 0.0, 1.0, low_open=True)
        _check_real("gamma", self.gamma, 0.0, 1.0, low_open=True)
        _check_real("gae_lambda", self.gae_lambda, 0.0, 1.0, low_open=False)
        _check_real("clip_range", self.clip_range, 0.0, 1.0, low_open=True)
        _check_real("ent_coef", self.ent_coef, 0.0, math.inf, low_open=False)
        validation_seeds(self.validation_seeds)
        self.validation_env_config()  # validates both sets of environment overrides

    @property
    def agent_name(self) -> str:
        """The display name in tables: ``name``, or e.g. ``DAgger+PPO-GNN`` (``PPO-GNN`` without cloning)."""
        return self.name or f"{'DAgger+' if self.cloning else ''}PPO-{self.policy.upper()}"

    def training_env_config(self) -> CompoundLLMConfig | ServingConfig:
        return ENVIRONMENTS[self.env_id].config_class.from_mapping(self.env)

    def validation_env_config(self) -> CompoundLLMConfig | ServingConfig:
        """The environment's default setting (the paper's for ``CompoundLLM-v0``) with the training
        observation settings and ``validation_env``."""
        training = self.training_env_config()
        observation = {key: getattr(training, key) for key in observation_fields(self.env_id)}
        return type(training).from_mapping({**observation, **self.validation_env})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (a replayed trace is summarised by its number of jobs)."""
        data = dataclasses.asdict(self)
        data["env"], data["validation_env"] = _json_env(self.env), _json_env(self.validation_env)
        return data


def _json_env(overrides: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(overrides)
    if data.get("trace") is not None:
        data["trace"] = f"<{len(data['trace'])} replayed jobs>"
    return data
