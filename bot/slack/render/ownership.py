"""What ownership, escalation and business hours say (pure): the owner line and the "unowned" badge on an alert,
the escalation reply and the supervisor's DM, the overnight digest, `/ring mine` and the reassign picker.

Alert and call dicts are Store rows; an alert may carry the ownership keys `owner`, `owned_at`,
`escalation_step`, `escalated_at` (bot/alerts/service.py: `AlertRenderer` adds them)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import tzinfo
from typing import Any

from bot.slack.blocks import Block, button, context, packed_sections, section, within
from bot.slack.format import channel_mention, clock_time, day_and_time, duration, mention, message_link
from bot.slack.ids import ACTION_CALLBACK, VIEW_REASSIGN
from bot.slack.text import say

LATE_AFTER = 60.0  # seconds: a message this late says so
DIGEST_CUSTOMERS_SHOWN = 20  # customers with their own Call back button; the rest are counted
SHORT_NUMBERS_SHOWN = 10
_GROUP = re.compile(r"^S[A-Z0-9]{2,20}$")
_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_OPEN = ("open", "calling_back")


def owner_line(alert: Mapping[str, Any], tz: tzinfo) -> str | None:
    """'Owned by @an since 10:42' while the alert is open and someone owns it."""
    owner = alert.get("owner")
    if not owner or alert.get("status") not in _OPEN:
        return None
    return say("own.owned", user=mention(owner), time=clock_time(alert.get("owned_at"), tz))


def unowned_badge(alert: Mapping[str, Any]) -> str | None:
    """'unowned 15 min' once escalation fired and until someone takes the alert (or it is closed)."""
    if alert.get("owner") or alert.get("status") != "open" or not int(alert.get("escalation_step") or 0):
        return None
    since = float(alert.get("created_at") or 0)
    at = float(alert.get("escalated_at") or since)
    return say("own.unowned_badge", minutes=max(1, round((at - since) / 60)))


def targets_text(targets: Sequence[str]) -> str:
    """Mentions for an escalation target: user groups, users, or @here when none is set."""
    out: list[str] = []
    for t in targets:
        if _GROUP.match(t):
            out.append(f"<!subteam^{t}>")
        elif _USER.match(t):
            out.append(f"<@{t}>")
        elif t in ("here", "channel"):
            out.append(f"<!{t}>")
    return " ".join(out) or "<!here>"


def escalation_reply(targets: Sequence[str], minutes: int, *, late_minutes: int = 0) -> str:
    """The thread reply under an alert nobody took."""
    text = say("escalation.reply", targets=targets_text(targets), minutes=minutes)
    if late_minutes > 0:
        text += say("escalation.late", minutes=late_minutes)
    return text


def escalation_dm(
    alert: Mapping[str, Any], caller: str, minutes: int, *, workspace_url: str | None = None, late_minutes: int = 0
) -> tuple[str, list[Block]]:
    """The supervisor's DM at the second step: which call, where, how long, and a link to the alert."""
    url = message_link(alert.get("channel"), alert.get("ts"), workspace_url)
    link = say("mine.link", url=url) if url else say("escalation.dm_nolink")
    text = say(
        "escalation.dm", number=caller, channel=channel_mention(alert.get("channel")), minutes=minutes, link=link
    )
    if late_minutes > 0:
        text += say("escalation.late", minutes=late_minutes)
    return say("escalation.dm_fallback", number=caller, minutes=minutes), [section(text)]


def _voicemail(call: Mapping[str, Any] | None) -> bool:
    """Did the caller leave a voicemail? Known only from what history or the hangup cause says."""
    if not call:
        return False
    detail = call.get("detail") or {}
    history = detail.get("history") if isinstance(detail, dict) else None
    words = " ".join(
        str(x or "")
        for x in (call.get("hangup_cause"), (history or {}).get("status_detail") if isinstance(history, dict) else "")
    )
    return "voicemail" in words.lower()


def render_overnight_digest(
    customers: Sequence[Mapping[str, Any]],
    shorts: Sequence[Mapping[str, Any]],
    *,
    tz: tzinfo,
    now: float,
    min_ring_seconds: int,
    caller_text: Callable[[str], str],
    due_at: float | None = None,
) -> tuple[str, list[Block]]:
    """The one overnight message per channel at opening time; one that comes late (`due_at` more than a minute
    before `now`: ringbot or Slack was down) says so.

    `customers`: one dict per customer, folded: `alert` (the newest alert row), `calls` (how many), `last_at`,
    `call` (its call row, for voicemail) and `status`. `shorts`: short hang-up rows. `caller_text(raw)` shows a
    number (bot/slack/render/alert.py: caller_text, already escaped)."""
    total = sum(int(c.get("calls") or 1) for c in customers)
    if not customers:
        title = say("overnight.title_none")
    elif total == 1:
        title = say("overnight.title_one")
    else:
        title = say("overnight.title", count=total, customers=len(customers))
    blocks: list[Block] = [section(title)]
    for c in customers[:DIGEST_CUSTOMERS_SHOWN]:
        alert = c["alert"]
        status = str(c.get("status") or alert.get("status"))
        count = int(c.get("calls") or 1)
        attempts = say("overnight.attempts_one") if count == 1 else say("overnight.attempts_many", count=count)
        resolved = say("overnight.resolved") if status == "resolved" else ""
        resolved = say("overnight.handled") if status == "handled" else resolved
        line = say(
            "overnight.customer",
            number=caller_text(str(alert.get("customer_number") or "")),
            attempts=attempts,
            time=day_and_time(c.get("last_at"), tz, now=now),
            voicemail=say("overnight.voicemail_yes" if _voicemail(c.get("call")) else "overnight.voicemail_no"),
            resolved=resolved,
        )
        dial = status in _OPEN and bool(alert.get("customer_key"))
        blocks.append(
            section(line, button(say("alert.button.callback"), ACTION_CALLBACK, str(alert["id"])) if dial else None)
        )
    if len(customers) > DIGEST_CUSTOMERS_SHOWN:
        blocks.append(context(say("overnight.more", count=len(customers) - DIGEST_CUSTOMERS_SHOWN)))
    if shorts:
        numbers = ", ".join(caller_text(str(s.get("customer_number") or "")) for s in shorts[:SHORT_NUMBERS_SHOWN])
        if len(shorts) > SHORT_NUMBERS_SHOWN:
            numbers += " " + say("blocks.more", n=len(shorts) - SHORT_NUMBERS_SHOWN)
        key = "overnight.short_one" if len(shorts) == 1 else "overnight.short"
        blocks.append(context(say(key, count=len(shorts), seconds=min_ring_seconds, numbers=numbers)))
    if due_at is not None and now - due_at > LATE_AFTER:
        blocks.append(
            context(
                say(
                    "overnight.late", time=day_and_time(due_at, tz, now=now), late=duration(now - due_at, precise=False)
                )
            )
        )
    fallback = say("overnight.fallback", count=total)
    if shorts:
        fallback += " · " + say(
            "overnight.short_one" if len(shorts) == 1 else "overnight.short",
            count=len(shorts),
            seconds=min_ring_seconds,
            numbers="",
        ).rstrip(": ")
    return fallback, within(blocks, 50)


def render_mine(
    alerts: Sequence[Mapping[str, Any]],
    *,
    tz: tzinfo,
    now: float,
    caller_text: Callable[[str], str],
    workspace_url: str | None = None,
    max_blocks: int = 50,
) -> list[Block]:
    """`/ring mine` and App Home's "Owned by me": one line per open alert the person owns."""
    if not alerts:
        return [section(say("mine.none"))]
    lines = []
    for a in alerts:
        link = message_link(a.get("channel"), a.get("ts"), workspace_url)
        line = say(
            "mine.line",
            icon=":telephone_receiver:" if a.get("status") == "calling_back" else ":bust_in_silhouette:",
            number=caller_text(str(a.get("customer_number") or "")),
            when=day_and_time(a.get("last_call_at") or a.get("created_at"), tz, now=now),
            channel=channel_mention(a.get("channel")),
            since=clock_time(a.get("owned_at"), tz),
        )
        lines.append(line + (" · " + say("mine.link", url=link) if link else ""))
    return [section(say("mine.title", count=len(alerts))), *packed_sections(lines, max_blocks=max_blocks - 1)]


def reassign_modal(alert_id: int, number: str, current: str | None) -> dict[str, Any]:
    """The admin's user picker; `number` already escaped."""
    select: dict[str, Any] = {
        "type": "users_select",
        "action_id": "owner",
        "placeholder": {"type": "plain_text", "text": say("own.reassign.pick")},
    }
    if current:
        select["initial_user"] = current
    return {
        "type": "modal",
        "callback_id": VIEW_REASSIGN,
        "private_metadata": str(alert_id),
        "title": {"type": "plain_text", "text": say("own.reassign.title")},
        "submit": {"type": "plain_text", "text": say("own.reassign.submit")},
        "close": {"type": "plain_text", "text": say("own.reassign.cancel")},
        "blocks": [
            section(say("own.reassign.intro", number=number)),
            {
                "type": "input",
                "block_id": "owner",
                "label": {"type": "plain_text", "text": say("own.reassign.label")},
                "element": select,
            },
        ],
    }


def render_short_hangups(
    rows: Sequence[Mapping[str, Any]], *, tz: tzinfo, caller_text: Callable[[str], str]
) -> list[Block]:
    """`/ring missed all`'s extra part: the short hang-ups that were counted, not alerted."""
    if not rows:
        return [context(say("missed.short_none"))]
    lines = [
        say(
            "missed.short_line",
            number=caller_text(str(r.get("customer_number") or "")),
            time=clock_time(r.get("started_at"), tz),
            seconds=int(r.get("ring_seconds") or 0),
        )
        for r in rows
    ]
    return [section(say("missed.short_title", count=len(rows))), *packed_sections(lines, max_blocks=10)]


__all__ = [
    "escalation_dm",
    "escalation_reply",
    "owner_line",
    "reassign_modal",
    "render_overnight_digest",
    "render_mine",
    "render_short_hangups",
    "targets_text",
    "unowned_badge",
]
