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

from bot.alerts.routes import TargetError
from bot.alerts.routing import NotAdmin
from bot.antbuddy import InvalidNumber, validate_number
from bot.slack.blocks import escape
from bot.slack.i18n import language_of, speaking
from bot.slack.render.answers import render_agents, render_help, render_routes
from bot.slack.render.link import me_text
from bot.slack.text import say
from handlers import queues
from handlers.answers import history_message, history_query, maybe, missed_message, now
from handlers.args import (
    UsageError,
    no_args,
    parse_command,
    parse_history,
    parse_route,
    parse_route_settings,
    parse_user,
    usage,
)
from handlers.deps import CommandContext, Deps, Message, Respond, SubcommandHandler
from handlers.dial import cmd_dial, dial_answer
from handlers.owned import cmd_mine, cmd_route_settings, short_hangups_message
from handlers.replies import answer, ephemeral, saved, send
from handlers.views import announce_unlink, open_link_modal

log = logging.getLogger(__name__)

MISSED_LIMIT = 40


@dataclass(frozen=True)
class Subcommand:
    run: SubcommandHandler
    personal: bool = False  # about the person's own phone: always answered privately, `share` or not
    help: tuple[str, ...] = ()  # catalog keys of its `/ring help` lines; none when another's line covers it


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
    with speaking(await deps.languages.of(ctx.user_id)):  # the person's language, whatever the channel's
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
    return render_help([(name, "\n".join(map(say, entry.help))) for name, entry in SUBCOMMANDS.items() if entry.help])


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
    routes = deps.routing.routes()
    if not names and any(r["key"].startswith("queue:") for r in routes):
        await maybe(deps.directory.queues(), None)
        names = deps.directory.queue_names()
    return render_routes(routes, default_channel=deps.settings.alert_channel, queue_names=names)


async def cmd_route(deps: Deps, ctx: CommandContext) -> Message:
    """`/ring route <target> #channel|off` (admins), or one of its settings (owned.py)."""
    if (setting := parse_route_settings(ctx.args)) is not None:
        return await cmd_route_settings(deps, ctx, setting)
    args = parse_route(ctx.args)  # usage first: a typo gets help even from a non-admin
    admin = await deps.admins.is_admin(ctx.user_id)
    try:
        if args.channel is None:
            change = await deps.routing.remove_route(args.target, by=ctx.user_id, admin=admin)
        else:
            change = await deps.routing.set_route(args.target, args.channel, by=ctx.user_id, admin=admin)
    except NotAdmin:
        return {"text": say("commands.admin_only"), "response_type": "ephemeral"}
    except TargetError as exc:
        raise UsageError(usage("route"), exc.words()) from None
    label = change.target.words()
    if args.channel is not None:
        done = say("commands.route_set", target=label, channel=args.channel)
        return {"text": saved(change.saved, done, say("commands.route_set_later", target=label, channel=args.channel))}
    if not change.existed:
        return {"text": say("commands.route_none", target=label)}
    later = say("commands.route_removed_later", target=label)
    return {"text": saved(change.saved, say("commands.route_removed", target=label), later)}


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
    whose = "" if target == ctx.user_id else say("unlink.whose", user=target)
    if target != ctx.user_id and not await deps.admins.is_admin(ctx.user_id):
        return {"text": say("link.admin_only")}
    removed = deps.links.remove(target, by=ctx.user_id)
    if removed is None:
        return {"text": say("unlink.none", whose=whose)}
    await announce_unlink(deps, ctx.client, removed.slack_user, removed.sip_user, by=ctx.user_id)
    return {"text": say("unlink.done", sip_user=escape(removed.sip_user), whose=whose)}


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


# -- language: `/ring lang vi|en|auto` ----------------------------------------------------------------------------
async def cmd_lang(deps: Deps, ctx: CommandContext) -> Message:
    """Show or choose the language answers come in; the answer itself is in the language just chosen."""
    if len(ctx.args) > 1:
        return {"text": usage("lang")}
    if not ctx.args:
        lang, why = await deps.languages.explain(ctx.user_id)
        with speaking(lang):
            return {"text": say("lang.current", language=say(f"lang.name.{lang}"), why=say(f"lang.why.{why}"))}
    word = ctx.args[0].lower()
    auto = word in ("auto", "tự-động", "tu-dong")
    chosen = None if auto else language_of(word)
    if not auto and chosen is None:
        return {"text": usage("lang")}
    result = deps.languages.choose(ctx.user_id, chosen)  # NotSaved: answered by `answer`, nothing changed
    lang = chosen or await deps.languages.of(ctx.user_id)
    log.info("language chosen user=%s lang=%s saved=%s", ctx.user_id, chosen or "auto", result)
    with speaking(lang):
        text = say("lang.auto" if auto else "lang.set", language=say(f"lang.name.{lang}"))
        return {"text": saved(result, text, text + "\n" + say("database.saved_later"))}


# -- ownership: /ring mine, /ring missed all ----------------------------------------------------------------
async def cmd_missed_or_all(deps: Deps, ctx: CommandContext) -> Message:
    """`/ring missed`, or `/ring missed all`: the same, then the short hang-ups that were counted, not alerted."""
    if [a.lower() for a in ctx.args] == ["all"]:
        return short_hangups_message(deps, missed_message(deps, limit=MISSED_LIMIT))
    return await cmd_missed(deps, ctx)


# The one list: `/ring help` shows the lines in this order.
SUBCOMMANDS: dict[str, Subcommand] = {
    "help": Subcommand(cmd_help),
    "agents": Subcommand(cmd_agents, help=("help.agents",)),
    "queues": Subcommand(queues.cmd_queues, help=("help.queues_live",)),  # handlers/queues.py
    "history": Subcommand(cmd_history, help=("help.history",)),
    "missed": Subcommand(cmd_missed_or_all, help=("help.missed",)),  # `all` adds the short hang-ups
    "mine": Subcommand(cmd_mine, help=("help.mine",)),
    "call": Subcommand(cmd_call, personal=True, help=("help.call",)),
    "link": Subcommand(cmd_link, personal=True, help=("help.link",)),
    "unlink": Subcommand(cmd_unlink, personal=True),
    "me": Subcommand(cmd_me, personal=True),
    "dial": Subcommand(cmd_dial, help=("help.dial",)),
    "routes": Subcommand(cmd_routes, help=("help.routes",)),
    "route": Subcommand(cmd_route, help=("help.route", "help.route_settings")),  # and a route's settings
    "lang": Subcommand(cmd_lang, personal=True, help=("help.lang",)),
    # -- queue health (handlers/queues.py) --
    "stats": Subcommand(queues.cmd_stats, help=("help.stats",)),
    "watch": Subcommand(queues.cmd_watch, help=("help.watch",)),
    "watches": Subcommand(queues.cmd_watches),
}
