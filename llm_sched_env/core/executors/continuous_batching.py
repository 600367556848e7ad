"""Continuous batching with KV-cache memory, iteration by iteration (vLLM v0 semantics).

The rules (DESIGN.md section 7), per executor (a model replica):

1. An iteration starts when the executor has running sequences, or when it is idle and
   a stage of its pool is ready (including one preempted at that instant). Stages that
   become ready during an iteration wait for its end; all events of an instant are
   applied before any admission at that instant, so every executor whose iteration ends
   then admits in that first round (a stage made ready later at the same instant, by a
   stage that took no time, finds it in its next iteration).
2. KV growth first: every running sequence needs one more KV slot in this iteration.
   While they do not all fit, the most recently admitted sequence is preempted by
   recompute: its KV is freed and it goes back to ready with its generated tokens ``g``
   kept, to be prefilled again as ``p + g``.
3. Admission: while ``len(running) < max_num_seqs``, the new sequence's KV need
   ``p + g + 1`` fits in what is left, and this iteration's prefill tokens plus its
   decoders stay within ``max_num_batched_tokens``, a ready stage is admitted. The policy
   picks among the stages that fit (no head-of-line blocking). When several executors
   start an iteration at one instant, each admission goes to the one with the fewest
   running sequences (ties: lowest id) that can take a stage. When every ready stage
   fits, there is no choice: they join oldest first (FCFS), whatever the policy.
4. The iteration takes ``max(t_floor, t_token * n_tokens) + t_kv * n_kv`` seconds, where
   ``n_tokens`` is the decoders plus the prefill tokens and ``n_kv`` the context ``p + g``
   summed over the batch. At its end every sequence has one more token; those with
   ``g == output_tokens`` finish.

The runtime, :class:`~llm_sched_env.core.executors.batching_pool.BatchingPool`, is compiled
with mypyc when the install could build it (``setup.py``); its Python source is the same code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from llm_sched_env.core.executors.base import ScheduleEvent
from llm_sched_env.core.executors.batching_pool import BatchingPool
from llm_sched_env.core.job import JobSpec, JobSpecError

if TYPE_CHECKING:
    from llm_sched_env.core.queues import ReadyQueue

# Llama-2-7B fp16 on one A100-80GB (DESIGN.md section 7):
T_FLOOR = 10.8e-3  # Vidur a100 Llama-2-7b mlp.csv: 9.0-9.7 ms up to 64 tokens; batch 1 at ~1k context 11.1 ms
T_TOKEN = 0.063e-3  # Vidur a100 Llama-2-7b mlp.csv: +0.063 ms per token beyond 256 (67.9 ms at 1,024)
T_KV = 0.33e-6  # 512 KiB of KV per token (2 x 32 layers x 4,096 x 2 B) read at ~1.6 TB/s (A100-80GB)
KV_CAPACITY = 111_580  # (0.9 x 80 GB - 13.5 GB of weights) / 512 KiB; vLLM gpu_memory_utilization 0.9
MAX_NUM_SEQS = 256  # vLLM's default max_num_seqs
MAX_NUM_BATCHED_TOKENS = 8192  # vLLM's default max_num_batched_tokens (DESIGN.md section 7)
CONTEXT_LIMIT = 4096  # Llama-2's context window: prompt_tokens + max_tokens must fit in it


@dataclass(frozen=True)
class ContinuousBatching:
    """A vLLM-style engine: iteration-level batching bounded by sequences, KV memory and tokens."""

    t_floor: float = T_FLOOR
    t_token: float = T_TOKEN
    t_kv: float = T_KV
    kv_capacity: int = KV_CAPACITY
    max_num_seqs: int = MAX_NUM_SEQS
    max_num_batched_tokens: int = MAX_NUM_BATCHED_TOKENS
    context_limit: int = CONTEXT_LIMIT

    name = "continuous_batching"

    def __post_init__(self) -> None:
        for field_name in ("t_floor", "t_token", "t_kv"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e3:
                raise ValueError(
                    f"executor.{field_name}: must be a number of seconds in [0, 1000), got {value!r}"
                )
        if self.t_floor == 0 and self.t_token == 0:
            raise ValueError(
                "executor.t_floor: t_floor and t_token cannot both be 0 (iterations would take no time)"
            )
        for field_name in ("kv_capacity", "max_num_seqs", "max_num_batched_tokens", "context_limit"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**40:
                raise ValueError(f"executor.{field_name}: must be an integer in [1, 2**40], got {value!r}")
        if self.context_limit > self.max_num_batched_tokens:
            raise ValueError(
                f"executor.context_limit: {self.context_limit} exceeds max_num_batched_tokens "
                f"{self.max_num_batched_tokens}, so a full prompt could never be prefilled"
            )
        if self.context_limit > self.kv_capacity:
            raise ValueError(
                f"executor.context_limit: {self.context_limit} exceeds kv_capacity {self.kv_capacity}, "
                "so a full context could never be cached"
            )

    def build(self, name: str, count: int, queue: ReadyQueue, schedule: ScheduleEvent) -> BatchingPool:
        return BatchingPool(self, name, count, queue, schedule)

    def to_dict(self) -> dict[str, object]:
        return {"model": self.name, **asdict(self)}

    def check_stage(self, spec: JobSpec, stage: int, pool: str) -> None:
        """A stage needs its tokens, and prompt plus ``max_tokens`` must fit the context."""
        call = spec.calls[stage] if spec.calls is not None else None
        if call is None:
            raise JobSpecError(
                f"stages[{stage}].prompt_tokens",
                f"pool {pool!r} runs {self.name} and needs the stage in tokens",
            )
        if call.prompt_tokens + call.max_tokens > self.context_limit:
            raise JobSpecError(
                f"stages[{stage}].max_tokens",
                f"prompt_tokens {call.prompt_tokens} + max_tokens {call.max_tokens} exceeds "
                f"the context limit {self.context_limit} of pool {pool!r}",
            )

    def iteration_seconds(self, n_tokens: int, n_kv: int) -> float:
        """One iteration: ``max(t_floor, t_token * n_tokens) + t_kv * n_kv``."""
        return max(self.t_floor, self.t_token * n_tokens) + self.t_kv * n_kv
