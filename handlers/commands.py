"""`/ring`: ack at once, then answer through response_url (ephemeral unless `share`).

SUBCOMMANDS below is the one list of sub-commands: what runs, whether the answer may be shared, and the
line `/ring help` shows for it."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.antbuddy import InvalidNumber, validate_number
from bot.calls.numbers import clean, format_number, number_key
from bot.slack.blocks import escape
from bot.slack.i18n import language_of, speaking
from bot.slack.render.answers import render_agents, render_help, render_routes
from bot.slack.render.link import me_text
from bot.slack.text import say
from handlers import queues
from handlers.answers import history_message, history_query, maybe, missed_message, now
from handlers.args import (
    UsageError,
    is_number_part,
    no_args,
    parse_command,
    parse_history,
    parse_route,
    parse_user,
    usage,
)
from handlers.deps import CommandContext, Deps, Message, Respond, SubcommandHandler
from handlers.dial import cmd_dial, dial_answer
from handlers.owned import cmd_mine, cmd_route_settings, setting_word, short_hangups_message
from handlers.replies import answer, ephemeral, send
from handlers.views import open_link_modal, unlink

log = logging.getLogger(__name__)

MISSED_LIMIT = 40


@dataclass(frozen=True)
class Subcommand:
    run: SubcommandHandler
    personal: bool = False  # about the person's own phone: always answered privately, `share` or not
    help: str | None = None  # catalog key of its `/ring help` line; None when another's line covers it


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command("/ring")
    async def ring(ack: AsyncAck, command: dict[str, str], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()  # first, always: nothing slow may come before it (Slack gives up after 3 s)
        await dispatch(deps, command_context(command, respond, client))


def command_context(command: dict[str, str], respond: Respond, client: AsyncWebClient) -> CommandContext:
    parsed = parse_command(command.get("text") or "")
    return CommandContext(
        user_id=command.get("user_id", ""),
        channel_id=command.get("channel_id", ""),
        team_id=command.get("team_id", ""),
        subcommand=parsed.sub,
        args=list(parsed.args),
        text=command.get("text") or "",
        trigger_id=command.get("trigger_id", ""),
        respond=respond,
        client=client,
        share=parsed.share,
    )


async def dispatch(deps: Deps, ctx: CommandContext) -> None:
    """Run one sub-command; whatever happens, the person gets one answer (never silence, never a traceback)."""
    with speaking(await deps.languages.of(ctx.user_id)):  # #15: the person's language, whatever the channel's
        await _dispatch(deps, ctx)


async def _dispatch(deps: Deps, ctx: CommandContext) -> None:
    started = time.perf_counter()
    sub = ctx.subcommand
    entry = SUBCOMMANDS.get(sub)
    if entry is None:
        await send(ctx.respond, {"text": say("commands.unknown", sub=escape(sub, code=True, limit=40))}, ephemeral=True)
        return
    ctx = replace(ctx, respond=ephemeral(ctx.respond, share=ctx.share and not entry.personal))
    result = await answer(ctx.respond, lambda: entry.run(deps, ctx), timeout=deps.directory.timeout)
    log.info("command sub=%s user=%s result=%s ms=%d", sub, ctx.user_id, result, (time.perf_counter() - started) * 1000)


# ------------------------------------------------------------------------------------------------ answers
async def cmd_help(deps: Deps, ctx: CommandContext) -> Message:
    return render_help([(name, say(entry.help)) for name, entry in SUBCOMMANDS.items() if entry.help])


async def cmd_agents(deps: Deps, ctx: CommandContext) -> Message:
    no_args("agents", ctx.args)
    dashboard, agents = await asyncio.gather(deps.directory.dashboard(), maybe(deps.directory.agents(), []))
    return render_agents(dashboard, now=now(deps), directory_agents=agents)


async def cmd_history(deps: Deps, ctx: CommandContext) -> Message:
    query = history_query(deps, parse_history(ctx.args), at=now(deps))
    return history_message(deps, query, offset=0)


async def cmd_missed(deps: Deps, ctx: CommandContext) -> Message:
    no_args("missed", ctx.args)
    return missed_message(deps, limit=MISSED_LIMIT)


async def cmd_routes(deps: Deps, ctx: CommandContext) -> Message:
    no_args("routes", ctx.args)
    names = deps.directory.queue_names()
    routes = deps.store.routes()
    if not names and any(r["key"].startswith("queue:") for r in routes):
        await maybe(deps.directory.queues(), None)
        names = deps.directory.queue_names()
    return render_routes(routes, default_channel=deps.settings.alert_channel, queue_names=names)


async def cmd_route(deps: Deps, ctx: CommandContext) -> Message:
    args = parse_route(ctx.args)  # usage first: a typo gets help even from a non-admin
    if not await deps.admins.is_admin(ctx.user_id):
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


async def resolve_route_target(deps: Deps, target: str) -> tuple[str, str]:
    """`default`, a DID, or a queue (id or name, any case) -> (routes key, words for the answer)."""
    if target.lower() == "default":
        return "default", say("commands.route_target.default")
    if all(is_number_part(t) for t in target.split()):
        key = number_key(target)
        digits = clean(target).lstrip("+")
        if not digits.isdigit() or not 3 <= len(digits) <= 20:
            raise UsageError(usage("route"), say("commands.route_bad_did", target=escape(target, code=True, limit=60)))
        return f"did:{key}", say("commands.route_target.did", number=escape(format_number(key)))
    queues = await deps.directory.queues()
    wanted = target.casefold()
    for q in queues:
        if q.queue_id and (q.queue_id == target or (q.name or "").casefold() == wanted):
            return f"queue:{q.queue_id}", say(
                "commands.route_target.queue", name=escape(q.name or q.queue_id, limit=80)
            )
    names = ", ".join(f"`{escape(q.name, code=True, limit=80)}`" for q in queues if q.name)
    names = names or say("commands.route_no_queue_names")
    raise UsageError(
        usage("route"), say("commands.route_no_queue", target=escape(target, code=True, limit=60), names=names)
    )


# ------------------------------------------------------------------------------------------------ your phone
def _target(ctx: CommandContext) -> str | None:
    """The user a link/unlink is about: the caller, or the one @mentioned; None when the argument is bad."""
    if not ctx.args:
        return ctx.user_id
    return parse_user(ctx.args[0]) if len(ctx.args) == 1 else None


async def cmd_link(deps: Deps, ctx: CommandContext) -> Message | None:
    target = _target(ctx)
    if target is None:
        return {"text": usage("link")}
    return await open_link_modal(
        deps, ctx.client, user_id=ctx.user_id, target=target, channel=ctx.channel_id, trigger_id=ctx.trigger_id
    )


async def cmd_unlink(deps: Deps, ctx: CommandContext) -> Message:
    target = _target(ctx)
    if target is None:
        return {"text": usage("unlink")}
    if target != ctx.user_id and not await deps.admins.is_admin(ctx.user_id):
        return {"text": say("link.admin_only")}
    return unlink(deps, target, by=ctx.user_id)


async def cmd_me(deps: Deps, ctx: CommandContext) -> Message:
    return {"text": me_text(deps.links.get(ctx.user_id), deps.settings.tz, now=deps.clock())}


async def cmd_call(deps: Deps, ctx: CommandContext) -> Message:
    """`/ring call <number>`: from the caller's own device, same rules as Call back (the dial policy included)."""
    raw = " ".join(ctx.args).strip()
    try:
        validate_number(raw)
    except InvalidNumber:
        return {"text": usage("call")}
    result = await deps.dialer.call(ctx.user_id, raw)
    return dial_answer(deps, result)


# -- #15 language: `/ring lang vi|en|auto` -----------------------------------------------------------------------
async def cmd_lang(deps: Deps, ctx: CommandContext) -> Message:
    """Show or choose the language answers come in; the answer itself is in the language just chosen."""
    if len(ctx.args) > 1:
        return {"text": usage("lang")}
    if not ctx.args:
        lang, why = await deps.languages.explain(ctx.user_id)
        with speaking(lang):
            return {"text": say("lang.current", language=say(f"lang.name.{lang}"), why=say(f"lang.why.{why}"))}
    word = ctx.args[0].lower()
    if word in ("auto", "tự-động", "tu-dong"):
        deps.languages.choose(ctx.user_id, None)
        lang = await deps.languages.of(ctx.user_id)
        with speaking(lang):
            return {"text": say("lang.auto", language=say(f"lang.name.{lang}"))}
    chosen = language_of(word)
    if chosen is None:
        return {"text": usage("lang")}
    deps.languages.choose(ctx.user_id, chosen)
    log.info("language chosen user=%s lang=%s", ctx.user_id, chosen)
    with speaking(chosen):
        return {"text": say("lang.set", language=say(f"lang.name.{chosen}"))}


# -- #13 ownership: /ring mine, /ring missed all, /ring route <target> escalate|hours|… ---------------------
async def cmd_missed_or_all(deps: Deps, ctx: CommandContext) -> Message:
    """`/ring missed`, or `/ring missed all`: the same, then the short hang-ups that were counted, not alerted."""
    if [a.lower() for a in ctx.args] == ["all"]:
        return short_hangups_message(deps, missed_message(deps, limit=MISSED_LIMIT))
    return await cmd_missed(deps, ctx)


async def cmd_route_or_settings(deps: Deps, ctx: CommandContext) -> Message:
    """`/ring route <target> #channel|off`, or a route's settings: `… escalate|hours|holidays|urgent|min-ring`."""
    at = setting_word(ctx.args)
    if at is None:
        return await cmd_route(deps, ctx)
    return await cmd_route_settings(deps, ctx, at, resolve_route_target)


# The one list: `/ring help` shows the lines in this order.
SUBCOMMANDS: dict[str, Subcommand] = {
    "help": Subcommand(cmd_help),
    "agents": Subcommand(cmd_agents, help="help.agents"),
    "queues": Subcommand(queues.cmd_queues, help="help.queues_live"),  # #14: handlers/queues.py
    "history": Subcommand(cmd_history, help="help.history"),
    "missed": Subcommand(cmd_missed_or_all, help="help.missed"),  # #13: `all` adds the short hang-ups
    "mine": Subcommand(cmd_mine, help="help.mine"),  # #13
    "call": Subcommand(cmd_call, personal=True, help="help.call"),
    "link": Subcommand(cmd_link, personal=True, help="help.link"),
    "unlink": Subcommand(cmd_unlink, personal=True),
    "me": Subcommand(cmd_me, personal=True),
    "dial": Subcommand(cmd_dial, help="help.dial"),
    "routes": Subcommand(cmd_routes, help="help.routes"),
    "route": Subcommand(cmd_route_or_settings, help="help.route"),  # #13: and a route's settings
    "lang": Subcommand(cmd_lang, personal=True, help="help.lang"),  # #15
    # -- #14 queue health (handlers/queues.py) --
    "stats": Subcommand(queues.cmd_stats, help="help.stats"),
    "watch": Subcommand(queues.cmd_watch, help="help.watch"),
    "watches": Subcommand(queues.cmd_watches),
}
