"""``llm-sched speed``: benchmark figures (medians of repeated runs)."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from llm_sched_env.baselines import FCFS
from llm_sched_env.cli.options import add_command, int_in
from llm_sched_env.core import Simulator
from llm_sched_env.experiments.serving import serving_cluster
from llm_sched_env.workloads import Workload

if TYPE_CHECKING:
    from llm_sched_env.envs import CompoundLLMEnv


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def core_figures(repeats: int) -> dict[str, float]:
    """Fast-path figures on one pre-drawn 500-job workload, FCFS: at R=L=10 (the paper's
    single-stream executors) and on 10 regular executors with 2 continuous-batching replicas;
    and drawing the workload."""
    workload = Workload()
    jobs = list(workload.jobs(500, 0))
    batching = serving_cluster(10, 2)
    return {
        "fast_path_episode_ms": 1e3 * median_seconds(lambda: Simulator(jobs, 10, 10, FCFS()).run(), repeats),
        "fast_path_batching_episode_ms": 1e3
        * median_seconds(lambda: Simulator(jobs, policy=FCFS(), cluster=batching).run(), repeats),
        "workload_500_jobs_ms": 1e3 * median_seconds(lambda: list(workload.jobs(500, 0)), repeats),
        "stages_per_episode": sum(j.num_stages for j in jobs),
    }


def masked_random_episode(
    env: CompoundLLMEnv, seed: int, on_step: Callable[[], object] | None = None
) -> tuple[int, float]:
    """Run one episode of uniformly random valid actions; returns its steps and their seconds.

    The seconds count the steps only, not the reset (which draws the workload). The uniform
    draws are made up front, so that the loop times the environment, not the policy.
    ``on_step`` is called before each step.
    """
    draws = np.random.default_rng(seed).random(1 << 16).tolist()
    obs, _ = env.reset(seed=seed)
    steps, terminated = 0, False
    start = time.perf_counter()
    while not terminated:
        if on_step is not None:
            on_step()
        valid = obs["action_mask"].nonzero()[0]
        obs, _, terminated, _, _ = env.step(valid[int(draws[steps % len(draws)] * len(valid))])
        steps += 1
    return steps, time.perf_counter() - start


def env_figures(repeats: int) -> dict[str, float]:
    """``CompoundLLM-v0`` (500 jobs, R=L=10) and its small variant with masked random actions.

    A step is one decision, with its observation built. ``obs_encode_us`` is the mean time
    to build one observation over the decisions of an episode.
    """
    from llm_sched_env.envs import SMALL_VARIANT, CompoundLLMEnv

    def steps_per_second(env: CompoundLLMEnv, seed: int) -> float:
        steps, seconds = masked_random_episode(env, seed)
        return steps / seconds

    figures = {}
    for name, env in (
        ("env_steps_per_s", CompoundLLMEnv()),
        ("env_small_steps_per_s", CompoundLLMEnv(**SMALL_VARIANT)),
    ):
        steps_per_second(env, repeats)  # warm-up
        figures[name] = statistics.median(steps_per_second(env, seed) for seed in range(repeats))

    env = CompoundLLMEnv()
    encode_seconds = 0.0

    def time_observe() -> None:
        nonlocal encode_seconds
        start = time.perf_counter()
        env.observe()
        encode_seconds += time.perf_counter() - start

    steps, _ = masked_random_episode(env, 0, on_step=time_observe)
    figures["obs_encode_us"] = 1e6 * encode_seconds / steps
    return figures


# Benchmarks in print order; each returns a dict of named figures.
BENCHMARKS: list[Callable[[int], dict[str, float]]] = [core_figures, env_figures]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(
        subparsers,
        "speed",
        help="print speed figures (medians of repeated runs)",
        description="Time the fast path (one 500-job FCFS episode at R=L=10, the same on 10 regular "
        "executors and 2 continuous-batching LLM replicas, and drawing the jobs), "
        "CompoundLLM-v0 and CompoundLLMSmall-v0 steps with masked random actions, and building one "
        "observation; print the median of --repeats runs of each, after a warm-up run.",
    )
    p.add_argument("--repeats", type=int_in(1), default=15, help="timed runs per figure")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    figures: dict[str, float] = {}
    for bench in BENCHMARKS:
        figures.update(bench(args.repeats))
    if args.json:
        print(json.dumps(figures))
    else:
        width = max(map(len, figures))
        for name, value in figures.items():
            print(f"{name:<{width}} {value:12.3f}")
    return 0
