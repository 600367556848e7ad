"""Code generation with AutoGen on HumanEval: write code, run tests, repair until they pass."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llm_sched_env.core import LLM, REGULAR, JobSpec, LLMCall
from llm_sched_env.workloads.application import (
    DECODE_TOKENS_PER_SECOND,
    check_non_negative,
    check_positive,
    llm_call,
    lognormal,
    request_scale,
)

FIRST_PASS_RATE = 0.128  # Llama-2-7B HumanEval pass@1 = 12.8 % (Llama 2 paper, Touvron et al. 2023)
MAX_ROUNDS = 10  # paper Fig. 1a: workflow length up to 20 stages = 10 write/test rounds
TEST_MEDIAN_SECONDS = 0.05  # a HumanEval test in a fresh Python process: ~50 ms median (DESIGN.md)


@dataclass(frozen=True)
class CodeGeneration:
    """AutoGen coding loop: an LLM writes code, a regular executor runs the tests.

    Round 1 is visible at arrival. When a test stage fails, it reveals the next round
    (an LLM repair stage and its test). Round ``r`` passes with ``FIRST_PASS_RATE`` for
    ``r = 1``, ``second_pass_rate`` for ``r = 2`` and ``later_pass_rate`` after that; the
    loop stops after ``MAX_ROUNDS`` rounds.
    """

    name: str = "code_generation"
    # Open constants (not published; chosen in the calibration, see README "Calibration"):
    tokens_per_write: float = 650.0  # mean output of a write/repair call (code + explanation)
    token_cv: float = 0.5  # spread of one call's output length around the request's mean
    # The chance that a repair round ends the loop. Repair gains come mostly in the first
    # two rounds (Olausson et al. 2023, "Is self-repair a silver bullet for code
    # generation?"); AutoGen also stops when the code runs cleanly or the assistant says
    # TERMINATE, so these are higher than functional pass rates.
    second_pass_rate: float = 0.7
    later_pass_rate: float = 0.25
    test_cv: float = 0.5  # spread of a test run's duration
    request_cv: float = 0.6  # spread of the per-request factor on LLM output lengths
    # Prompt sizes (open constants; they only matter to token-level executors). Round 1 sends
    # AutoGen's default assistant system message (about 400 tokens) and a HumanEval problem
    # (about 130 tokens); AutoGen keeps the whole chat, so each repair round's prompt adds the
    # previous round's code and the failed test's output (a traceback, about 150 tokens).
    first_prompt_tokens: float = 530.0
    feedback_tokens: float = 150.0

    def __post_init__(self) -> None:
        check_positive(
            "CodeGeneration",
            tokens_per_write=self.tokens_per_write,
            first_prompt_tokens=self.first_prompt_tokens,
        )
        check_non_negative(
            "CodeGeneration",
            token_cv=self.token_cv,
            test_cv=self.test_cv,
            request_cv=self.request_cv,
            feedback_tokens=self.feedback_tokens,
        )
        for field in ("second_pass_rate", "later_pass_rate"):
            rate = getattr(self, field)
            if not 0 <= rate <= 1:
                raise ValueError(f"CodeGeneration.{field}: must be in [0, 1], got {rate!r}")

    def pass_rate(self, round_number: int) -> float:
        if round_number == 1:
            return FIRST_PASS_RATE
        return self.second_pass_rate if round_number == 2 else self.later_pass_rate

    def sample(self, rng: np.random.Generator, job_id: int, arrival: float) -> JobSpec:
        write_mean = self.tokens_per_write / DECODE_TOKENS_PER_SECOND
        test_mean = TEST_MEDIAN_SECONDS * (1 + self.test_cv**2) ** 0.5  # lognormal mean from median
        scale = request_scale(rng, self.request_cv)
        rounds = 1
        while rounds < MAX_ROUNDS and rng.random() >= self.pass_rate(rounds):
            rounds += 1
        kinds: list[int] = []
        durations: list[float] = []
        parents: list[tuple[int, ...]] = []
        revealed_by: list[int | None] = []
        calls: list[LLMCall | None] = []
        prompt = self.first_prompt_tokens
        for r in range(rounds):
            write = 2 * r
            kinds += (LLM, REGULAR)
            durations += (
                scale * lognormal(rng, write_mean, self.token_cv),
                lognormal(rng, test_mean, self.test_cv),
            )
            parents += ((write - 1,) if r else (), (write,))
            revealer = write - 1 if r else None
            revealed_by += (revealer, revealer)
            call = llm_call(durations[write], prompt, self.tokens_per_write)
            calls += (call, None)
            prompt = call.prompt_tokens + call.output_tokens + self.feedback_tokens
        estimates = (write_mean, test_mean) * rounds
        return JobSpec(
            job_id,
            self.name,
            arrival,
            tuple(kinds),
            tuple(durations),
            estimates,
            tuple(parents),
            tuple(revealed_by),
            calls=tuple(calls),
        )
