"""Every notebook in notebooks/ runs top to bottom without an error, at the reduced size.

Each notebook reads ``LLM_SCHED_NOTEBOOK_SMALL=1`` and shrinks its jobs, seeds and training
steps; the committed outputs come from a full-size run. A cell that raises fails the test.
The committed outputs show no machine-specific paths (notebooks name their files relatively).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Notebooks that need the optional RL dependencies (pip install 'llm-sched-env[rl]').
NEEDS_RL = {"03_train_an_agent.ipynb"}
CELL_TIMEOUT_S = 300


def test_notebooks_are_found() -> None:
    assert [path.name for path in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_reproduce_table1.ipynb",
        "03_train_an_agent.ipynb",
        "04_baselines.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if path.name in NEEDS_RL:
        for module in ("torch", "sb3_contrib"):
            if importlib.util.find_spec(module) is None:
                pytest.skip(f"{path.name} needs {module} (pip install 'llm-sched-env[rl]')")
    monkeypatch.setenv("LLM_SCHED_NOTEBOOK_SMALL", "1")  # the kernel inherits the environment
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error


MACHINE_PATH = re.compile(r"(/tmp/|/var/folders/|/home/|/root/|/Users/|[A-Za-z]:\\\\)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_outputs_show_no_machine_specific_paths(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            text = output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
            found = MACHINE_PATH.search(text)
            context = "" if found is None else text[max(0, found.start() - 40) : found.end() + 40]
            assert found is None, f"{path.name} cell {number}: {context!r}"
