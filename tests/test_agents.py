"""Learned agents: learning on a tiny problem with a known answer, save/load, the CLI, the registry."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

import torch
from llm_sched_env.agents.agent import Agent
from llm_sched_env.agents.config import TrainConfig
from llm_sched_env.agents.files import read_agent_info
from llm_sched_env.agents.seeds import TRAIN_SEED_START, TrainingSeeds, validation_seeds
from llm_sched_env.agents.training import build_model, train
from llm_sched_env.baselines import ObsRS, run_episode
from stable_baselines3.common.vec_env import DummyVecEnv

from llm_sched_env.cli import main
from llm_sched_env.core import LLM, JobSpec
from llm_sched_env.envs import CompoundLLMConfig, CompoundLLMEnv, CompoundLLMServingEnv
from llm_sched_env.experiments.policies import get_policy, policy_keys
from llm_sched_env.workloads import DEFAULT_ARRIVAL_RATE


def _single_stage_job(k: int) -> JobSpec:
    """Even jobs take 2 s, odd ones 40 s: shortest-job-first is right."""
    app, seconds = ("task_automation", 2.0) if k % 2 == 0 else ("sorting", 40.0)
    return JobSpec(k, app, 0.5 * k, (LLM,), (seconds,), (seconds,), ((),), (None,))


SHORT_LONG = {
    "num_jobs": 24,
    "num_regular": 1,
    "num_llm": 1,
    "trace": tuple(_single_stage_job(k) for k in range(24)),
    "stage_slots": 8,
    "edge_slots": 8,
}
TINY = {"num_jobs": 6, "num_regular": 1, "num_llm": 1, "stage_slots": 8, "edge_slots": 8}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GNN agent trained by PPO alone (no cloning) for 4000 steps on the short/long trace."""
    out = tmp_path_factory.mktemp("short_long")
    config = TrainConfig(
        policy="gnn",
        timesteps=4000,
        n_envs=4,
        env=SHORT_LONG,
        hidden=16,
        cloning=None,
        learning_rate=1e-3,
        n_steps=64,
        batch_size=128,
        n_epochs=10,
        validate_every=2000,
        validation_seeds=1,
        validation_env=SHORT_LONG,
    )
    train(config, out, progress=False)
    return out


def test_short_ppo_run_learns_to_beat_random_scheduling(trained: Path) -> None:
    config = CompoundLLMConfig.from_mapping(SHORT_LONG)
    agent = Agent.load(trained / "final.zip")
    (learned,) = agent.mean_jcts(config, [0])
    env = CompoundLLMEnv(config)
    random = np.mean([run_episode(env, ObsRS(seed), 0).mean_jct for seed in range(5)])
    assert learned < 0.8 * random
    report = json.loads((trained / "train.json").read_text())
    assert report["timesteps"] >= 4000 and report["best"]["mean_jct"] <= learned


@pytest.mark.parametrize("policy", ["mlp", "gnn"])
def test_save_load_round_trip_gives_identical_actions(policy: str, tmp_path: Path) -> None:
    config = TrainConfig(policy=policy, env=TINY, n_envs=1, hidden=8, cloning=None, validation_env=TINY)
    env = CompoundLLMEnv(TINY)
    model = build_model(config, DummyVecEnv([lambda: CompoundLLMEnv(TINY)]), tmp_path / "tb")
    model.agent_info = {
        "name": "round-trip",
        "policy": policy,
        "observation": {"stage_slots": 8, "edge_slots": 8},
    }
    model.save(tmp_path / "model.zip")
    before, after = Agent(model), Agent.load(tmp_path / "model.zip")
    observations = []
    obs, _ = env.reset(seed=TRAIN_SEED_START)
    terminated = False
    while not terminated:
        observations.append(obs)
        obs, _, terminated, _, _ = env.step(before.act(obs))
    batch = {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    assert np.array_equal(before.act_batch(batch), after.act_batch(batch))
    assert after.name == "round-trip"


def test_slot_scores_follow_the_stages_when_slots_are_permuted(tmp_path: Path) -> None:
    config = TrainConfig(policy="gnn", env=TINY, n_envs=1, hidden=8, cloning=None, validation_env=TINY)
    model = build_model(config, DummyVecEnv([lambda: CompoundLLMEnv(TINY)]), tmp_path / "tb")
    env = CompoundLLMEnv(TINY)
    obs, _ = env.reset(seed=TRAIN_SEED_START)
    slots = len(obs["action_mask"])
    perm = np.random.default_rng(0).permutation(slots)  # new slot i holds old slot perm[i]
    where = np.argsort(perm)  # old slot j is now at where[j]
    permuted = dict(obs)
    for key in ("stages", "stage_mask", "stage_job", "action_mask"):
        permuted[key] = obs[key].reshape(slots, -1)[perm].reshape(obs[key].shape)
    edges = obs["edges"].reshape(2, -1)
    permuted["edges"] = (
        np.where(obs["edge_mask"] == 1, where[edges], 0).reshape(-1).astype(obs["edges"].dtype)
    )

    def logits(o: dict[str, np.ndarray]) -> np.ndarray:
        tensors = {key: torch.as_tensor(value[None]) for key, value in o.items()}
        with torch.no_grad():
            return model.policy.get_distribution(tensors).distribution.logits[0].numpy()

    np.testing.assert_allclose(logits(permuted), logits(obs)[perm], rtol=1e-5, atol=1e-5)


def test_evaluate_prints_and_writes_table1_rows(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    model = str(trained / "final.zip")
    argv = ["evaluate", "--model", model, "--seeds", "2", "--jobs", "8", "--settings", "1x1,2x2"]
    assert main([*argv, "--json", str(out), "--workers", "1", "--no-progress"]) == 0
    rows = json.loads(out.read_text())["rows"]
    baselines = [get_policy(key).name for key in policy_keys()]  # every registered heuristic by default
    assert [(r["policy"], r["R"], r["L"]) for r in rows] == [
        (name, r, r) for r in (1, 2) for name in (*baselines, "PPO-GNN")
    ]
    for row in rows:
        assert row["seeds"] == 2 and row["mean_jct"] > 0 and row["ci95"] is not None
    agent_row = rows[len(baselines)]
    assert set(agent_row["change_vs"]) == set(baselines)
    assert {row["arrival_rate"] for row in rows} == {DEFAULT_ARRIVAL_RATE}
    slower = tmp_path / "slower.json"
    argv = ["evaluate", "--model", model, "--seeds", "1", "--jobs", "8", "--arrival-rate", "0.2,0.3"]
    assert main([*argv, "--json", str(slower), "--workers", "1", "--no-progress"]) == 0
    assert {row["arrival_rate"] for row in json.loads(slower.read_text())["rows"]} == {0.2, 0.3}


def test_agent_keys_pin_the_model_file(trained: Path, tmp_path: Path) -> None:
    model = tmp_path / "agent.zip"
    model.write_bytes((trained / "final.zip").read_bytes())
    entry = get_policy(f"agent:{model}")
    assert entry.name == "PPO-GNN" and entry.key.startswith(f"agent:{model}#")
    again = get_policy(entry.key)  # results are resumed by key
    assert (again.key, again.name) == (entry.key, entry.name)
    model.write_bytes((trained / "best.zip").read_bytes() + b"\0")
    with pytest.raises(ValueError, match="changed"):
        get_policy(entry.key)
    with pytest.raises(ValueError, match="no model file"):
        get_policy(f"agent:{tmp_path / 'missing.zip'}")


def test_train_cli_clones_checkpoints_and_resumes(tmp_path: Path) -> None:
    tiny = [arg for key, value in TINY.items() for arg in ("--env", f"{key}={value}")]
    validation = [arg.replace("--env", "--validation-env") for arg in tiny]
    common = [*tiny, *validation, "--n-envs", "2", "--n-steps", "32", "--batch-size", "32", "--hidden", "8"]
    common += ["--validation-seeds", "1", "--checkpoint-every", "64", "--no-progress"]
    first = tmp_path / "first"
    argv = [
        "train",
        *common,
        "--timesteps",
        "128",
        "--bc-steps",
        "64",
        "--bc-rounds",
        "2",
        "--out",
        str(first),
    ]
    assert main(argv) == 0
    report = json.loads((first / "train.json").read_text())
    assert len(report["cloning"]) == 2 and report["timesteps"] == 128
    assert read_agent_info(str(first / "final.zip"))["name"] == "DAgger+PPO-GNN"
    assert report["command"][:2] == ["llm-sched", "train"] and "--bc-steps" in report["command"]
    checkpoint = first / "checkpoints" / "agent_128_steps.zip"
    assert checkpoint.is_file() and (first / "checkpoints" / "agent_vecnormalize_128_steps.pkl").is_file()
    second = tmp_path / "second"
    argv = ["train", *common, "--timesteps", "192", "--resume", str(checkpoint), "--out", str(second)]
    assert main(argv) == 0
    report = json.loads((second / "train.json").read_text())
    assert report["timesteps"] == 192 and report["resumed_from"] == str(checkpoint) and not report["cloning"]
    assert main(["train", *common, "--policy", "mlp", "--resume", str(checkpoint), "--out", str(second)]) == 2


@pytest.mark.parametrize("policy", ["mlp", "gnn"])
def test_train_cli_on_the_serving_env(policy: str, tmp_path: Path) -> None:
    small = ["--env", "CompoundLLMServing-v0", "--env", "num_jobs=12", "--env", 'apps=["sorting", "mine"]']
    argv = ["train", *small, "--policy", policy, "--timesteps", "64", "--n-envs", "2", "--n-steps", "32"]
    argv += ["--batch-size", "32", "--hidden", "8", "--bc-steps", "64", "--validation-seeds", "1"]
    argv += ["--validation-env", "num_jobs=12", "--no-progress", "--out", str(tmp_path)]
    assert main(argv) == 0
    agent = Agent.load(tmp_path / "final.zip")
    assert agent.env_id == "CompoundLLMServing-v0" and agent.info["observation"]["apps"] == [
        "sorting",
        "mine",
    ]
    config = agent.config(num_jobs=12, arrival_rate=2.0)
    assert config.app_classes == ("sorting", "mine", "other")
    (jct,) = agent.mean_jcts(config, [0])
    assert jct > 0
    jobs = [_single_stage_job(k) for k in range(4)]  # seconds only: runs on single-stream pools
    assert len(agent.run_episode(jobs, 1, 1)) == 4  # a serving agent also runs the paper's clusters
    assert main(["train", "--env", "CompoundLLMServing-v9", "--out", str(tmp_path / "x")]) == 2


class _SeedSpy(gym.Wrapper):
    """Records the seed of every reset."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.seeds: list[int | None] = []

    def reset(self, *, seed=None, options=None):
        self.seeds.append(seed)
        return self.env.reset(seed=seed, options=options)


def test_training_and_validation_never_draw_evaluation_seeds() -> None:
    spy = _SeedSpy(CompoundLLMEnv(TINY))
    env = TrainingSeeds(spy, seed=0)
    for _ in range(50):
        env.reset()
    assert min(spy.seeds) >= TRAIN_SEED_START and len(set(spy.seeds)) == 50
    env.reset(seed=0)  # as VecEnv.seed(0) does: the same stream again
    assert spy.seeds[-1] == spy.seeds[0]
    assert validation_seeds(3) == [1000, 1001, 1002] and max(validation_seeds(9000)) < TRAIN_SEED_START
    assert main(["evaluate", "--model", "x.zip", "--seeds", "1001"]) == 2


def test_train_config_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match="policy"):
        TrainConfig(policy="cnn")
    with pytest.raises(ValueError, match="env_id"):
        TrainConfig(env_id="CompoundLLM-v1")
    with pytest.raises(ValueError, match="num_jobz"):
        TrainConfig(env={"num_jobz": 3})
    with pytest.raises(ValueError, match="gamma"):
        TrainConfig(gamma=1.5)


SHIPPED = sorted((Path(__file__).parent.parent / "agents" / "models").glob("*.zip"))


@pytest.mark.parametrize("model", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_models_load_schedule_and_document_their_training(model: Path) -> None:
    sidecar = json.loads(model.with_suffix(".json").read_text())
    agent = Agent.load(model)
    assert sidecar["name"] == agent.name and "llm-sched train" in sidecar["training_command"]
    assert {"seed", "package_version", "evaluation"} <= set(sidecar)
    small = {"num_regular": 2, "num_llm": 2} if agent.env_id == "CompoundLLM-v0" else {"arrival_rate": 2.0}
    config = agent.config(num_jobs=12, **small)
    (jct,) = agent.mean_jcts(config, [0])
    assert jct > 0
    if agent.env_id == "CompoundLLM-v0":
        with pytest.raises(ValueError, match=r"^cluster:"):
            agent.run_on_cluster([], CompoundLLMServingEnv().config.cluster)
