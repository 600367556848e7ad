"""Optional dependencies: which extra provides what, and a one-line error when one is missing."""

from __future__ import annotations

import importlib.util

# The modules each extra of pyproject.toml provides (import names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "rl": ("torch", "stable_baselines3", "sb3_contrib", "tensorboard", "tqdm", "rich"),
    "plot": ("matplotlib",),
    "ray": ("ray",),
}


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message names the extra and how to install it."""


def require_extra(extra: str, purpose: str) -> None:
    """Raise :class:`MissingExtraError` unless every module of ``extra`` is importable.

    Nothing is imported: modules are only looked up. ``purpose`` names what needs them.
    """
    missing = [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f'{purpose} needs {", ".join(missing)} (the {extra} extra): python -m pip install -e ".[{extra}]"'
        )
