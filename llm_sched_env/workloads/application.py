"""The interface every application implements, and shared sampling helpers."""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

from llm_sched_env.core import JobSpec, LLMCall

# Llama-2-7B on one A100/A800 decodes about 90 tokens/s for a single stream
# (DESIGN.md section 2; the paper's testbed is Llama2-7B on an A800, Sec. II).
DECODE_TOKENS_PER_SECOND = 90.0
CONTEXT_TOKENS = 4096  # Llama-2's context window (Touvron et al. 2023)
# Prompts longer than this keep only their most recent tokens, so that every call has at least
# half of Llama-2's context for its answer (frameworks trim chat history to fit, e.g. AutoGen's
# and LangChain's message-window transforms). Our choice, not a published figure.
MAX_PROMPT_TOKENS = CONTEXT_TOKENS // 2


@runtime_checkable
class Application(Protocol):
    """A compound-LLM application: draws one realized job, hidden parts included.

    ``name`` is the app name used in traces and by priority policies. ``sample`` must
    draw all randomness from ``rng`` so that a seeded workload is reproducible.
    """

    name: str

    def sample(self, rng: np.random.Generator, job_id: int, arrival: float) -> JobSpec: ...


def lognormal_params(mean: float, cv: float) -> tuple[float, float]:
    """``(mu, sigma)`` of the lognormal with the given mean and coefficient of variation."""
    sigma2 = math.log1p(cv * cv)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


def lognormal(rng: np.random.Generator, mean: float, cv: float) -> float:
    """A lognormal draw with the given mean and coefficient of variation."""
    return float(rng.lognormal(*lognormal_params(mean, cv)))


def request_scale(rng: np.random.Generator, cv: float) -> float:
    """One job's factor on all its LLM output lengths (mean 1).

    How long an LLM answers depends on the request (Zheng et al. 2023, the paper's ref. [8]):
    a longer list to sort or a harder task makes every call of the job longer. LLMSched
    (ICDCS 2025) reports whole-job durations varying by up to about 300 s.
    """
    return lognormal(rng, 1.0, cv)


def llm_call(seconds: float, prompt_tokens: float, estimate_tokens: float) -> LLMCall:
    """The tokens of an LLM call that generates for ``seconds`` at the paper's single-stream speed.

    The call's real output length is ``seconds * DECODE_TOKENS_PER_SECOND`` tokens and
    ``output_tokens`` is its ceiling, so the paper's model (which runs ``seconds``) is
    unchanged. The prompt is trimmed to ``MAX_PROMPT_TOKENS``. The request sets no cap, so
    ``max_tokens`` is what the context leaves (vLLM's OpenAI-compatible server: max_model_len
    minus the prompt); a generation longer than that stops at the cap (finish_reason
    "length"), which a batching executor then runs.
    """
    prompt = min(math.ceil(prompt_tokens), MAX_PROMPT_TOKENS)
    cap = CONTEXT_TOKENS - prompt
    output = min(max(math.ceil(seconds * DECODE_TOKENS_PER_SECOND), 1), cap)
    return LLMCall(prompt, output, cap, float(estimate_tokens))


def check_positive(owner: str, **values: float) -> None:
    """Raise ``ValueError`` naming the first field that is not a finite positive number."""
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{owner}.{name}: must be a finite number > 0, got {value!r}")


def check_non_negative(owner: str, **values: float) -> None:
    """Raise ``ValueError`` naming the first field that is not a finite number >= 0."""
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{owner}.{name}: must be a finite number >= 0, got {value!r}")
