"""Buttons on answers and alerts: History (an alert's caller), Play recording (signed URL fetched on click),
More (next page of a history answer). Each acks first, then answers ephemerally through response_url."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.calls.numbers import format_number
from bot.slack.ids import ACTION_HISTORY, ACTION_MORE, ACTION_PLAY_RECORDING
from bot.slack.render.answers import local_time
from bot.slack.text import say
from handlers.args import Period
from handlers.commands import Message, answer, history_message
from handlers.deps import Deps

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

ALERT_HISTORY_PERIOD = Period("7d", 7 * 24)
RECORDING_TIMEOUT = 5.0


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(ACTION_HISTORY)
    async def on_history(ack, body, action, respond):  # noqa: ANN001 - Bolt injects these by name
        await ack()
        await answer(
            _ephemeral(respond), lambda: alert_history(deps, action.get("value", "")), timeout=deps.directory.timeout
        )

    @app.action(ACTION_PLAY_RECORDING)
    async def on_play(ack, body, action, respond):  # noqa: ANN001
        await ack()
        await answer(
            _ephemeral(respond), lambda: recording_link(deps, action.get("value", "")), timeout=RECORDING_TIMEOUT
        )

    @app.action(ACTION_MORE)
    async def on_more(ack, body, action, respond):  # noqa: ANN001
        await ack()
        await answer(
            _ephemeral(respond), lambda: more_history(deps, action.get("value", "")), timeout=deps.directory.timeout
        )


def _ephemeral(respond: Any) -> Any:
    async def wrapped(**kw: Any) -> Any:
        kw.setdefault("response_type", "ephemeral")
        kw.setdefault("replace_original", False)  # never overwrite the alert the button sits on
        return await respond(**kw)

    return wrapped


async def alert_history(deps: Deps, value: str) -> Message:
    """The History button on an alert (value: alert id): that caller's calls in the last 7 days."""
    try:
        alert = deps.store.get_alert(int(value))
    except ValueError:
        alert = None
    if not alert or not alert.get("customer_key"):
        return {"text": say("commands.alert_unknown")}
    now = datetime.fromtimestamp(deps.clock(), deps.settings.tz)
    title = say(
        "commands.history_title", who=f" with {format_number(alert['customer_key'])}", period="last 7 days", missed=""
    )
    query = {
        "k": alert["customer_key"],
        "a": None,
        "s": ALERT_HISTORY_PERIOD.since(now, deps.settings.tz).timestamp(),
        "u": now.timestamp(),
        "m": False,
        "t": title,
    }
    return history_message(deps, query, offset=0)


async def recording_link(deps: Deps, call_id: str) -> Message:
    """Play recording (value: call id): ask AntBuddy for the signed URL only now, since it expires."""
    call = deps.store.get_call(call_id) if call_id else None
    if not call:
        return {"text": say("commands.call_unknown")}
    media = call.get("recording")
    if not media:
        return {"text": say("commands.recording_none")}
    url = await asyncio.wait_for(deps.antbuddy.recording_url(media), RECORDING_TIMEOUT)
    now = datetime.fromtimestamp(deps.clock(), deps.settings.tz)
    text = say(
        "commands.recording_link",
        url=url,
        number=format_number(call.get("customer_number")) or "unknown",
        time=local_time(call.get("started_at"), deps.settings.tz, now),
    )
    log.info("recording link call_id=%s", call_id)  # never the URL: it is signed
    return {"text": text}


async def more_history(deps: Deps, value: str) -> Message:
    """More (value: {"q": query, "o": offset}): the next page of the same, time-frozen query."""
    try:
        data = json.loads(value)
        query, offset = data["q"], int(data["o"])
        float(query["s"]), float(query["u"])
        if not isinstance(query, dict) or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return {"text": say("commands.more_expired")}
    return history_message(deps, query, offset=offset)
