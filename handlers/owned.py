"""#13 sub-commands: `/ring mine`, `/ring missed all` (short hang-ups too), and `/ring route <target> escalate |
hours | holidays | urgent | min-ring | settings` (admins change, anyone looks)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.alerts.hours import describe_week
from bot.alerts.route_settings import RouteSettings, SettingsError, settings_from, stored_or_default
from bot.slack.blocks import escape
from bot.slack.format import mention
from bot.slack.render.alert import caller_text
from bot.slack.render.ownership import render_mine, render_short_hangups, targets_text
from bot.slack.text import say
from handlers.args import UsageError
from handlers.deps import CommandContext, Deps, Message

log = logging.getLogger(__name__)

SETTING_WORDS = ("escalate", "hours", "holidays", "urgent", "min-ring", "settings")
DAY = 24 * 3600
ResolveTarget = Callable[[Deps, str], Awaitable[tuple[str, str]]]


async def cmd_mine(deps: Deps, ctx: CommandContext) -> Message:
    """The open missed calls the person owns."""
    alerts = deps.alerts.owners.owned_open(ctx.user_id)
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
    rows = deps.alerts.owners.short_hangups(pending=False, since=deps.clock() - DAY)
    extra = render_short_hangups(rows[-40:], tz=deps.settings.tz, caller_text=caller_text)
    blocks = list(base.get("blocks") or [])[: 50 - len(extra)] + extra
    return {**base, "blocks": blocks}


def setting_word(args: list[str]) -> int | None:
    """Where a setting word starts in `/ring route <target…> <word> …` (None: a plain route command)."""
    for i, word in enumerate(args[1:], start=1):
        if word.lower() in SETTING_WORDS:
            return i
    return None


def apply_setting(current: RouteSettings, word: str, values: list[str]) -> RouteSettings:
    """The settings after `/ring route <target> <word> <values…>` (pure). Raises SettingsError / UsageError."""
    word = word.lower()
    data = current.to_json()
    if word == "escalate":
        if values[:1] and values[0].lower() in ("off", "never", "0"):
            data.update(escalate_after=0, second_after=0)
            return settings_from(data)
        if not values or not values[0].isdigit():
            raise UsageError(say("usage.route_settings"))
        rest = values[1:]
        then = next((i for i, v in enumerate(rest) if v.lower() == "then"), None)
        first, second = (rest, []) if then is None else (rest[:then], rest[then + 1 :])
        data.update(escalate_after=int(values[0]), escalate_to=[_mention_id(v) for v in first])
        if second:
            if not second[0].isdigit():
                raise UsageError(say("usage.route_settings"))
            data.update(second_after=int(second[0]), supervisors=[_mention_id(v) for v in second[1:]])
        return settings_from(data)
    if word == "hours":
        if values[:1] and values[0].lower() in ("always", "off", "none", "24/7"):
            data["hours"] = {}
            return settings_from(data)
        if len(values) < 2 or len(values) % 2:
            raise UsageError(say("usage.route_settings"))
        data["hours"] = {values[i]: values[i + 1] for i in range(0, len(values), 2)}
        return settings_from(data)
    if word == "holidays":
        data["holidays"] = [] if values[:1] and values[0].lower() in ("none", "off") else values
        return settings_from(data)
    if word == "urgent":
        if values[:1] not in (["on"], ["off"]):
            raise UsageError(say("usage.route_settings"))
        data["urgent"] = values[0] == "on"
        return settings_from(data)
    if word == "min-ring":
        if len(values) != 1 or not values[0].isdigit():
            raise UsageError(say("usage.route_settings"))
        data["min_ring_seconds"] = int(values[0])
        return settings_from(data)
    raise UsageError(say("usage.route_settings"))


def _mention_id(token: str) -> str:
    """`<@U123|an>`, `<!subteam^S123|@team>`, `@here`, `U123` -> the bare id (validated by settings_from)."""
    t = token.strip().strip("<>")
    if t.startswith("!subteam^"):
        t = t[len("!subteam^") :]
    t = t.lstrip("@!").split("|", 1)[0]
    return t


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
        hours=escape(describe_week(settings.week)),
        holidays=escape(", ".join(settings.holidays)) or say("route_settings.none"),
        urgent=say("route_settings.on" if settings.urgent else "route_settings.off"),
        min_ring=say("route_settings.seconds", seconds=settings.min_ring_seconds)
        if settings.min_ring_seconds
        else say("route_settings.off"),
    )


async def cmd_route_settings(deps: Deps, ctx: CommandContext, at: int, resolve: ResolveTarget) -> Message:
    """`/ring route <target> <word> …`: show (anyone) or change (admins) one route's #13 settings."""
    target = " ".join(ctx.args[:at]).strip().strip("\"'“”")
    word, values = ctx.args[at].lower(), list(ctx.args[at + 1 :])
    key, label = await resolve(deps, target)
    current = stored_or_default(deps.alerts.owners, key)
    if word == "settings":
        return {"text": describe(current, label)}
    if not await deps.admins.is_admin(ctx.user_id):
        deps.store.add_audit("route_settings", "refused", slack_user=ctx.user_id, detail=f"{key} {word}")
        return {"text": say("commands.admin_only")}
    try:
        changed = apply_setting(current, word, values)
    except SettingsError as exc:
        return {"text": say("route_settings.bad", reason=escape(str(exc), limit=300))}
    with deps.store.transaction():
        deps.alerts.owners.set_route_settings(key, changed.to_json(), by=ctx.user_id)
        deps.store.add_audit("route_settings", "ok", slack_user=ctx.user_id, detail=f"{key} {word}")
    log.info("route settings key=%s word=%s by=%s", key, word, ctx.user_id)
    return {"text": say("route_settings.saved", target=label) + "\n" + describe(changed, label)}
