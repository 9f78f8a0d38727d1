"""Block Kit for missed/abandoned call alerts, burst summaries and repeat replies (pure: no I/O).

Every value from a call (numbers, queue and agent names, hangup causes) is escaped (bot/slack/blocks.py:
`escape`) where it enters a line, and the same escaped pieces make the blocks and the `text` fallback.

The alert and call dicts are Store rows (storage/schema.py). One optional key may ride on the alert
dict, filled by whoever wires the renderer (bot/alerts/service.py: `AlertRenderer`): `calls_24h` (int,
calls from this number in the last 24 h).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from bot.calls.numbers import clean, format_number, is_external, is_withheld
from bot.slack.blocks import Block, actions, button, context, escape, section
from bot.slack.format import clock_time, day_and_time, duration, mention
from bot.slack.ids import (
    ACTION_CALLBACK,
    ACTION_HANDLED,
    ACTION_HISTORY,
    ACTION_REASSIGN,
    ACTION_RELEASE,
    ACTION_TAKE,
    ACTION_UNHANDLE,
)
from bot.slack.render.ownership import owner_line, unowned_badge
from bot.slack.text import MESSAGES, say

MAX_AGENTS_SHOWN = 8
PART_LIMIT = 120  # one name or cause: long values are clipped so every line still fits a section


def describe_cause(cause: str | None, *, outcome: str | None = None) -> str | None:
    """A hangup cause (Kazoo/FreeSWITCH, queue end reason, or history status) in plain words."""
    if not cause:
        return None
    key = str(cause).strip().lower()
    if key == "normal_clearing" and outcome == "abandoned":
        return say("cause.normal_clearing.abandoned")
    return say(f"cause.{key}") if f"cause.{key}" in MESSAGES else key.replace("_", " ")


def _button(text_key: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    return button(say(text_key), action_id, value, style=style)


# -- pieces of an alert -------------------------------------------------------------------------------
def callback_requested(call: Mapping[str, Any] | None) -> bool:
    """The caller asked the queue to call them back (history marked it, or the queue's callback already rang an
    agent): the queue will call, so the alert invites no second, manual call back (docs/call-model.md)."""
    detail = (call or {}).get("detail") or {}
    if not isinstance(detail, dict):
        return False
    return bool((detail.get("queue_stat") or {}).get("is_callback") or detail.get("queue_callback"))


def headline(alert: Mapping[str, Any], call: Mapping[str, Any] | None, queue_name: str | None) -> str:
    """'Missed call', 'Abandoned in queue CSKH' (queue name; 'queue <id>' only when the name is unknown), or
    'Asked for a callback, queued in CSKH'; mrkdwn, the queue escaped."""
    if alert.get("outcome") != "abandoned":
        return say("alert.missed")
    queue_id = (call or {}).get("queue_id")
    if queue_name:
        queue = escape(queue_name, limit=PART_LIMIT)
    elif queue_id:
        queue = say("alert.queue_unknown", queue_id=escape(queue_id, limit=PART_LIMIT))
    else:
        return say("alert.callback_queued_no_queue" if callback_requested(call) else "alert.abandoned_no_queue")
    return say("alert.callback_queued" if callback_requested(call) else "alert.abandoned", queue=queue)


def _callback_tried_at(call: Mapping[str, Any] | None) -> float | None:
    """When the queue's callback rang without reaching the customer (None: it has not tried, or it worked)."""
    detail = (call or {}).get("detail") or {}
    tried = detail.get("queue_callback") if isinstance(detail, dict) else None
    at = tried.get("tried_at") if isinstance(tried, dict) else None
    return float(at) if isinstance(at, (int, float)) else None


def callback_line(call: Mapping[str, Any] | None, tz: ZoneInfo) -> str | None:
    """What the queue is doing about the callback the caller asked for (None when they did not ask)."""
    if not callback_requested(call):
        return None
    tried_at = _callback_tried_at(call)
    if tried_at is not None:
        return say("alert.callback_tried", time=clock_time(tried_at, tz))
    return say("alert.callback_pending")


def _dialled_text(dialled: str | None) -> str | None:  # mrkdwn, escaped and clipped: one part of a line
    if not dialled:
        return None
    if is_external(dialled):
        return escape(format_number(dialled), limit=PART_LIMIT)
    return say("alert.extension", number=escape(clean(dialled) or dialled, limit=PART_LIMIT))


def _agents(call: Mapping[str, Any] | None, agent_name: Callable[[str], str | None] | None) -> list[str]:
    """Who rang: the stream's usernames, else the agents history says missed it (names when known)."""
    if not call:
        return []
    names = [str((agent_name(str(a)) if agent_name else None) or a) for a in (call.get("agents_rung") or []) if a]
    detail = call.get("detail") or {}
    if not names and isinstance(detail, dict):
        for miss in (detail.get("queue_stat") or {}).get("misses") or []:
            who = miss.get("username") or miss.get("agent_id") if isinstance(miss, dict) else None
            if who:
                names.append(str((agent_name(who) if agent_name else None) or who))
    seen: list[str] = []
    for n in names:
        if n not in seen:
            seen.append(n)
    return seen


def _cause(alert: Mapping[str, Any], call: Mapping[str, Any] | None) -> str | None:
    if not call:
        return None
    outcome = alert.get("outcome")
    if callback_requested(call):
        return say("cause.callback_requested")
    detail = call.get("detail") or {}
    reason = (detail.get("queue_stat") or {}).get("end_call_reason") if isinstance(detail, dict) else None
    if outcome == "abandoned" and reason:
        return describe_cause(reason, outcome=outcome)
    return describe_cause(call.get("hangup_cause"), outcome=outcome)


def _waited_seconds(alert: Mapping[str, Any], call: Mapping[str, Any]) -> int:
    detail = call.get("detail") or {}
    wait = (detail.get("queue_stat") or {}).get("wait_time") if isinstance(detail, dict) else None
    if alert.get("outcome") == "abandoned" and wait:
        return int(wait)
    return int(call.get("ring_seconds") or 0)


def state_line(alert: Mapping[str, Any], agent_name: Callable[[str], str | None] | None = None) -> str | None:
    """The lifecycle line: calling back, handled, resolved (None while simply open)."""
    status = alert.get("status")
    if status == "calling_back":
        return say("alert.state.calling_back", user=mention(alert.get("claimed_by")))
    if status == "handled":
        return say("alert.state.handled", user=mention(alert.get("handled_by")))
    if status == "resolved":
        detail = alert.get("resolved_detail") or {}
        if not isinstance(detail, dict):
            detail = {}
        who = detail.get("slack_user")
        if not who:
            agent = detail.get("agent") or alert.get("resolved_by")
            who = ((agent_name(str(agent)) if agent_name and agent else None) or agent) or None
        talk = duration(detail.get("talk_seconds"))
        direction = detail.get("direction")
        if direction not in ("inbound", "outbound", "queue_callback"):
            return say("alert.state.resolved")
        suffix = "" if who else "_noagent"
        return say(f"alert.state.resolved_{direction}{suffix}", agent=mention(who) if who else "", talk=talk)
    return None


def _actions(alert: Mapping[str, Any], *, withheld: bool = False, queue_calls_back: bool = False) -> Block:
    """Call back, Mark handled / Undo, History; a withheld caller has no number to dial or look up, and a caller
    the queue will call back needs no second call."""
    alert_id = str(alert.get("id"))
    status = alert.get("status")
    if status == "resolved":
        elements = [] if withheld else [_button("alert.button.history", ACTION_HISTORY, alert_id)]
    else:
        dial = not withheld and not queue_calls_back
        elements = [_button("alert.button.callback", ACTION_CALLBACK, alert_id, style="primary")] if dial else []
        if status == "handled":
            elements.append(_button("alert.button.undo", ACTION_UNHANDLE, alert_id))
        else:
            # An open alert is owned by someone, or anyone may take it; admins give it to someone else.
            if alert.get("owner"):
                elements.append(_button("own.button.release", ACTION_RELEASE, alert_id))
            else:
                elements.append(_button("own.button.take", ACTION_TAKE, alert_id))
            elements.append(_button("alert.button.handled", ACTION_HANDLED, alert_id))
        if not withheld:
            elements.append(_button("alert.button.history", ACTION_HISTORY, alert_id))
        if status != "handled":
            elements.append(_button("own.button.reassign", ACTION_REASSIGN, alert_id))
    # A new block_id per version: Slack clients keep stale button state otherwise (slack_sdk ActionsBlock doc).
    return actions(elements, block_id=f"alert:{alert_id}:v{alert.get('version') or 1}")


# -- public renderers ---------------------------------------------------------------------------------
def render_alert(
    alert: Mapping[str, Any],
    call: Mapping[str, Any] | None,
    *,
    queue_name: str | None,
    tz: ZoneInfo,
    now: float,
    agent_name: Callable[[str], str | None] | None = None,
) -> tuple[str, list[Block]]:
    """(notification fallback text, blocks) for one alert in its current state."""
    raw = str((call or {}).get("customer_number") or alert.get("customer_number") or "")
    withheld = is_withheld(raw)
    pretty = caller_text(raw)
    head = headline(alert, call, queue_name)
    emoji = {
        "resolved": ":white_check_mark:",
        "handled": ":ballot_box_with_check:",
        "calling_back": ":telephone_receiver:",
    }.get(str(alert.get("status")), ":red_circle:")
    number_line = f"*{pretty}*"
    if raw and not withheld and clean(raw) != format_number(raw):
        number_line += f"  `{escape(raw, limit=PART_LIMIT, code=True)}`"
    blocks: list[Block] = [section(f"{emoji} *{head}* {say('alert.from', number=number_line)}")]

    lines: list[str] = []
    if call:
        dialled = _dialled_text(call.get("dialled"))
        if dialled:
            lines.append(f"*{say('alert.dialled')}:* {dialled}")
        if (call.get("queue_id") or queue_name) and alert.get("outcome") != "abandoned":  # else in the headline
            queue = escape(queue_name, limit=PART_LIMIT) if queue_name else None
            queue = queue or say("alert.queue_unknown", queue_id=escape(call.get("queue_id"), limit=PART_LIMIT))
            lines.append(f"*{say('alert.queue')}:* {queue}")
        seconds = _waited_seconds(alert, call)
        how_long = say(
            "alert.waited" if alert.get("outcome") == "abandoned" else "alert.rang", duration=duration(seconds)
        )
        when = day_and_time(call.get("started_at") or alert.get("created_at"), tz, now=now)
        lines.append(f"*{say('alert.when')}:* {when}, {how_long}")
        cause = _cause(alert, call)
        if cause:
            lines.append(f"*{say('alert.why')}:* {escape(cause, limit=PART_LIMIT)}")
        agents = _agents(call, agent_name)
        if agents:
            shown = ", ".join(escape(a, limit=PART_LIMIT) for a in agents[:MAX_AGENTS_SHOWN])
            if len(agents) > MAX_AGENTS_SHOWN:
                shown += " " + say("alert.agents_more", count=len(agents) - MAX_AGENTS_SHOWN)
            lines.append(f"*{say('alert.agents_rung')}:* {shown}")
    else:
        lines.append(f"*{say('alert.when')}:* {day_and_time(alert.get('created_at'), tz, now=now)}")
    blocks.append(section("\n".join(lines)))

    context_parts: list[str] = []
    calls_24h = alert.get("calls_24h")
    if calls_24h:
        key = "alert.calls_24h.one" if int(calls_24h) == 1 else "alert.calls_24h.many"
        context_parts.append(say(key, count=int(calls_24h)))
    repeats = int(alert.get("repeat_count") or 1) - 1
    if repeats > 0:
        context_parts.append(say("alert.repeat", count=repeats, time=clock_time(alert.get("last_call_at"), tz)))
    if withheld:
        context_parts.append(say("alert.withheld_why"))
    queued_callback = callback_line(call, tz) if alert.get("status") != "resolved" else None
    if queued_callback:
        context_parts.append(queued_callback)
    if context_parts:
        blocks.append(context(" · ".join(context_parts)))

    state = state_line(alert, agent_name)
    if state:
        blocks.append(section(state))
    owned, badge = owner_line(alert, tz), unowned_badge(alert)  # who owns it, or how long nobody has
    if owned or badge:
        blocks.append(context(owned or badge or ""))
    # The queue will call back: no second, manual call, unless its attempt did not reach the customer.
    queue_calls_back = callback_requested(call) and _callback_tried_at(call) is None
    blocks.append(_actions(alert, withheld=withheld, queue_calls_back=queue_calls_back))

    dialled = _dialled_text((call or {}).get("dialled"))
    text = say(
        "alert.fallback",
        headline=head,
        number=pretty,
        dialled=say("alert.fallback_dialled", dialled=dialled) if dialled else "",
    )
    if state:
        text += f" ({state.split(' ', 1)[-1]})"
    return text, blocks


def caller_text(raw: str) -> str:
    """The caller as a line shows it (mrkdwn, escaped): '0987 654 321', 'a withheld number (anonymous)'."""
    if not is_withheld(raw):
        return escape(format_number(raw) or raw, limit=PART_LIMIT)
    return say("alert.withheld_number", shown=escape(raw, limit=PART_LIMIT)) if raw else say("alert.unknown_number")


def render_alert_plain(alert: Mapping[str, Any]) -> str:
    """The alert as one line, for when rendering it failed: the post must still go (bot/outbox/sending.py)."""
    head = say("alert.abandoned_no_queue") if alert.get("outcome") == "abandoned" else say("alert.missed")
    raw = alert.get("customer_number")  # as stored: the number formatting may be what failed
    number = escape(raw, limit=PART_LIMIT) if raw else say("alert.unknown_number")
    return say("alert.fallback", headline=head, number=number, dialled="")


def render_burst_summary(
    channel_count: int, first_at: float | None, last_at: float | None, tz: ZoneInfo
) -> tuple[str, list[Block]]:
    """The one message a burst folds into; its thread holds the alerts."""
    first, last = clock_time(first_at, tz), clock_time(last_at if last_at is not None else first_at, tz)
    if channel_count == 1:
        mrkdwn = say("alert.burst.summary_one", count=channel_count, first=first)
    else:
        mrkdwn = say("alert.burst.summary", count=channel_count, first=first, last=last)
    return say("alert.burst.fallback", count=channel_count, first=first, last=last), [section(mrkdwn)]


def render_repeat_reply(call: Mapping[str, Any], tz: ZoneInfo) -> str:
    """Thread reply under an open alert when the same number calls again: 'Called again at 14:09 (rang 12 s, …)'."""
    parts: list[str] = []
    seconds = int(call.get("ring_seconds") or 0)
    if seconds:
        key = "alert.waited" if call.get("outcome") == "abandoned" else "alert.rang"
        parts.append(say(key, duration=duration(seconds)))
    cause = describe_cause(call.get("hangup_cause"), outcome=call.get("outcome"))
    if cause:
        parts.append(escape(cause, limit=PART_LIMIT))  # an unknown cause is AntBuddy's words
    extra = f" ({', '.join(parts)})" if parts else ""
    return say("alert.repeat_reply", time=clock_time(call.get("started_at"), tz), extra=extra)
