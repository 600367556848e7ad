"""llm-sched-env: scheduling compound LLM applications, as a simulator and a Gymnasium environment."""

from gymnasium.envs.registration import register, registry

from llm_sched_env.envs.config import SMALL_VARIANT
from llm_sched_env.envs.serving_config import SERVING_SMALL_VARIANT

__version__ = "0.1.0"

_COMPOUND = "llm_sched_env.envs.compound_llm:CompoundLLMEnv"
_SERVING = "llm_sched_env.envs.serving:CompoundLLMServingEnv"
for _env_id, _entry_point, _kwargs in (
    ("CompoundLLM-v0", _COMPOUND, {}),
    ("CompoundLLMSmall-v0", _COMPOUND, SMALL_VARIANT),
    ("CompoundLLMServing-v0", _SERVING, {}),
    ("CompoundLLMServingSmall-v0", _SERVING, SERVING_SMALL_VARIANT),
):
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry_point, kwargs=dict(_kwargs))
