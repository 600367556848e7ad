"""The feature tables: one declaration gives the columns, their scales and the stage rows."""

from __future__ import annotations

import pytest
from conftest import make_job

from llm_sched_env.core import JobState
from llm_sched_env.envs import LAYOUT, Feature, FeatureTable, serving_layout
from llm_sched_env.envs.features import stage_features
from llm_sched_env.envs.reference import stage_row
from llm_sched_env.envs.stage_table import StageTable

SETTINGS = {"stage_time_scale": 10.0, "job_time_scale": 100.0, "token_scale": 1000.0, "stage_slots": 8}


def num_parents(spec) -> list[float]:
    return [float(len(parents)) for parents in spec.parents]


def test_a_new_static_stage_feature_is_one_line_plus_its_computation() -> None:
    base = stage_features(LAYOUT.apps)
    position = base.offset("position")
    extended = FeatureTable(
        [
            *base.features[: position + 1],
            Feature("num_parents", 2.0, doc="parents of the stage", group="static", value=num_parents),
            *base.features[position + 1 :],
        ]
    )
    table = StageTable(SETTINGS, extended)
    job = JobState(
        make_job(0, "sorting", 0.0, [("llm", 1.0, ()), ("reg", 1.0, (0,)), ("llm", 1.0, (0, 1))]), 0, 0.0
    )
    table.record(job, 0, 2)  # adds the job's rows
    table.update_new()
    column = extended.offset("num_parents")
    values = [table.stages.view[table.entries[0].base + s, column] for s in range(3)]
    assert values == pytest.approx([0.0, 1 / 3, 0.5])
    # The reference encoder reads the same table: every column agrees.
    layout = LAYOUT.__class__(extended, LAYOUT.executors, LAYOUT.pools, LAYOUT.system, LAYOUT.apps)
    row = table.stages.view[table.entries[0].base + 2]
    assert row[column] == pytest.approx(stage_row(layout, SETTINGS, job, 2, 0.0)[column])


def test_tables_derive_widths_binary_flags_and_docstrings() -> None:
    serving = serving_layout(("a", "b", "other"))
    assert serving.stages.width == LAYOUT.stages.width - 1 + 3  # one app class fewer, three token columns
    assert serving.stages.names[1:4] == ("app_a", "app_b", "app_other")
    assert [f.name for f in serving.stages.features if f.binary] == [
        "is_llm",
        "app_a",
        "app_b",
        "app_other",
        "blocked",
        "ready",
        "running",
    ]
    assert "prompt_tokens" in serving.describe() and "v/(v+token_scale)" in serving.describe()
    with pytest.raises(ValueError, match="consecutive"):
        FeatureTable([Feature("a", group="job"), Feature("b"), Feature("c", group="job")]).group("job")
    with pytest.raises(ValueError, match="static"):
        Feature("x", 1.0, group="static")
