"""The queue message kinds for tests/unit/slack/test_hostile_text.py: queue alerts, `/ring queues`, `/ring watches`,
`/ring stats` and the digest, each with the hostile value in every field we did not write."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Any

from bot.queues.figures import Figures, Hour
from bot.queues.health import Breach, Level
from bot.slack.blocks import escape
from bot.slack.render.digest import OpenAlert, Period, render_daily_digest, render_stats
from bot.slack.render.queues import (
    AlertView,
    MemberView,
    QueueView,
    render_queue_alert,
    render_queue_list,
    render_watches,
)
from bot.slack.text import say


def queue_cases(bad: str, tz: tzinfo, t0: float) -> dict[str, Callable[[], Any]]:
    open_b = Breach("q1", Level.CRITICAL, t0, 5, 95.0, ("waiting", "wait", "noready", "abandon"), reopened=2)
    over = Breach("q1", Level.WARNING, t0, 5, 95.0, ("waiting",), recovered_at=t0 + 400)
    view = AlertView(bad, 5, 95.0, 0, bad, abandon_pct=40.0)
    figures = Figures(4, 2, 1, 1, 1, [5, 30, 60, 25])
    hours = [Hour(h, h % 3, h % 2, 1 if h == 9 else 0, h % 3) for h in range(24)]
    # the title and period label are ours; the queue name in a title enters escaped (bot/queues/service.py)
    title = say("stats.title", period=say("stats.period.7d"), queue=say("stats.in_queue", queue=escape(bad)))
    period = Period(title, [(bad, figures)], figures, hours, 2, 95.0, [(bad, 3)])
    return {
        "queue_alert_open": lambda: render_queue_alert(open_b, view, 7, tz),
        "queue_alert_owned": lambda: render_queue_alert(open_b, AlertView(bad, 5, 95, None, bad, owner=bad), 7, tz),
        "queue_alert_recovered": lambda: render_queue_alert(over, AlertView(bad, 0, 0, 1, bad, owner=bad), 7, tz),
        "queue_list": lambda: render_queue_list(
            [QueueView("q1", bad, [MemberView(bad, bad), MemberView(bad, None)], [(bad, 30.0)], figures)],
            20,
            detail=True,
            error=say("antbuddy.rate_limited"),  # handlers/replies.py error_text: our own sentence
        ),
        "queue_list_empty": lambda: render_queue_list([], 20),
        "queue_list_antbuddy_down": lambda: render_queue_list([], 20, error=say("antbuddy.rate_limited")),
        "watches": lambda: render_watches(
            [{"queue_id": "q1", "queue_name": bad, "thresholds": bad}, {"queue_id": bad, "thresholds": bad}],
            {"q1": bad},
            {"q1"},
        ),
        "stats": lambda: render_stats(period, empty_label=say("stats.period.today")),
        "stats_empty": lambda: render_stats(Period(title, [], Figures(), hours), empty_label=say("stats.period.7d")),
        "digest_bars": lambda: render_daily_digest(
            period, [OpenAlert(bad, t0, bad), OpenAlert(bad, t0, None)], tz, bars=True, late_since=t0
        ),
    }
