"""The Gymnasium environment: ``CompoundLLM-v0`` and its configuration."""

from llm_sched_env.envs.compound_llm import CompoundLLMEnv
from llm_sched_env.envs.config import APP_CLASSES, APP_NAMES, SMALL_VARIANT, CompoundLLMConfig
from llm_sched_env.envs.features import Feature, FeatureTable, Layout
from llm_sched_env.envs.observation import (
    EXECUTOR_FEATURES,
    LAYOUT,
    POOL_FEATURES,
    SYSTEM_FEATURES,
    observation_tables,
)
from llm_sched_env.envs.serving import CompoundLLMServingEnv
from llm_sched_env.envs.serving_config import SERVING_SMALL_VARIANT, ServingConfig, default_cluster
from llm_sched_env.envs.serving_observation import serving_layout
from llm_sched_env.envs.stage_table import STAGE_FEATURES

# The environments by id (their small variants use the same classes and configurations).
ENVIRONMENTS: dict[str, type[CompoundLLMEnv]] = {
    "CompoundLLM-v0": CompoundLLMEnv,
    "CompoundLLMServing-v0": CompoundLLMServingEnv,
}


def env_class(config: CompoundLLMConfig | ServingConfig) -> type[CompoundLLMEnv]:
    """The environment class of a configuration."""
    return CompoundLLMServingEnv if isinstance(config, ServingConfig) else CompoundLLMEnv


def observation_layout(config: CompoundLLMConfig | ServingConfig) -> Layout:
    """The feature tables of the observations of ``config``'s environment."""
    return serving_layout(config.app_classes) if isinstance(config, ServingConfig) else LAYOUT


__all__ = [
    "APP_CLASSES",
    "APP_NAMES",
    "ENVIRONMENTS",
    "EXECUTOR_FEATURES",
    "LAYOUT",
    "POOL_FEATURES",
    "SERVING_SMALL_VARIANT",
    "SMALL_VARIANT",
    "STAGE_FEATURES",
    "SYSTEM_FEATURES",
    "CompoundLLMConfig",
    "CompoundLLMEnv",
    "CompoundLLMServingEnv",
    "Feature",
    "FeatureTable",
    "Layout",
    "ServingConfig",
    "default_cluster",
    "env_class",
    "observation_layout",
    "observation_tables",
    "serving_layout",
]
