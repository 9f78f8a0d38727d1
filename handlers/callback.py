"""Call back from Slack: the Call back / Mark handled / Undo buttons, the link dialog, and
`/ring link|unlink|me|call`. Every listener acks first; the dialing policy lives in bot/callback/dialer.py."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from bot.alerts.service import AlertNotFound, NotAllowed
from bot.antbuddy import InvalidNumber, validate_number
from bot.callback.dialer import Dialer, DialKind, DialResult
from bot.callback.vault import HOW_TO_MAKE_A_KEY, VaultError
from bot.calls.numbers import format_number
from bot.slack.ids import ACTION_CALLBACK, ACTION_HANDLED, ACTION_OPEN_LINK, ACTION_UNHANDLE, VIEW_LINK
from bot.slack.render.link import LinkForm, field_errors, link_modal, me_text, not_linked_blocks, submitted_fields
from bot.slack.text import say
from handlers.admin import is_admin
from handlers.args import parse_user
from handlers.deps import CommandContext, Deps, SubcommandHandler

log = logging.getLogger(__name__)

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
SLACK_TIMEOUT = 10.0  # response_url posts and views.open (the Web client has its own timeout too)
ADMIN_CHECK_TIMEOUT = 1.5  # inside a view submission, before the ack: keep well under 3 s
Respond = Callable[..., Awaitable[Any]]


def dialer_for(deps: Deps) -> Dialer:
    """The one Dialer of this process (its double-click and rate-limit memory must be shared)."""
    dialer = deps.extra.get("dialer")
    if dialer is None:
        dialer = deps.extra["dialer"] = Dialer(deps.antbuddy, deps.store, deps.vault, clock=deps.clock)
    return dialer


async def _tell(respond: Respond, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    """An ephemeral answer to whoever clicked or typed (through response_url); failures are logged only."""
    kwargs: dict[str, Any] = {"text": text, "response_type": "ephemeral", "replace_original": False}
    if blocks:
        kwargs["blocks"] = blocks
    try:
        async with asyncio.timeout(SLACK_TIMEOUT):
            await respond(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the person just misses one message; never crash a listener
        log.warning("ephemeral reply failed error=%s", type(exc).__name__)


def _alert_id(value: Any) -> int | None:
    """The alert id in a button value; None for anything that is not a plain positive integer."""
    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def _action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


# -- dialing ------------------------------------------------------------------------------------------
def dial_message(result: DialResult, dialer: Dialer) -> tuple[str, list[dict[str, Any]] | None]:
    """One clear sentence (and maybe a button) for the person who asked to dial."""
    kind = result.kind
    if kind is DialKind.OK:
        return say("callback.calling", sip_user=result.sip_user, number=format_number(result.number)), None
    if kind is DialKind.NOT_LINKED:
        return say("callback.not_linked"), not_linked_blocks()
    if kind is DialKind.OFFLINE:
        return say("callback.offline", sip_user=result.sip_user), None
    if kind is DialKind.DUPLICATE:
        return say("callback.duplicate", sip_user=result.sip_user), None
    if kind is DialKind.RATE_LIMITED:
        return say("callback.rate_limited", max=dialer.max_per_minute, seconds=max(1, round(result.retry_after))), None
    if kind is DialKind.INVALID_NUMBER:
        return say("callback.invalid_number", number=result.number), None
    if kind is DialKind.ANTBUDDY_DOWN:
        return say("callback.antbuddy_down", detail=result.detail.rstrip(".")), None
    if kind is DialKind.ANTBUDDY_BUSY:
        return say("antbuddy.rate_limited"), None
    if kind is DialKind.RELINK:
        return say("callback.relink", detail=result.detail), None
    return say("callback.error", detail=result.detail.rstrip(".") or "unknown error"), None


async def call_back(deps: Deps, user_id: str, value: str, respond: Respond) -> DialResult | None:
    """Call back on an alert: the number comes from the alert row, never from the button or message."""
    alert_id = _alert_id(value)
    alert = deps.store.get_alert(alert_id) if alert_id is not None else None
    if alert is None:
        log.info("call back refused user=%s reason=unknown_alert", user_id)
        await _tell(respond, say("callback.alert_gone"))
        return None
    number = alert.get("customer_number") or ""
    try:
        validate_number(number)
    except InvalidNumber:
        deps.store.add_audit(
            "click_to_call", "invalid_number", slack_user=user_id, number=number[:30] or None, alert_id=alert["id"]
        )
        await _tell(respond, say("callback.alert_bad_number", number=number[:30]))
        return None
    dialer = dialer_for(deps)
    result = await dialer.call(user_id, number, alert_id=alert["id"])
    if result.ok:
        try:
            deps.alerts.claim(alert["id"], user_id)
        except Exception as exc:  # noqa: BLE001 - the phone is ringing anyway; the alert edit is secondary
            log.warning("claim failed alert_id=%s error=%s", alert["id"], type(exc).__name__)
    text, blocks = dial_message(result, dialer)
    await _tell(respond, text, blocks)
    return result


async def mark_handled(deps: Deps, user_id: str, value: str, respond: Respond) -> None:
    """'Handled by @them': the alert edits itself through the outbox; only a gone alert gets an answer."""
    alert_id = _alert_id(value)
    try:
        if alert_id is not None:
            deps.alerts.mark_handled(alert_id, user_id)
            return
    except AlertNotFound:
        pass
    await _tell(respond, say("callback.handled_gone"))


async def undo_handled(deps: Deps, client: Any, user_id: str, value: str, respond: Respond) -> None:
    """Reopen a handled alert: whoever marked it, or an admin (AlertService decides)."""
    alert_id = _alert_id(value)
    try:
        if alert_id is not None:
            deps.alerts.undo_handled(alert_id, user_id, is_admin=await is_admin(deps, client, user_id))
            return
    except AlertNotFound:
        pass
    except NotAllowed:
        await _tell(respond, say("callback.not_allowed"))
        return
    await _tell(respond, say("callback.handled_gone"))


# -- linking ------------------------------------------------------------------------------------------
async def open_link_modal(
    deps: Deps, client: Any, *, user_id: str, target: str, channel: str, trigger_id: str, respond: Respond
) -> bool:
    """Open the link dialog for `target` (someone else: admins only); refused without a secret key."""
    if not deps.vault.available:
        await _tell(respond, say("link.no_key", how_to=HOW_TO_MAKE_A_KEY))
        return False
    for_self = target == user_id
    if not for_self and not await is_admin(deps, client, user_id):
        await _tell(respond, say("link.admin_only"))
        return False
    link = deps.store.get_link(target)
    view = link_modal(LinkForm(target, channel), for_self=for_self, sip_user=(link or {}).get("sip_user", ""))
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except Exception as exc:  # noqa: BLE001 - expired trigger_id (3 s) and the like: say so, don't crash
        log.warning("views.open failed error=%s", type(exc).__name__)
        await _tell(respond, say("error.internal"))
        return False
    return True


async def submit_link(deps: Deps, client: Any, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
    """Validate in the ack (Slack shows field errors in the dialog), then store the encrypted password."""
    user_id = body["user"]["id"]
    view = body.get("view") or {}
    form = LinkForm.load(view.get("private_metadata"), user_id)
    sip_user, password = submitted_fields(view)
    errors = field_errors(sip_user, password, vault_available=deps.vault.available)
    if not errors and form.target != user_id:
        try:
            async with asyncio.timeout(ADMIN_CHECK_TIMEOUT):
                allowed = await is_admin(deps, client, user_id)
        except TimeoutError:
            allowed = False
        if not allowed:
            errors = {"sip_user": say("link.admin_only")}
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    try:
        token = deps.vault.encrypt(password)
    except VaultError:  # the key vanished between the check and now: nothing stored
        log.error("link refused: vault unavailable user=%s", user_id)
        return
    del password  # nothing below needs it
    deps.store.save_link(form.target, sip_user, token, by=user_id)
    deps.store.add_audit(
        "link",
        "ok",
        slack_user=form.target,
        sip_user=sip_user,
        detail=None if form.target == user_id else f"by={user_id}",
    )
    log.info("device linked user=%s sip_user=%s by=%s", form.target, sip_user, user_id)
    if form.target == user_id:
        await _dm(client, user_id, say("link.done", sip_user=sip_user))
    else:
        await _dm(client, user_id, say("link.done_other", user=form.target, sip_user=sip_user))
        await _dm(client, form.target, say("link.done_for_you", by=user_id, sip_user=sip_user))


async def _dm(client: Any, user_id: str, text: str) -> None:
    """A message in the app's DM with `user_id` (chat.postMessage to a user id opens it)."""
    try:
        await client.chat_postMessage(channel=user_id, text=text)
    except Exception as exc:  # noqa: BLE001 - the link is stored; a lost confirmation is not worth a crash
        log.warning("link confirmation failed user=%s error=%s", user_id, type(exc).__name__)


def _target(ctx: CommandContext) -> str | None:
    """The user a link/unlink is about: the caller, or the one @mentioned; None when the argument is bad."""
    if not ctx.args:
        return ctx.user_id
    return parse_user(ctx.args[0]) if len(ctx.args) == 1 else None


async def cmd_link(deps: Deps, ctx: CommandContext) -> None:
    target = _target(ctx)
    if target is None:
        await _tell(ctx.respond, say("link.usage"))
        return
    await open_link_modal(
        deps,
        ctx.client,
        user_id=ctx.user_id,
        target=target,
        channel=ctx.channel_id,
        trigger_id=ctx.trigger_id,
        respond=ctx.respond,
    )


async def cmd_unlink(deps: Deps, ctx: CommandContext) -> None:
    target = _target(ctx)
    if target is None:
        await _tell(ctx.respond, say("unlink.usage"))
        return
    whose = "" if target == ctx.user_id else f" for <@{target}>"
    if target != ctx.user_id and not await is_admin(deps, ctx.client, ctx.user_id):
        await _tell(ctx.respond, say("link.admin_only"))
        return
    link = deps.store.get_link(target)
    if not link or not deps.store.delete_link(target):
        await _tell(ctx.respond, say("unlink.none", whose=whose))
        return
    deps.store.add_audit(
        "unlink",
        "ok",
        slack_user=target,
        sip_user=link["sip_user"],
        detail=None if target == ctx.user_id else f"by={ctx.user_id}",
    )
    log.info("device unlinked user=%s sip_user=%s by=%s", target, link["sip_user"], ctx.user_id)
    await _tell(ctx.respond, say("unlink.done", sip_user=link["sip_user"], whose=whose))


async def cmd_me(deps: Deps, ctx: CommandContext) -> None:
    await _tell(ctx.respond, me_text(deps.store.get_link(ctx.user_id), deps.settings.tz, now=deps.clock()))


async def cmd_call(deps: Deps, ctx: CommandContext) -> None:
    """`/ring call <number>`: any number, from the caller's own device, same rules as Call back."""
    raw = " ".join(a for a in ctx.args if a.lower() != "share").strip()
    try:
        validate_number(raw)
    except InvalidNumber:
        await _tell(ctx.respond, say("call.usage"))
        return
    dialer = dialer_for(deps)
    result = await dialer.call(ctx.user_id, raw)
    text, blocks = dial_message(result, dialer)
    await _tell(ctx.respond, text, blocks)


SUBCOMMANDS: dict[str, SubcommandHandler] = {
    "link": cmd_link,
    "unlink": cmd_unlink,
    "me": cmd_me,
    "call": cmd_call,
}


def register(app: Any, deps: Deps) -> None:
    """Buttons and the link dialog. `/ring link|unlink|me|call` arrive through handlers/commands.py."""
    dialer_for(deps)

    @app.action(ACTION_CALLBACK)
    async def on_call_back(ack, body, respond):  # noqa: ANN001 - Bolt injects by name
        await ack()
        await call_back(deps, body["user"]["id"], _action_value(body), respond)

    @app.action(ACTION_HANDLED)
    async def on_handled(ack, body, respond):  # noqa: ANN001
        await ack()
        await mark_handled(deps, body["user"]["id"], _action_value(body), respond)

    @app.action(ACTION_UNHANDLE)
    async def on_unhandle(ack, body, client, respond):  # noqa: ANN001
        await ack()
        await undo_handled(deps, client, body["user"]["id"], _action_value(body), respond)

    @app.action(ACTION_OPEN_LINK)
    async def on_open_link(ack, body, client, respond):  # noqa: ANN001
        await ack()
        user_id = body["user"]["id"]
        value = _action_value(body)
        target = value if _USER_ID.fullmatch(value) else user_id  # anything else: your own phone
        channel = ((body.get("channel") or {}).get("id")) or ""
        await open_link_modal(
            deps,
            client,
            user_id=user_id,
            target=target,
            channel=channel,
            trigger_id=body.get("trigger_id", ""),
            respond=respond,
        )

    @app.view(VIEW_LINK)
    async def on_link_submit(ack, body, client):  # noqa: ANN001
        await submit_link(deps, client, ack, body)
