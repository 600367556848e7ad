"""Build: the modules of ``COMPILED_SOURCES`` compiled with mypyc when this machine can.

Without a C compiler or Python's headers, when mypy rejects a module, or with
``LLM_SCHED_ENV_PURE_PYTHON=1`` set, the package installs as pure Python and runs the same
code, slower (:mod:`llm_sched_env.core.executors.compiled`). pip fetches mypy for the build
(``pyproject.toml``'s build requirements). Everything else about the package is in
``pyproject.toml``.
"""

import hashlib
import os
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The modules to compile, as paths (llm_sched_env.core.executors.compiled.COMPILED_MODULES).
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


def module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def forget_in_place_builds() -> None:
    """Remove the compiled builds (and their hashes) that an earlier editable install left
    beside the sources, so that they cannot run in place of the sources."""
    for source in map(Path, COMPILED_SOURCES):
        for built in (
            *source.parent.glob(f"{source.stem}.*.so"),
            *source.parent.glob(f"{source.stem}__mypyc.*.so"),
            source.with_suffix(".sha256"),
        ):
            built.unlink(missing_ok=True)


class OptionalBuildExt(build_ext):
    """Builds the compiled modules and records their sources' hashes beside them; when it cannot
    build them, warns and leaves the package pure Python."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:  # no compiler, no Python headers, a compiler error
            print(f"WARNING: llm-sched-env installs as pure Python (slower): {error}")
            forget_in_place_builds()
            return
        for ext in self.extensions:
            source = SOURCE_HASHES.get(ext.name)
            if source is not None:
                built = Path(self.get_ext_fullpath(ext.name))
                built.with_name(ext.name.rpartition(".")[2] + ".sha256").write_text(source + "\n")


def compiled_modules() -> list:
    """mypyc's extension modules, with each source's hash kept for OptionalBuildExt; none (and no
    earlier in-place build) when it should not or cannot run."""
    if not BUILD_COMMANDS.intersection(sys.argv):
        return []
    if os.environ.get("LLM_SCHED_ENV_PURE_PYTHON", "0") not in ("", "0"):
        forget_in_place_builds()
        return []
    try:
        from mypyc.build import mypycify

        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp, "mypy.ini")
            config.write_text(MYPY_CONFIG)
            modules = mypycify([f"--config-file={config}", *COMPILED_SOURCES], opt_level="3")
    except (Exception, SystemExit) as error:  # mypy missing, or it found a type error (it exits)
        print(f"WARNING: llm-sched-env installs as pure Python (slower): mypyc: {error}")
        forget_in_place_builds()
        return []
    for source in COMPILED_SOURCES:
        SOURCE_HASHES[module_name(source)] = hashlib.sha256(Path(source).read_bytes()).hexdigest()
    for module in modules:
        if sys.platform != "win32":  # no fused multiply-adds: the same float results as Python's
            module.extra_compile_args.append("-ffp-contract=off")
    return modules


SOURCE_HASHES: dict[str, str] = {}  # module name -> SHA-256 of the source mypyc compiled
setup(ext_modules=compiled_modules(), cmdclass={"build_ext": OptionalBuildExt})
