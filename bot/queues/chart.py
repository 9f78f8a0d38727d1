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


def render_chart(hours: list[Hour], words: ChartWords) -> bytes:
    """PNG of the day. Uses matplotlib's object API with the Agg canvas (no pyplot, no global state), so it is
    safe off the event loop in a worker thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig: Any = Figure(figsize=(9, 3.6), dpi=100)
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
    ax.set_xticks(range(0, 24, 2))
    ax.set_xlim(-0.6, 23.6)
    ax.set_title(words.title)
    ax2 = ax.twinx()
    sla = [h.service_level if h.service_level is not None else float("nan") for h in hours]
    ax2.plot(x, sla, color="#1264a3", marker="o", markersize=3, label=words.sla)
    ax2.set_ylim(0, 105)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize="small", frameon=False)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
