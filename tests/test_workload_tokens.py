"""The applications' LLM calls in tokens: they follow from the durations the paper's model runs."""

from __future__ import annotations

import itertools
import math

import numpy as np

from llm_sched_env.core import LLM
from llm_sched_env.workloads import CodeGeneration, TaskAutomation, Workload
from llm_sched_env.workloads.application import CONTEXT_TOKENS, DECODE_TOKENS_PER_SECOND, MAX_PROMPT_TOKENS


def test_every_llm_stage_carries_tokens_consistent_with_its_duration() -> None:
    truncated = 0
    for job in Workload().jobs(300, seed=3):
        assert job.calls is not None
        for kind, duration, estimate, call in zip(
            job.kinds, job.durations, job.estimates, job.calls, strict=True
        ):
            if kind != LLM:
                assert call is None
                continue
            assert 1 <= call.prompt_tokens <= MAX_PROMPT_TOKENS
            assert call.prompt_tokens + call.max_tokens == CONTEXT_TOKENS
            real = math.ceil(duration * DECODE_TOKENS_PER_SECOND)
            assert call.output_tokens == min(real, call.max_tokens)
            truncated += call.output_tokens < real
            assert call.estimate_tokens == estimate * DECODE_TOKENS_PER_SECOND
    assert truncated < 10  # a generation stops at max_tokens rarely


def test_code_generation_prompts_grow_by_the_previous_code_and_its_test_output() -> None:
    app = CodeGeneration()
    rng = np.random.default_rng(0)
    jobs = [app.sample(rng, k, 0.0) for k in range(200)]
    job = max(jobs, key=lambda j: j.num_stages)
    writes = [c for c in job.calls if c is not None]
    assert len(writes) >= 3
    assert writes[0].prompt_tokens == app.first_prompt_tokens
    for before, after in itertools.pairwise(writes):
        grown = before.prompt_tokens + before.output_tokens + app.feedback_tokens
        assert after.prompt_tokens == min(grown, MAX_PROMPT_TOKENS)


def test_task_automation_response_prompt_holds_the_plan_and_every_tool_result() -> None:
    app = TaskAutomation()
    job = app.sample(np.random.default_rng(1), 0, 0.0)
    planner, response = job.calls[0], job.calls[-1]
    tools = job.num_stages - 2
    expected = app.response_prompt_tokens + planner.output_tokens + app.tool_result_tokens * tools
    assert response.prompt_tokens == min(math.ceil(expected), MAX_PROMPT_TOKENS)
    assert planner.prompt_tokens == app.planner_prompt_tokens
