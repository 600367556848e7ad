"""llm-sched-env: scheduling compound LLM applications, as a simulator and a Gymnasium environment."""

from gymnasium.envs.registration import register, registry

from llm_sched_env.envs.config import SMALL_VARIANT

__version__ = "0.1.0"

_ENTRY_POINT = "llm_sched_env.envs.compound_llm:CompoundLLMEnv"
for _env_id, _kwargs in (("CompoundLLM-v0", {}), ("CompoundLLMSmall-v0", SMALL_VARIANT)):
    if _env_id not in registry:
        register(id=_env_id, entry_point=_ENTRY_POINT, kwargs=dict(_kwargs))
