"""``CompoundLLM-v0``: schedule the stages of compound LLM jobs on regular and LLM executors."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from llm_sched_env.core import JobSpec, JobState, Results, Simulator
from llm_sched_env.envs.config import CompoundLLMConfig
from llm_sched_env.envs.observation import LAYOUT, ObservationEncoder
from llm_sched_env.envs.stage_table import STAGE_BITS, STAGE_MASK
from llm_sched_env.workloads import PoissonArrivals, Workload


class CompoundLLMEnv(gym.Env[dict[str, np.ndarray], np.int64]):
    """Serve compound LLM requests on ``R`` regular and ``L`` LLM executors.

    ## Description
    Jobs of three compound LLM applications (task automation, code generation, sorting)
    arrive by a Poisson process. Each job is a DAG of stages; an LLM stage runs on an LLM
    executor, any other stage on a regular one. Parts of a DAG appear only when an earlier
    stage finishes (a planner reveals its tool graph; a failed test reveals a repair round),
    and a stage's true duration is unknown until it finishes: only an estimate is known.
    Execution is non-preemptive. The simulator asks the agent only when the choice matters:
    some pool has free executors and more ready stages than free executors. Each step the
    agent starts one ready stage; everything that does not need a choice happens by itself
    until the next decision. The goal is a low average job completion time (JCT). Based on
    "Towards Efficient Compound LLM System Serving in the Wild" (its Table I setting is the
    default).

    ## Action Space
    ``Discrete(stage_slots)``: the slot of a shown stage to start now. Valid slots are those
    with ``obs["action_mask"] == 1`` (also :meth:`action_masks`, for sb3-contrib's
    ``MaskablePPO``): ready stages of a pool that needs a decision. There is always at least
    one at a decision. **Invalid action:** a slot that is not valid starts the FCFS choice
    (the first valid slot) instead, and ``info["invalid_action"]`` is True; the episode goes
    on as if that slot had been chosen. An action outside the space raises ``ValueError``.

    ## Observation Space
    A ``Dict`` of fixed-size 1-D arrays (flat, row-major tables; :func:`observation_tables`
    reshapes them). Every float is in [0, 1]: times ``t`` are shown as ``t / (t + scale)``.
    With ``S = stage_slots``, ``E = edge_slots``, ``X = num_regular + num_llm``:

    * ``stages`` (``S * 20`` float32): a row per shown stage (the feature table below): its
      own features, its times, and its job's revealed remaining estimated work, stage counts
      and LLM pace.
    * ``stage_mask`` (``S`` int8): 1 where the slot holds a stage.
    * ``stage_job`` (``S`` int32): the slot of the first shown stage of the stage's job (0
      for an empty slot), so stages with equal ``stage_job`` belong to one job (shown stages
      of a job are consecutive, as slots are in FCFS order).
    * ``job_mask`` (``S`` int8): 1 on the first shown stage of each job (one per job).
    * ``edges`` (``2 * E`` int32): parent slots, then child slots, of the DAG edges among
      shown stages (reshaped to ``(2, E)`` it is a PyG ``edge_index``).
    * ``edge_mask`` (``E`` int8): 1 where the column holds an edge.
    * ``executors`` (``X * 8`` float32): a row per executor, regular ones first.
    * ``pools`` (``2 * 4`` float32): regular then LLM.
    * ``system`` (``2`` float32).
    * ``action_mask`` (``S`` int8): 1 where the slot is a valid action.

    The rows' columns (position, name, how a value ``v`` is shown, meaning), from
    :data:`~llm_sched_env.envs.LAYOUT`, the one declaration of the features:

    <feature tables>

    Only what a real scheduler knows is shown: revealed stages, estimates, statuses,
    elapsed times and how long finished stages ran. True durations of unfinished stages
    and unrevealed stages never are.

    **Slot rule.** When more stages are revealed than ``S``, the shown ones are (1) each
    deciding pool's oldest ready stage of each application class, (2) the other ready stages
    of deciding pools, oldest first, (3) other unfinished revealed stages, oldest first.
    "Oldest" is FCFS order (job arrival, then position in the job), which is also the slot
    order, so the first valid slot is the FCFS choice. ``info["hidden_ready"]`` counts the
    ready stages of deciding pools left out and ``info["unshown_jobs"]`` the jobs in the
    system with no stage shown.

    ## Rewards
    Minus the integral of the number of jobs in the system over the time since the previous
    decision, divided by ``reward_scale``. So an episode's return is exactly
    ``-sum(JCT) / reward_scale``; ``info["jcts"]`` lists the JCTs of the jobs that finished
    during the step (jobs that finish before the first decision are reported with the first
    step, whose reward also covers the time before it).

    ## Starting State
    The simulation runs from time 0 until the first decision. ``reset(seed=s)`` draws the
    jobs as ``Workload(...).jobs(num_jobs, s)`` does, so every policy sees the same jobs for
    the same seed, as on the simulator's fast path; a reset without a seed draws a new
    workload seed from the environment's generator. With a ``trace``, every episode replays
    it.

    ## Episode End
    Terminated when every job has finished. Never truncated (wrap in ``TimeLimit`` to cut
    episodes). If no decision is ever needed, ``reset`` returns an all-zero action mask with
    ``info["decision"]`` False, and the first step, whatever the action, ends the episode.

    ## Arguments
    ``gym.make("CompoundLLM-v0", **overrides)`` or ``CompoundLLMEnv(config, render_mode,
    **overrides)``, where ``config`` is a :class:`CompoundLLMConfig` or a plain mapping of its
    fields (as Ray RLlib passes) and ``overrides`` are fields; unknown fields and invalid
    values raise ``ValueError`` naming the field. ``render_mode`` is ``"ansi"`` (text) or
    ``"rgb_array"`` (a Gantt chart of the executors; needs matplotlib).
    ``CompoundLLMSmall-v0`` is a 50-job, ``R = L = 2`` variant for fast training and tests.
    A ``trace`` (a list of ``JobSpec``, see :meth:`CompoundLLMConfig.from_trace`) is not
    JSON, so ``env.spec.to_json()`` works only for environments made without one.

    Besides the Gymnasium API: :meth:`action_masks`, :meth:`observe` (the current
    observation again), :attr:`results` (per-job outcomes so far), :attr:`now` and
    :attr:`layout` (the feature tables; ``observation_tables(obs, env.layout)`` reshapes).

    ## Version History
    * v0: initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}
    config_class: ClassVar[type] = CompoundLLMConfig
    encoder_class: ClassVar[type] = ObservationEncoder

    def __init__(
        self,
        config: CompoundLLMConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        config_class = self.config_class
        if isinstance(config, config_class):
            self.config = config
        elif config is None or isinstance(config, Mapping):
            self.config = config_class.from_mapping(config or {})
        else:
            raise ValueError(
                f"config: expected a {config_class.__name__} or a mapping, got {type(config).__name__}"
            )
        if overrides:
            self.config = config_class.from_mapping(overrides, base=self.config)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: expected one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        cfg = self.config
        self._encoder = self.encoder_class(cfg)
        self.layout = self._encoder.layout  # the feature tables of the observations
        self.observation_space = self._encoder.space
        self.action_space = spaces.Discrete(cfg.stage_slots)
        self._workload = Workload(mix=cfg.app_mix, arrivals=PoissonArrivals(cfg.arrival_rate))
        self._sim: Simulator | None = None
        self._deciding = False
        self._terminated = False
        self._area = 0.0
        self._jcts: list[float] = []

    # ------------------------------------------------------------------ Gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        if options:
            raise ValueError(f"options: unknown keys {sorted(options)}; this environment takes none")
        self._encoder.reset()
        sim = Simulator(
            self._draw_jobs(seed),
            **self._cluster_arguments(),
            queue_factory=self._encoder.new_queue,  # FCFS order, indexed for observations
            record_schedule=self.render_mode == "rgb_array",
            on_complete=self._on_complete,
            on_stage_complete=self._encoder.table.stage_completed,
        )
        self._encoder.bind(sim)
        self._sim = sim
        self._area = 0.0
        self._jcts = []
        self._terminated = False
        self._deciding = sim.advance()
        obs = self._encoder.encode(sim)
        return obs, self._info(invalid_action=False, jcts=[])

    def step(
        self, action: int | np.integer
    ) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        sim = self._sim
        if sim is None:
            raise RuntimeError("step() called before reset()")
        try:
            slot = operator.index(action)
        except TypeError:
            raise ValueError(f"action: expected an integer slot, got {action!r}") from None
        if not 0 <= slot < self.config.stage_slots:
            raise ValueError(f"action: {slot} is outside {self.action_space}")
        if self._terminated:
            raise RuntimeError("step() called after the episode terminated; call reset()")
        invalid = False
        if self._deciding:
            mask = self._encoder.action_mask
            if not mask[slot]:
                invalid = True
                slot = mask.index(1)
            key = self._encoder.slot_keys[slot]
            sim.dispatch(self._encoder.table.entries[key >> STAGE_BITS].job, key & STAGE_MASK)
            self._deciding = sim.advance()
        area = sim.area
        reward = (self._area - area) / self.config.reward_scale
        self._area = area
        jcts, self._jcts = self._jcts, []
        self._terminated = not self._deciding
        obs = self._encoder.encode(sim)
        return obs, reward, self._terminated, False, self._info(invalid, jcts)

    def observe(self) -> dict[str, np.ndarray]:
        """The current observation again, in fresh arrays (the state does not change)."""
        if self._sim is None:
            raise RuntimeError("observe() called before reset()")
        return self._encoder.encode(self._sim)

    def action_masks(self) -> np.ndarray:
        """Valid actions now, as booleans (the interface of sb3-contrib's ``MaskablePPO``)."""
        return np.frombuffer(self._encoder.action_mask, np.int8).astype(bool)

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'")
            return None
        if self._sim is None:
            raise RuntimeError("render() called before reset()")
        from llm_sched_env.envs import render

        if self.render_mode == "ansi":
            return render.text(self._sim, self._encoder, self.config.num_jobs)
        return render.gantt(self._sim, self._encoder.layout.apps)

    # ------------------------------------------------------------------ extras
    @property
    def results(self) -> Results:
        """Per-job outcomes of the current episode so far."""
        if self._sim is None:
            raise RuntimeError("results read before reset()")
        return self._sim.results

    @property
    def now(self) -> float:
        """Simulated time of the current decision (seconds)."""
        return self._sim.now if self._sim is not None else 0.0

    # ------------------------------------------------------------------ internals
    def _cluster_arguments(self) -> dict[str, Any]:
        """How the simulator's cluster is given: the paper's ``R`` and ``L``."""
        return {"num_regular": self.config.num_regular, "num_llm": self.config.num_llm}

    def _draw_jobs(self, seed: int | None) -> list[JobSpec] | tuple[JobSpec, ...]:
        cfg = self.config
        if cfg.trace is not None:
            return cfg.trace[: cfg.num_jobs]
        workload_seed = seed if seed is not None else int(self.np_random.integers(2**63))
        # A list, not the lazy generator, so that a running episode can be pickled and copied.
        return list(self._workload.jobs(cfg.num_jobs, workload_seed))

    def _on_complete(self, job: JobState, now: float) -> None:
        self._jcts.append(now - job.spec.arrival)
        self._encoder.release(job)

    def _info(self, invalid_action: bool, jcts: list[float]) -> dict[str, Any]:
        encoder = self._encoder
        return {
            "jcts": jcts,
            "invalid_action": invalid_action,
            "decision": self._deciding,
            "hidden_ready": encoder.hidden_ready,
            "unshown_jobs": encoder.unshown_jobs,
            "truncated_edges": encoder.truncated_edges,
            "time": self._sim.now,
        }


CompoundLLMEnv.__doc__ = (CompoundLLMEnv.__doc__ or "").replace(
    "    <feature tables>", LAYOUT.describe("    ")
)
