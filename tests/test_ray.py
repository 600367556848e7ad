"""Ray: the Ray backend runs grids exactly like the local one, and RLlib's PPO trains with action masking.

Every test shares one local Ray instance with 2 CPUs, shut down at the end of the module.
"""

from __future__ import annotations

import operator

import pytest

ray = pytest.importorskip("ray")

from llm_sched_env.cli import main  # noqa: E402
from llm_sched_env.experiments import CellConfig, CellError, Grid, ResultStore, run_cells  # noqa: E402
from llm_sched_env.experiments import policies as policy_registry  # noqa: E402
from llm_sched_env.experiments.policies import PolicyEntry  # noqa: E402
from llm_sched_env.experiments.ray_backend import RayBackend  # noqa: E402

GRID = Grid(policies=("fcfs", "rs", "ps-tcs"), settings=((2, 2), (3, 2)), seeds=(0, 1), num_jobs=(30,))


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _without_timing(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "wall_seconds"}


def test_ray_records_equal_local_records(tmp_path) -> None:
    cells = GRID.cells()
    local_store, ray_store = ResultStore(tmp_path / "local.jsonl"), ResultStore(tmp_path / "ray.jsonl")
    # In this process: forking a pool from a process running Ray's threads is unsafe, and the
    # local records do not depend on the worker count (test_experiments checks that).
    local = run_cells(cells, local_store, workers=1)
    remote = run_cells(cells, ray_store, backend=RayBackend())
    assert [r["key"] for r in remote] == [c.key for c in cells]
    assert [_without_timing(r) for r in remote] == [_without_timing(r) for r in local]
    # The store on disk holds the same records (written as cells finish, so in any order).
    reread = ResultStore(tmp_path / "ray.jsonl").records
    assert {k: _without_timing(r) for k, r in reread.items()} == {
        k: _without_timing(r) for k, r in ResultStore(tmp_path / "local.jsonl").records.items()
    }
    # A rerun resumes: nothing is left to run.
    before = (tmp_path / "ray.jsonl").read_bytes()
    assert run_cells(cells, ResultStore(tmp_path / "ray.jsonl"), backend=RayBackend()) == remote
    assert (tmp_path / "ray.jsonl").read_bytes() == before


def test_ray_failing_cell_names_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # The factory fails inside the Ray task ('SeedSequence' object is not subscriptable).
    entry = PolicyEntry("broken", "Broken", operator.itemgetter(0))
    monkeypatch.setitem(policy_registry._REGISTRY, "broken", entry)
    cells = [CellConfig("broken", 2, 2, 0, 5, 1.0), CellConfig("fcfs", 2, 2, 0, 5, 1.0)]
    with pytest.raises(CellError, match=r"cell broken R=2 L=2 seed=0 .*not subscriptable"):
        run_cells(cells, backend=RayBackend())


def test_bench_prints_the_same_table_with_both_backends(capsys) -> None:
    argv = ["bench", "--policies", "fcfs,ps-tcs", "--settings", "2x2", "--seeds", "2", "--jobs", "30"]
    assert main([*argv, "--no-progress", "--workers", "1"]) == 0
    local = capsys.readouterr().out.splitlines()
    assert main([*argv, "--no-progress", "--backend", "ray"]) == 0
    remote = capsys.readouterr().out.splitlines()
    assert remote[:-1] == local[:-1]  # the last line gives the run time and the backend
    assert remote[-1].endswith("with Ray tasks on a local Ray instance")


# --------------------------------------------------------------------------- RLlib
def test_rllib_ppo_iteration_with_two_env_runners_never_picks_an_invalid_slot(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    rllib = pytest.importorskip("llm_sched_env.agents.rllib")
    config = rllib.RLlibConfig(
        env_id="CompoundLLMSmall-v0",
        timesteps=256,
        n_envs=2,
        n_steps=128,
        batch_size=64,
        n_epochs=1,
        hidden=32,
    )
    report = rllib.train_rllib(config, tmp_path, verbose=False)
    (row,) = report["history"]
    assert row["env_steps"] == 2 * 128  # both env runners sampled
    assert row[rllib.INVALID_ACTIONS] == 0  # no training step picked an invalid slot

    # The trained module, read back from its checkpoint, samples only valid slots.
    module = rllib.load_module(report["checkpoint"])
    env = rllib.make_env({"env_id": "CompoundLLMSmall-v0"})
    obs, _ = env.reset(seed=0)
    steps, done = 0, False
    with torch.no_grad():
        while not done:
            batch = {"obs": {k: torch.as_tensor(v)[None] for k, v in obs.items()}}
            logits = module.forward_exploration(batch)["action_dist_inputs"][0]
            action = int(torch.distributions.Categorical(logits=logits).sample())
            assert obs["action_mask"][action] == 1.0
            assert torch.all(logits[torch.as_tensor(obs["action_mask"]) == 0] < -1e30)
            obs, _, terminated, truncated, info = env.step(action)
            assert not info["invalid_action"]
            steps, done = steps + 1, terminated or truncated
    assert steps > 0


def test_invalid_action_callback_counts_what_the_environment_reports() -> None:
    rllib = pytest.importorskip("llm_sched_env.agents.rllib")
    logged = []

    class Episode:
        def __init__(self, invalid: bool) -> None:
            self.info = {"invalid_action": invalid}

        def get_infos(self, index: int) -> dict:
            return self.info

    class Logger:
        def log_value(self, key: str, value: int, reduce: str) -> None:
            logged.append((key, value, reduce))

    for invalid in (False, True):
        rllib._count_invalid_actions(episode=Episode(invalid), metrics_logger=Logger())
    assert logged == [(rllib.INVALID_ACTIONS, 0, "sum"), (rllib.INVALID_ACTIONS, 1, "sum")]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"env_id": "NoSuchEnv-v0"}, "env_id"),
        ({"env": {"env_id": "CompoundLLM-v0"}}, "env"),
        ({"n_envs": 0}, "n_envs"),
        ({"timesteps": 0}, "timesteps"),
        ({"n_steps": 64, "n_envs": 2, "batch_size": 129}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"seed": -1}, "seed"),
    ],
)
def test_rllib_config_errors_name_the_field(kwargs: dict, field: str) -> None:
    rllib = pytest.importorskip("llm_sched_env.agents.rllib")
    with pytest.raises(ValueError, match=rf"^{field}: "):
        rllib.RLlibConfig(**kwargs)


def test_rllib_iterations_cover_the_timesteps() -> None:
    rllib = pytest.importorskip("llm_sched_env.agents.rllib")
    config = rllib.RLlibConfig(timesteps=1000, n_envs=2, n_steps=256, batch_size=64)
    assert (config.train_batch_size, config.iterations) == (512, 2)
    assert rllib.RLlibConfig(timesteps=1024, n_envs=2, n_steps=256, batch_size=64).iterations == 2
