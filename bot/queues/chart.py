"""The digest's chart: calls per hour (answered / missed / abandoned, stacked) with the service level as a line,
as PNG bytes. matplotlib is an optional extra (`pip install 'ringbot[charts]'`); without it the digest draws
text bars instead (bot/slack/render/digest.py). Blocking work: call it through `asyncio.to_thread`."""

from __future__ import annotations

import importlib.util
import io
from dataclasses import dataclass
from typing import Any

from bot.queues.figures import Hour


def charts_available() -> bool:
    """matplotlib is installed (the `charts` extra)."""
    return importlib.util.find_spec("matplotlib") is not None


@dataclass(frozen=True)
class ChartWords:
    title: str
    answered: str
    missed: str
    abandoned: str
    sla: str
    hour_axis: str = "hour of the day"
    calls_axis: str = "calls"


def sla_points(hours: list[Hour]) -> list[float]:
    """The service level per hour, NaN where an hour had no calls: matplotlib breaks the line there, so no line is
    drawn through hours without calls (a 0 would read as a failure, a line across as calls nobody took)."""
    return [h.service_level if h.service_level is not None else float("nan") for h in hours]


def render_chart(hours: list[Hour], words: ChartWords) -> bytes:
    """PNG of the day. Uses matplotlib's object API with the Agg canvas (no pyplot, no global state), so it is
    safe off the event loop in a worker thread. The legend sits below the axes, never over the bars."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig: Any = Figure(figsize=(9, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = [h.hour for h in hours]
    answered = [h.answered for h in hours]
    missed = [h.missed for h in hours]
    abandoned = [h.abandoned for h in hours]
    ax.bar(x, answered, color="#2eb67d", label=words.answered)
    ax.bar(x, missed, bottom=answered, color="#e01e5a", label=words.missed)
    ax.bar(
        x,
        abandoned,
        bottom=[a + m for a, m in zip(answered, missed, strict=True)],
        color="#ecb22e",
        label=words.abandoned,
    )
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlim(-0.6, 23.6)
    top = max((h.offered for h in hours), default=0)
    ax.set_ylim(0, max(1, top) * 1.12)  # the busiest hour's bar stays inside the frame
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(words.hour_axis)
    ax.set_ylabel(words.calls_axis)
    ax.set_title(words.title)
    ax2 = ax.twinx()
    ax2.plot(x, sla_points(hours), color="#1264a3", marker="o", markersize=3, label=words.sla)
    ax2.set_ylim(0, 105)
    ax2.set_ylabel(words.sla)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))  # room under the axes for the legend
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
