"""Who owns what, and how a route behaves: `/ring mine`, `/ring missed all` (short hang-ups too), and `/ring route
<target> escalate | hours | holidays | urgent | min-ring | settings` (admins change, anyone looks)."""

from __future__ import annotations

from bot.alerts.hours import describe_week
from bot.alerts.route_settings import RouteSettings, SettingsError, SettingsSyntax
from bot.alerts.routes import TargetError
from bot.alerts.routing import NotAdmin
from bot.slack.blocks import escape
from bot.slack.format import mention
from bot.slack.render.alert import caller_text
from bot.slack.render.ownership import render_mine, render_short_hangups, targets_text
from bot.slack.text import say
from handlers.args import RouteSettingsArgs, UsageError, usage
from handlers.deps import CommandContext, Deps, Message
from handlers.replies import saved

DAY = 24 * 3600


async def cmd_mine(deps: Deps, ctx: CommandContext) -> Message:
    """The open missed calls the person owns."""
    alerts = deps.lists.owned_open(ctx.user_id)
    blocks = render_mine(
        alerts,
        tz=deps.settings.tz,
        now=deps.clock(),
        caller_text=caller_text,
        workspace_url=deps.workspace.get("url"),
    )
    text = say("mine.title", count=len(alerts)) if alerts else say("mine.none")
    return {"text": text, "blocks": blocks}


def short_hangups_message(deps: Deps, base: Message) -> Message:
    """`/ring missed all`: the open alerts, then the short hang-ups of the last 24 h that were not alerted."""
    rows = deps.lists.short_hangups(since=deps.clock() - DAY)
    extra = render_short_hangups(rows[-40:], tz=deps.settings.tz, caller_text=caller_text)
    blocks = list(base.get("blocks") or [])[: 50 - len(extra)] + extra
    return {**base, "blocks": blocks}


def describe(settings: RouteSettings, label: str) -> str:
    esc = (
        say("route_settings.escalate", minutes=settings.escalate_after, targets=targets_text(settings.escalate_to))
        if settings.escalate_after
        else say("route_settings.never")
    )
    esc = esc.replace("<!here>", say("route_settings.here"))  # shown, not pinged
    second = (
        say(
            "route_settings.second",
            minutes=settings.second_after,
            users=", ".join(mention(u) for u in settings.supervisors),
        )
        if settings.second_after and settings.supervisors
        else say("route_settings.off")
    )
    return say(
        "route_settings.show",
        target=label,
        escalate=esc,
        second=second,
        hours=say("route_settings.always") if settings.week is None else escape(describe_week(settings.week)),
        holidays=escape(", ".join(settings.holidays)) or say("route_settings.none"),
        urgent=say("route_settings.on" if settings.urgent else "route_settings.off"),
        min_ring=say("route_settings.seconds", seconds=settings.min_ring_seconds)
        if settings.min_ring_seconds
        else say("route_settings.off"),
    )


async def cmd_route_settings(deps: Deps, ctx: CommandContext, args: RouteSettingsArgs) -> Message:
    """`/ring route <target> <word> …`: show (anyone) or change (admins) one route's settings."""
    try:
        if args.word == "settings":
            target = await deps.routing.target(args.target)
            return {"text": describe(deps.routing.settings(target), target.words())}
        change = await deps.routing.change_setting(
            args.target,
            args.word,
            list(args.values),
            by=ctx.user_id,
            admin=await deps.admins.is_admin(ctx.user_id),
        )
    except TargetError as exc:
        raise UsageError(usage("route"), exc.words()) from None
    except NotAdmin:
        return {"text": say("commands.admin_only")}
    except SettingsSyntax:
        raise UsageError(say("usage.route_settings")) from None
    except SettingsError as exc:
        return {"text": say("route_settings.bad", reason=escape(str(exc), limit=300))}
    label = change.target.words()
    head = saved(
        change.saved, say("route_settings.saved", target=label), say("route_settings.saved_later", target=label)
    )
    return {"text": head + "\n" + describe(change.settings, label)}
