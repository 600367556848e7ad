"""Sorting with Graph of Thoughts: a fixed DAG of LLM and scoring stages, known at arrival."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llm_sched_env.core import LLM, REGULAR, JobSpec
from llm_sched_env.workloads.application import (
    DECODE_TOKENS_PER_SECOND,
    check_non_negative,
    check_positive,
    llm_call,
    lognormal_params,
    request_scale,
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

    With a local Llama backend, an operation with k samples is k sequential generations
    (DESIGN.md section 2); each generation is one LLM call, so it is one stage here and
    an operation is a chain of k stages. Score stages run locally on a regular executor.
    The whole DAG is visible at arrival.
    """

    name: str = "sorting"
    # Open constants (not published; chosen in the calibration, see README "Calibration"):
    tokens_per_sample: float = 430.0  # mean output of one generation (a sorted list + reasoning)
    token_cv: float = 0.3  # spread of one generation's length around the request's mean
    score_seconds: float = 0.05  # a local Python scoring function: milliseconds
    request_cv: float = 0.6  # spread of the per-request factor on LLM output lengths
    # Prompt size (open constant; it only matters to token-level executors): GoT's split, sort,
    # merge and refine prompts each carry an instruction, worked examples of 32-number lists
    # and the input list(s).
    prompt_tokens: float = 600.0

    def __post_init__(self) -> None:
        check_positive(
            "Sorting",
            tokens_per_sample=self.tokens_per_sample,
            score_seconds=self.score_seconds,
            prompt_tokens=self.prompt_tokens,
        )
        check_non_negative("Sorting", token_cv=self.token_cv, request_cv=self.request_cv)

    def sample(self, rng: np.random.Generator, job_id: int, arrival: float) -> JobSpec:
        gen_mean = self.tokens_per_sample / DECODE_TOKENS_PER_SECOND
        scale = request_scale(rng, self.request_cv)
        kinds: list[int] = []
        parents: list[tuple[int, ...]] = []

        def chain(samples: int, after: tuple[int, ...]) -> tuple[int, ...]:
            for _ in range(samples):
                kinds.append(LLM)
                parents.append(after)
                after = (len(kinds) - 1,)
            return after

        def score(after: tuple[int, ...]) -> tuple[int, ...]:
            kinds.append(REGULAR)
            parents.append(after)
            return (len(kinds) - 1,)

        split = chain(SPLIT_SAMPLES, ())
        sorted_halves = chain(SORT_SAMPLES, split) + chain(SORT_SAMPLES, split)
        merged = chain(MERGE_SAMPLES, score(sorted_halves))
        score(chain(REFINE_SAMPLES, score(merged)))
        n_llm = kinds.count(LLM)
        mu, sigma = lognormal_params(gen_mean, self.token_cv)
        generations = iter((scale * rng.lognormal(mu, sigma, size=n_llm)).tolist())
        durations = tuple(next(generations) if k == LLM else self.score_seconds for k in kinds)
        estimates = tuple(gen_mean if k == LLM else self.score_seconds for k in kinds)
        calls = tuple(
            llm_call(d, self.prompt_tokens, self.tokens_per_sample) if k == LLM else None
            for d, k in zip(durations, kinds, strict=True)
        )
        n = len(kinds)
        return JobSpec(
            job_id,
            self.name,
            arrival,
            tuple(kinds),
            durations,
            estimates,
            tuple(parents),
            (None,) * n,
            calls=calls,
        )
