"""Queue health alerts, `/ring queues`, `/ring watches` (pure: data in, Block Kit out)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from bot.queues.figures import Figures
from bot.queues.health import Breach, Level
from bot.slack.blocks import actions, button, context, escape, header, message, packed_sections, section
from bot.slack.format import channel_mention, clock_time, duration, mention
from bot.slack.ids import ACTION_QUEUE_ON_IT
from bot.slack.render.answers import agent_state
from bot.slack.text import say

Message = dict[str, Any]
NAME_LIMIT = 80


def pct(value: float | None) -> str:
    return say("stats.none") if value is None else f"{value:.0f}%"


def secs(value: float | None) -> str:
    return say("stats.none") if value is None else duration(value)


@dataclass(frozen=True)
class AlertView:
    """What a queue alert message shows, besides the breach itself."""

    queue: str  # the queue's name (or id)
    waiting: int
    longest: float
    ready: int | None
    spec: str  # the watch's thresholds, as typed
    abandon_pct: float | None = None
    owner: str | None = None  # Slack user who pressed "I'm on it"


def render_queue_alert(b: Breach, v: AlertView, breach_id: int, tz: tzinfo) -> Message:
    """One breach: warning / critical while open (with "I'm on it"), recovered once over."""
    queue = escape(v.queue, limit=NAME_LIMIT)
    ready = say("qalert.ready_unknown") if v.ready is None else str(v.ready)
    if not b.open:
        lasted = duration((b.recovered_at or b.started) - b.started, precise=False)
        text = say("qalert.recovered", queue=queue, lasted=lasted, peak=b.peak_waiting, peak_wait=secs(b.peak_wait))
        lines = [say("qalert.since", time=clock_time(b.started, tz))]
        if v.owner:
            lines.append(say("qalert.owner", user=mention(v.owner)))
        return message(text, [section(text), context(" · ".join(lines))])
    key = "qalert.critical" if b.level == Level.CRITICAL else "qalert.warning"
    text = say(key, queue=queue, waiting=v.waiting, longest=duration(v.longest), ready=ready)
    reasons = []
    for r in b.reasons:
        reasons.append(
            say("qalert.reason.abandon", pct=f"{v.abandon_pct or 0:.0f}")
            if r == "abandon"
            else say(f"qalert.reason.{r}")
        )
    facts = [
        say("qalert.level.critical" if b.level == Level.CRITICAL else "qalert.level.warning"),
        say("qalert.reasons", reasons=", ".join(reasons), spec=escape(v.spec, code=True)),
        say("qalert.since", time=clock_time(b.started, tz)),
    ]
    if b.reopened:
        facts.append(say("qalert.reopened", n=b.reopened))
    blocks = [section(text), context(" · ".join(facts))]
    if v.owner:
        blocks.append(context(say("qalert.owner", user=mention(v.owner))))
    else:
        blocks.append(actions([button(say("qalert.on_it"), ACTION_QUEUE_ON_IT, str(breach_id), style="primary")]))
    return message(text, blocks)


@dataclass(frozen=True)
class MemberView:
    name: str
    state: str | None  # ready / connected / paused / wrapup / logged_out; None: unknown


@dataclass(frozen=True)
class Totals:
    """AntBuddy's own figures for today (its dashboard), shown beside ringbot's."""

    offered: int
    handled: int
    abandoned: int
    avg_wait: float
    max_wait: float

    def line(self, key: str) -> str:
        return say(key, offered=self.offered, handled=self.handled, abandoned=self.abandoned,
                   avg=duration(self.avg_wait), max=duration(self.max_wait))  # fmt: skip


@dataclass(frozen=True)
class QueueView:
    queue_id: str
    name: str
    members: list[MemberView]
    waiting: list[tuple[str | None, float]]  # (caller, seconds waited), longest first
    today: Figures = field(default_factory=Figures)
    antbuddy: Totals | None = None  # the dashboard's figures for this queue, when it gives them per queue


def _queue_lines(q: QueueView, sla_seconds: int, *, detail: bool) -> list[str]:
    f = q.today
    longest = say("queues.longest", longest=duration(q.waiting[0][1])) if q.waiting else ""
    lines = [
        say(
            "queues.line",
            queue=escape(q.name, limit=NAME_LIMIT),
            waiting=len(q.waiting),
            longest=longest,
            offered=f.offered,
            answered=f.answered,
            abandoned=f.abandoned,
            missed=f.missed,
            rate=pct(f.answer_rate),
            sla=pct(f.service_level),
            sla_seconds=sla_seconds,
            avg=secs(f.avg_wait),
            max=secs(f.max_wait),
        )
    ]
    if q.antbuddy is not None:
        lines.append(q.antbuddy.line("queues.antbuddy"))
    if q.members:
        members = ", ".join(
            say(
                "queues.member",
                name=escape(m.name, limit=NAME_LIMIT),
                state=agent_state(m.state) if m.state else say("queues.state.unknown"),
            )
            for m in q.members
        )
        lines.append(say("queues.members", members=members))
    else:
        lines.append(say("queues.no_members"))
    if detail:
        lines += [
            say("queues.waiting_caller", caller=escape(caller or "?", limit=40), wait=duration(wait))
            for caller, wait in q.waiting[:20]
        ]
    return ["\n".join(lines)]


def render_queue_list(
    queues: list[QueueView],
    sla_seconds: int,
    *,
    detail: bool = False,
    error: str | None = None,
    antbuddy_all: Totals | None = None,
    note: str | None = None,
) -> Message:
    """`/ring queues` (every queue AntBuddy knows) or `/ring queues <name>` (one, with its waiting callers).
    `antbuddy_all`: AntBuddy's totals for all queues (a dashboard that does not split them by queue); `note`: from
    when ringbot's records start, when that is after midnight."""
    if not queues:
        text = error or say("queues.none")  # AntBuddy failing is not the same as AntBuddy having no queues
        return message(text, [section(text)])
    lines = [line for q in queues for line in _queue_lines(q, sla_seconds, detail=detail)]
    blocks = [header(say("queues.list_title"))]
    if antbuddy_all is not None:
        blocks.append(context(antbuddy_all.line("queues.antbuddy_all")))
    blocks += packed_sections(lines, max_blocks=43)
    if note:
        blocks.append(context(note))
    if error:
        blocks.append(context(say("queues.dashboard_down", error=error)))
    return message(say("queues.list_title"), blocks)


def render_watches(rows: Sequence[Mapping[str, Any]], channels: dict[str, str], breached: set[str]) -> Message:
    """`/ring watches`: each watched queue, its thresholds and channel."""
    if not rows:
        return message(say("watches.none"), [section(say("watches.none"))])
    lines = [
        say(
            "watches.line",
            queue=escape(r.get("queue_name") or r["queue_id"], limit=NAME_LIMIT),
            spec=escape(r["thresholds"], code=True),
            channel=channel_mention(channels.get(r["queue_id"])),
            state=say("watches.breached") if r["queue_id"] in breached else "",
        )
        for r in rows
    ]
    return message(say("watches.title"), [header(say("watches.title")), *packed_sections(lines, max_blocks=45)])
