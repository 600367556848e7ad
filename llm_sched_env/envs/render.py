"""Pictures of the environment: a text summary and a Gantt chart of the executors."""

from __future__ import annotations

import numpy as np

from llm_sched_env.core import KIND_NAMES, STATUS_NAMES, Simulator
from llm_sched_env.envs.config import APP_CLASSES, CompoundLLMConfig
from llm_sched_env.envs.observation import ObservationEncoder
from llm_sched_env.envs.stage_table import STAGE_BITS, STAGE_MASK, app_class

_ROWS_SHOWN = 12  # shown stages listed by the text rendering
_APP_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#8c8c8c")  # by APP_CLASSES


def text(sim: Simulator, encoder: ObservationEncoder, config: CompoundLLMConfig) -> str:
    """The decision state: time, pools, and the first shown stages with their status."""
    lines = [
        f"t={sim.now:.2f}s  jobs in system {len(sim.active)}  finished {len(sim.results)}/{config.num_jobs}"
    ]
    for pool in sim.pools:
        lines.append(f"  {pool.name:<8} busy {pool.busy_executors()}/{pool.count}  ready {len(pool.queue)}")
    mask = encoder.action_mask
    lines.append(f"  shown stages (valid actions marked *; {encoder.hidden_ready} ready stages not shown):")
    for slot, key in enumerate(encoder.slot_keys[:_ROWS_SHOWN]):
        job = encoder.table.entries[key >> STAGE_BITS].job
        stage = key & STAGE_MASK
        spec = job.spec
        lines.append(
            f"  {'*' if mask[slot] else ' '}{slot:>3} job {spec.job_id:<5} {spec.app:<16} stage {stage:<3}"
            f"{KIND_NAMES[spec.kinds[stage]]:<8} {STATUS_NAMES[job.status[stage]]:<8}"
            f"est {spec.estimates[stage]:7.2f}s"
        )
    if len(encoder.slot_keys) > _ROWS_SHOWN:
        lines.append(f"   ... {len(encoder.slot_keys) - _ROWS_SHOWN} more shown")
    return "\n".join(lines)


def gantt(sim: Simulator, config: CompoundLLMConfig) -> np.ndarray:
    """A Gantt chart of every executor up to now, coloured by application, as RGB pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    offsets = (0, config.num_regular)
    # App of every job that ran: finished ones, then those in the system.
    apps = dict(zip(sim.results.job_ids, sim.results.apps, strict=True))
    apps.update((job.spec.job_id, job.spec.app) for job in sim.active.values())
    bars: list[list[tuple[float, float]]] = [[] for _ in range(sum(sim.num_executors))]
    colors: list[list[str]] = [[] for _ in bars]

    def add(pool: int, executor: int, app: str, start: float, end: float) -> None:
        row = offsets[pool] + executor
        bars[row].append((start, end - start))
        colors[row].append(_APP_COLORS[app_class(app)])

    for record in sim.schedule or ():
        add(record.pool, record.executor, apps[record.job_id], record.start, record.end)
    for index, pool in enumerate(sim.pools):
        for executor, job, stage in pool.running():
            add(index, executor, apps[job.spec.job_id], job.since[stage], sim.now)

    fig = Figure(figsize=(8, 1.5 + 0.25 * len(bars)), dpi=80)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for row, (spans, cs) in enumerate(zip(bars, colors, strict=True)):
        if spans:
            ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=cs)
    ax.set_yticks(range(len(bars)))
    labels = [f"R{e}" for e in range(config.num_regular)] + [f"L{e}" for e in range(config.num_llm)]
    ax.set_yticklabels(labels)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    ax.set_xlim(0, max(sim.now, 1e-9))
    ax.set_xlabel("time (s)")
    ax.set_title(f"executors at t={sim.now:.1f}s")
    ax.legend(
        handles=[Patch(color=c, label=name) for c, name in zip(_APP_COLORS, APP_CLASSES, strict=True)],
        loc="upper left",
        fontsize="small",
        ncols=len(APP_CLASSES),
    )
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
