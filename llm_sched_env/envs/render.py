"""Pictures of the environment: a text summary and a Gantt chart of the executors."""

from __future__ import annotations

import numpy as np

from llm_sched_env.core import KIND_NAMES, STATUS_NAMES, Simulator
from llm_sched_env.envs.config import APP_CLASSES
from llm_sched_env.envs.observation import SlotEncoder
from llm_sched_env.envs.stage_table import STAGE_BITS, STAGE_MASK

_ROWS_SHOWN = 12  # shown stages listed by the text rendering
# By application class; the last (grey) is "other".
_APP_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def text(sim: Simulator, encoder: SlotEncoder, num_jobs: int) -> str:
    """The decision state: time, pools, and the first shown stages with their status."""
    lines = [f"t={sim.now:.2f}s  jobs in system {len(sim.active)}  finished {len(sim.results)}/{num_jobs}"]
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


def gantt(sim: Simulator, app_classes: tuple[str, ...] = APP_CLASSES) -> np.ndarray:
    """A Gantt chart of every executor up to now, coloured by application, as RGB pixels.

    A continuous-batching replica runs many stages at once: its bars overlap (translucent).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    counts = sim.num_executors
    offsets = [sum(counts[:i]) for i in range(len(counts))]
    known = {name: k for k, name in enumerate(app_classes[:-1])}
    colors_of = [_APP_COLORS[k % (len(_APP_COLORS) - 1)] for k in range(len(known))] + [_APP_COLORS[-1]]
    # App of every job that ran: finished ones, then those in the system.
    apps = dict(zip(sim.results.job_ids, sim.results.apps, strict=True))
    apps.update((job.spec.job_id, job.spec.app) for job in sim.active.values())
    bars: list[list[tuple[float, float]]] = [[] for _ in range(sum(sim.num_executors))]
    colors: list[list[str]] = [[] for _ in bars]

    def add(pool: int, executor: int, app: str, start: float, end: float) -> None:
        row = offsets[pool] + executor
        bars[row].append((start, end - start))
        colors[row].append(colors_of[known.get(app, len(known))])

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
            ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=cs, alpha=0.6)
    ax.set_yticks(range(len(bars)))
    labels = [f"{_label(spec.name)}{e}" for spec in sim.cluster.pools for e in range(spec.count)]
    ax.set_yticklabels(labels)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    ax.set_xlim(0, max(sim.now, 1e-9))
    ax.set_xlabel("time (s)")
    ax.set_title(f"executors at t={sim.now:.1f}s")
    ax.legend(
        handles=[Patch(color=c, label=name) for c, name in zip(colors_of, app_classes, strict=True)],
        loc="upper left",
        fontsize="small",
        ncols=min(len(app_classes), 4),
    )
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def _label(pool: str) -> str:
    """Row label prefix: ``R`` and ``L`` for the paper's pools, else the pool's name and a colon."""
    return {"regular": "R", "llm": "L"}.get(pool, f"{pool}:")
