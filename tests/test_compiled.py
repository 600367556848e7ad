"""The batching pool compiled by mypyc (setup.py) against its Python source, and which build runs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from llm_sched_env.baselines import FCFS, PSTCS
from test_batching_exact import seeded_scenario

from llm_sched_env.core import Simulator
from llm_sched_env.core.executors import COMPILED, batching_pool, continuous_batching
from llm_sched_env.core.executors.compiled import PURE_PYTHON_VARIABLE
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


def outcome(jobs: list, cluster: object, policy: object) -> tuple:
    """Per-job finish times, preemptions and iterations of a fast-path run."""
    sim = Simulator(jobs, cluster=cluster, policy=policy)
    results = sim.run()
    pools = [p for p in sim.pools if type(p).__name__ == "BatchingPool"]
    assert pools
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
    compiled = [outcome(jobs, cluster, policy()) for jobs, cluster, policy in runs]
    monkeypatch.setattr(continuous_batching, "BatchingPool", source.BatchingPool)
    assert [outcome(jobs, cluster, policy()) for jobs, cluster, policy in runs] == compiled
    assert sum(sum(preemptions) > 0 for _, preemptions, _ in compiled) >= 5  # 8 of the 44 runs preempt


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )


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
