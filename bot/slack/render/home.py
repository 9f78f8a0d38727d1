"""The App Home view: your phone, open missed calls, the queues right now (pure; ≤ 100 blocks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from bot.antbuddy.models import Dashboard
from bot.slack.blocks import Block, context, divider, escape, header, section, view
from bot.slack.render.alert import caller_text
from bot.slack.render.answers import (
    MAX_QUEUES_SHOWN,
    agent_counts_text,
    queue_figures,
    queue_label,
    render_missed,
)
from bot.slack.render.link import MAX_SIP_USER
from bot.slack.render.ownership import render_mine
from bot.slack.text import say

HOME_MISSED_BLOCKS = 40  # the missed-call list's share of the view's 100 blocks


def render_home(
    *,
    sip_user: str | None,
    alerts: Sequence[Mapping[str, Any]],
    open_total: int,
    calls: Mapping[str, Mapping[str, Any]],
    dashboard: Dashboard | None,
    queue_error: str | None,
    queue_names: Mapping[str, str],
    tz: tzinfo,
    now: datetime,
    workspace_url: str | None = None,
    owned: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `home` view for views.publish; `owned`: the person's own open alerts, shown first when given."""
    blocks: list[Block] = [header(say("home.title"))]
    blocks.append(
        section(
            say("home.device", sip_user=escape(sip_user, limit=MAX_SIP_USER, code=True))
            if sip_user
            else say("home.not_linked")
        )
    )
    blocks.append(divider())

    if owned is not None:  # -- ownership: "Owned by me" above "Open missed calls"
        blocks.append(header(say("home.owned_title")))
        if owned:
            mine = render_mine(
                owned, tz=tz, now=now.timestamp(), caller_text=caller_text, workspace_url=workspace_url, max_blocks=11
            )
            blocks += mine[1:]  # the header above says whose they are
        else:
            blocks.append(section(say("home.owned_none")))
        blocks.append(divider())
    blocks.append(header(say("home.missed_title")))
    missed = render_missed(
        alerts,
        tz=tz,
        now=now,
        calls=calls,
        queue_names=queue_names,
        total=open_total,
        max_blocks=HOME_MISSED_BLOCKS,
        workspace_url=workspace_url,
    )
    blocks += missed["blocks"]
    blocks.append(divider())

    blocks.append(header(say("home.queues_title")))
    if queue_error:
        blocks.append(section(say("queues.failed", reason=queue_error)))
    elif dashboard is not None:
        if not dashboard.queues:
            blocks.append(section(say("commands.queues_none")))
        for q in dashboard.queues[:MAX_QUEUES_SHOWN]:
            blocks.append(section(say("home.queue_line", name=escape(queue_label(q, queue_names)), **queue_figures(q))))
        if dashboard.agent_counts:
            blocks.append(context(say("queues.agents", counts=agent_counts_text(dashboard.agent_counts))))
    blocks.append(context(say("home.footer", time=now.astimezone(tz).strftime("%H:%M"))))
    return view("home", blocks)
