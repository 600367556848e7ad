"""Hand-computed schedules: exact JCTs under FCFS and PS-TCS."""

from __future__ import annotations

import copy
import pickle

import pytest
from conftest import make_job
from llm_sched_env.baselines import FCFS, PSTCS, RS

from llm_sched_env.core import BLOCKED, DONE, HIDDEN, JobState, Simulator


def reveal_scenario() -> list:
    """L=1, R=1. Job 1's regular and final LLM stages appear only when its stage 0 ends."""
    return [
        make_job(0, "sorting", 0.0, [("llm", 2.0, ()), ("reg", 1.0, (0,))]),
        make_job(
            1,
            "code_generation",
            0.5,
            [("llm", 1.0, ()), ("reg", 3.0, (0,), 0), ("llm", 1.0, (1,), 0)],
        ),
        make_job(2, "task_automation", 1.0, [("llm", 1.0, ())]),
    ]


def test_fcfs_with_revealed_stages() -> None:
    # t=2: job 0's LLM stage ends; its regular stage starts (ends 3) and FCFS gives the LLM
    # to job 1 (earlier arrival). t=3: job 0 done (JCT 3); job 1's stage 0 ends and reveals
    # stage 1 (starts, ends 6) and stage 2 (waits for stage 1); job 2 starts (ends 4, JCT 3).
    # t=6: job 1's last stage starts, ends 7: JCT 6.5.
    results = Simulator(reveal_scenario(), 1, 1, FCFS()).run()
    assert results.jct_by_job() == {0: 3.0, 1: 6.5, 2: 3.0}


def test_ps_tcs_with_revealed_stages() -> None:
    # t=2: PS-TCS gives the LLM to task automation (job 2, ends 3, JCT 2) over code
    # generation. t=3: job 1 starts (ends 4); its reveals run 4..7 (regular) and 7..8 (LLM).
    results = Simulator(reveal_scenario(), 1, 1, PSTCS()).run()
    assert results.jct_by_job() == {0: 3.0, 1: 7.5, 2: 2.0}


def tie_scenario() -> list:
    """Two completions and an arrival at t=2; all must be applied before the LLM is given out."""
    return [
        make_job(0, "sorting", 0.0, [("llm", 2.0, ())]),  # ends at t=2, freeing the LLM first
        make_job(1, "code_generation", 0.5, [("reg", 1.5, ()), ("llm", 1.0, (0,))]),  # ready at t=2
        make_job(2, "sorting", 1.0, [("llm", 1.0, ())]),  # waiting since t=1
        make_job(3, "task_automation", 2.0, [("llm", 0.5, ())]),  # arrives at t=2
    ]


def test_fcfs_applies_all_events_of_an_instant_first() -> None:
    # At t=2 the LLM sees jobs 1, 2 and 3 ready; FCFS runs them in arrival order:
    # job 1 on 2..3, job 2 on 3..4, job 3 on 4..4.5. (Deciding after only the first
    # completion would have started job 2 at t=2.)
    results = Simulator(tie_scenario(), 1, 1, FCFS()).run()
    assert results.jct_by_job() == {0: 2.0, 1: 2.5, 2: 3.0, 3: 2.5}


def test_ps_tcs_applies_all_events_of_an_instant_first() -> None:
    # At t=2, PS-TCS runs task automation (job 3, 2..2.5), then code generation (job 1,
    # 2.5..3.5), then sorting (job 2, 3.5..4.5).
    results = Simulator(tie_scenario(), 1, 1, PSTCS()).run()
    assert results.jct_by_job() == {0: 2.0, 1: 3.0, 2: 3.5, 3: 0.5}


def test_parallel_stages_use_free_executors_without_a_decision() -> None:
    # A fan-out of three regular stages on three executors: no choice, all start at once.
    job = make_job(
        0, "x", 0.0, [("llm", 1.0, ()), ("reg", 2.0, (0,)), ("reg", 3.0, (0,)), ("reg", 1.0, (0,))]
    )
    sim = Simulator([job], 3, 1)
    assert sim.advance() is False
    assert sim.results.jct_by_job() == {0: 4.0}


def test_decision_mode_stops_only_when_the_choice_matters() -> None:
    sim = Simulator(tie_scenario(), 1, 1)
    assert sim.advance() is True
    assert sim.now == 2.0
    assert sim.decision_pools() == [1]
    ready = [(job.job_id, stage) for job, stage in sim.ready[1]]
    assert sorted(ready) == [(1, 1), (2, 0), (3, 0)]
    # Choose the reverse of FCFS: job 3 (2..2.5); at t=2.5 the next decision: job 2
    # (2.5..3.5); job 1's last stage then runs alone (3.5..4.5) without a decision.
    for job_id, stage in [(3, 0), (2, 0)]:
        job = sim.active[job_id]
        sim.dispatch(job, stage)
        assert sim.advance() is (job_id == 3)
    assert sim.results.jct_by_job() == {0: 2.0, 3: 0.5, 2: 2.5, 1: 4.0}


def test_dispatch_rejects_what_is_not_ready() -> None:
    sim = Simulator(tie_scenario(), 1, 1)
    sim.advance()
    with pytest.raises(ValueError, match="not ready"):
        sim.dispatch(sim.active[1], 0)  # already done
    with pytest.raises(RuntimeError, match="decision mode"):
        Simulator(tie_scenario(), 1, 1, FCFS()).dispatch(sim.active[1], 1)


def test_unsorted_jobs_are_rejected() -> None:
    jobs = tie_scenario()
    with pytest.raises(ValueError, match=r"sorted by \(arrival, job_id\)"):
        Simulator([jobs[1], jobs[0]], 1, 1, FCFS()).run()


@pytest.mark.parametrize("field, value", [("num_regular", 0), ("num_llm", 1.5), ("num_llm", True)])
def test_bad_executor_counts_are_rejected(field: str, value: object) -> None:
    counts = {"num_regular": 1, "num_llm": 1, field: value}
    with pytest.raises(ValueError, match=field):
        Simulator([], counts["num_regular"], counts["num_llm"], FCFS())


def test_random_scheduling_is_seeded() -> None:
    jobs = [make_job(i, "x", 0.0 + i * 1e-3, [("llm", 1.0 + i, ())]) for i in range(8)]
    a = Simulator(jobs, 1, 1, RS(7)).run().jct_by_job()
    b = Simulator(jobs, 1, 1, RS(7)).run().jct_by_job()
    c = Simulator(jobs, 1, 1, RS(8)).run().jct_by_job()
    assert a == b
    assert a != c


def test_stage_and_job_completion_callbacks() -> None:
    # Each stage completion is reported once, after its revealed stages appear, and a job's
    # last stage before the job itself; the callbacks do not change the schedule.
    events = []

    def on_stage(job, stage):
        events.append(("stage", job.job_id, stage, job.status[stage], bytes(job.status)))

    def on_job(job, now):
        events.append(("job", job.job_id, now))

    results = Simulator(reveal_scenario(), 1, 1, FCFS(), on_stage_complete=on_stage, on_complete=on_job).run()
    assert results.jct_by_job() == {0: 3.0, 1: 6.5, 2: 3.0}
    assert [e[:3] for e in events] == [
        ("stage", 0, 0),
        ("stage", 0, 1),
        ("job", 0, 3.0),
        ("stage", 1, 0),
        ("stage", 2, 0),
        ("job", 2, 4.0),
        ("stage", 1, 1),
        ("stage", 1, 2),
        ("job", 1, 7.0),
    ]
    assert all(e[3] == DONE for e in events if e[0] == "stage")
    # When job 1's stage 0 finishes, its revealed stages 1 (running or ready) and 2 (blocked) are visible.
    first_of_job1 = next(e for e in events if e[:3] == ("stage", 1, 0))
    assert first_of_job1[4][1] != HIDDEN and first_of_job1[4][2] == BLOCKED


def test_priority_queue_survives_pickle_and_deepcopy() -> None:
    queue = PSTCS().new_queue()
    jobs = [JobState(spec, rank, 0.0) for rank, spec in enumerate(reveal_scenario())]
    for job in jobs:
        queue.push(job, 0)
    for clone in (pickle.loads(pickle.dumps(queue)), copy.deepcopy(queue)):
        assert [(job.job_id, stage) for job, stage in clone] == [(j.job_id, 0) for j in jobs]
        assert [clone.pop()[0].job_id for _ in jobs] == [2, 1, 0]  # task automation first
