"""The link dialog, both ends: opening it (from `/ring link` or the "Link my phone" button) and its
submission, validated inside the ack so Slack shows the errors in the dialog."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.ownership import Refused
from bot.callback.vault import HOW_TO_MAKE_A_KEY, VaultError
from bot.calls.numbers import format_number, is_withheld
from bot.slack.blocks import escape
from bot.slack.i18n import speaking
from bot.slack.ids import VIEW_LINK, VIEW_REASSIGN
from bot.slack.render.link import BLOCK_SIP_USER, LinkForm, field_errors, link_modal, submitted_fields
from bot.slack.render.ownership import reassign_modal
from bot.slack.text import say
from handlers.deps import Deps, Message
from storage import SipUserTaken

log = logging.getLogger(__name__)

ADMIN_CHECK_TIMEOUT = 1.5  # inside a view submission, before the ack: keep well under 3 s
# What a SIP user name may hold: Kazoo's device user names are letters, digits and a little punctuation; nothing
# Slack would read as markup (<, >, &, *, `, ~) gets into the confirmations and the admins' announcements.
USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(VIEW_LINK)
    async def on_link_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        user = (body.get("user") or {}).get("id") if isinstance(body.get("user"), dict) else None
        # #15: the field errors come in the ack (3 s): the language known without asking Slack
        with speaking(deps.languages.known(user if isinstance(user, str) else "")):
            await submit_link(deps, client, ack, body)

    @app.view(VIEW_REASSIGN)  # #13: an admin gives a missed call to someone
    async def on_reassign_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await submit_reassign(deps, ack, body)


async def open_link_modal(
    deps: Deps, client: AsyncWebClient, *, user_id: str, target: str, channel: str, trigger_id: str
) -> Message | None:
    """Open the link dialog for `target` (someone else: admins only). None when it opened; otherwise the
    answer that says why not."""
    if not deps.links.available:
        return {"text": say("link.no_key", how_to=HOW_TO_MAKE_A_KEY)}
    for_self = target == user_id
    if not for_self and not await deps.admins.is_admin(user_id):
        return {"text": say("link.admin_only")}
    link = deps.links.get(target)
    view = link_modal(LinkForm(target, channel), for_self=for_self, sip_user=link.sip_user if link else "")
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except Exception as exc:  # noqa: BLE001 - expired trigger_id (3 s) and the like: say so, don't crash
        log.warning("views.open failed error=%s", type(exc).__name__)
        return {"text": say("error.internal")}
    return None


async def submit_link(
    deps: Deps, client: AsyncWebClient, ack: Callable[..., Awaitable[object]], body: dict[str, Any]
) -> None:
    """Validate in the ack (Slack shows field errors in the dialog), then store the link and tell the admins.

    A SIP user belongs to one Slack person: linking one that someone else has, or linking for someone else,
    needs an admin (who then moves it). AntBuddy has no way to check a SIP password without ringing the
    device, so the first link of a SIP user is trusted, and every link is announced to the admins."""
    user_id = body["user"]["id"]
    submitted = body.get("view") or {}
    form = LinkForm.load(submitted.get("private_metadata"), user_id)
    target = form.target
    sip_user, password = submitted_fields(submitted)
    errors = field_errors(sip_user, password, vault_available=deps.links.available)
    if not USER_ID.fullmatch(target):  # a forged private_metadata: it would end up inside <@...> mentions
        log.warning("link refused user=%s reason=bad_target", user_id)
        await ack(response_action="errors", errors={BLOCK_SIP_USER: say("link.admin_only")})
        return
    owner = deps.links.owner_of(sip_user) if not errors else None
    taken = owner is not None and owner != target
    need_admin = not errors and (target != user_id or taken)
    is_admin = False
    if need_admin:
        is_admin = await _is_admin_quickly(deps, user_id)
        if target != user_id and not is_admin:
            errors = {BLOCK_SIP_USER: say("link.admin_only")}
        elif taken and not is_admin:
            errors = {BLOCK_SIP_USER: say("link.err_taken")}
    if errors:
        await ack(response_action="errors", errors=errors)
        if need_admin and not is_admin:  # an attempt on someone else's link or device: audited, admins told
            why = f"linked_to={owner}" if taken else "not_admin"
            deps.store.add_audit("link", "refused", slack_user=target, sip_user=sip_user, detail=f"by={user_id} {why}")
            log.warning("link refused user=%s target=%s sip_user=%s reason=%s", user_id, target, sip_user, why)
            if taken and owner is not None:
                await _announce_refused(deps, user_id, target, sip_user, owner)
        return
    await ack()
    try:
        saved = deps.links.save(target, sip_user, password, by=user_id, take_over=is_admin)
    except VaultError:  # the key vanished between the check and now: nothing stored
        log.error("link refused: vault unavailable user=%s", user_id)
        return
    except SipUserTaken as exc:  # linked by someone else between the ack's check and now (audited by Links)
        await _dm(client, user_id, say("link.taken_late", sip_user=escape(sip_user), who=deps.admins.who()))
        await _announce_refused(deps, user_id, target, sip_user, exc.owner)
        return
    finally:
        del password  # nothing below needs it
    shown = escape(sip_user)
    if target == user_id:
        await _dm(client, user_id, say("link.done", sip_user=shown))
    else:
        await _dm(client, user_id, say("link.done_other", user=target, sip_user=shown))
        with speaking(await deps.languages.of(target)):  # a DM to someone else: in their language
            for_them = say("link.done_for_you", by=user_id, sip_user=shown)
        await _dm(client, target, for_them)
    if saved.taken_from is not None:
        with speaking(await deps.languages.of(saved.taken_from)):
            for_them = say("link.taken_from_you", by=user_id, sip_user=shown, user=target)
        await _dm(client, saved.taken_from, for_them)
        text = say("link.announce_moved", by=user_id, sip_user=shown, owner=saved.taken_from, user=target)
    elif target == user_id:
        text = say("link.announce_self", user=target, sip_user=shown)
    else:
        text = say("link.announce_other", by=user_id, user=target, sip_user=shown)
    await deps.admins.announce(text, actor=user_id)


async def announce_unlink(deps: Deps, client: AsyncWebClient, target: str, sip_user: str, *, by: str) -> None:
    """After `/ring unlink`: the admins hear of it, and so does the person when an admin unlinked them."""
    shown = escape(sip_user)
    if target == by:
        text = say("unlink.announce_self", user=target, sip_user=shown)
    else:
        with speaking(await deps.languages.of(target)):  # a DM to someone else: in their language
            for_them = say("unlink.done_for_you", by=by, sip_user=shown)
        await _dm(client, target, for_them)
        text = say("unlink.announce_other", by=by, user=target, sip_user=shown)
    await deps.admins.announce(text, actor=by)


async def _announce_refused(deps: Deps, by: str, target: str, sip_user: str, owner: str) -> None:
    whose = "" if target == by else say("link.announce_refused_whose", user=target)
    text = say("link.announce_refused", by=by, sip_user=escape(sip_user), whose=whose, owner=owner)
    await deps.admins.announce(text, actor="")  # every admin hears of an attempt on someone else's device


async def _is_admin_quickly(deps: Deps, user_id: str) -> bool:
    """The admin check inside a view submission, before the ack: a slow Slack means "not an admin"."""
    try:
        async with asyncio.timeout(ADMIN_CHECK_TIMEOUT):
            return await deps.admins.is_admin(user_id)
    except TimeoutError:
        return False


async def _dm(client: AsyncWebClient, user_id: str, text: str) -> None:
    """A message in the app's DM with `user_id` (chat.postMessage to a user id opens it)."""
    try:
        await client.chat_postMessage(channel=user_id, text=text)
    except Exception as exc:  # noqa: BLE001 - the link is stored; a lost confirmation is not worth a crash
        log.warning("link confirmation failed user=%s error=%s", user_id, type(exc).__name__)


# -- #13 ownership: the reassign picker (admins) -------------------------------------------------------
async def open_reassign_modal(
    deps: Deps, client: AsyncWebClient, *, user_id: str, alert_id: int, trigger_id: str
) -> Message | None:
    """Open the user picker for an admin; anyone else, or a closed alert, gets the sentence saying why not."""
    alert = deps.store.get_alert(alert_id)
    if alert is None:
        return {"text": say("own.gone")}
    if alert["status"] not in ("open", "calling_back"):
        return {"text": say("own.closed")}
    if not await deps.admins.is_admin(user_id):
        deps.store.add_audit("reassign", "refused", slack_user=user_id, alert_id=alert_id)
        return {"text": say("own.admin_only")}
    raw = str(alert.get("customer_number") or "")
    number = escape(raw if is_withheld(raw) else format_number(raw) or raw, limit=120)
    view = reassign_modal(alert_id, number, deps.alerts.owners.get(alert_id)["owner"])
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except Exception as exc:  # noqa: BLE001 - expired trigger_id (3 s) and the like: say so, don't crash
        log.warning("views.open failed error=%s", type(exc).__name__)
        return {"text": say("error.internal")}
    return None


def picked_owner(view: dict[str, Any]) -> str | None:
    """The user picked in the reassign modal (a Slack user id, else None)."""
    values = ((view.get("state") or {}).get("values") or {}).get("owner") or {}
    picked = (values.get("owner") or {}).get("selected_user")
    return picked if isinstance(picked, str) and USER_ID.fullmatch(picked) else None


async def submit_reassign(deps: Deps, ack: Callable[..., Awaitable[object]], body: dict[str, Any]) -> None:
    """Checked in the ack (admin, a person picked, the alert still open): errors show in the dialog."""
    user_id = body["user"]["id"]
    view = body.get("view") or {}
    meta = str(view.get("private_metadata") or "")
    to = picked_owner(view)
    if not meta.isdigit() or len(meta) > 18 or to is None:
        await ack(response_action="errors", errors={"owner": say("own.reassign.pick")})
        return
    try:
        deps.alerts.ownership.reassign(int(meta), to, by=user_id, is_admin=await _is_admin_quickly(deps, user_id))
    except Refused as refused:
        fields = {k: f"<@{v}>" if k == "user" else v for k, v in refused.fields.items()}
        await ack(response_action="errors", errors={"owner": say(refused.key, **fields)})
        return
    await ack()
