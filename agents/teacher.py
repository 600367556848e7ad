"""The heuristic teacher of behaviour cloning: paced shortest remaining processing time.

``PacedSRPT`` starts the valid stage whose job has the least expected remaining work among
its revealed, unfinished stages: regular work at its estimate plus LLM work at its estimate
times the job's observed LLM pace (how long its finished LLM stages took against their
estimates). The pace carries the insight: an LLM's output length depends on the request,
so a job whose calls ran long will keep running long. It reads only the observation; ties
go to the first slot (FCFS). The fast-path form, with every ready stage in view, is
:class:`llm_sched_env.baselines.PacedSRPT` (policy ``paced-srpt``); both use
:func:`~llm_sched_env.baselines.srpt.paced_work`.
"""

from __future__ import annotations

import numpy as np
from llm_sched_env.baselines.srpt import paced_work

from llm_sched_env.envs import LAYOUT, Layout


def _unsquash(feature: np.ndarray) -> np.ndarray:
    """``x`` from the observation's ``x / (x + 1)``."""
    return feature / np.maximum(1.0 - feature, 1e-9)


class PacedSRPT:
    """The valid slot of the job with the least paced remaining work; ties FCFS."""

    name = "PacedSRPT"

    def __init__(self, layout: Layout = LAYOUT) -> None:
        stages = layout.stages
        self._regular = stages.offset("job_remaining_regular_work")
        self._llm = stages.offset("job_remaining_llm_work")
        self._pace = stages.offset("job_llm_pace")
        self._width = stages.width

    def act_batch(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """The slot to start for each observation of a batch (arrays with a leading batch axis)."""
        mask = obs["action_mask"]
        rows = obs["stages"].reshape(*mask.shape, self._width)
        pace = _unsquash(rows[..., self._pace])
        # Work is shown as w / (w + scale): unsquashed it is w / scale, the same scale for both pools.
        work = paced_work(_unsquash(rows[..., self._regular]), _unsquash(rows[..., self._llm]), pace)
        return np.argmin(np.where(mask == 1, work, np.inf), axis=-1)

    def act(self, obs: dict[str, np.ndarray]) -> int:
        """The slot to start, given one ``CompoundLLM-v0`` observation."""
        return int(self.act_batch({key: value[None] for key, value in obs.items()})[0])
