"""`/ring queues [name]`, `/ring stats [period] [queue]`, `/ring watch <queue> ...`, `/ring watches`, and the queue
alert's "I'm on it" button. Rows in handlers/commands.py SUBCOMMANDS point here. Each listener parses, calls the
queue service (bot/queues/service.py), and answers in words."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.antbuddy.models import Queue, QueueSummary
from bot.queues import figures as fig
from bot.queues.health import WatchSyntax, parse_thresholds
from bot.queues.service import AlreadyOnIt, NotAdmin, Saved, UnknownBreach
from bot.slack.blocks import escape
from bot.slack.format import channel_mention, mention
from bot.slack.i18n import speaking
from bot.slack.ids import ACTION_QUEUE_ON_IT
from bot.slack.render.queues import MemberView, QueueView, Totals, render_queue_list, render_watches
from bot.slack.text import say
from bot.values import row_id
from handlers.actions import click_channel, clicker, no_longer_valid, well_formed
from handlers.answers import maybe, now
from handlers.args import UsageError, fold, no_args, usage
from handlers.deps import CommandContext, Deps, Message
from handlers.replies import answer, ephemeral, error_text, saved

log = logging.getLogger(__name__)


def match_queue(queues: list[Queue], words: list[str]) -> tuple[Queue | None, list[str]]:
    """The queue named by the longest leading run of `words` (name, case-insensitive, or id), and the rest."""
    for n in range(len(words), 0, -1):
        typed = " ".join(words[:n]).casefold()
        for q in queues:
            if typed in ((q.name or "").casefold(), (q.queue_id or "").casefold()):
                return q, words[n:]
    return None, words


async def cmd_queues(deps: Deps, ctx: CommandContext) -> Message:
    """Every queue AntBuddy lists (even with no calls today), members with their live state, callers waiting now,
    today's figures from our own records; `/ring queues <name>` for one, with its waiting callers."""
    today = now(deps)
    # Today's calls ringbot's records lack are read from history while AntBuddy answers the rest.
    listed, dash, agents, note = await asyncio.gather(
        deps.directory.queues(),
        deps.directory.dashboard(),
        maybe(deps.directory.agents(), []),
        deps.queues.records_note(fig.period_bounds("today", today)[0]),
        return_exceptions=True,
    )
    if isinstance(note, BaseException):
        raise note
    per = await deps.queues.today(today)
    error = None
    states: dict[str, str] = {}
    totals: dict[str | None, Totals] = {}
    if isinstance(dash, BaseException):
        error = error_text(dash, timeout=deps.directory.timeout)
        if error is None:
            raise dash
    else:
        states = {a.agent_id: a.status or "" for a in dash.agents if a.agent_id}
        totals = {q.queue_id: antbuddy_totals(q) for q in dash.queues}
    if isinstance(listed, BaseException):
        error = error_text(listed, timeout=deps.directory.timeout)
        if error is None:
            raise listed
        # AntBuddy cannot list its queues now: our own records still say how today went in the ones we saw.
        names = deps.directory.queue_names()
        queues = [Queue(q, names.get(q, q), ()) for q in per if q]
    else:
        queues = listed
    names = (
        {a.agent_id: a.name or a.username or a.agent_id for a in agents if a.agent_id}
        if isinstance(agents, list)
        else {}
    )
    detail = bool(ctx.args)
    if detail:
        chosen, rest = match_queue(queues, list(ctx.args))
        if chosen is None or rest:
            return {"text": say("queues.unknown", queue=escape(" ".join(ctx.args), limit=80))}
        queues = [chosen]
    views = []
    for q in queues:
        qid = q.queue_id or ""
        members = [MemberView(names.get(a, a), states.get(a, "logged_out") if states else None) for a in q.agent_ids]
        waiting = deps.queues.waiting_now(qid)
        views.append(QueueView(qid, q.name or qid, members, waiting, per.get(qid, fig.Figures()), totals.get(qid)))
    # A dashboard that does not split its figures by queue gives one total, shown above the queues.
    everything = totals.get(None) if not detail else None
    return render_queue_list(
        views, deps.settings.sla_seconds, detail=detail, error=error, antbuddy_all=everything, note=note
    )


def antbuddy_totals(q: QueueSummary) -> Totals:
    """AntBuddy's own figures for today, as the dashboard gives them."""
    return Totals(q.offered, q.handled, q.abandoned, q.avg_waiting, q.max_waiting)


_PERIODS_VI = {("hom", "nay"): "today", ("hom", "qua"): "yesterday", ("7", "ngay"): "7d", ("30", "ngay"): "30d"}


async def cmd_stats(deps: Deps, ctx: CommandContext) -> Message:
    args = list(ctx.args)
    period = "today"
    if args and args[0].lower() in fig.PERIODS:
        period = args.pop(0).lower()
    elif len(args) >= 2 and (fold(args[0]), fold(args[1])) in _PERIODS_VI:  # hôm nay, hôm qua, 7 ngày, 30 ngày
        period = _PERIODS_VI[(fold(args[0]), fold(args[1]))]
        del args[:2]
    queue_id = None
    if args:
        queues = await deps.directory.queues()
        chosen, rest = match_queue(queues, args)
        if chosen is None or rest:
            raise UsageError(usage("stats"), say("queues.unknown", queue=escape(" ".join(args), limit=80)))
        queue_id = chosen.queue_id
    return await deps.queues.stats(period, now=now(deps), names=deps.directory.queue_names(), queue_id=queue_id)


async def cmd_watch(deps: Deps, ctx: CommandContext) -> Message:
    args = list(ctx.args)
    if len(args) < 2:
        raise UsageError(usage("watch"))
    queues = await deps.directory.queues()
    chosen, rest = match_queue(queues, args)
    if chosen is None or not chosen.queue_id:
        return {"text": say("queues.unknown", queue=escape(" ".join(args[:-1]) or args[0], limit=80))}
    try:
        thresholds = parse_thresholds(rest)
    except WatchSyntax as exc:
        raise UsageError(usage("watch"), say("usage.watch")) from exc
    is_admin = await deps.admins.is_admin(ctx.user_id)
    name = escape(chosen.name or chosen.queue_id, limit=80)
    try:
        if thresholds is None:
            result, watched = deps.queues.drop_watch(chosen.queue_id, by=ctx.user_id, is_admin=is_admin)
            return {"text": with_saved(say("watch.off" if watched else "watch.was_off", queue=name), result)}
        result = deps.queues.set_watch(chosen.queue_id, chosen.name, thresholds, by=ctx.user_id, is_admin=is_admin)
    except NotAdmin:
        return {"text": say("watch.admin_only")}
    channel = deps.queues.channel_for(chosen.queue_id, chosen.name)
    spec = escape(thresholds.spec(), code=True)
    return {"text": with_saved(say("watch.set", queue=name, spec=spec, channel=channel_mention(channel)), result)}


def with_saved(text: str, result: Saved) -> str:
    """The answer, and when the change waits for the database, that it does. (NotSaved is answered by `answer`.)"""
    return saved(result, text, text + "\n" + say("database.saved_later"))


async def cmd_watches(deps: Deps, ctx: CommandContext) -> Message:
    no_args("watches", ctx.args)
    listed = deps.queues.watches()
    return render_watches(listed.rows, listed.channels, listed.breached)


# -- the "I'm on it" button ----------------------------------------------------------------------------------
def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_QUEUE_ON_IT)
    async def on_it(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        with speaking(await deps.languages.of(clicker(body))):  # the clicker's language
            if not well_formed(body):  # checked like the alert buttons: a forged user never owns a breach
                await no_longer_valid(respond, ACTION_QUEUE_ON_IT, "malformed")
                return
            await answer(ephemeral(respond), lambda: claim(deps, body), timeout=deps.directory.timeout)


async def claim(deps: Deps, body: dict[str, Any]) -> Message | None:
    """I'm on it (value: the breach id), from a click `well_formed` passed; only in the queue alert's channel."""
    user_id = clicker(body)
    breach_id = row_id(str(body["actions"][0].get("value") or "").strip())
    if not user_id or breach_id is None:
        return {"text": say("button.invalid")}
    shown_in = deps.queues.where_shown(breach_id)
    if shown_in is not None and click_channel(body) != shown_in:
        log.info("button refused action=%s reason=wrong_channel", ACTION_QUEUE_ON_IT)
        return {"text": say("button.invalid")}
    try:
        result = deps.queues.claim(breach_id, user_id)
    except UnknownBreach:
        return {"text": say("button.invalid")}
    except AlreadyOnIt as taken:
        return {"text": say("qalert.taken", user=mention(taken.owner))}
    # NotSaved goes to `answer`, which says so in words. Saved now: the message itself shows who is on it.
    return None if result is Saved.NOW else {"text": say("database.saved_later")}
