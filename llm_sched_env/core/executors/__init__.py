"""Executor models: how a pool's executors run stages. One module per model.

A model is a frozen dataclass of its constants with ``name``, ``to_dict()``,
``check_stage(spec, stage, pool)`` (raises ``JobSpecError`` naming ``stages[stage].<field>``
for a stage it cannot run) and ``build(name, count, queue, schedule)``, which returns the
pool's runtime, an :class:`~llm_sched_env.core.executors.base.ExecutorPool`. Add a model by
writing its module and listing it in :data:`EXECUTOR_MODELS`. A runtime may be compiled with mypyc
(:mod:`llm_sched_env.core.executors.compiled`).
"""

# First, so that each compiled module's build is chosen before anything imports it.
from llm_sched_env.core.executors.compiled import COMPILED

# isort: split
from llm_sched_env.core.executors.base import ExecutorPool
from llm_sched_env.core.executors.batching_pool import BatchingPool
from llm_sched_env.core.executors.continuous_batching import ContinuousBatching
from llm_sched_env.core.executors.single_stream import SingleStream, SingleStreamPool

EXECUTOR_MODELS = {model.name: model for model in (SingleStream, ContinuousBatching)}
ExecutorModel = SingleStream | ContinuousBatching

__all__ = [
    "COMPILED",
    "EXECUTOR_MODELS",
    "BatchingPool",
    "ContinuousBatching",
    "ExecutorModel",
    "ExecutorPool",
    "SingleStream",
    "SingleStreamPool",
]
