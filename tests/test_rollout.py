"""Decision-time search over PacedSRPT: sees only what a scheduler sees, deterministic, PacedSRPT at k=1."""

from __future__ import annotations

import numpy as np
import pytest
from llm_sched_env.agents.seeds import TRAIN_SEED_START
from llm_sched_env.baselines import PacedSRPT
from llm_sched_env.baselines.rollout import DurationModel, RolloutConfig, RolloutPaced
from test_baselines import first_finish, perturbed, starts

from llm_sched_env.core import Simulator
from llm_sched_env.workloads import Workload

SMALL = RolloutConfig(k=2, samples=2, horizon=30.0, margin=0.5, max_jobs=4)
MODEL = DurationModel.fit(Workload().jobs(200, TRAIN_SEED_START))  # a small model keeps the tests fast


def scheduled(policy: RolloutPaced, jobs: list, regular: int = 3, llm: int = 3) -> Simulator:
    sim = Simulator(jobs, regular, llm, record_schedule=True)
    policy.schedule(sim)
    return sim


def test_no_decision_changes_before_a_perturbed_stage_finishes() -> None:
    jobs = list(Workload().jobs(60, seed=3))
    rng = np.random.default_rng(0)
    compared = searched = 0
    for target in (5, 17, 30):
        changed = [perturbed(spec, rng) if spec.job_id == target else spec for spec in jobs]
        runs = []
        for trace in (jobs, changed):
            policy = RolloutPaced(np.random.SeedSequence(7), SMALL, MODEL)
            runs.append(scheduled(policy, trace))
            searched += policy.changed
        horizon = min(first_finish(sim, target) for sim in runs)
        before = [[s for s in starts(sim) if s[0] < horizon] for sim in runs]
        assert before[0] == before[1], f"decisions differ before job {target}'s first stage finished"
        compared += sum(1 for s in before[0] if s[0] > jobs[target].arrival)
    assert compared >= 10  # the perturbed jobs were in the system while decisions were made
    assert searched > 0  # and rollouts overruled PacedSRPT in these runs


def test_one_candidate_is_paced_srpt_and_runs_repeat_exactly() -> None:
    jobs = list(Workload().jobs(80, seed=1))
    fast = Simulator(jobs, 4, 4, PacedSRPT()).run()
    one = RolloutPaced(np.random.SeedSequence(0), RolloutConfig(k=1), MODEL).run_episode(jobs, 4, 4)
    assert sorted(zip(one.job_ids, one.finishes, strict=True)) == sorted(
        zip(fast.job_ids, fast.finishes, strict=True)
    )
    first, second = (RolloutPaced(np.random.SeedSequence(5), SMALL, MODEL) for _ in range(2))
    a, b = first.run_episode(jobs, 4, 4), second.run_episode(jobs, 4, 4)
    assert first.changed > 0
    assert list(a.job_ids) == list(b.job_ids) and list(a.finishes) == list(b.finishes)


@pytest.mark.parametrize("field", ["k", "samples", "max_jobs", "horizon", "margin"])
def test_bad_configuration_names_the_field(field: str) -> None:
    with pytest.raises(ValueError, match=f"RolloutConfig.{field}"):
        RolloutConfig(**{field: 0})
