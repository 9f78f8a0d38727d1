"""`/ring`: ack at once, then answer through response_url (ephemeral unless `share`); one sub-command each.

Sub-commands here: help, agents, queues, history, missed, routes, route. `link`, `unlink`, `me` and `call`
are handlers/callback.py's (its SUBCOMMANDS), dispatched from here."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.antbuddy.errors import (
    AntBuddyError,
    ApiError,
    AuthError,
    NotConfigured,
    RateLimited,
    Unavailable,
)
from bot.calls.numbers import clean, format_number, number_key
from bot.slack.render.answers import (
    HISTORY_PAGE,
    MISSED_OUTCOMES,
    more_value,
    render_agents,
    render_help,
    render_history,
    render_missed,
    render_queues,
    render_routes,
)
from bot.slack.text import say
from handlers import callback
from handlers.admin import is_admin
from handlers.args import (
    USAGE,
    HistoryQuery,
    UsageError,
    is_number_part,
    no_args,
    parse_command,
    parse_history,
    parse_route,
)
from handlers.deps import CommandContext, Deps, SubcommandHandler

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

DELEGATED = ("link", "unlink", "me", "call")  # handlers/callback.py's SUBCOMMANDS
Message = dict[str, Any]


# ------------------------------------------------------------------------------------------------ plumbing
def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/ring")
    async def ring(ack, command, respond, client):  # noqa: ANN001 - Bolt injects these by name
        await ack()  # first, always: nothing slow may come before it (Slack gives up after 3 s)
        parsed = parse_command(command.get("text") or "")
        ctx = CommandContext(
            user_id=command.get("user_id", ""),
            channel_id=command.get("channel_id", ""),
            team_id=command.get("team_id", ""),
            subcommand=parsed.sub,
            args=list(parsed.args),
            text=command.get("text") or "",
            trigger_id=command.get("trigger_id", ""),
            respond=respond,
            client=client,
        )
        await dispatch(deps, ctx, share=parsed.share)


async def dispatch(deps: Deps, ctx: CommandContext, *, share: bool = False) -> None:
    """Run one sub-command; whatever happens, the person gets one answer (never silence, never a traceback)."""
    started = time.perf_counter()
    sub = ctx.subcommand
    handler = COMMANDS.get(sub)
    if handler is None and sub in DELEGATED:
        handler = _delegated(sub)
        share = False  # link/unlink/me/call are personal
    if handler is None:
        await send(ctx.respond, {"text": say("commands.unknown", sub=sub[:40])}, ephemeral=True)
        return
    ctx = replace(ctx, respond=_responder(ctx.respond, share))
    result = await answer(ctx.respond, lambda: handler(deps, ctx), timeout=deps.directory.timeout)
    log.info("command sub=%s user=%s result=%s ms=%d", sub, ctx.user_id, result, (time.perf_counter() - started) * 1000)


def _delegated(sub: str) -> SubcommandHandler:
    """handlers.callback's handler for `sub` (link, unlink, me, call: personal device matters live there)."""
    return callback.SUBCOMMANDS[sub]


def _responder(respond: Callable[..., Awaitable[Any]], share: bool) -> Callable[..., Awaitable[Any]]:
    """Bolt's respond with our default: ephemeral, or in the channel when the person said `share`."""

    async def wrapped(*args: Any, **kw: Any) -> Any:
        kw.setdefault("response_type", "in_channel" if share else "ephemeral")
        kw.setdefault("replace_original", False)
        return await respond(*args, **kw)

    return wrapped


SENDING_AT_ONCE = 8
_send_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _send_gate() -> asyncio.Semaphore:
    """One gate per event loop: when hundreds of answers fall due at once (AntBuddy answering a crowd that
    waited on one request), sending them a few at a time keeps the loop free to ack new commands."""
    loop = asyncio.get_running_loop()
    gate = _send_gates.get(loop)
    if gate is None:
        gate = _send_gates[loop] = asyncio.Semaphore(SENDING_AT_ONCE)
    return gate


async def send(respond: Callable[..., Awaitable[Any]], message: Message, *, ephemeral: bool = False) -> None:
    """One answer through response_url; a failure to deliver is logged (there is nobody else to tell)."""
    kw = dict(message)
    if ephemeral:  # otherwise the responder's default decides (ephemeral, or in_channel for `share`)
        kw["response_type"] = "ephemeral"
    kw.setdefault("replace_original", False)
    try:
        async with _send_gate():
            await respond(**kw)
    except Exception as exc:  # noqa: BLE001 - response_url down or expired: log, do not crash the listener
        log.warning("respond failed error=%s", type(exc).__name__)


def error_text(exc: BaseException, *, timeout: float) -> str | None:
    """One sentence for the person for an expected failure; None for a bug (logged by the caller)."""
    if isinstance(exc, UsageError):
        return exc.message()
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return say("antbuddy.slow", seconds=f"{timeout:g}")
    if isinstance(exc, RateLimited):
        return say("antbuddy.rate_limited")
    if isinstance(exc, AntBuddyError):
        return say("antbuddy.down", reason=antbuddy_reason(exc))
    return None


def antbuddy_reason(exc: AntBuddyError) -> str:
    """A few words on why AntBuddy failed (never its body, never a secret)."""
    if isinstance(exc, Unavailable):
        return "no connection"
    if isinstance(exc, AuthError):
        return "it refused our credentials"
    if isinstance(exc, NotConfigured):
        return "ANTBUDDY_DOMAIN and ANTBUDDY_EMAIL must be set"
    if isinstance(exc, ApiError) and exc.status:
        return f"it answered HTTP {exc.status}"
    return "it gave an answer we could not read"


async def answer(
    respond: Callable[..., Awaitable[Any]], work: Callable[[], Awaitable[Message | None]], *, timeout: float
) -> str:
    """Run `work`; send its message (if it returns one) or the sentence for its failure. Returns a word
    for the log line: ok | usage | antbuddy | error."""
    try:
        message = await work()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear line for the person
        text = error_text(exc, timeout=timeout)
        if text is None:
            log.exception("answer failed error=%s", type(exc).__name__)
            text = say("error.internal")
        await send(respond, {"text": text}, ephemeral=True)
        return "usage" if isinstance(exc, UsageError) else ("error" if text == say("error.internal") else "antbuddy")
    if message is not None:
        await send(respond, message)
    return "ok"


def _now(deps: Deps) -> datetime:
    return datetime.fromtimestamp(deps.clock(), deps.settings.tz)


def local_midnight(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def _maybe(coro: Awaitable[Any], default: Any) -> Any:
    """`coro`'s result, or `default` if it failed (for optional extras such as names)."""
    try:
        return await coro
    except Exception as exc:  # noqa: BLE001 - an extra we can do without
        log.debug("optional lookup failed error=%s", type(exc).__name__)
        return default


# ------------------------------------------------------------------------------------------------ sub-commands
async def cmd_help(deps: Deps, ctx: CommandContext) -> Message:
    return render_help()


async def cmd_agents(deps: Deps, ctx: CommandContext) -> Message:
    no_args("agents", ctx.args)
    dashboard, agents = await asyncio.gather(deps.directory.dashboard(), _maybe(deps.directory.agents(), []))
    return render_agents(dashboard, now=_now(deps), directory_agents=agents)


async def cmd_queues(deps: Deps, ctx: CommandContext) -> Message:
    no_args("queues", ctx.args)
    now = _now(deps)
    midnight = local_midnight(now)
    dash_result, queues = await asyncio.gather(
        deps.directory.dashboard(), _maybe(deps.directory.queues(), None), return_exceptions=True
    )
    dashboard, error = None, None
    if isinstance(dash_result, BaseException):
        error = error_text(dash_result, timeout=deps.directory.timeout)
        if error is None:
            raise dash_result
    else:
        dashboard = dash_result
    names = deps.directory.queue_names()
    totals = deps.store.queue_totals(midnight.timestamp())
    return render_queues(dashboard, totals, names, since_label=midnight.strftime("%H:%M today"), error=error)


async def cmd_history(deps: Deps, ctx: CommandContext) -> Message:
    q = parse_history(ctx.args)
    query = history_query(deps, q, now=_now(deps))
    return history_message(deps, query, offset=0)


async def cmd_missed(deps: Deps, ctx: CommandContext) -> Message:
    no_args("missed", ctx.args)
    return missed_message(deps, limit=40)


async def cmd_routes(deps: Deps, ctx: CommandContext) -> Message:
    no_args("routes", ctx.args)
    names = deps.directory.queue_names()
    routes = deps.store.routes()
    if not names and any(r["key"].startswith("queue:") for r in routes):
        await _maybe(deps.directory.queues(), None)
        names = deps.directory.queue_names()
    return render_routes(routes, default_channel=deps.settings.alert_channel, queue_names=names)


async def cmd_route(deps: Deps, ctx: CommandContext) -> Message:
    args = parse_route(ctx.args)  # usage first: a typo gets help even from a non-admin
    if not await is_admin(deps, ctx.client, ctx.user_id):
        deps.store.add_audit("route", "refused", slack_user=ctx.user_id, detail=f"{args.target} -> {args.channel}")
        return {"text": say("commands.admin_only"), "response_type": "ephemeral"}
    key, label = await resolve_route_target(deps, args.target)
    if args.channel is None:
        removed = deps.store.delete_route(key)
        deps.store.add_audit("route", "ok" if removed else "noop", slack_user=ctx.user_id, detail=f"{key} -> off")
        log.info("route removed key=%s by=%s existed=%s", key, ctx.user_id, removed)
        return {"text": say("commands.route_removed" if removed else "commands.route_none", target=label)}
    deps.store.set_route(key, args.channel, by=ctx.user_id)
    deps.store.add_audit("route", "ok", slack_user=ctx.user_id, detail=f"{key} -> {args.channel}")
    log.info("route set key=%s channel=%s by=%s", key, args.channel, ctx.user_id)
    return {"text": say("commands.route_set", target=label, channel=args.channel)}


COMMANDS: dict[str, Callable[[Deps, CommandContext], Awaitable[Message | None]]] = {
    "help": cmd_help,
    "agents": cmd_agents,
    "queues": cmd_queues,
    "history": cmd_history,
    "missed": cmd_missed,
    "routes": cmd_routes,
    "route": cmd_route,
}


# ------------------------------------------------------------------------------------------------ shared work
async def resolve_route_target(deps: Deps, target: str) -> tuple[str, str]:
    """`default`, a DID, or a queue (id or name, any case) -> (routes key, words for the answer)."""
    if target.lower() == "default":
        return "default", "the default route"
    if all(is_number_part(t) for t in target.split()):
        key = number_key(target)
        digits = clean(target).lstrip("+")
        if not digits.isdigit() or not 3 <= len(digits) <= 20:
            raise UsageError(USAGE["route"], say("commands.route_bad_did", target=target))
        return f"did:{key}", f"calls to {format_number(key)}"
    queues = await deps.directory.queues()
    wanted = target.casefold()
    for q in queues:
        if q.queue_id and (q.queue_id == target or (q.name or "").casefold() == wanted):
            return f"queue:{q.queue_id}", f"queue {q.name or q.queue_id}"
    names = ", ".join(f"`{q.name}`" for q in queues if q.name) or "none"
    raise UsageError(USAGE["route"], say("commands.route_no_queue", target=target, names=names))


def history_query(deps: Deps, q: HistoryQuery, *, now: datetime) -> dict[str, Any]:
    """The parsed arguments turned into a store query, frozen in time so "More" pages stay consistent.
    Keys are short: the whole query rides in the More button's value (≤ 2,000 characters)."""
    sip_user = None
    if q.slack_user:
        link = deps.store.get_link(q.slack_user)
        if not link:
            raise UsageError(USAGE["history"], say("commands.history_not_linked", user=q.slack_user))
        sip_user = link["sip_user"]
    who = ""
    if q.customer_key:
        who = f" with {format_number(q.customer_key)}"
    elif q.slack_user:
        who = f" of <@{q.slack_user}> (`{sip_user}`)"
    period = {"today": "today", "24h": "last 24 h"}.get(q.period.label, f"last {q.period.label[:-1]} days")
    title = say("commands.history_title", who=who, period=period, missed=", missed only" if q.missed_only else "")
    return {
        "k": q.customer_key,
        "a": sip_user,
        "s": q.period.since(now, deps.settings.tz).timestamp(),
        "u": now.timestamp(),
        "m": q.missed_only,
        "t": title,
    }


def history_message(deps: Deps, query: Mapping[str, Any], *, offset: int) -> Message:
    """One page of history (newest first) for a query from history_query() (or a More button)."""
    rows = deps.store.calls(
        customer_key=query.get("k") or None,
        answered_by=query.get("a") or None,
        since=float(query["s"]),
        until=float(query["u"]) + 1,
        outcomes=MISSED_OUTCOMES if query.get("m") else None,
        limit=HISTORY_PAGE + 1,
        offset=offset,
    )
    has_more = len(rows) > HISTORY_PAGE
    rows = rows[:HISTORY_PAGE]
    return render_history(
        rows,
        title=str(query.get("t") or "Calls"),
        tz=deps.settings.tz,
        now=_now(deps),
        callbacks=callbacks_by_key(deps, rows, since=float(query["s"])),
        more=more_value(query, offset + HISTORY_PAGE) if has_more else None,
        offset=offset,
        agent_name=deps.directory.agent_name,
    )


def callbacks_by_key(deps: Deps, rows: list[Mapping[str, Any]], *, since: float) -> dict[str, dict[str, Any]]:
    """customer_key -> the latest successful click-to-call to that caller (the audit row), for missed rows.
    The audit's number may be stored raw, cleaned or as a key: ask for every spelling."""
    spellings: dict[str, str] = {}
    for row in rows:
        if row.get("outcome") not in MISSED_OUTCOMES or not row.get("customer_key"):
            continue
        raw = row.get("customer_number") or ""
        for s in {raw, clean(raw), row["customer_key"], clean(raw).lstrip("+")}:
            if s:
                spellings[s] = row["customer_key"]
    if not spellings:
        return {}
    found = deps.store.callbacks_for_numbers(spellings, since)
    out: dict[str, dict[str, Any]] = {}
    for number, audit in found.items():
        key = spellings.get(number)
        if key and (key not in out or (audit.get("at") or 0) > (out[key].get("at") or 0)):
            out[key] = audit
    return out


def missed_message(deps: Deps, *, limit: int, max_blocks: int = 50) -> Message:
    """Open alerts oldest first, with their calls (for queue/DID) and links to the alert messages."""
    alerts = deps.store.open_alerts(limit=limit)
    calls = {a["call_id"]: c for a in alerts if (c := deps.store.get_call(a["call_id"]))}
    return render_missed(
        alerts,
        tz=deps.settings.tz,
        now=_now(deps),
        calls=calls,
        queue_names=deps.directory.queue_names(),
        total=deps.store.count_open_alerts(),
        max_blocks=max_blocks,
    )
