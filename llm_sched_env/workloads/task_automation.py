"""Task automation with HuggingGPT on TaskBench: a planner LLM reveals a graph of tool calls."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from llm_sched_env.core import LLM, REGULAR, JobSpec
from llm_sched_env.workloads.application import (
    DECODE_TOKENS_PER_SECOND,
    check_non_negative,
    check_positive,
    llm_call,
    lognormal,
    request_scale,
)

# TaskBench (Shen et al. 2023), HuggingFace-tools domain, shapes after verification:
# single node 40.6 %, chain 48.3 %, DAG 11.1 %.
SHAPE_PROBABILITIES = {"single": 0.406, "chain": 0.483, "dag": 0.111}
# TaskBench's back-instruct sampler: weights of the number of tool nodes in chains and DAGs.
NODE_COUNT_WEIGHTS = {2: 0.10, 3: 0.20, 4: 0.30, 5: 0.20, 6: 0.10, 7: 0.05, 8: 0.025, 9: 0.025, 10: 0.025}
MIN_DAG_NODES = 3  # TaskBench: a DAG has at least 3 nodes


class _Categorical:
    """Draws one of ``values`` with probability proportional to ``weights``."""

    def __init__(self, values: list[int], weights: list[float]) -> None:
        self.values = values
        cumulative = np.cumsum(weights)
        self.cumulative = (cumulative / cumulative[-1]).tolist()

    def draw(self, rng: np.random.Generator) -> int:
        return self.values[bisect_right(self.cumulative, rng.random())]


_SHAPES = _Categorical([0, 1, 2], list(SHAPE_PROBABILITIES.values()))
_CHAIN_NODES = _Categorical(list(NODE_COUNT_WEIGHTS), list(NODE_COUNT_WEIGHTS.values()))
_DAG_NODES = _Categorical(
    [n for n in NODE_COUNT_WEIGHTS if n >= MIN_DAG_NODES],
    [w for n, w in NODE_COUNT_WEIGHTS.items() if n >= MIN_DAG_NODES],
)


@dataclass(frozen=True)
class TaskAutomation:
    """HuggingGPT: ``planner (LLM) -> tool graph (regular) -> response (LLM)``.

    Only the planner is visible at arrival. When it finishes it reveals the tool graph
    (single tool, chain, or a random tree-shaped DAG, as sampled by TaskBench) and the
    final response stage, which waits for every tool without a successor.
    """

    name: str = "task_automation"
    # Open constants (not published; chosen in the calibration, see README "Calibration"):
    planner_tokens: float = 550.0  # mean planner output (a JSON task list) in tokens
    response_tokens: float = 400.0  # mean final-answer output in tokens
    token_cv: float = 0.25  # spread of one call's output length around the request's mean
    tool_seconds: float = 17.0  # mean run time of a HuggingFace tool on a regular executor
    tool_cv: float = 2.0  # tools range from fast classifiers to slow image/video generation
    request_cv: float = 0.6  # spread of the per-request factor on LLM output lengths
    # Prompt sizes (open constants; they only matter to token-level executors). HuggingGPT's
    # planning prompt carries its task specification and few-shot demonstrations (about 500
    # tokens) and TaskBench's 23 tool descriptions (about 30 tokens each):
    planner_prompt_tokens: float = 1200.0
    # Its response prompt holds the request, the task plan (the planner's output) and every
    # tool's result; an instruction and the request take about 300 tokens, a result about 100:
    response_prompt_tokens: float = 300.0
    tool_result_tokens: float = 100.0

    def __post_init__(self) -> None:
        check_positive(
            "TaskAutomation",
            planner_tokens=self.planner_tokens,
            response_tokens=self.response_tokens,
            tool_seconds=self.tool_seconds,
            planner_prompt_tokens=self.planner_prompt_tokens,
            response_prompt_tokens=self.response_prompt_tokens,
        )
        check_non_negative(
            "TaskAutomation",
            token_cv=self.token_cv,
            tool_cv=self.tool_cv,
            request_cv=self.request_cv,
            tool_result_tokens=self.tool_result_tokens,
        )

    def sample_tool_graph(self, rng: np.random.Generator) -> list[tuple[int, ...]]:
        """Parents of each tool node (indices among tools), TaskBench-shaped."""
        shape = _SHAPES.draw(rng)
        if shape == 0:
            return [()]
        if shape == 1:
            n = _CHAIN_NODES.draw(rng)
            return [()] + [(k - 1,) for k in range(1, n)]
        n = _DAG_NODES.draw(rng)
        # Sampled TaskBench DAGs are mostly trees: each node hangs off a random earlier one.
        return [()] + [(int(rng.integers(k)),) for k in range(1, n)]

    def sample(self, rng: np.random.Generator, job_id: int, arrival: float) -> JobSpec:
        planner_mean = self.planner_tokens / DECODE_TOKENS_PER_SECOND
        response_mean = self.response_tokens / DECODE_TOKENS_PER_SECOND
        scale = request_scale(rng, self.request_cv)
        tools = self.sample_tool_graph(rng)
        n_tools = len(tools)
        has_child = {p for ps in tools for p in ps}
        kinds = (LLM,) + (REGULAR,) * n_tools + (LLM,)
        durations = (
            scale * lognormal(rng, planner_mean, self.token_cv),
            *(lognormal(rng, self.tool_seconds, self.tool_cv) for _ in range(n_tools)),
            scale * lognormal(rng, response_mean, self.token_cv),
        )
        estimates = (planner_mean,) + (self.tool_seconds,) * n_tools + (response_mean,)
        parents = (
            (),
            *(tuple(p + 1 for p in ps) if ps else (0,) for ps in tools),
            tuple(k + 1 for k in range(n_tools) if k not in has_child),
        )
        revealed_by = (None,) + (0,) * (n_tools + 1)
        planner = llm_call(durations[0], self.planner_prompt_tokens, self.planner_tokens)
        response_prompt = (
            self.response_prompt_tokens + planner.output_tokens + self.tool_result_tokens * n_tools
        )
        response = llm_call(durations[-1], response_prompt, self.response_tokens)
        calls = (planner,) + (None,) * n_tools + (response,)
        return JobSpec(
            job_id, self.name, arrival, kinds, durations, estimates, parents, revealed_by, calls=calls
        )
