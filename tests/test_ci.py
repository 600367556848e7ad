"""CI runs README's two commands verbatim: neither file can change without the other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The command lines of the code block under README's "The two commands"."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## The two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "README: no bash block under 'The two commands'"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def ci_lines() -> list[str]:
    return (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_ci_runs_exactly_readmes_two_commands_in_order() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert commands[0].startswith('python -m pip install -e ".[plot]" && llm-sched table1 ')
    assert commands[1].endswith("python -m pytest -q")
    ran = [m.group(1) for line in ci_lines() if (m := re.fullmatch(r"readme '([^']*)'", line))]
    assert ran == commands


def test_each_command_gets_its_own_fresh_venv_and_ci_stops_on_failure() -> None:
    lines = ci_lines()
    assert "set -euo pipefail" in lines and "export CI=true" in lines and "exec </dev/null" in lines
    # Every README command is preceded by the creation and activation of a new venv.
    created = []
    for k, line in enumerate(lines):
        if line.startswith("readme '"):
            venv = next(lines[j] for j in range(k - 1, -1, -1) if lines[j].startswith("python -m venv "))
            created.append(venv)
            directory = venv.removeprefix("python -m venv ").strip('"')
            assert lines[k - 1] == f'. "{directory}/bin/activate"'  # activated right before
    assert len(set(created)) == 2
    # `readme` runs its command in a shell that fails as soon as any part fails.
    assert '    bash -euo pipefail -c "$1"' in lines


def test_no_file_holds_merge_conflict_markers() -> None:
    suffixes = {".py", ".md", ".toml", ".json", ".jsonl", ".ipynb", ".cfg", ".txt", ""}
    marked = []
    for path in REPO.rglob("*"):
        if ".git" in path.parts or not path.is_file() or path.suffix not in suffixes:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"^(<{7} |>{7} )", text, re.MULTILINE):
            marked.append(str(path.relative_to(REPO)))
    assert marked == []


def test_every_package_folder_is_listed_for_the_wheel() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {folder: name for name, folder in setuptools["package-dir"].items()}
    found = set()
    for init in REPO.glob("*/**/__init__.py"):
        parts = init.parent.relative_to(REPO).parts
        if parts[0] in folders:
            found.add(".".join((folders[parts[0]], *parts[1:])))
    assert found == set(setuptools["packages"])
