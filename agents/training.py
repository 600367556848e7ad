"""Train a slot-scoring agent with sb3-contrib's MaskablePPO, optionally warm-started by DAgger.

Recipe (:func:`train`): build ``n_envs`` training environments (seeds >= 10,000), clone the
paced-SRPT teacher (:mod:`~llm_sched_env.agents.imitation`) if ``cloning`` is set, then
fine-tune with MaskablePPO. Every ``validate_every`` steps the deterministic policy is run
on validation seeds (1000..) of the validation setting (the paper's by default) beside
PS-TCS; the best validated model is kept as ``best.zip``. Outputs in ``out``: ``final.zip``,
``best.zip``, ``checkpoints/``, TensorBoard logs in ``tb/`` and ``train.json`` (configuration,
cloning and validation history, wall time).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from llm_sched_env.agents.agent import Agent, agent_info
from llm_sched_env.agents.config import TrainConfig, observation_fields
from llm_sched_env.agents.envs import make_training_vec_env
from llm_sched_env.agents.extractors import EXTRACTORS
from llm_sched_env.agents.imitation import behaviour_clone
from llm_sched_env.agents.policy import SlotPolicy
from llm_sched_env.agents.seeds import validation_seeds
from llm_sched_env.baselines import ObsPSTCS, run_episode
from sb3_contrib import MaskablePPO
from stable_baselines3.common.callbacks import BaseCallback, CheckpointCallback
from stable_baselines3.common.logger import Logger, configure
from stable_baselines3.common.vec_env import VecEnv, VecNormalize
from tqdm import tqdm

import llm_sched_env
from llm_sched_env.envs import CompoundLLMConfig, ServingConfig, env_class

CHECKPOINT_PREFIX = "agent"


class Validation(BaseCallback):
    """Runs the deterministic policy on validation seeds every ``every`` steps; keeps the best model."""

    def __init__(
        self, config: CompoundLLMConfig | ServingConfig, seeds: Sequence[int], every: int, best_path: Path
    ) -> None:
        super().__init__()
        self.env_config = config
        self.seeds = list(seeds)
        self.every = every
        self.best_path = best_path
        self.history: list[dict[str, float]] = []
        self.best: dict[str, float] | None = None
        self._last = 0
        env = env_class(config)(config)
        self.reference = float(np.mean([run_episode(env, ObsPSTCS(), s).mean_jct for s in self.seeds]))

    def validate(self, model: MaskablePPO, logger: Logger, step: int) -> dict[str, float]:
        """Validate ``model`` now; save it as the best if it beats every earlier validation."""
        jct = float(np.mean(Agent(model).mean_jcts(self.env_config, self.seeds)))
        entry = {"timesteps": step, "mean_jct": jct, "ps_tcs_mean_jct": self.reference}
        entry["change_vs_ps_tcs"] = jct / self.reference - 1.0  # negative: lower JCT than PS-TCS
        self.history.append(entry)
        logger.record("validation/mean_jct", jct)
        logger.record("validation/change_vs_ps_tcs", entry["change_vs_ps_tcs"])
        logger.dump(step)
        if self.best is None or jct < self.best["mean_jct"]:
            self.best = entry
            model.save(self.best_path)
        print(
            f"validation at {step} steps: mean JCT {jct:.1f} s (PS-TCS {self.reference:.1f} s, "
            f"{100 * entry['change_vs_ps_tcs']:+.1f} %)",
            file=sys.stderr,
        )
        return entry

    def _on_rollout_end(self) -> None:
        if self.num_timesteps - self._last >= self.every:
            self._last = self.num_timesteps
            self.validate(self.model, self.logger, self.num_timesteps)

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        if self._last != self.num_timesteps:
            self.validate(self.model, self.logger, self.num_timesteps)


def _normalization_stats(checkpoint: Path) -> Path | None:
    """The reward-normalization statistics saved beside a checkpoint, if any."""
    prefix = f"{CHECKPOINT_PREFIX}_"
    if not checkpoint.name.startswith(prefix):
        return None
    stats = checkpoint.with_name(f"{prefix}vecnormalize_{checkpoint.name[len(prefix) :]}").with_suffix(".pkl")
    return stats if stats.is_file() else None


def build_model(config: TrainConfig, venv: VecEnv, tensorboard_dir: Path) -> MaskablePPO:
    """A fresh MaskablePPO with the slot policy of ``config.policy``."""
    extractor_kwargs: dict[str, Any] = {"hidden": config.hidden}
    if config.env_id != "CompoundLLM-v0":
        training = config.training_env_config()
        observation = {key: getattr(training, key) for key in observation_fields(config.env_id)}
        extractor_kwargs.update(env_id=config.env_id, env=observation)
    policy_kwargs = {
        "features_extractor_class": EXTRACTORS[config.policy],
        "features_extractor_kwargs": extractor_kwargs,
        "head_hidden": config.hidden,
    }
    return MaskablePPO(
        SlotPolicy,
        venv,
        learning_rate=config.learning_rate,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        policy_kwargs=policy_kwargs,
        tensorboard_log=str(tensorboard_dir),
        seed=config.seed,
        device="cpu",
    )


def _clone(
    model: MaskablePPO, venv: VecEnv, config: TrainConfig, logger: Logger, progress: bool
) -> list[dict[str, float]]:
    cloning = config.cloning
    rounds: list[dict[str, float]] = []

    def on_round(k: int, stats: dict[str, float]) -> None:
        rounds.append({"round": k, **stats})
        for key, value in stats.items():
            logger.record(f"cloning/{key}", value)
        logger.dump(k)

    with tqdm(
        total=cloning.steps, desc="cloning (DAgger)", unit="step", file=sys.stderr, disable=not progress
    ) as bar:
        behaviour_clone(model, venv, cloning, np.random.default_rng(config.seed), on_round, bar.update)
    return rounds


def _training_venv(config: TrainConfig, resume: Path | None) -> VecEnv:
    venv = make_training_vec_env(config.env, config.n_envs, config.subprocess, config.env_id)
    if not config.normalize_reward:
        return venv
    stats = None if resume is None else _normalization_stats(resume)
    if stats is not None:
        return VecNormalize.load(str(stats), venv)
    return VecNormalize(venv, norm_obs=False, gamma=config.gamma)


def _model(config: TrainConfig, venv: VecEnv, out: Path, resume: Path | None) -> MaskablePPO:
    if resume is None:
        model = build_model(config, venv, out / "tb")
    else:
        model = MaskablePPO.load(resume, env=venv, device="cpu", tensorboard_log=str(out / "tb"))
        if not isinstance(model.policy.features_extractor, EXTRACTORS[config.policy]):
            raise ValueError(f"resume: {resume} is not a {config.policy!r} model")
        venv.seed(config.seed + model.num_timesteps)  # fresh training episodes, not the first run's again
    model.agent_info = agent_info(
        config.agent_name, config.policy, config.env, config.env_id, training=config.to_dict()
    )
    return model


def train(
    config: TrainConfig,
    out: str | Path,
    *,
    resume: str | Path | None = None,
    command: Sequence[str] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run ``config`` into directory ``out``; returns the ``train.json`` report.

    With ``resume`` (a checkpoint zip), training continues from it up to ``config.timesteps``
    PPO steps in total, without cloning again, and with the reward-normalization statistics
    saved beside it (``checkpoints/agent_vecnormalize_*.pkl``) when there are any.
    """
    start = time.perf_counter()
    th.set_num_threads(config.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    resume = None if resume is None else Path(resume)
    venv = _training_venv(config, resume)
    logger = configure(str(out / "tb"), ["tensorboard", "csv"])
    try:
        model = _model(config, venv, out, resume)
        model.set_logger(logger)
        validation = Validation(
            config.validation_env_config(),
            validation_seeds(config.validation_seeds),
            config.validate_every,
            out / "best.zip",
        )
        report: dict[str, Any] = {
            "command": list(command) if command is not None else None,
            "version": llm_sched_env.__version__,
            "seed": config.seed,
            "config": config.to_dict(),
            "resumed_from": None if resume is None else str(resume),
            "cloning": [],
        }
        if resume is None and config.cloning is not None:
            report["cloning"] = _clone(model, venv, config, logger, progress)
            validation.validate(model, logger, 0)
        remaining = config.timesteps - model.num_timesteps
        if remaining > 0:
            checkpoints = CheckpointCallback(
                max(1, config.checkpoint_every // config.n_envs),
                str(out / "checkpoints"),
                name_prefix=CHECKPOINT_PREFIX,
                save_vecnormalize=True,
            )
            model.learn(
                remaining,
                callback=[checkpoints, validation],
                reset_num_timesteps=resume is None,
                progress_bar=progress,
            )
        model.save(out / "final.zip")
    finally:
        logger.close()
        venv.close()
    report.update(
        validation=validation.history,
        best=validation.best,
        wall_seconds=time.perf_counter() - start,
        timesteps=model.num_timesteps,
    )
    (out / "train.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report
