"""The link dialog, both ends: opening it (from `/ring link` or the "Link my phone" button) and its
submission, validated inside the ack so Slack shows the errors in the dialog."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.callback.vault import HOW_TO_MAKE_A_KEY, VaultError
from bot.slack.ids import VIEW_LINK
from bot.slack.render.link import BLOCK_SIP_USER, LinkForm, field_errors, link_modal, submitted_fields
from bot.slack.text import say
from handlers.deps import Deps, Message

log = logging.getLogger(__name__)

ADMIN_CHECK_TIMEOUT = 1.5  # inside a view submission, before the ack: keep well under 3 s


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(VIEW_LINK)
    async def on_link_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await submit_link(deps, client, ack, body)


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
    """Validate in the ack (Slack shows field errors in the dialog), then store the link."""
    user_id = body["user"]["id"]
    submitted = body.get("view") or {}
    form = LinkForm.load(submitted.get("private_metadata"), user_id)
    sip_user, password = submitted_fields(submitted)
    errors = field_errors(sip_user, password, vault_available=deps.links.available)
    if not errors and form.target != user_id:
        try:
            async with asyncio.timeout(ADMIN_CHECK_TIMEOUT):
                allowed = await deps.admins.is_admin(user_id)
        except TimeoutError:
            allowed = False
        if not allowed:
            errors = {BLOCK_SIP_USER: say("link.admin_only")}
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    try:
        deps.links.save(form.target, sip_user, password, by=user_id)
    except VaultError:  # the key vanished between the check and now: nothing stored
        log.error("link refused: vault unavailable user=%s", user_id)
        return
    finally:
        del password  # nothing below needs it
    if form.target == user_id:
        await _dm(client, user_id, say("link.done", sip_user=sip_user))
    else:
        await _dm(client, user_id, say("link.done_other", user=form.target, sip_user=sip_user))
        await _dm(client, form.target, say("link.done_for_you", by=user_id, sip_user=sip_user))


async def _dm(client: AsyncWebClient, user_id: str, text: str) -> None:
    """A message in the app's DM with `user_id` (chat.postMessage to a user id opens it)."""
    try:
        await client.chat_postMessage(channel=user_id, text=text)
    except Exception as exc:  # noqa: BLE001 - the link is stored; a lost confirmation is not worth a crash
        log.warning("link confirmation failed user=%s error=%s", user_id, type(exc).__name__)
