"""Behaviour cloning with DAgger: warm-start a slot policy from a heuristic teacher.

Round 0 follows the teacher; later rounds follow the current network while the teacher
labels every visited state (DAgger, Ross et al. 2011), so the network learns to recover
from its own mistakes. After each round the actor is fitted to all labels gathered so far
(cross-entropy over the valid slots) and the critic to the discounted returns of the
rollouts, so that PPO fine-tuning starts with a critic that matches the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch as th
from llm_sched_env.agents.config import CloningConfig
from llm_sched_env.agents.teacher import PacedSRPT
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import get_action_masks
from stable_baselines3.common.vec_env import VecEnv

Progress = Callable[[int], None]


@dataclass
class Rollout:
    """States visited with the teacher's label, the valid slots and the discounted return."""

    obs: dict[str, np.ndarray]
    labels: np.ndarray
    masks: np.ndarray
    returns: np.ndarray
    has_return: np.ndarray  # False near the end of the rollout, where the return is cut short

    @staticmethod
    def concat(parts: list[Rollout]) -> Rollout:
        return Rollout(
            {key: np.concatenate([p.obs[key] for p in parts]) for key in parts[0].obs},
            np.concatenate([p.labels for p in parts]),
            np.concatenate([p.masks for p in parts]),
            np.concatenate([p.returns for p in parts]),
            np.concatenate([p.has_return for p in parts]),
        )


def collect(
    model: MaskablePPO, venv: VecEnv, steps: int, follow_teacher: bool, progress: Progress
) -> Rollout:
    """About ``steps`` states from ``venv`` (reset first), acting by the teacher or by ``model``."""
    teacher = PacedSRPT(model.policy.features_extractor.inputs.layout)
    n = venv.num_envs
    obs = venv.reset()
    frames: list[dict[str, np.ndarray]] = []
    labels, masks, rewards, dones = [], [], [], []
    for _ in range(max(1, steps // n)):
        mask = get_action_masks(venv)
        label = teacher.act_batch(obs)
        if follow_teacher:
            action = label
        else:
            action, _ = model.predict(obs, deterministic=True, action_masks=mask)
        frames.append(obs)
        labels.append(label)
        masks.append(mask)
        obs, reward, done, _ = venv.step(action)
        rewards.append(reward)
        dones.append(done)
        progress(n)
    returns, has_return = _discounted_returns(np.array(rewards), np.array(dones), model.gamma)
    return Rollout(
        {key: np.stack([f[key] for f in frames]).reshape(-1, *frames[0][key].shape[1:]) for key in frames[0]},
        np.array(labels).reshape(-1),
        np.array(masks).reshape(-1, masks[0].shape[-1]),
        returns.reshape(-1),
        has_return.reshape(-1),
    )


def _discounted_returns(
    rewards: np.ndarray, dones: np.ndarray, gamma: float
) -> tuple[np.ndarray, np.ndarray]:
    """Returns (time x env) and whether each is complete to within ``gamma ** horizon`` < 1 %."""
    horizon = int(np.ceil(np.log(0.01) / np.log(gamma))) if gamma < 1 else len(rewards)
    returns = np.zeros_like(rewards, dtype=np.float64)
    complete = np.zeros(rewards.shape, dtype=bool)
    running = np.zeros(rewards.shape[1])
    ended = np.zeros(rewards.shape[1], dtype=bool)
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running * (1.0 - dones[t])
        ended |= dones[t].astype(bool)
        returns[t] = running
        complete[t] = ended | (len(rewards) - t >= horizon)
    return returns.astype(np.float32), complete


def fit(
    model: MaskablePPO, data: Rollout, config: CloningConfig, rng: np.random.Generator
) -> dict[str, float]:
    """Fit the actor to the labels and the critic to the returns; losses of the last epoch."""
    policy = model.policy
    policy.set_training_mode(True)
    optimizer = th.optim.Adam(policy.parameters(), lr=config.learning_rate)
    size = len(data.labels)
    for _ in range(config.epochs):
        totals = np.zeros(2)
        order = rng.permutation(size)
        for start in range(0, size, config.batch_size):
            idx = order[start : start + config.batch_size]
            obs = {key: th.as_tensor(value[idx]) for key, value in data.obs.items()}
            values, log_prob, _ = policy.evaluate_actions(
                obs, th.as_tensor(data.labels[idx]), th.as_tensor(data.masks[idx])
            )
            complete = th.as_tensor(data.has_return[idx])
            errors = (values.flatten() - th.as_tensor(data.returns[idx]))[complete]
            value_loss = (errors**2).mean() if len(errors) else values.new_zeros(())
            actor_loss = -log_prob.mean()
            optimizer.zero_grad()
            (actor_loss + config.value_coef * value_loss).backward()
            th.nn.utils.clip_grad_norm_(policy.parameters(), model.max_grad_norm)
            optimizer.step()
            totals += len(idx) * np.array([actor_loss.item(), value_loss.item()])
    policy.set_training_mode(False)
    actor_loss, value_loss = totals / size
    return {"actor_loss": actor_loss, "value_loss": value_loss, "agreement": agreement(model, data, rng)}


def agreement(model: MaskablePPO, data: Rollout, rng: np.random.Generator, sample: int = 4096) -> float:
    """Fraction of (up to ``sample``) states where the network picks the teacher's slot."""
    idx = rng.choice(len(data.labels), size=min(sample, len(data.labels)), replace=False)
    actions, _ = model.predict(
        {key: value[idx] for key, value in data.obs.items()}, deterministic=True, action_masks=data.masks[idx]
    )
    return float(np.mean(actions == data.labels[idx]))


def behaviour_clone(
    model: MaskablePPO,
    venv: VecEnv,
    config: CloningConfig,
    rng: np.random.Generator,
    on_round: Callable[[int, dict[str, float]], None],
    progress: Progress,
) -> None:
    """DAgger from :class:`PacedSRPT`: ``config.rounds`` rounds of collecting and fitting."""
    parts: list[Rollout] = []
    per_round = max(1, config.steps // config.rounds)
    for k in range(config.rounds):
        parts.append(collect(model, venv, per_round, follow_teacher=k == 0, progress=progress))
        on_round(k, fit(model, Rollout.concat(parts), config, rng))
