"""The heuristic teacher of behaviour cloning: estimated shortest remaining processing time.

``EstimatedSRPT`` starts the valid stage whose job has the least revealed remaining
estimated work (the observation's ``job_remaining_work``: estimates of the job's revealed,
unfinished stages on both pools), ties by slot order, i.e. FCFS. It reads only the
observation. On the paper's workload it beats PS-TCS when the cluster is overloaded
(R = L = 10) and matches it when it is not.
"""

from __future__ import annotations

import numpy as np

from llm_sched_env.envs import STAGE_FEATURES

_WORK = STAGE_FEATURES.index("job_remaining_work")


class EstimatedSRPT:
    """The valid slot of the job with the least revealed remaining estimated work; ties FCFS."""

    name = "EstimatedSRPT"

    def act(self, obs: dict[str, np.ndarray]) -> int:
        mask = obs["action_mask"]
        work = obs["stages"].reshape(len(mask), len(STAGE_FEATURES))[:, _WORK]
        return int(np.argmin(np.where(mask == 1, work, np.inf)))

    def act_batch(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Actions for a batch of observations (leading dimension), as ``act`` chooses each."""
        mask = obs["action_mask"]
        work = obs["stages"].reshape(*mask.shape, len(STAGE_FEATURES))[..., _WORK]
        return np.argmin(np.where(mask == 1, work, np.inf), axis=-1)
