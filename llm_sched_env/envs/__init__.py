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

__all__ = [
    "APP_CLASSES",
    "APP_NAMES",
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
    "observation_tables",
    "serving_layout",
]
