"""The batching pool compiled by mypyc (setup.py) against its Python source, and which build runs."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from llm_sched_env.baselines import FCFS, PSTCS
from test_batching_exact import seeded_scenario

from llm_sched_env.core import RUNNING, Simulator
from llm_sched_env.core.executors import COMPILED, batching_pool, continuous_batching
from llm_sched_env.core.executors.compiled import COMPILED_MODULES, PURE_PYTHON_VARIABLE
from llm_sched_env.envs import default_cluster
from llm_sched_env.experiments.serving import serving_cluster
from llm_sched_env.workloads import Workload

NAME = "llm_sched_env.core.executors.batching_pool"
SOURCE = Path(continuous_batching.__file__).with_name("batching_pool.py")
needs_compiled = pytest.mark.skipif(not COMPILED[NAME], reason="the batching pool is not compiled here")


def source_module() -> ModuleType:
    """The batching pool's source, run as Python, beside the compiled module."""
    spec = importlib.util.spec_from_file_location("batching_pool_source", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outcome(jobs: list, cluster: object, policy: object, pool_class: type) -> tuple:
    """Per-job finish times, preemptions and iterations of a fast-path run on ``pool_class``."""
    sim = Simulator(jobs, cluster=cluster, policy=policy)
    results = sim.run()
    pools = [p for p in sim.pools if type(p).__name__ == "BatchingPool"]
    assert pools and all(type(p) is pool_class for p in pools)
    return list(results.finishes), [p.preemptions for p in pools], [p.iterations for p in pools]


def test_readme_install_compiles_the_batching_pool_in_ci() -> None:
    if not os.environ.get("CI"):
        pytest.skip("checked in CI, whose install (README's command) must compile the pool")
    assert COMPILED[NAME], "the install ran the batching pool as Python: setup.py could not compile it"
    assert not batching_pool.__file__.endswith(".py")


@needs_compiled
def test_the_compiled_pool_gives_exactly_its_sources_results(monkeypatch: pytest.MonkeyPatch) -> None:
    source = source_module()
    jobs = list(Workload().jobs(500, 0))
    runs = [
        (jobs, cluster, policy)
        for cluster in (serving_cluster(10, 2), default_cluster())
        for policy in (FCFS, PSTCS)
    ]
    for seed in range(40):  # small limits: preemptions, binding token budgets, exact ties
        scenario = seeded_scenario(seed)
        runs.append((scenario.jobs, scenario.cluster, (FCFS, PSTCS)[seed % 2]))
    compiled = [
        outcome(jobs, cluster, policy(), batching_pool.BatchingPool) for jobs, cluster, policy in runs
    ]
    monkeypatch.setattr(continuous_batching, "BatchingPool", source.BatchingPool)
    assert [
        outcome(jobs, cluster, policy(), source.BatchingPool) for jobs, cluster, policy in runs
    ] == compiled
    assert sum(sum(preemptions) > 0 for _, preemptions, _ in compiled) >= 5  # 8 of the 44 runs preempt


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, PURE_PYTHON_VARIABLE: "0", **env},
        check=False,
    )


# Masked random rollouts of the serving env (decision mode: admission limits, choices, dispatch,
# the replicas' rows), digested; with a path, the episode is pickled there halfway (when the file
# does not exist) or taken from it (when it does) before it goes on.
ROLLOUT = """
import hashlib, os, pickle, sys
import numpy as np
from llm_sched_env.envs import CompoundLLMServingEnv, SERVING_SMALL_VARIANT
digest = hashlib.sha256()
path = sys.argv[1] if len(sys.argv) > 1 else None
for seed in (0, 1):
    env = CompoundLLMServingEnv(**SERVING_SMALL_VARIANT)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    terminated, steps = False, 0
    while not terminated:
        if path and seed == 1 and steps == 100:
            if os.path.exists(path):
                with open(path, "rb") as f:
                    env = pickle.load(f)
            else:
                with open(path, "wb") as f:
                    pickle.dump(env, f)
        obs, reward, terminated, _, _ = env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        digest.update(b"".join(obs[k].tobytes() for k in sorted(obs)) + np.float64(reward).tobytes())
        steps += 1
print(digest.hexdigest())
"""


@needs_compiled
def test_both_builds_give_the_same_serving_episodes_and_read_each_others_pickles(tmp_path: Path) -> None:
    def rollout(pure: bool, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", ROLLOUT, *args],
            capture_output=True,
            text=True,
            env={**os.environ, PURE_PYTHON_VARIABLE: "1" if pure else "0"},
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    expected = rollout(False)
    assert rollout(True) == expected
    for writer, reader in ((False, True), (True, False)):
        path = str(tmp_path / f"episode-{writer}.pickle")
        assert rollout(writer, path) == expected  # pickled halfway, then goes on
        assert rollout(reader, path) == expected  # the other build goes on from the pickle


def test_setup_compiles_the_modules_that_the_loader_knows() -> None:
    setup = ast.parse((Path(__file__).parents[1] / "setup.py").read_text())
    sources = next(
        node.value
        for node in setup.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "COMPILED_SOURCES"
    )
    paths = ast.literal_eval(sources)
    assert tuple(path.removesuffix(".py").replace("/", ".") for path in paths) == COMPILED_MODULES


def test_the_pure_python_variable_runs_the_source() -> None:
    done = run_python(
        f"from llm_sched_env.core.executors import COMPILED, batching_pool; "
        f"print(COMPILED[{NAME!r}], batching_pool.__file__)",
        **{PURE_PYTHON_VARIABLE: "1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", str(SOURCE)]


@needs_compiled
def test_a_build_of_another_source_runs_the_source_with_a_warning() -> None:
    # As if the source had been edited since the build: its hash no longer matches the recorded one.
    done = run_python(
        "import sys, warnings\n"
        "import llm_sched_env.core.executors.compiled as compiled\n"
        f"del sys.modules[{NAME!r}]\n"
        "compiled.source_hash = lambda source: '0' * 64\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    print(compiled.load({NAME!r}), sys.modules[{NAME!r}].__file__)\n"
        "print(caught[0].message)\n"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["False", str(SOURCE)]
    assert "not of its current source" in lines[1] and "pip install -e ." in lines[1]


def test_dispatch_takes_a_numpy_integer_stage() -> None:
    # The compiled pool accepts only ints; Simulator.dispatch converts what operator.index takes.
    sim = Simulator(list(Workload().jobs(30, 0)), cluster=serving_cluster(2, 1))
    assert sim.advance()
    job, stage = sim.choices(sim.decision_pools()[0])[0]
    sim.dispatch(job, np.int64(stage))
    assert job.status[stage] == RUNNING
