"""``llm-sched train``: train a learned scheduler (MaskablePPO, MLP or GNN policy)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from llm_sched_env.agents.config import ALGORITHMS, POLICY_KINDS, CloningConfig, TrainConfig
from llm_sched_env.cli.options import add_command, int_in, output_directory
from llm_sched_env.extras import require_extra

_DEFAULTS = TrainConfig()
_CLONING = CloningConfig()
FRAMEWORKS = ("sb3", "rllib")
# Options of the sb3 path only, with their defaults: --framework rllib refuses other values.
_SB3_ONLY = {
    "algo": _DEFAULTS.algo,
    "policy": _DEFAULTS.policy,
    "resume": None,
    "name": None,
    "bc_steps": _CLONING.steps,
    "bc_rounds": _CLONING.rounds,
    "bc_epochs": _CLONING.epochs,
    "no_normalize_reward": False,
    "checkpoint_every": _DEFAULTS.checkpoint_every,
    "validate_every": _DEFAULTS.validate_every,
    "validation_seeds": _DEFAULTS.validation_seeds,
    "validation_env": [],
    "threads": _DEFAULTS.threads,
    "subprocess": False,
}


ENV_IDS = ("CompoundLLM-v0", "CompoundLLMServing-v0")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as JSON when it parses (``100``, ``[1, 0, 0]``), else as text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except ValueError:
        return key.strip(), value


def parse_env_setting(text: str) -> tuple[str, Any]:
    """An environment id (``env_id``), or a ``KEY=VALUE`` override of its configuration."""
    if "=" not in text:
        if text not in ENV_IDS:
            raise argparse.ArgumentTypeError(
                f"expected KEY=VALUE or an environment id (one of {', '.join(ENV_IDS)}), got {text!r}"
            )
        return "env_id", text
    return parse_assignment(text)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "train",
        help="train a learned scheduler (behaviour cloning warm start, then MaskablePPO)",
        description="Clone the paced-SRPT teacher (least remaining estimated work, LLM work scaled by "
        "the job's observed LLM pace) with DAgger, then fine-tune with sb3-contrib's MaskablePPO on "
        "CompoundLLM-v0 or CompoundLLMServing-v0 (--env ID; training seeds >= 10000; validation "
        "seeds 1000.. pick the best model; seeds 0..999 stay held out for evaluation). Writes best.zip, "
        "final.zip, checkpoints/, TensorBoard logs (tb/) and train.json to --out. Needs the rl extra. "
        "Example: llm-sched train --policy gnn --env num_jobs=200 --out runs/gnn. "
        "With --framework rllib: RLlib's PPO (new API stack) with an action-masking MLP from scratch, "
        "--n-envs env runners sampling in parallel as Ray actors (on the cluster of --ray-address), "
        "the PPO options above; writes checkpoint/ and rllib.json to --out. Needs the ray extra. "
        "Example: llm-sched train --framework rllib --n-envs 2 --timesteps 20000 --out runs/rllib",
    )
    p.add_argument(
        "--framework",
        choices=FRAMEWORKS,
        default="sb3",
        help="sb3: cloning then sb3-contrib's MaskablePPO; rllib: RLlib's PPO on Ray",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDR",
        default=None,
        help="with --framework rllib: the Ray cluster to join (auto: the one on this node); "
        "when omitted, a local Ray instance is started",
    )
    p.add_argument("--algo", choices=ALGORITHMS, default=_DEFAULTS.algo, help="training algorithm")
    p.add_argument("--policy", choices=POLICY_KINDS, default=_DEFAULTS.policy, help="features extractor")
    p.add_argument("--timesteps", type=int_in(0), default=_DEFAULTS.timesteps, help="PPO environment steps")
    p.add_argument("--n-envs", type=int_in(1), default=_DEFAULTS.n_envs, help="vectorized environments")
    p.add_argument("--seed", type=int_in(0), default=_DEFAULTS.seed, help="seed of the networks and PPO")
    p.add_argument(
        "--env",
        type=parse_env_setting,
        action="append",
        default=[],
        metavar="ID|KEY=VALUE",
        help="the environment (CompoundLLM-v0, default, or CompoundLLMServing-v0) or an override of its "
        "configuration, repeatable (e.g. --env num_jobs=100 --env num_regular=10)",
    )
    p.add_argument("--out", type=output_directory, required=True, metavar="DIR", help="output directory")
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue PPO from this checkpoint zip")
    p.add_argument(
        "--name",
        help="display name of the agent in tables (default DAgger+PPO-GNN, or PPO-GNN with --bc-steps 0)",
    )
    p.add_argument("--hidden", type=int_in(1), default=_DEFAULTS.hidden, help="network width")
    p.add_argument(
        "--bc-steps",
        type=int_in(0),
        default=_CLONING.steps,
        help="states labelled by the teacher for behaviour cloning; 0 skips cloning",
    )
    p.add_argument("--bc-rounds", type=int_in(1), default=_CLONING.rounds, help="DAgger rounds")
    p.add_argument("--bc-epochs", type=int_in(1), default=_CLONING.epochs, help="fitting passes per round")
    p.add_argument("--lr", type=float, default=_DEFAULTS.learning_rate, help="PPO learning rate")
    p.add_argument(
        "--n-steps", type=int_in(1), default=_DEFAULTS.n_steps, help="PPO steps per env per rollout"
    )
    p.add_argument("--batch-size", type=int_in(1), default=_DEFAULTS.batch_size, help="PPO minibatch size")
    p.add_argument("--n-epochs", type=int_in(1), default=_DEFAULTS.n_epochs, help="PPO passes per rollout")
    p.add_argument("--gamma", type=float, default=_DEFAULTS.gamma, help="discount factor")
    p.add_argument("--clip-range", type=float, default=_DEFAULTS.clip_range, help="PPO clip range")
    p.add_argument("--ent-coef", type=float, default=_DEFAULTS.ent_coef, help="entropy bonus coefficient")
    p.add_argument(
        "--no-normalize-reward", action="store_true", help="train on raw rewards (default: VecNormalize)"
    )
    p.add_argument(
        "--checkpoint-every",
        type=int_in(1),
        default=_DEFAULTS.checkpoint_every,
        metavar="STEPS",
        help="save a checkpoint every this many PPO steps",
    )
    p.add_argument(
        "--validate-every",
        type=int_in(1),
        default=_DEFAULTS.validate_every,
        metavar="STEPS",
        help="validate (and keep the best model) every this many PPO steps",
    )
    p.add_argument(
        "--validation-seeds", type=int_in(1), default=_DEFAULTS.validation_seeds, help="validation episodes"
    )
    p.add_argument(
        "--validation-env",
        type=parse_assignment,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="validation setting override (when omitted: the environment's default, for CompoundLLM-v0 "
        "the paper's, 500 jobs, R=L=10)",
    )
    p.add_argument("--threads", type=int_in(1), default=_DEFAULTS.threads, help="torch threads")
    p.add_argument("--subprocess", action="store_true", help="SubprocVecEnv instead of DummyVecEnv")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``train`` arguments."""
    cloning = None
    if args.bc_steps:
        cloning = CloningConfig(steps=args.bc_steps, rounds=args.bc_rounds, epochs=args.bc_epochs)
    env = dict(args.env)
    env_id = env.pop("env_id", _DEFAULTS.env_id)
    return TrainConfig(
        policy=args.policy,
        env_id=env_id,
        algo=args.algo,
        timesteps=args.timesteps,
        n_envs=args.n_envs,
        seed=args.seed,
        env=env,
        name=args.name,
        hidden=args.hidden,
        cloning=cloning,
        learning_rate=args.lr,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        gamma=args.gamma,
        clip_range=args.clip_range,
        ent_coef=args.ent_coef,
        normalize_reward=not args.no_normalize_reward,
        checkpoint_every=args.checkpoint_every,
        validate_every=args.validate_every,
        validation_seeds=args.validation_seeds,
        validation_env=dict(args.validation_env),
        threads=args.threads,
        subprocess=args.subprocess,
    )


def command_line(args: argparse.Namespace) -> list[str]:
    """The full command (every option spelled out) that reproduces parsed ``train`` arguments."""
    words = ["llm-sched", "train"]
    for key, value in vars(args).items():
        flag = "--" + key.replace("_", "-")
        if key in ("command", "func") or value is None or value is False:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            for name, setting in value:
                words += [flag, f"{name}={json.dumps(setting)}"]
        else:
            words += [flag, str(value)]
    return words


def run(args: argparse.Namespace) -> int:
    if args.framework == "rllib":
        return run_rllib(args)
    if args.ray_address is not None:
        raise ValueError("--ray-address: applies to --framework rllib only")
    require_extra("rl", "training")
    config = config_from_args(args)
    from llm_sched_env.agents.training import train  # imports torch

    report = train(
        config, args.out, resume=args.resume, command=command_line(args), progress=not args.no_progress
    )
    best = report["best"]
    if best is not None:
        print(
            f"best validation: {best['mean_jct']:.1f} s mean JCT at {best['timesteps']} PPO steps "
            f"({100 * best['change_vs_ps_tcs']:+.1f} % vs PS-TCS {best['ps_tcs_mean_jct']:.1f} s)"
        )
    print(f"wrote {args.out}/best.zip, final.zip and train.json in {report['wall_seconds']:.0f} s")
    return 0


def run_rllib(args: argparse.Namespace) -> int:
    """``llm-sched train --framework rllib``: RLlib's PPO with action masking, see :mod:`agents.rllib`."""
    for key, default in _SB3_ONLY.items():
        if getattr(args, key) != default:
            raise ValueError(f"--{key.replace('_', '-')}: applies to --framework sb3 only")
    require_extra("ray", "--framework rllib")
    from llm_sched_env.agents.rllib import RLlibConfig, train_rllib  # imports ray and torch

    if args.timesteps < 1:
        raise ValueError("--timesteps: must be >= 1 with --framework rllib")
    env = dict(args.env)
    config = RLlibConfig(
        env_id=env.pop("env_id", RLlibConfig.env_id),
        env=env,
        timesteps=args.timesteps,
        n_envs=args.n_envs,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        learning_rate=args.lr,
        gamma=args.gamma,
        clip_range=args.clip_range,
        ent_coef=args.ent_coef,
        hidden=args.hidden,
        seed=args.seed,
    )
    report = train_rllib(config, args.out, address=args.ray_address, verbose=not args.no_progress)
    last = report["history"][-1]
    print(
        f"{last['env_steps']} env steps in {len(report['history'])} iterations, "
        f"{last['invalid_actions']} invalid actions; wrote {args.out}/checkpoint and rllib.json "
        f"in {report['wall_seconds']:.0f} s"
    )
    return 0
