"""The daily digest and `/ring stats` (pure): a period's figures per queue, busiest hours, callbacks, repeat
callers, open queue alerts, and text bars when no chart image can be uploaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from bot.queues.figures import Figures, Hour, busiest
from bot.slack.blocks import context, escape, header, message, packed_sections, section
from bot.slack.format import clock_time, day_and_time, mention
from bot.slack.render.queues import NAME_LIMIT, pct, secs
from bot.slack.text import say

Message = dict[str, Any]
BARS = "▁▂▃▄▅▆▇█"


def text_bars(hours: list[Hour]) -> str:
    """One character per hour, 00–23, scaled to the busiest hour: ▁ for none … █ for the busiest."""
    top = max((h.offered for h in hours), default=0)
    if top == 0:
        return BARS[0] * len(hours)
    return "".join(BARS[min(len(BARS) - 1, round(h.offered * (len(BARS) - 1) / top))] for h in hours)


@dataclass(frozen=True)
class Period:
    """What `/ring stats` and the digest show."""

    title: str
    queues: list[tuple[str, Figures]]  # (queue name, figures), busiest first
    overall: Figures
    hours: list[Hour]
    callbacks: int = 0
    callback_median: float | None = None
    repeat: list[tuple[str, int]] = field(default_factory=list)


def _queue_line(name: str, f: Figures) -> str:
    return say(
        "stats.queue",
        queue=escape(name, limit=NAME_LIMIT),
        offered=f.offered,
        answered=f.answered,
        abandoned=f.abandoned,
        missed=f.missed,
        rate=pct(f.answer_rate),
        sla=pct(f.service_level),
        avg=secs(f.avg_wait),
        max=secs(f.max_wait),
    )


def _period_lines(p: Period) -> list[str]:
    o = p.overall
    lines = [
        say(
            "stats.total",
            offered=o.offered,
            answered=o.answered,
            abandoned=o.abandoned,
            missed=o.missed,
            rate=pct(o.answer_rate),
            sla=pct(o.service_level),
        )
    ]
    lines += [_queue_line(name, f) for name, f in p.queues]
    top = busiest(p.hours)
    if top:
        hours = ", ".join(say("stats.hour", hour=f"{h.hour:02d}", calls=h.offered) for h in top)
        lines.append(say("stats.busiest", hours=hours))
    lines.append(say("stats.callbacks", count=p.callbacks, median=secs(p.callback_median)))
    if p.repeat:
        callers = ", ".join(say("stats.repeat_one", number=escape(n, limit=40), count=c) for n, c in p.repeat)
        lines.append(say("stats.repeat", callers=callers))
    return lines


def render_stats(p: Period, *, empty_label: str, note: str | None = None) -> Message:
    """`/ring stats`. `note`: from when ringbot's records start, when they do not cover the period."""
    tail = [context(note)] if note else []
    if p.overall.offered == 0:
        text = say("stats.nothing", period=empty_label)
        return message(text, [section(text), *tail])
    return message(p.title, [header(p.title), *packed_sections(_period_lines(p), max_blocks=40), *tail])


@dataclass(frozen=True)
class OpenAlert:
    """An open queue alert as the digest lists it."""

    queue: str
    since: float
    owner: str | None


def render_daily_digest(
    p: Period, open_alerts: list[OpenAlert], tz: tzinfo, *, bars: bool, late_since: float | None = None
) -> Message:
    """The day's digest message. `bars`: draw the hours as text (no chart image will follow). `late_since`: when it
    fell due, for a digest sent long after (Slack was down, or ringbot): the reader is told, so today's figures
    are not mistaken for yesterday's."""
    lines = _period_lines(p)
    if late_since is not None:
        lines.insert(0, say("digest.late", due=day_and_time(late_since, tz)))
    if bars:
        lines.append(say("digest.bars") + "\n`" + text_bars(p.hours) + "`\n`00    06    12    18   23`")
    if open_alerts:
        listed = "; ".join(
            say(
                "digest.open_alert",
                queue=escape(a.queue, limit=NAME_LIMIT),
                time=clock_time(a.since, tz),
                owner=mention(a.owner) if a.owner else say("digest.no_owner"),
            )
            for a in open_alerts
        )
        lines.append(say("digest.open_alerts", alerts=listed))
    else:
        lines.append(say("digest.no_open"))
    return message(p.title, [header(p.title), *packed_sections(lines, max_blocks=40)])
