"""SB3 features extractors: an embedding per stage slot plus a global context.

They read any environment's observations through its feature tables: ``env_id`` and the
observation settings ``env`` (for ``CompoundLLMServing-v0``, its ``apps``) give the layout.

Both extractors output one flat tensor, ``S`` slot embeddings of ``slot_dim`` followed by a
context vector of ``context_dim``, which :class:`~llm_sched_env.agents.policy.SlotPolicy`
splits again: the actor scores every slot from its own embedding and the context, the
critic reads the context.

* :class:`SlotMLPExtractor` (``mlp``): a per-slot MLP on each stage's row and its job's
  row, and an MLP on the whole padded observation (slot tables flattened, executors
  averaged per pool) for the context.
* :class:`StageGraphExtractor` (``gnn``): per-slot encoding, then rounds of message passing
  over the revealed stage DAG (parent -> child and child -> parent along ``edges``) and
  within each job (mean of its shown stages); the context pools stages, executors (per
  pool), pool and system rows.
"""

from __future__ import annotations

import itertools

import torch as th
from gymnasium import spaces
from llm_sched_env.agents.features import NetworkInputs, ObservationBatch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from llm_sched_env.envs import ENVIRONMENTS, observation_layout


def network_inputs(env_id: str, env: dict | None) -> NetworkInputs:
    """The inputs a network reads from the observations of ``env_id`` configured by ``env``."""
    config = ENVIRONMENTS[env_id].config_class.from_mapping(env or {})
    return NetworkInputs(observation_layout(config))


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of ``sizes`` with ReLU between them and after the last."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    return nn.Sequential(*layers)


def masked_mean(x: th.Tensor, mask: th.Tensor) -> th.Tensor:
    """Mean of ``x`` (B, N, D) over rows where ``mask`` (B, N) is 1; zero when none is."""
    weights = mask.unsqueeze(-1)
    return (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def masked_max(x: th.Tensor, mask: th.Tensor) -> th.Tensor:
    """Max of ``x`` (B, N, D) over rows where ``mask`` is 1; zero when none is."""
    filled = x.masked_fill(mask.unsqueeze(-1) == 0, -1e9).amax(1)
    return th.where(mask.sum(1, keepdim=True) > 0, filled, th.zeros_like(filled))


class ExecutorSummary(nn.Module):
    """Encodes each executor and averages them per pool: a fixed-size summary for any ``R``, ``L``."""

    def __init__(self, hidden: int, inputs: NetworkInputs) -> None:
        super().__init__()
        self.encode = mlp([inputs.executor_dim, hidden])
        self.out_dim = 2 * hidden

    def forward(self, batch: ObservationBatch) -> th.Tensor:
        h = self.encode(batch.executors)
        llm = batch.executor_is_llm
        return th.cat([masked_mean(h, 1.0 - llm), masked_mean(h, llm)], dim=-1)


class SlotFeaturesExtractor(BaseFeaturesExtractor):
    """Base of the extractors: ``num_slots`` slot embeddings of ``slot_dim``, then ``context_dim``."""

    def __init__(
        self, observation_space: spaces.Dict, slot_dim: int, context_dim: int, inputs: NetworkInputs
    ) -> None:
        self.num_slots = int(observation_space["stage_mask"].n)
        super().__init__(observation_space, self.num_slots * slot_dim + context_dim)
        self.slot_dim = slot_dim
        self.context_dim = context_dim
        self.inputs = inputs
        # Pool and system rows: their width depends on the number of pools.
        self.context_input_dim = observation_space["pools"].shape[0] + observation_space["system"].shape[0]

    def forward(self, observations: dict[str, th.Tensor]) -> th.Tensor:
        slots, context = self.embed(ObservationBatch.of(observations, self.inputs))
        return th.cat([slots.flatten(1), context], dim=-1)

    def embed(self, batch: ObservationBatch) -> tuple[th.Tensor, th.Tensor]:
        """Slot embeddings (B, S, slot_dim) and the context (B, context_dim)."""
        raise NotImplementedError


class SlotMLPExtractor(SlotFeaturesExtractor):
    """Per-slot MLP on stage + job rows; an MLP on the whole padded observation for the context."""

    def __init__(
        self,
        observation_space: spaces.Dict,
        hidden: int = 64,
        env_id: str = "CompoundLLM-v0",
        env: dict | None = None,
    ) -> None:
        inputs = network_inputs(env_id, env)
        super().__init__(observation_space, slot_dim=hidden, context_dim=hidden, inputs=inputs)
        self.slot_net = mlp([inputs.slot_dim, hidden, hidden])
        self.executors = ExecutorSummary(hidden, inputs)
        flat = self.num_slots * inputs.slot_dim + self.executors.out_dim + self.context_input_dim
        self.context_net = mlp([flat, 2 * hidden, hidden])

    def embed(self, batch: ObservationBatch) -> tuple[th.Tensor, th.Tensor]:
        mask = batch.stage_mask.unsqueeze(-1)
        slots = self.slot_net(batch.slots) * mask
        flat = th.cat([(batch.slots * mask).flatten(1), self.executors(batch), batch.context], dim=-1)
        return slots, self.context_net(flat)


class MessagePassing(nn.Module):
    """One residual round: each stage reads its parents, its children and its job's mean."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.from_parents = nn.Linear(hidden, hidden)
        self.from_children = nn.Linear(hidden, hidden)
        self.update = mlp([4 * hidden, hidden])

    def forward(self, x: th.Tensor, batch: ObservationBatch) -> th.Tensor:
        b, s, h = x.shape
        offsets = (th.arange(b, device=x.device) * s).unsqueeze(-1)
        parents = (batch.edges[:, 0] + offsets).flatten()
        children = (batch.edges[:, 1] + offsets).flatten()
        weight = batch.edge_mask.reshape(-1, 1)
        flat = x.reshape(b * s, h)
        down = flat.new_zeros(b * s, h).index_add_(0, children, self.from_parents(flat)[parents] * weight)
        up = flat.new_zeros(b * s, h).index_add_(0, parents, self.from_children(flat)[children] * weight)
        jobs = (batch.stage_job + offsets).flatten()
        mask = batch.stage_mask.reshape(-1, 1)
        job_sum = flat.new_zeros(b * s, h).index_add_(0, jobs, flat * mask)
        job_count = flat.new_zeros(b * s, 1).index_add_(0, jobs, mask)
        job_mean = (job_sum / job_count.clamp_min(1.0))[jobs]
        out = flat + self.update(th.cat([flat, down, up, job_mean], dim=-1))
        return (out * mask).reshape(b, s, h)


class StageGraphExtractor(SlotFeaturesExtractor):
    """Message passing over the revealed stage DAG and within jobs, plus executor and pool summaries."""

    def __init__(
        self,
        observation_space: spaces.Dict,
        hidden: int = 64,
        rounds: int = 2,
        env_id: str = "CompoundLLM-v0",
        env: dict | None = None,
    ) -> None:
        inputs = network_inputs(env_id, env)
        super().__init__(observation_space, slot_dim=hidden, context_dim=hidden, inputs=inputs)
        self.encode = mlp([inputs.slot_dim, hidden, hidden])
        self.rounds = nn.ModuleList(MessagePassing(hidden) for _ in range(rounds))
        self.executors = ExecutorSummary(hidden, inputs)
        self.context_net = mlp([2 * hidden + self.executors.out_dim + self.context_input_dim, hidden])

    def embed(self, batch: ObservationBatch) -> tuple[th.Tensor, th.Tensor]:
        mask = batch.stage_mask
        x = self.encode(batch.slots) * mask.unsqueeze(-1)
        for layer in self.rounds:
            x = layer(x, batch)
        pooled = [masked_mean(x, mask), masked_max(x, mask), self.executors(batch), batch.context]
        return x, self.context_net(th.cat(pooled, dim=-1))


EXTRACTORS: dict[str, type[SlotFeaturesExtractor]] = {"mlp": SlotMLPExtractor, "gnn": StageGraphExtractor}
