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
from llm_sched_env.core.executors import COMPILED
from llm_sched_env.experiments.serving import serving_cluster
from llm_sched_env.workloads import Workload

if TYPE_CHECKING:
    from llm_sched_env.envs import CompoundLLMEnv


def median_seconds(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each ``fn()`` over ``repeats`` runs, after one warm-up run of each.

    The functions take turns (one run of each per round), so that a machine whose speed
    drifts during the measurement slows them alike and their ratios stay comparable.
    """
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(runs) for name, runs in times.items()}


def core_figures(repeats: int) -> dict[str, float]:
    """Fast-path figures on one pre-drawn 500-job workload, FCFS: at R=L=10 (the paper's
    single-stream executors) and on 10 regular executors with 2 continuous-batching replicas,
    and their ratio; and drawing the workload."""
    workload = Workload()
    jobs = list(workload.jobs(500, 0))
    batching = serving_cluster(10, 2)
    seconds = median_seconds(
        {
            "fast_path_episode_ms": lambda: Simulator(jobs, 10, 10, FCFS()).run(),
            "fast_path_batching_episode_ms": lambda: Simulator(jobs, policy=FCFS(), cluster=batching).run(),
            "workload_500_jobs_ms": lambda: list(workload.jobs(500, 0)),
        },
        repeats,
    )
    figures = {name: 1e3 * value for name, value in seconds.items()}
    figures["batching_vs_single_stream"] = (
        figures["fast_path_batching_episode_ms"] / figures["fast_path_episode_ms"]
    )
    figures["stages_per_episode"] = sum(j.num_stages for j in jobs)
    return figures


def masked_random_episode(
    env: CompoundLLMEnv, seed: int, on_step: Callable[[], object] | None = None
) -> tuple[int, float]:
    """Run one episode of uniformly random valid actions; returns its steps and their seconds.

    The seconds count the steps only, not the reset (which draws the workload). The uniform
    draws are made up front, so that the loop times the environment, not the policy.
    ``on_step`` is called before each step. An episode that needs no decision is one step
    (of slot 0: any action ends it).
    """
    draws = np.random.default_rng(seed).random(1 << 16).tolist()
    obs, _ = env.reset(seed=seed)
    steps, terminated = 0, False
    start = time.perf_counter()
    while not terminated:
        if on_step is not None:
            on_step()
        valid = obs["action_mask"].nonzero()[0]
        action = valid[int(draws[steps % len(draws)] * len(valid))] if len(valid) else 0
        obs, _, terminated, _, _ = env.step(action)
        steps += 1
    return steps, time.perf_counter() - start


def env_figures(repeats: int) -> dict[str, float]:
    """``CompoundLLM-v0`` (500 jobs, R=L=10), ``CompoundLLMServing-v0`` (500 jobs, 20 regular
    executors and a batching replica) and their small variants with masked random actions.

    A step is one decision, with its observation built. ``obs_encode_us`` is the mean time
    to build one ``CompoundLLM-v0`` observation over the decisions of an episode;
    ``batching_pool_compiled`` is 1 when the batching pool runs compiled by mypyc (setup.py).
    """
    from llm_sched_env.envs import (
        SERVING_SMALL_VARIANT,
        SMALL_VARIANT,
        CompoundLLMEnv,
        CompoundLLMServingEnv,
    )

    def steps_per_second(env: CompoundLLMEnv, seed: int) -> float:
        steps, seconds = masked_random_episode(env, seed)
        return steps / seconds

    envs = {
        "env_steps_per_s": CompoundLLMEnv(),
        "env_small_steps_per_s": CompoundLLMEnv(**SMALL_VARIANT),
        "serving_env_steps_per_s": CompoundLLMServingEnv(),
        "serving_env_small_steps_per_s": CompoundLLMServingEnv(**SERVING_SMALL_VARIANT),
    }
    for env in envs.values():
        steps_per_second(env, repeats)  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in envs}
    for seed in range(repeats):  # the environments take turns, as in median_seconds
        for name, env in envs.items():
            rates[name].append(steps_per_second(env, seed))
    figures = {name: statistics.median(values) for name, values in rates.items()}

    env = CompoundLLMEnv()
    encode_seconds = 0.0

    def time_observe() -> None:
        nonlocal encode_seconds
        start = time.perf_counter()
        env.observe()
        encode_seconds += time.perf_counter() - start

    steps, _ = masked_random_episode(env, 0, on_step=time_observe)
    figures["obs_encode_us"] = 1e6 * encode_seconds / steps
    figures["batching_pool_compiled"] = float(COMPILED["llm_sched_env.core.executors.batching_pool"])
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
        "CompoundLLM-v0, CompoundLLMServing-v0 and their small variants' steps with masked random actions, "
        "and building one "
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
