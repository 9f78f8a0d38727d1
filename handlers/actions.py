"""Buttons. On an alert: Call back, Mark handled, Undo, History. On answers: Play recording (signed URL
fetched on click), More (next page of a history answer), Link my phone. Each acks first, then answers
only the person who clicked, through response_url.

A click whose payload we did not make (no user, a value longer than Slack allows or not text, an action id we
never rendered) is answered "this button is no longer valid"; a value that does not parse as what its button
carries gets that button's own "no longer exists" sentence. Never "something went wrong": the value is the
clicker's to forge, so it is checked before anything reads it.

A button on an alert counts only when it is clicked where the alert shows: the channel it was posted in, or the
clicker's own DM copy of it. A click naming an alert from anywhere else (a forged payload that reuses a real
alert id) is told the button is no longer valid."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.ownership import Refused
from bot.alerts.service import AlertNotFound, NotAllowed
from bot.callback.callbacks import CallBackKind, CallBackResult, Claim
from bot.calls.numbers import format_number
from bot.changes import Saved
from bot.slack.blocks import escape
from bot.slack.format import list_time
from bot.slack.i18n import speaking
from bot.slack.ids import (
    ACTION_CALLBACK,
    ACTION_HANDLED,
    ACTION_HISTORY,
    ACTION_MORE,
    ACTION_OPEN_LINK,
    ACTION_PLAY_RECORDING,
    ACTION_REASSIGN,
    ACTION_RELEASE,
    ACTION_TAKE,
    ACTION_UNHANDLE,
)
from bot.slack.text import say
from bot.values import row_id
from handlers.answers import caller_history_query, history_message, now
from handlers.deps import Deps, Message
from handlers.dial import dial_answer
from handlers.replies import answer, ephemeral, send
from handlers.views import open_link_modal, open_reassign_modal, refused_text

log = logging.getLogger(__name__)
_SAFE_URL = re.compile(r"https://[^\s<>|`]{1,2000}")  # a signed recording URL, fit to sit inside <url|label>

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
RECORDING_TIMEOUT = 5.0
VALUE_MAX = 2000  # Slack's own limit on a button value: a longer one was not made by Slack
CALL_ID_MAX = 256  # bot.calls.events.ID_MAX: no call id we store is longer
MORE_OFFSET_MAX = 10_000  # 500 pages of history: further is not a page anyone reached by clicking More
# The More query's text fields (answers.history_query): customer key, SIP user, Slack user, period label, and
# "t", the title older buttons still carry (ignored: the title is rebuilt from the rest).
_MORE_TEXT_MAX = {"k": 64, "a": 128, "w": 32, "p": 64, "t": 500}

Body = dict[str, Any]  # Slack's block_actions payload, as Bolt hands it over
# The buttons on an alert (value: its id), answered only from where the alert shows (clicked_where_shown).
ALERT_BUTTONS = frozenset(
    {ACTION_CALLBACK, ACTION_HANDLED, ACTION_UNHANDLE, ACTION_HISTORY, ACTION_TAKE, ACTION_RELEASE, ACTION_REASSIGN}
)
ButtonWork = Callable[[Deps, Body, AsyncWebClient], Awaitable[Message | None]]


def register(app: AsyncApp, deps: Deps) -> None:
    def on(action_id: str, work: ButtonWork, *, timeout: float | None = None) -> None:
        """Ack, then run `work(deps, body, client)` and send its answer (or the sentence for its failure)."""

        @app.action(action_id)
        async def listener(ack: AsyncAck, body: Body, client: AsyncWebClient, respond: AsyncRespond) -> None:
            await ack()
            with speaking(await deps.languages.of(clicker(body))):  # the clicker's language
                if not well_formed(body):
                    await no_longer_valid(respond, action_id, "malformed")
                    return
                if action_id in ALERT_BUTTONS and not clicked_where_shown(deps, body):
                    await no_longer_valid(respond, action_id, "wrong_channel")
                    return
                await answer(
                    ephemeral(respond), lambda: work(deps, body, client), timeout=timeout or deps.directory.timeout
                )

    on(ACTION_CALLBACK, call_back)
    on(ACTION_HANDLED, mark_handled)
    on(ACTION_UNHANDLE, undo_handled)
    on(ACTION_OPEN_LINK, open_link)
    on(ACTION_HISTORY, alert_history)
    on(ACTION_PLAY_RECORDING, recording_link, timeout=RECORDING_TIMEOUT)
    on(ACTION_MORE, more_history)
    on(ACTION_TAKE, take_alert)  # ownership
    on(ACTION_RELEASE, release_alert)
    on(ACTION_REASSIGN, reassign_alert)


def register_fallback(app: AsyncApp) -> None:
    """Any action id no listener took (a forged or oversized one, or a button from a version we no longer
    ship): registered after every other listener, since Bolt runs the first that matches."""

    @app.action(re.compile(r"(?s).*"))
    async def unknown_button(ack: AsyncAck, respond: AsyncRespond) -> None:
        await ack()
        await no_longer_valid(respond, "unknown", "unknown_action")


async def no_longer_valid(respond: AsyncRespond, action: str, reason: str) -> None:
    log.info("button refused action=%s reason=%s", action, reason)  # `action` is ours, never the payload's
    await send(ephemeral(respond), {"text": say("button.invalid")})


def well_formed(body: Body) -> bool:
    """A click as Slack sends it: a user id, an action object, a value that is short printable text."""
    user = body.get("user")
    actions = body.get("actions")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not _USER_ID.fullmatch(user["id"]):
        return False
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return False
    value = actions[0].get("value")
    return value is None or (isinstance(value, str) and len(value) <= VALUE_MAX and value.isprintable())


def click_channel(body: Body) -> str:
    """The channel the click came from (Slack sends `channel.id`, and `container.channel_id` for a message); ""
    when the payload names none."""
    for key, field in (("channel", "id"), ("container", "channel_id")):
        node = body.get(key)
        found = node.get(field) if isinstance(node, dict) else None
        if isinstance(found, str) and found:
            return found
    return ""


def trigger(body: Body) -> str:
    """The click's trigger_id (for views.open), or "" when it is not text (views.open then fails, and says so)."""
    found = body.get("trigger_id")
    return found if isinstance(found, str) else ""


def clicked_where_shown(deps: Deps, body: Body) -> bool:
    """An alert's button clicked where that alert shows to the clicker (its channel, or their DM copy). A value
    that names no alert passes: the button's own work answers that the alert is gone."""
    alert_id = _alert_id(_value(body))
    places = deps.lists.where_shown(alert_id, _user(body)) if alert_id is not None else None
    return places is None or click_channel(body) in places


def clicker(body: Body) -> str:
    """The clicker's user id if the payload has a well-formed one, else "" (their language is then the default)."""
    user = body.get("user")
    uid = user.get("id") if isinstance(user, dict) else None
    return uid if isinstance(uid, str) and _USER_ID.fullmatch(uid) else ""


def _user(body: Body) -> str:
    return str(body["user"]["id"])


def _value(body: Body) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _alert_id(value: str) -> int | None:
    """The alert id in a button value; None for anything that is not a plain positive integer in ASCII digits."""
    return row_id(value.strip())


# -- on an alert --------------------------------------------------------------------------------------
async def call_back(deps: Deps, body: Body, client: AsyncWebClient) -> Message:
    """Call back on an alert: the number comes from the alert row, never from the button or message."""
    user_id = _user(body)
    alert_id = _alert_id(_value(body))
    if alert_id is None:
        log.info("call back refused user=%s reason=invalid_value", user_id)
        return {"text": say("callback.alert_gone")}
    return call_back_answer(deps, await deps.callbacks.from_alert(alert_id, user_id))


def call_back_answer(deps: Deps, result: CallBackResult) -> Message:
    """The words for a Call back: why not, or how the dial went (and whether the alert shows it yet)."""
    if result.kind is CallBackKind.BAD_NUMBER:
        return {"text": say("callback.alert_bad_number", number=escape(result.number, code=True, limit=30))}
    if result.kind is CallBackKind.GONE or result.dial is None:
        return {"text": say("callback.alert_gone")}
    message = dial_answer(deps, result.dial)  # a refused number: why, and who can allow it
    follow = {Claim.LATER: "callback.claim_later", Claim.NOT_SAVED: "callback.claim_not_saved"}.get(result.claim)
    if follow is not None:
        message = {**message, "text": f"{message['text']} {say(follow)}"}
    return message


def change_answer(saved: Saved) -> Message | None:
    """A change the alert shows by itself (it edits itself through the outbox): nothing to say when it is written
    now; Saved.LATER is said, since the alert will not show it until the database takes it. (NotSaved is
    answered by `answer`, like every listener's.)"""
    return {"text": say("database.saved_later")} if saved is Saved.LATER else None


async def mark_handled(deps: Deps, body: Body, client: AsyncWebClient) -> Message | None:
    """'Handled by @them': the alert edits itself through the outbox; a gone alert, or a change the database
    could not take yet, gets an answer."""
    alert_id = _alert_id(_value(body))
    if alert_id is None:
        return {"text": say("callback.handled_gone")}
    try:
        return change_answer(deps.alerts.mark_handled(alert_id, _user(body)))
    except AlertNotFound:
        return {"text": say("callback.handled_gone")}


async def undo_handled(deps: Deps, body: Body, client: AsyncWebClient) -> Message | None:
    """Reopen a handled alert: whoever marked it, or an admin (AlertService decides)."""
    user_id = _user(body)
    alert_id = _alert_id(_value(body))
    if alert_id is None:
        return {"text": say("callback.handled_gone")}
    try:
        return change_answer(deps.alerts.undo_handled(alert_id, user_id, is_admin=await deps.admins.is_admin(user_id)))
    except AlertNotFound:
        return {"text": say("callback.handled_gone")}
    except NotAllowed:
        return {"text": say("callback.not_allowed")}


async def alert_history(deps: Deps, body: Body, client: AsyncWebClient) -> Message:
    """History (value: alert id): that caller's calls in the last 7 days."""
    alert_id = _alert_id(_value(body))
    if alert_id is None:
        return {"text": say("commands.alert_unknown")}
    alert = deps.lists.alert(alert_id)
    customer_key = alert.get("customer_key") if alert else None
    if not customer_key:
        return {"text": say("commands.alert_unknown")}
    return history_message(deps, caller_history_query(deps, customer_key), offset=0)


# -- on answers ---------------------------------------------------------------------------------------
async def open_link(deps: Deps, body: Body, client: AsyncWebClient) -> Message | None:
    """Link my phone (value: "" or the Slack user an admin is linking)."""
    user_id = _user(body)
    value = _value(body)
    return await open_link_modal(
        deps,
        client,
        user_id=user_id,
        target=value if _USER_ID.fullmatch(value) else user_id,  # anything else: your own phone
        channel=click_channel(body),
        trigger_id=trigger(body),
    )


async def recording_link(deps: Deps, body: Body, client: AsyncWebClient) -> Message:
    """Play recording (value: call id): ask AntBuddy for the signed URL only now, since it expires."""
    call_id = _value(body)
    if not call_id or len(call_id) > CALL_ID_MAX:
        return {"text": say("commands.call_unknown")}
    call = deps.lists.call(call_id)
    if not call:
        return {"text": say("commands.call_unknown")}
    media = call.get("recording")
    if not media:
        return {"text": say("commands.recording_none")}
    async with asyncio.timeout(RECORDING_TIMEOUT):
        url = await deps.antbuddy.recording_url(media)
    if not _SAFE_URL.fullmatch(url or ""):  # it goes inside <url|label>, where nothing can be escaped
        log.warning("recording link refused call_id=%s reason=unsafe_url", call_id)
        return {"text": say("commands.recording_none")}
    text = say(
        "commands.recording_link",
        url=url,
        number=escape(format_number(call.get("customer_number"))) or say("commands.number_unknown"),
        time=list_time(call.get("started_at"), deps.settings.tz, now(deps)),
    )
    log.info("recording link call_id=%s", call_id)  # never the URL: it is signed
    return {"text": text}


async def more_history(deps: Deps, body: Body, client: AsyncWebClient) -> Message:
    """More (value: {"q": query, "o": offset}): the next page of the same, time-frozen query."""
    page = more_page(_value(body))
    if page is None:
        return {"text": say("commands.more_expired")}
    query, offset = page
    return history_message(deps, query, offset=offset)


def more_page(value: str) -> tuple[dict[str, Any], int] | None:
    """The query and offset in a More button's value, exactly as answers.history_query made them; None for
    anything else (the store must never see a value of the wrong type)."""
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    query, offset = data.get("q"), data.get("o")
    if not isinstance(query, dict) or type(offset) is not int or not 0 <= offset <= MORE_OFFSET_MAX:
        return None
    if not set(query) <= {"k", "a", "w", "p", "s", "u", "m", "t"} or not isinstance(
        query.get("m", False), (bool, type(None))
    ):
        return None
    for key in ("s", "u"):
        moment = query.get(key)
        if isinstance(moment, bool) or not isinstance(moment, (int, float)) or not math.isfinite(moment):
            return None
    for key, limit in _MORE_TEXT_MAX.items():
        text = query.get(key)
        if text is not None and (not isinstance(text, str) or len(text) > limit):
            return None
    return query, offset


# -- ownership: I'll take it, Release, Reassign --------------------------------------------------------
async def take_alert(deps: Deps, body: Body, client: AsyncWebClient) -> Message | None:
    """I'll take it: the alert shows "Owned by @them since 10:42"; a refusal, or a change not written yet, is
    answered."""
    alert_id = _alert_id(_value(body))
    if alert_id is None:
        return {"text": say("own.gone")}
    try:
        return change_answer(deps.alerts.ownership.take(alert_id, _user(body)))
    except Refused as refused:
        return {"text": refused_text(refused)}


async def release_alert(deps: Deps, body: Body, client: AsyncWebClient) -> Message | None:
    """Release: the owner (or an admin) gives it back."""
    user_id = _user(body)
    alert_id = _alert_id(_value(body))
    if alert_id is None:
        return {"text": say("own.gone")}
    try:
        owner = deps.alerts.owners.get(alert_id)["owner"]
        is_admin = bool(owner) and owner != user_id and await deps.admins.is_admin(user_id)
        return change_answer(deps.alerts.ownership.release(alert_id, user_id, is_admin=is_admin))
    except Refused as refused:
        return {"text": refused_text(refused)}


async def reassign_alert(deps: Deps, body: Body, client: AsyncWebClient) -> Message | None:
    """Reassign (admins): opens the user picker; everyone else is told who can."""
    user_id = _user(body)
    alert_id = _alert_id(_value(body))
    if alert_id is None:
        return {"text": say("own.gone")}
    return await open_reassign_modal(deps, client, user_id=user_id, alert_id=alert_id, trigger_id=trigger(body))
