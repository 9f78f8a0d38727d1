"""The App Home view: your phone, open missed calls, the queues right now (pure; ≤ 100 blocks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from bot.slack.render.answers import clock, context, escape, header, render_missed, section
from bot.slack.text import say

MAX_VIEW_BLOCKS = 100


def render_home(
    *,
    sip_user: str | None,
    alerts: Sequence[Mapping[str, Any]],
    open_total: int,
    calls: Mapping[str, Mapping[str, Any]],
    dashboard: Any | None,
    queue_error: str | None,
    queue_names: Mapping[str, str],
    tz: tzinfo,
    now: datetime,
) -> dict[str, Any]:
    """A `home` view for views.publish."""
    blocks: list[dict[str, Any]] = [header(say("home.title"))]
    blocks.append(section(say("home.device", sip_user=escape(sip_user)) if sip_user else say("home.not_linked")))
    blocks.append({"type": "divider"})

    blocks.append(header(say("home.missed_title")))
    missed = render_missed(
        alerts, tz=tz, now=now, calls=calls, queue_names=queue_names, total=open_total, max_blocks=40
    )
    blocks += missed["blocks"]
    blocks.append({"type": "divider"})

    blocks.append(header(say("home.queues_title")))
    if queue_error:
        blocks.append(section(say("home.queues_failed", reason=queue_error)))
    elif dashboard is not None:
        if not dashboard.queues:
            blocks.append(section(say("commands.queues_none")))
        for q in dashboard.queues[:20]:
            label = (
                "All queues"
                if q.queue_id is None and not q.name
                else (q.name or queue_names.get(str(q.queue_id)) or f"queue {q.queue_id}")
            )
            blocks.append(
                section(
                    f"*{escape(label)}* — waiting now *{q.waiting_now}* · offered {q.offered} · handled {q.handled}"
                    f" · abandoned {q.abandoned}\nwait avg {clock(q.avg_waiting)} / max {clock(q.max_waiting)}"
                    f" · talk avg {clock(q.avg_talking)}"
                )
            )
        if dashboard.agent_counts:
            counts = " · ".join(f"{k.replace('_', ' ')} {v}" for k, v in dashboard.agent_counts.items())
            blocks.append(context("Agents: " + counts))
    blocks.append(context(say("home.footer", time=now.astimezone(tz).strftime("%H:%M"))))
    assert len(blocks) <= MAX_VIEW_BLOCKS, len(blocks)
    return {"type": "home", "blocks": blocks}
