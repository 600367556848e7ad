"""A maskable actor-critic policy that scores stage slots with one shared network.

The actor is permutation-equivariant over slots: each slot's logit comes from the same
network applied to that slot's embedding and the global context, and invalid slots are
masked (sb3-contrib's ``MaskableCategorical``). The critic reads the context. What a slot
is worth therefore does not depend on where the slot rule put it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch as th
from gymnasium import spaces
from llm_sched_env.agents.extractors import SlotFeaturesExtractor, StageGraphExtractor, mlp
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule
from torch import nn


class SlotHeads(nn.Module):
    """Replaces SB3's ``MlpExtractor``: per-slot actor latents and a critic latent.

    ``latent_dim_pi`` is ``num_slots * hidden`` (slot latents, flattened); ``latent_dim_vf``
    is ``hidden``.
    """

    def __init__(self, extractor: SlotFeaturesExtractor, hidden: int) -> None:
        super().__init__()
        self.num_slots = extractor.num_slots
        self.slot_dim = extractor.slot_dim
        self.actor = mlp([extractor.slot_dim + extractor.context_dim, hidden, hidden])
        self.critic = mlp([extractor.context_dim, hidden, hidden])
        self.latent_dim_pi = self.num_slots * hidden
        self.latent_dim_vf = hidden

    def _split(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        cut = self.num_slots * self.slot_dim
        slots = features[:, :cut].reshape(-1, self.num_slots, self.slot_dim)
        return slots, features[:, cut:]

    def forward(self, features: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: th.Tensor) -> th.Tensor:
        slots, context = self._split(features)
        context = context.unsqueeze(1).expand(-1, self.num_slots, -1)
        return self.actor(th.cat([slots, context], dim=-1)).flatten(1)

    def forward_critic(self, features: th.Tensor) -> th.Tensor:
        return self.critic(self._split(features)[1])


class SlotScores(nn.Module):
    """The action head: one shared linear score per slot latent."""

    def __init__(self, num_slots: int, hidden: int) -> None:
        super().__init__()
        self.num_slots = num_slots
        self.score = nn.Linear(hidden, 1)

    def forward(self, latent_pi: th.Tensor) -> th.Tensor:
        return self.score(latent_pi.reshape(latent_pi.shape[0], self.num_slots, -1)).squeeze(-1)


class SlotPolicy(MaskableActorCriticPolicy):
    """``MaskableActorCriticPolicy`` with a slot-scoring actor over a :class:`SlotFeaturesExtractor`.

    ``head_hidden`` is the width of the actor and critic heads; ``net_arch`` is unused.
    """

    def __init__(
        self,
        observation_space: spaces.Dict,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        *args: Any,
        features_extractor_class: type[SlotFeaturesExtractor] = StageGraphExtractor,
        head_hidden: int = 64,
        **kwargs: Any,
    ) -> None:
        self.head_hidden = head_hidden
        super().__init__(
            observation_space,
            action_space,
            lr_schedule,
            *args,
            features_extractor_class=features_extractor_class,
            **kwargs,
        )

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = SlotHeads(self.features_extractor, self.head_hidden)

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        # Swap SB3's flat Linear action net for the shared slot scorer (small initial logits).
        self.action_net = SlotScores(self.mlp_extractor.num_slots, self.head_hidden)
        if self.ortho_init:
            self.action_net.apply(partial(self.init_weights, gain=0.01))
        self.optimizer = self.optimizer_class(
            self.parameters(),
            lr=lr_schedule(1),  # type: ignore[call-arg]
            **self.optimizer_kwargs,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "head_hidden": self.head_hidden}
