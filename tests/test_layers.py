"""The layers import one way: workloads -> core <- envs <- baselines / agents <- experiments, CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def imports_any(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported_modules(path) if m.split(".")[0] in prefixes or m.startswith(prefixes))


@pytest.mark.parametrize("path", sources("llm_sched_env/core"), ids=lambda p: p.name)
def test_core_imports_no_gymnasium_torch_or_upper_layers(path: Path) -> None:
    forbidden = (
        "gymnasium",
        "torch",
        "llm_sched_env.envs",
        "llm_sched_env.workloads",
        "llm_sched_env.baselines",
        "llm_sched_env.agents",
        "llm_sched_env.experiments",
        "llm_sched_env.cli",
    )
    assert imports_any(path, forbidden) == []


@pytest.mark.parametrize("path", sources("llm_sched_env/workloads"), ids=lambda p: p.name)
def test_workloads_import_only_the_core(path: Path) -> None:
    forbidden = (
        "gymnasium",
        "torch",
        "llm_sched_env.envs",
        "llm_sched_env.baselines",
        "llm_sched_env.agents",
    )
    assert imports_any(path, forbidden) == []


@pytest.mark.parametrize(
    "path",
    [p for folder in ("llm_sched_env", "baselines") for p in sources(folder)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_torch_is_imported_only_under_agents(path: Path) -> None:
    assert imports_any(path, ("torch", "stable_baselines3", "sb3_contrib")) == []


RAY_MODULES = ("llm_sched_env/experiments/ray_backend.py", "agents/rllib.py")


@pytest.mark.parametrize(
    "path",
    [
        p
        for folder in ("llm_sched_env", "baselines", "agents")
        for p in sources(folder)
        if str(p.relative_to(ROOT)) not in RAY_MODULES
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_ray_is_imported_only_by_the_ray_backend_and_rllib(path: Path) -> None:
    assert imports_any(path, ("ray",)) == []


def test_the_ray_modules_exist() -> None:
    assert all((ROOT / module).is_file() for module in RAY_MODULES)
