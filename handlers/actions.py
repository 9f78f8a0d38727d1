"""Buttons. On an alert: Call back, Mark handled, Undo, History. On answers: Play recording (signed URL
fetched on click), More (next page of a history answer), Link my phone. Each acks first, then answers
only the person who clicked, through response_url."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.service import AlertNotFound, NotAllowed
from bot.antbuddy import InvalidNumber, validate_number
from bot.calls.numbers import format_number
from bot.slack.format import list_time
from bot.slack.ids import (
    ACTION_CALLBACK,
    ACTION_HANDLED,
    ACTION_HISTORY,
    ACTION_MORE,
    ACTION_OPEN_LINK,
    ACTION_PLAY_RECORDING,
    ACTION_UNHANDLE,
)
from bot.slack.text import say
from handlers.answers import caller_history_query, history_message, now
from handlers.deps import Deps, Message
from handlers.dial import dial_answer
from handlers.replies import answer, ephemeral, while_busy
from handlers.views import open_link_modal
from storage import DatabaseBusy

log = logging.getLogger(__name__)

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
RECORDING_TIMEOUT = 5.0

Body = dict[str, Any]  # Slack's block_actions payload, as Bolt hands it over
ButtonWork = Callable[[Deps, Body, AsyncWebClient], Awaitable[Message | None]]


def register(app: AsyncApp, deps: Deps) -> None:
    def on(action_id: str, work: ButtonWork, *, timeout: float | None = None) -> None:
        """Ack, then run `work(deps, body, client)` and send its answer (or the sentence for its failure)."""

        @app.action(action_id)
        async def listener(ack: AsyncAck, body: Body, client: AsyncWebClient, respond: AsyncRespond) -> None:
            await ack()
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


def _user(body: Body) -> str:
    return str(body["user"]["id"])


def _value(body: Body) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _alert_id(value: str) -> int | None:
    """The alert id in a button value; None for anything that is not a plain positive integer."""
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


# -- on an alert --------------------------------------------------------------------------------------
async def call_back(deps: Deps, body: Body, client: AsyncWebClient) -> Message:
    """Call back on an alert: the number comes from the alert row, never from the button or message."""
    user_id = _user(body)
    alert_id = _alert_id(_value(body))
    alert = deps.store.get_alert(alert_id) if alert_id is not None else None
    if alert is None:
        log.info("call back refused user=%s reason=unknown_alert", user_id)
        return {"text": say("callback.alert_gone")}
    number = alert.get("customer_number") or ""
    try:
        validate_number(number)
    except InvalidNumber:
        deps.store.add_audit(
            "click_to_call", "invalid_number", slack_user=user_id, number=number[:30] or None, alert_id=alert["id"]
        )
        return {"text": say("callback.alert_bad_number", number=number[:30])}
    result = await deps.dialer.call(user_id, number, alert_id=alert["id"])
    if result.ok:
        try:
            deps.alerts.claim(alert["id"], user_id)
        except DatabaseBusy:  # the phone is ringing: say so now, and mark the alert once the database lets us
            _later(_claim_when_free(deps, alert["id"], user_id))
        except Exception as exc:  # noqa: BLE001 - the phone is ringing anyway; the alert edit is secondary
            log.warning("claim failed alert_id=%s error=%s", alert["id"], type(exc).__name__)
    return dial_answer(deps, result)  # a refused number: why, and who can allow it


_background: set[asyncio.Task[None]] = set()


def _later(work: Awaitable[None]) -> None:
    task = asyncio.ensure_future(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _claim_when_free(deps: Deps, alert_id: int, user_id: str) -> None:
    async def claim() -> None:
        deps.alerts.claim(alert_id, user_id)

    try:
        await while_busy(claim)
    except Exception as exc:  # noqa: BLE001 - the alert edit is secondary; the call is already ringing
        log.warning("claim failed alert_id=%s error=%s", alert_id, type(exc).__name__)


async def mark_handled(deps: Deps, body: Body, client: AsyncWebClient) -> Message | None:
    """'Handled by @them': the alert edits itself through the outbox; only a gone alert gets an answer."""
    alert_id = _alert_id(_value(body))
    try:
        if alert_id is not None:
            deps.alerts.mark_handled(alert_id, _user(body))
            return None
    except AlertNotFound:
        pass
    return {"text": say("callback.handled_gone")}


async def undo_handled(deps: Deps, body: Body, client: AsyncWebClient) -> Message | None:
    """Reopen a handled alert: whoever marked it, or an admin (AlertService decides)."""
    user_id = _user(body)
    alert_id = _alert_id(_value(body))
    try:
        if alert_id is not None:
            deps.alerts.undo_handled(alert_id, user_id, is_admin=await deps.admins.is_admin(user_id))
            return None
    except AlertNotFound:
        pass
    except NotAllowed:
        return {"text": say("callback.not_allowed")}
    return {"text": say("callback.handled_gone")}


async def alert_history(deps: Deps, body: Body, client: AsyncWebClient) -> Message:
    """History (value: alert id): that caller's calls in the last 7 days."""
    alert_id = _alert_id(_value(body))
    alert = deps.store.get_alert(alert_id) if alert_id is not None else None
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
        channel=((body.get("channel") or {}).get("id")) or "",
        trigger_id=body.get("trigger_id", ""),
    )


async def recording_link(deps: Deps, body: Body, client: AsyncWebClient) -> Message:
    """Play recording (value: call id): ask AntBuddy for the signed URL only now, since it expires."""
    call_id = _value(body)
    call = deps.store.get_call(call_id) if call_id else None
    if not call:
        return {"text": say("commands.call_unknown")}
    media = call.get("recording")
    if not media:
        return {"text": say("commands.recording_none")}
    url = await asyncio.wait_for(deps.antbuddy.recording_url(media), RECORDING_TIMEOUT)
    text = say(
        "commands.recording_link",
        url=url,
        number=format_number(call.get("customer_number")) or say("commands.number_unknown"),
        time=list_time(call.get("started_at"), deps.settings.tz, now(deps)),
    )
    log.info("recording link call_id=%s", call_id)  # never the URL: it is signed
    return {"text": text}


async def more_history(deps: Deps, body: Body, client: AsyncWebClient) -> Message:
    """More (value: {"q": query, "o": offset}): the next page of the same, time-frozen query."""
    try:
        data = json.loads(_value(body))
        query, offset = data["q"], int(data["o"])
        if not isinstance(query, dict) or offset < 0:
            raise ValueError
        float(query["s"]), float(query["u"])
    except (ValueError, KeyError, TypeError):
        return {"text": say("commands.more_expired")}
    return history_message(deps, query, offset=offset)
