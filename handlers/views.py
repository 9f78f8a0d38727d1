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
from bot.callback.links import LinkRefused, Refusal
from bot.callback.vault import HOW_TO_MAKE_A_KEY, VaultError
from bot.calls.numbers import format_number, is_withheld
from bot.changes import NotSaved, Saved
from bot.slack.blocks import escape
from bot.slack.format import mention
from bot.slack.i18n import speaking
from bot.slack.ids import VIEW_LINK, VIEW_REASSIGN
from bot.slack.render.link import (
    BLOCK_SIP_USER,
    LinkForm,
    field_errors,
    link_modal,
    saved_later_modal,
    submitted_fields,
)
from bot.slack.render.ownership import reassign_modal
from bot.slack.text import say
from bot.values import row_id
from handlers.deps import Deps, Message
from handlers.replies import database_why

log = logging.getLogger(__name__)

ADMIN_CHECK_TIMEOUT = 1.5  # inside a view submission, before the ack: keep well under 3 s
# What a SIP user name may hold: Kazoo's device user names are letters, digits and a little punctuation; nothing
# Slack would read as markup (<, >, &, *, `, ~) gets into the confirmations and the admins' announcements.
USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")


def register(app: AsyncApp, deps: Deps) -> None:
    @app.view(VIEW_LINK)
    async def on_link_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        if not (user := submitter(body)):
            await ignore(ack, VIEW_LINK)
            return
        # the field errors come in the ack (3 s): the language known without asking Slack
        with speaking(deps.languages.known(user)):
            await submit_link(deps, client, ack, body)

    @app.view(VIEW_REASSIGN)  # an admin gives a missed call to someone
    async def on_reassign_submit(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        if not submitter(body):
            await ignore(ack, VIEW_REASSIGN)
            return
        with speaking(deps.languages.known(submitter(body))):
            await submit_reassign(deps, ack, body)


def register_fallback(app: AsyncApp) -> None:
    """A submission of a dialog we never opened (a forged or retired callback id): acked and ignored, so it gets
    200 rather than Bolt's 404. Registered after the listeners above, since Bolt runs the first that matches."""

    @app.view(re.compile(r"(?s).*"))
    async def unknown_dialog(ack: AsyncAck) -> None:
        await ignore(ack, "unknown")


def submitter(body: dict[str, Any]) -> str:
    """The submitting user's id if it is one Slack would send, else "" (a forged submission)."""
    user = body.get("user")
    uid = user.get("id") if isinstance(user, dict) else None
    return uid if isinstance(uid, str) and USER_ID.fullmatch(uid) else ""


async def ignore(ack: Callable[..., Awaitable[object]], callback: str) -> None:
    """Close the request with 200 and do nothing: no user to answer, or a dialog that is not ours."""
    log.info("dialog submission ignored callback=%s", callback)  # `callback` is ours, never the payload's
    await ack()


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
    """Validate, store (bot/callback/links.py) and answer, all inside the ack: Slack shows a refusal in the
    dialog, and a link the database could not take yet closes it with a sentence that says so.

    A SIP user belongs to one Slack person: linking one that someone else has, or linking for someone else,
    needs an admin (who then moves it). AntBuddy has no way to check a SIP password without ringing the
    device, so the first link of a SIP user is trusted, and every link is announced to the admins."""
    user_id = submitter(body)
    submitted: dict[str, Any] = body["view"] if isinstance(body.get("view"), dict) else {}
    form = LinkForm.load(submitted.get("private_metadata"), user_id)
    target = form.target
    sip_user, password = submitted_fields(submitted)
    errors = field_errors(sip_user, password, vault_available=deps.links.available)
    if not USER_ID.fullmatch(target):  # a forged private_metadata: it would end up inside <@...> mentions
        log.warning("link refused user=%s reason=bad_target", user_id)
        await ack(response_action="errors", errors={BLOCK_SIP_USER: say("link.admin_only")})
        return
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    is_admin = deps.links.needs_admin(target, sip_user, by=user_id) and await _is_admin_quickly(deps, user_id)
    try:
        saved = deps.links.link(target, sip_user, password, by=user_id, is_admin=is_admin)
    except LinkRefused as refused:
        why = "link.err_taken" if refused.why is Refusal.TAKEN else "link.admin_only"
        await ack(response_action="errors", errors={BLOCK_SIP_USER: say(why)})
        return
    except VaultError:  # the key vanished between the check and now: nothing stored
        log.error("link refused: vault unavailable user=%s", user_id)
        await ack(response_action="errors", errors={BLOCK_SIP_USER: say("link.err_no_key")})
        return
    except NotSaved as exc:  # the dialog stays open: they can submit again in a minute
        await ack(response_action="errors", errors={BLOCK_SIP_USER: not_saved_text(exc)})
        return
    finally:
        del password  # nothing below needs it
    if saved.saved is Saved.LATER:
        await ack(response_action="update", view=saved_later_modal())
        return
    await ack()  # the confirmations and the admins' notice come through the outbox


def unlink(deps: Deps, target: str, *, by: str) -> Message:
    """`/ring unlink [@user]` once the caller may (themselves, or an admin): the answer; the person and the admins
    are told through the outbox."""
    whose = "" if target == by else say("unlink.whose", user=target)
    removed = deps.links.remove(target, by=by)  # NotSaved: answered by `answer`, nothing changed
    if removed is None:
        return {"text": say("unlink.none", whose=whose)}
    text = say("unlink.done", sip_user=escape(removed.link.sip_user), whose=whose)
    if removed.saved is Saved.LATER:
        text = f"{text} {say('database.saved_later')}"
    return {"text": text}


async def _is_admin_quickly(deps: Deps, user_id: str) -> bool:
    """The admin check inside a view submission, before the ack: a slow Slack means "not an admin"."""
    try:
        async with asyncio.timeout(ADMIN_CHECK_TIMEOUT):
            return await deps.admins.is_admin(user_id)
    except TimeoutError:
        return False


# -- ownership: the reassign picker (admins) -------------------------------------------------------------
async def open_reassign_modal(
    deps: Deps, client: AsyncWebClient, *, user_id: str, alert_id: int, trigger_id: str
) -> Message | None:
    """Open the user picker for an admin; anyone else, or a closed alert, gets the sentence saying why not."""
    alert = deps.lists.alert(alert_id)
    if alert is None:
        return {"text": say("own.gone")}
    if alert["status"] not in ("open", "calling_back"):
        return {"text": say("own.closed")}
    if not await deps.admins.is_admin(user_id):
        try:  # the service's own refusal: "only an admin can reassign", audited there
            deps.alerts.ownership.reassign(alert_id, user_id, by=user_id, is_admin=False)
        except Refused as refused:
            return {"text": refused_text(refused)}
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
    node: Any = view
    for key in ("state", "values", "owner", "owner", "selected_user"):  # only Slack's own shape counts
        node = node.get(key) if isinstance(node, dict) else None
    picked = node
    return picked if isinstance(picked, str) and USER_ID.fullmatch(picked) else None


async def submit_reassign(deps: Deps, ack: Callable[..., Awaitable[object]], body: dict[str, Any]) -> None:
    """Checked in the ack (admin, a person picked, the alert still open): errors show in the dialog."""
    user_id = submitter(body)
    view: dict[str, Any] = body["view"] if isinstance(body.get("view"), dict) else {}
    alert_id = row_id(view.get("private_metadata"))
    to = picked_owner(view)
    if alert_id is None or to is None:
        await ack(response_action="errors", errors={"owner": say("own.reassign.pick")})
        return
    try:
        saved = deps.alerts.ownership.reassign(
            alert_id, to, by=user_id, is_admin=await _is_admin_quickly(deps, user_id)
        )
    except Refused as refused:
        await ack(response_action="errors", errors={"owner": refused_text(refused)})
        return
    except NotSaved as exc:
        await ack(response_action="errors", errors={"owner": not_saved_text(exc)})
        return
    if saved is Saved.LATER:  # the alert shows the new owner once the database takes it: say so
        await ack(response_action="update", view=saved_later_modal("own.reassign.title"))
        return
    await ack()  # the alert edits itself, and the new owner is told, through the outbox


def not_saved_text(exc: NotSaved) -> str:
    """Inside a dialog's ack, where `answer` cannot say it: not saved, why, and to try again in a minute."""
    return say("database.not_saved", why=database_why(exc.state))


def refused_text(refused: Refused) -> str:
    """The sentence for a refused ownership change; a user in it is shown as a mention."""
    fields = {k: mention(str(v)) if k == "user" else v for k, v in refused.fields.items()}
    return say(refused.key, **fields)
