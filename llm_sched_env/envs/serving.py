"""``CompoundLLMServing-v0``: admit compound-LLM stages into continuous-batching LLM replicas."""

from __future__ import annotations

from typing import Any, ClassVar

from llm_sched_env.envs.compound_llm import CompoundLLMEnv
from llm_sched_env.envs.serving_config import ServingConfig
from llm_sched_env.envs.serving_observation import ServingObservationEncoder, serving_layout


class CompoundLLMServingEnv(CompoundLLMEnv):
    """Serve compound LLM requests on named pools with vLLM-style continuous-batching replicas.

    ## Description
    The jobs of ``CompoundLLM-v0`` (or a trace) on a cluster of named pools
    (:class:`~llm_sched_env.core.Cluster`; by default 20 regular executors and one Llama-2-7B
    replica on an A100-80GB, at 0.65 jobs/s, where FCFS and PS-TCS differ by 22 % in mean JCT).
    A continuous-batching replica runs many sequences per iteration, bounded by its sequence
    slots, KV cache and token budget (DESIGN.md section 7). **Decisions:** the agent is asked when an executor
    starts an iteration with room and more ready stages of its pool than fit; each step
    admits one stage; the replicas of a pool decide one at a time (fewest running sequences,
    then lowest id). Single-stream pools decide as in ``CompoundLLM-v0``.

    ## Action Space
    ``Discrete(stage_slots)``. Valid slots (``obs["action_mask"]``, :meth:`action_masks`)
    hold exactly the stages that fit the deciding executor now (for a single-stream pool,
    every ready stage). **Invalid action:** as in ``CompoundLLM-v0``, the first valid slot
    (the FCFS choice) is taken instead and ``info["invalid_action"]`` is True.

    ## Observation Space
    The arrays of ``CompoundLLM-v0`` (``stages``, ``stage_mask``, ``stage_job``,
    ``job_mask``, ``edges``, ``edge_mask``, ``executors``, ``pools``, ``system``,
    ``action_mask``) with these rows (:func:`~llm_sched_env.envs.serving_observation.serving_layout`;
    the app columns are ``apps`` plus ``other``):

    <feature tables>

    A row per executor of every pool and a row per pool, in the cluster's order. The slot
    rule is ``CompoundLLM-v0``'s with a pool's choices (the ready stages that fit now) in
    place of its ready stages; ready stages that do not fit are shown as not valid. True
    output tokens, true durations of unfinished stages and unrevealed stages never leak.

    ## Rewards, Starting State, Episode End
    As ``CompoundLLM-v0``: an episode's return times ``reward_scale`` is minus the sum of JCTs.

    ## Arguments
    ``gym.make("CompoundLLMServing-v0", **overrides)`` with :class:`ServingConfig` fields
    (``cluster`` as a ``Cluster`` or its JSON form). ``CompoundLLMServingSmall-v0``: 50 jobs,
    5 regular executors and a small replica, for fast training and tests.

    ## Version History
    * v0: initial version.
    """

    config_class: ClassVar[type] = ServingConfig
    encoder_class: ClassVar[type] = ServingObservationEncoder

    def _cluster_arguments(self) -> dict[str, Any]:
        return {"cluster": self.config.cluster}


CompoundLLMServingEnv.__doc__ = (CompoundLLMServingEnv.__doc__ or "").replace(
    "    <feature tables>", serving_layout(ServingConfig().app_classes).describe("    ")
)
