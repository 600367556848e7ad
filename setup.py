"""Build: the modules of ``COMPILED_MODULES`` compiled with mypyc when this machine can.

Without mypy or a C compiler, or with ``LLM_SCHED_ENV_PURE_PYTHON=1`` set, the package installs
as pure Python and runs the same code, slower (:mod:`llm_sched_env.core.executors.compiled`).
Everything else about the package is in ``pyproject.toml``.
"""

import hashlib
import os
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The modules to compile (llm_sched_env.core.executors.compiled.COMPILED_MODULES, as paths).
COMPILED_SOURCES = ["llm_sched_env/core/executors/batching_pool.py"]
# The only imports mypy reads (for the types the compiled code uses); the others count as Any,
# which keeps the build to seconds (following every import takes about 40 s more, for no speed).
TYPED_IMPORTS = [
    "llm_sched_env.core.executors.base",
    "llm_sched_env.core.executors.continuous_batching",
    "llm_sched_env.core.job",
    "llm_sched_env.core.queues",
    "llm_sched_env.core.state",
]
MYPY_CONFIG = f"""[mypy]
follow_imports = skip
ignore_missing_imports = True

[mypy-{",".join(TYPED_IMPORTS)}]
follow_imports = silent
"""
# The commands that build extensions; pip also runs this file for metadata only (egg_info, dist_info).
BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}


class OptionalBuildExt(build_ext):
    """Builds the compiled modules, or warns and leaves the pure-Python package when it cannot."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # no compiler, no Python headers, a compiler error
            print(f"WARNING: llm-sched-env installs as pure Python (slower): {error}")


def compiled_modules() -> list:
    """mypyc's extension modules, after recording each source's hash; none when it cannot run."""
    if os.environ.get("LLM_SCHED_ENV_PURE_PYTHON") or not BUILD_COMMANDS.intersection(sys.argv):
        return []
    try:
        from mypyc.build import mypycify

        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp, "mypy.ini")
            config.write_text(MYPY_CONFIG)
            modules = mypycify([f"--config-file={config}", *COMPILED_SOURCES], opt_level="3")
    except (Exception, SystemExit) as error:  # mypy missing, or it found a type error (it exits)
        print(f"WARNING: llm-sched-env installs as pure Python (slower): mypyc: {error}")
        return []
    for source in map(Path, COMPILED_SOURCES):
        source.with_suffix(".sha256").write_text(hashlib.sha256(source.read_bytes()).hexdigest() + "\n")
    return modules


setup(ext_modules=compiled_modules(), cmdclass={"build_ext": OptionalBuildExt})
