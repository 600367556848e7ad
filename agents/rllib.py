"""PPO from RLlib (its new API stack) on ``CompoundLLM-v0``, with action masking and parallel env runners.

The environment's observation is turned into ``{"observations": <every table as one float
vector>, "action_mask": <valid slots>}`` by :class:`MaskedObservations`;
:class:`MaskedPPOTorchRLModule` runs RLlib's default PPO networks on the observations and
adds ``log(action_mask)`` to the action logits, so invalid slots are never sampled (the
design of RLlib's action-masking example, ``rllib/examples/rl_modules/classes/
action_masking_rlm.py``). Every episode draws a training workload seed (>= 10,000).

Run it with ``llm-sched train --framework rllib`` or :func:`train_rllib`; needs the ray extra.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import ray
import torch
from gymnasium import spaces
from llm_sched_env.agents.seeds import TrainingSeeds
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule, RLModuleSpec
from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, EPISODE_RETURN_MEAN, NUM_ENV_STEPS_SAMPLED_LIFETIME
from ray.rllib.utils.torch_utils import FLOAT_MIN
from ray.tune.registry import register_env

import llm_sched_env

ENV_NAME = "llm-sched-masked"  # the name RLlib's env runners build the environment by
INVALID_ACTIONS = "invalid_actions"  # metric: steps whose action was not a valid slot


class MaskedObservations(gym.ObservationWrapper):
    """``{"observations": float32 vector, "action_mask": float32 0/1 per slot}``.

    The vector concatenates every other part of the observation (in key order): float
    tables as they are, masks as 0/1, slot indices divided by their largest value.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        parts = env.observation_space
        if not isinstance(parts, spaces.Dict) or "action_mask" not in parts.spaces:
            raise ValueError(f"env: needs a Dict observation with an 'action_mask', got {parts}")
        self._keys = [key for key in sorted(parts.spaces) if key != "action_mask"]
        self._scales = [self._scale(key, parts[key]) for key in self._keys]
        size = sum(math.prod(parts[key].shape) for key in self._keys)
        slots = parts["action_mask"].shape
        self.observation_space = spaces.Dict(
            {
                "observations": spaces.Box(0.0, 1.0, (size,), np.float32),
                "action_mask": spaces.Box(0.0, 1.0, slots, np.float32),
            }
        )

    @staticmethod
    def _scale(key: str, space: spaces.Space) -> float:
        if isinstance(space, spaces.MultiBinary):
            return 1.0
        if isinstance(space, spaces.Box) and np.all(space.low == 0):
            high = float(np.max(space.high))
            return 1.0 if np.issubdtype(space.dtype, np.floating) else max(high, 1.0)
        raise ValueError(f"env: observation part {key!r} is neither 0/1 nor a box from 0, got {space}")

    def observation(self, observation: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vector = np.concatenate(
            [
                np.ravel(observation[key]).astype(np.float32) / s
                for key, s in zip(self._keys, self._scales, strict=True)
            ]
        )
        return {"observations": vector, "action_mask": observation["action_mask"].astype(np.float32)}


def make_env(env_config: Mapping[str, Any]) -> gym.Env:
    """The training environment: ``env_config["env_id"]`` with the other items as overrides."""
    overrides = dict(env_config)
    env_id = overrides.pop("env_id")
    return MaskedObservations(TrainingSeeds(gym.make(env_id, **overrides)))


class MaskedPPOTorchRLModule(DefaultPPOTorchRLModule):
    """RLlib's default PPO module on ``"observations"``, with invalid slots' logits set to ``FLOAT_MIN``."""

    def __init__(self, *, observation_space: spaces.Dict, **kwargs: Any) -> None:
        # The networks are built for the observations only; the module keeps the full space.
        self.observation_space_with_mask = observation_space
        super().__init__(observation_space=observation_space["observations"], **kwargs)

    def setup(self) -> None:
        super().setup()
        self.observation_space = self.observation_space_with_mask

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, inner = _split(batch)
        return _mask_logits(super()._forward(inner, **kwargs), mask)

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        mask, inner = _split(batch)
        return _mask_logits(super()._forward_train(inner, **kwargs), mask)

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        return super().compute_values(_split(batch)[1], embeddings)


def _split(batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
    """The action mask, and ``batch`` with only the observations (``batch`` is not changed)."""
    obs = batch[Columns.OBS]
    return obs["action_mask"], {**batch, Columns.OBS: obs["observations"]}


def _mask_logits(outputs: dict[str, Any], mask: torch.Tensor) -> dict[str, Any]:
    logits = outputs[Columns.ACTION_DIST_INPUTS]
    outputs[Columns.ACTION_DIST_INPUTS] = logits + torch.clamp(torch.log(mask), min=FLOAT_MIN)
    return outputs


def _count_invalid_actions(*, episode: Any, metrics_logger: Any, **kwargs: Any) -> None:
    """Env-runner callback: logs 1 for a step whose action the environment found invalid."""
    info = episode.get_infos(-1)
    metrics_logger.log_value(INVALID_ACTIONS, int(bool(info.get("invalid_action", False))), reduce="sum")


@dataclass(frozen=True)
class RLlibConfig:
    """An RLlib PPO run: the environment, parallelism and PPO's settings.

    Field names follow :class:`~llm_sched_env.agents.config.TrainConfig`. Each iteration
    samples ``n_steps`` steps on each of ``n_envs`` env runners (Ray actors, in parallel)
    and fits ``n_epochs`` passes in minibatches of ``batch_size``; training runs
    ``iterations`` = ceil(``timesteps`` / (``n_steps`` x ``n_envs``)) iterations. The networks
    are RLlib's default PPO MLPs (two layers of ``hidden`` units). ``env`` overrides fields
    of ``env_id``'s configuration.
    """

    env_id: str = "CompoundLLM-v0"
    env: Mapping[str, Any] = field(default_factory=dict)
    timesteps: int = 300_000
    n_envs: int = 2
    n_steps: int = 256
    batch_size: int = 128
    n_epochs: int = 4
    learning_rate: float = 1e-4
    gamma: float = 0.99
    clip_range: float = 0.1
    ent_coef: float = 0.0
    hidden: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.env_id not in gym.registry:
            raise ValueError(f"env_id: {self.env_id!r} is not a registered environment")
        if "env_id" in self.env:
            raise ValueError("env: give the environment as env_id, not as an override")
        for name in ("timesteps", "n_envs", "n_steps", "batch_size", "n_epochs", "hidden"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
        if self.batch_size > self.train_batch_size:
            raise ValueError(
                f"batch_size: must be <= n_steps x n_envs = {self.train_batch_size}, got {self.batch_size}"
            )
        if type(self.seed) is not int or self.seed < 0:
            raise ValueError(f"seed: must be an integer >= 0, got {self.seed!r}")
        for name, low, high in (("learning_rate", 0.0, 1.0), ("gamma", 0.0, 1.0), ("clip_range", 0.0, 1.0)):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not low < value <= high:
                raise ValueError(f"{name}: must be a number in ({low:g}, {high:g}], got {value!r}")
        if not isinstance(self.ent_coef, (int, float)) or not 0.0 <= self.ent_coef < math.inf:
            raise ValueError(f"ent_coef: must be a number >= 0, got {self.ent_coef!r}")

    @property
    def train_batch_size(self) -> int:
        """Environment steps per iteration."""
        return self.n_steps * self.n_envs

    @property
    def iterations(self) -> int:
        return -(-self.timesteps // self.train_batch_size)

    def ppo_config(self) -> PPOConfig:
        """RLlib's PPO configuration of this run (new API stack, torch)."""
        register_env(ENV_NAME, make_env)
        return (
            PPOConfig()
            .framework("torch")
            .environment(ENV_NAME, env_config={"env_id": self.env_id, **self.env})
            .env_runners(
                num_env_runners=self.n_envs,
                num_envs_per_env_runner=1,
                rollout_fragment_length=self.n_steps,
            )
            .training(
                train_batch_size_per_learner=self.train_batch_size,
                minibatch_size=self.batch_size,
                num_epochs=self.n_epochs,
                lr=self.learning_rate,
                gamma=self.gamma,
                clip_param=self.clip_range,
                entropy_coeff=self.ent_coef,
            )
            .rl_module(
                rl_module_spec=RLModuleSpec(
                    module_class=MaskedPPOTorchRLModule,
                    model_config={"fcnet_hiddens": [self.hidden, self.hidden], "fcnet_activation": "tanh"},
                )
            )
            .callbacks(on_episode_step=_count_invalid_actions)
            .debugging(seed=self.seed)
        )


def train_rllib(
    config: RLlibConfig, out: str | Path, *, address: str | None = None, verbose: bool = True
) -> dict[str, Any]:
    """Train ``config.iterations`` PPO iterations; write the checkpoint and ``rllib.json`` to ``out``.

    Joins the Ray cluster at ``address`` (``auto``: the one on this node), or starts a local
    Ray instance (shut down at the end) unless Ray is already initialised in this process.
    Returns the report written to ``rllib.json``: per iteration the env steps sampled so
    far, the mean episode return (None before an episode ends) and the invalid actions so far
    (0: the mask held). :func:`load_module` reads the trained module back.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter()
    try:
        algo = config.ppo_config().build_algo()
        try:
            history = []
            for iteration in range(1, config.iterations + 1):
                runners = algo.train()[ENV_RUNNER_RESULTS]
                row = {
                    "iteration": iteration,
                    "env_steps": int(runners[NUM_ENV_STEPS_SAMPLED_LIFETIME]),
                    "episode_return_mean": _number(runners.get(EPISODE_RETURN_MEAN)),
                    INVALID_ACTIONS: int(runners[INVALID_ACTIONS]),
                }
                history.append(row)
                if verbose:
                    print(json.dumps(row))
            checkpoint = algo.save_to_path(str((out / "checkpoint").resolve()))
        finally:
            algo.stop()
    finally:
        if started:
            ray.shutdown()
    report = {
        "framework": "rllib",
        "version": llm_sched_env.__version__,
        "ray_version": ray.__version__,
        "config": {**asdict(config), "env": dict(config.env)},
        "history": history,
        "checkpoint": str(checkpoint),
        "wall_seconds": time.perf_counter() - start,
    }
    (out / "rllib.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def load_module(checkpoint: str | Path) -> RLModule:
    """The trained :class:`MaskedPPOTorchRLModule` of a checkpoint written by :func:`train_rllib`."""
    return RLModule.from_checkpoint(
        Path(checkpoint) / "learner_group" / "learner" / "rl_module" / "default_policy"
    )


def _number(value: Any) -> float | None:
    """A metric as a float; None when RLlib has none yet (no episode finished)."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
