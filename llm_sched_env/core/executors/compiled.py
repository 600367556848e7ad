"""Which build of a compiled module runs: mypyc's while it matches its source, else the source.

``setup.py`` compiles the modules of :data:`COMPILED_MODULES` with mypyc when it can and writes
the SHA-256 of each compiled source beside it (``<module>.sha256``). A compiled module is
imported only while its source still has that hash, so an edited source runs as written (with
a warning to rebuild: ``pip install -e .``). Setting the environment variable
``LLM_SCHED_ENV_PURE_PYTHON=1`` runs the sources always (to profile or debug them).
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
    if not os.environ.get(PURE_PYTHON_VARIABLE):
        recorded = source.with_suffix(".sha256")
        if recorded.is_file() and recorded.read_text().strip() == source_hash(source):
            importlib.import_module(name)
            return True
        warnings.warn(
            f"{name}: the compiled build is not of its current source, which runs instead "
            "(slower); rebuild with `pip install -e .`",
            RuntimeWarning,
            stacklevel=2,
        )
    source_spec = importlib.util.spec_from_file_location(name, source)
    assert source_spec is not None and source_spec.loader is not None
    module = importlib.util.module_from_spec(source_spec)
    sys.modules[name] = module
    source_spec.loader.exec_module(module)
    package, _, attribute = name.rpartition(".")
    setattr(sys.modules[package], attribute, module)
    return False


# Module name -> True when its compiled build runs.
COMPILED = {name: load(name) for name in COMPILED_MODULES}
