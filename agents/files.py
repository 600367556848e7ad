"""Model files as experiment policies, without importing torch until a policy is built.

``llm-sched bench --policies fcfs,ps-tcs,agent:PATH`` (and ``evaluate``) name an agent by
its model file. Its key in result files is ``agent:PATH#DIGEST`` (the first 12 hex digits
of the file's SHA-256), so a results file is never resumed with a different model saved
at the same path; its display name is the one saved in the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

AGENT_PREFIX = "agent"
_DIGEST_CHARS = 12


def model_digest(path: str) -> str:
    """The first 12 hex digits of the SHA-256 of the file at ``path``."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:_DIGEST_CHARS]


def read_agent_info(path: str) -> dict[str, Any]:
    """The ``agent_info`` saved in a model zip (name, network, observation settings, training)."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = json.loads(archive.read("data")).get("agent_info")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"model: cannot read {path!r} as a trained agent ({err})") from err
    if not isinstance(info, dict) or "name" not in info:
        raise ValueError(f"model: {path!r} is not an agent written by `llm-sched train` (no agent_info)")
    return info


def load_policy(path: str, seed: np.random.SeedSequence) -> Any:
    """The agent of ``path`` as an episode policy, on one torch thread (experiments run processes)."""
    import torch
    from llm_sched_env.agents.agent import Agent

    torch.set_num_threads(1)
    return Agent.load(path)


def resolve_model(spec: str) -> tuple[str, str, Callable[[np.random.SeedSequence], Any]]:
    """Key, display name and factory of ``PATH`` or ``PATH#DIGEST`` (the digest must match)."""
    path, sep, expected = ("", "", "") if os.path.isfile(spec) else spec.rpartition("#")
    if not sep:
        path = spec
    if not os.path.isfile(path):
        raise ValueError(f"policy: no model file {path!r} (expected {AGENT_PREFIX}:PATH)")
    digest = model_digest(path)
    if sep and expected != digest:
        raise ValueError(f"policy: model {path!r} changed (digest {digest}, expected {expected})")
    return f"{AGENT_PREFIX}:{path}#{digest}", read_agent_info(path)["name"], partial(load_policy, path)
