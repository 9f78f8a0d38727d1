"""What `/ring` and its buttons show: read through bot/alerts/lists.py and the directory, then rendered by
bot/slack/render/. Shared by the listeners in commands.py, actions.py and home.py."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from bot.calls.numbers import format_number
from bot.slack.blocks import escape
from bot.slack.format import mention
from bot.slack.render.answers import HISTORY_PAGE, MISSED_OUTCOMES, more_value, render_history, render_missed
from bot.slack.render.link import MAX_SIP_USER
from bot.slack.text import say
from handlers.args import HistoryQuery, Period, UsageError, usage
from handlers.deps import Deps, Message

log = logging.getLogger(__name__)

T = TypeVar("T")
HistoryPage = dict[str, Any]
"""A frozen history query (history_query): short keys, because it rides in the More button's value."""
_DAYS_LABEL = re.compile(r"\d{1,3}d")


def now(deps: Deps) -> datetime:
    return datetime.fromtimestamp(deps.clock(), deps.settings.tz)


async def maybe(coro: Awaitable[T], default: T) -> T:
    """`coro`'s result, or `default` if it failed (for optional extras such as names)."""
    try:
        return await coro
    except Exception as exc:  # noqa: BLE001 - an extra we can do without
        log.debug("optional lookup failed error=%s", type(exc).__name__)
        return default


def _period_words(label: str) -> str | None:
    """'today', 'last 24 h', 'last 7 days'; None for a label no Period has (a forged More button)."""
    if label == "today":
        return say("commands.period.today")
    if label == "24h":
        return say("commands.period.24h")
    if _DAYS_LABEL.fullmatch(label):
        return say("commands.period.days", days=label[:-1])
    return None


def history_title(query: Mapping[str, Any]) -> str:
    """The title of a history answer, rebuilt from the query's fields on every page: the query comes back
    in a More button's value, so nothing in it is shown unescaped (and no ready-made mrkdwn is taken from it)."""
    period = _period_words(str(query.get("p") or ""))
    if period is None:  # a button from before titles were rebuilt, or not one of ours
        return say("commands.history_default_title")
    who = ""
    if query.get("k"):
        who = say("commands.history_with", number=escape(format_number(str(query["k"])), limit=40))
    elif query.get("w"):
        sip_user = escape(query.get("a") or "?", limit=MAX_SIP_USER, code=True)
        who = say("commands.history_of", user=mention(str(query["w"])), sip_user=sip_user)
    missed = say("commands.history_missed_only") if query.get("m") else ""
    return say("commands.history_title", who=who, period=period, missed=missed)


def history_query(deps: Deps, q: HistoryQuery, *, at: datetime) -> HistoryPage:
    """The parsed arguments turned into a store query, frozen in time so "More" pages stay consistent.
    Keys are short: the whole query rides in the More button's value (≤ 2,000 characters)."""
    sip_user = None
    if q.slack_user:
        link = deps.links.get(q.slack_user)
        if link is None:
            raise UsageError(usage("history"), say("commands.history_not_linked", user=mention(q.slack_user)))
        sip_user = link.sip_user
    return {
        "k": q.customer_key,
        "a": sip_user,
        "w": q.slack_user,
        "p": q.period.label,
        "s": q.period.since(at, deps.settings.tz).timestamp(),
        "u": at.timestamp(),
        "m": q.missed_only,
    }


def caller_history_query(deps: Deps, customer_key: str) -> HistoryPage:
    """An alert's History button: that caller's calls in the last 7 days."""
    q = HistoryQuery(
        number=None, customer_key=customer_key, slack_user=None, period=Period("7d", 7 * 24), missed_only=False
    )
    return history_query(deps, q, at=now(deps))


def history_message(deps: Deps, query: Mapping[str, Any], *, offset: int) -> Message:
    """One page of history (newest first) for a query from history_query() (or a More button)."""
    page = deps.lists.history(
        customer_key=query.get("k") or None,
        answered_by=query.get("a") or None,
        since=float(query["s"]),
        until=float(query["u"]) + 1,
        outcomes=MISSED_OUTCOMES if query.get("m") else None,
        missed=MISSED_OUTCOMES,
        page=HISTORY_PAGE,
        offset=offset,
    )
    return render_history(
        page.rows,
        title=history_title(query),
        tz=deps.settings.tz,
        now=now(deps),
        callbacks=page.callbacks,
        more=more_value(query, offset + HISTORY_PAGE) if page.has_more else None,
        offset=offset,
        agent_name=deps.directory.agent_name,
    )


def missed_message(deps: Deps, *, limit: int, max_blocks: int = 50) -> Message:
    """Open alerts oldest first, with their calls (for queue/DID) and links to the alert messages."""
    open_alerts = deps.lists.open_alerts(limit=limit)
    return render_missed(
        open_alerts.alerts,
        tz=deps.settings.tz,
        now=now(deps),
        calls=open_alerts.calls,
        queue_names=deps.directory.queue_names(),
        total=open_alerts.total,
        max_blocks=max_blocks,
        workspace_url=deps.workspace.get("url"),
    )
