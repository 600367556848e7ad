"""Which build of a compiled module runs: mypyc's while it matches its source, else the source.

``setup.py`` compiles the modules of :data:`COMPILED_MODULES` with mypyc when it can and, once
a build succeeds, writes the SHA-256 of the source it compiled beside it (``<module>.sha256``).
A compiled module is imported only while its source still has that hash, so an edited source
runs as written, with a warning to rebuild (``pip install -e .``); so does a source whose
compiled build fails to import. Setting the environment variable ``LLM_SCHED_ENV_PURE_PYTHON``
to anything but ``0`` runs the sources always (to profile or debug them).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path

PURE_PYTHON_VARIABLE = "LLM_SCHED_ENV_PURE_PYTHON"
COMPILED_MODULES = ("llm_sched_env.core.executors.batching_pool",)


def pure_python_requested() -> bool:
    """Whether :data:`PURE_PYTHON_VARIABLE` asks for the sources."""
    return os.environ.get(PURE_PYTHON_VARIABLE, "0") not in ("", "0")


def source_hash(source: Path) -> str:
    """The SHA-256 that ``setup.py`` records for a compiled source."""
    return hashlib.sha256(source.read_bytes()).hexdigest()


def load(name: str) -> bool:
    """Import module ``name`` (whose package is imported): compiled when its build is current and
    :data:`PURE_PYTHON_VARIABLE` is not set, else from its source. True when compiled."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ImportError(f"no module named {name!r}")
    source = Path(spec.origin).with_name(name.rpartition(".")[2] + ".py")
    if Path(spec.origin) == source:  # no compiled build
        importlib.import_module(name)
        return False
    if not pure_python_requested():
        recorded = source.with_suffix(".sha256")
        if recorded.is_file() and recorded.read_text().strip() == source_hash(source):
            try:
                importlib.import_module(name)
                return True
            except ImportError as error:
                problem = f"its compiled build does not import ({error})"
        else:
            problem = "its compiled build is not of its current source"
        warnings.warn(
            f"{name}: {problem}; the source runs instead (slower). Rebuild with `pip install -e .`",
            RuntimeWarning,
            stacklevel=2,
        )
    _load_source(name, source)
    return False


def _load_source(name: str, source: Path) -> None:
    """Import module ``name`` from ``source``, whatever else the import system would find."""
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    package, _, attribute = name.rpartition(".")
    setattr(sys.modules[package], attribute, module)


# Module name -> True when its compiled build runs.
COMPILED = {name: load(name) for name in COMPILED_MODULES}
