"""Sorting with Graph of Thoughts: a fixed DAG of LLM and scoring stages, known at arrival."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llm_sched_env.core import LLM, REGULAR, JobSpec
from llm_sched_env.workloads.application import (
    DECODE_TOKENS_PER_SECOND,
    check_non_negative,
    check_positive,
    lognormal,
)

# Graph of Thoughts sorting (Besta et al. 2023; DESIGN.md section 2): split -> two parallel
# sorts of 5 samples -> score -> merge of 10 samples -> score -> refine of 10 samples -> score.
SPLIT_SAMPLES = 1  # GoT sorting graph: one split generation
SORT_SAMPLES = 5  # GoT sorting graph: 5 samples per sub-list sort
MERGE_SAMPLES = 10  # GoT sorting graph: 10 merge samples
REFINE_SAMPLES = 10  # GoT sorting graph: 10 refine samples


@dataclass(frozen=True)
class Sorting:
    """GoT sorting: ``split -> {sort, sort} -> score -> merge -> score -> refine -> score``.

    LLM stages with k samples are k sequential generations on a local Llama backend
    (DESIGN.md section 2), so their duration is a sum of k draws. Score stages run
    locally on a regular executor. The whole DAG is visible at arrival.
    """

    name: str = "sorting"
    tokens_per_sample: float = 200.0  # open constant, calibrated (llm-sched calibrate)
    token_cv: float = 0.3  # open constant: spread of one generation's output length
    score_seconds: float = 0.05  # open constant: a local Python scoring function

    def __post_init__(self) -> None:
        check_positive("Sorting", tokens_per_sample=self.tokens_per_sample, score_seconds=self.score_seconds)
        check_non_negative("Sorting", token_cv=self.token_cv)

    def sample(self, rng: np.random.Generator, job_id: int, arrival: float) -> JobSpec:
        gen_mean = self.tokens_per_sample / DECODE_TOKENS_PER_SECOND
        samples = (SPLIT_SAMPLES, SORT_SAMPLES, SORT_SAMPLES, 0, MERGE_SAMPLES, 0, REFINE_SAMPLES, 0)
        kinds = (LLM, LLM, LLM, REGULAR, LLM, REGULAR, LLM, REGULAR)
        durations = []
        estimates = []
        for k in samples:
            if k:
                durations.append(sum(lognormal(rng, gen_mean, self.token_cv) for _ in range(k)))
                estimates.append(k * gen_mean)
            else:
                durations.append(self.score_seconds)
                estimates.append(self.score_seconds)
        parents = ((), (0,), (0,), (1, 2), (3,), (4,), (5,), (6,))
        return JobSpec(
            job_id, self.name, arrival, kinds, tuple(durations), tuple(estimates), parents, (None,) * 8
        )
