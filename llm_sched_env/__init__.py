"""llm-sched-env: scheduling compound LLM applications, as a simulator and a Gymnasium environment."""

__version__ = "0.1.0"
