"""How seconds, moments, people and messages read in Slack: one duration style, the local clock (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

from bot.slack.blocks import escape
from bot.slack.text import say

MINUTE, HOUR, DAY = 60, 3600, 86400


def duration(seconds: float | None, *, precise: bool = True) -> str:
    """'25 s', '2m 14s', '1h 02m', '2d 3h': the one way ringbot writes how long something lasted.

    `precise=False` drops the seconds past the first minute ('12m'): enough for "time in a state"."""
    s = max(0, int(round(seconds or 0)))
    if s < MINUTE:
        return f"{s} s"
    if s < HOUR:
        minutes, rest = divmod(s, MINUTE)
        return f"{minutes}m {rest:02d}s" if rest and precise else f"{minutes}m"
    if s < DAY:
        return f"{s // HOUR}h {s % HOUR // MINUTE:02d}m"
    return f"{s // DAY}d {s % DAY // HOUR}h"


def clock_time(at: float | None, tz: tzinfo) -> str:
    """'14:09' in the configured zone."""
    if at is None:
        return "?"
    return f"{datetime.fromtimestamp(at, tz=UTC).astimezone(tz):%H:%M}"


def day_and_time(at: float | None, tz: tzinfo, *, now: float | None = None) -> str:
    """'14:05, Tue 24 Nov' in the configured zone (the year only when it is not this year)."""
    if at is None:
        return "?"
    dt = datetime.fromtimestamp(at, tz=UTC).astimezone(tz)
    text = f"{dt:%H:%M}, {dt:%a} {dt.day} {dt:%b}"
    if now is not None and datetime.fromtimestamp(now, tz=UTC).astimezone(tz).year != dt.year:
        text += f" {dt.year}"
    return text


def list_time(at: float | None, tz: tzinfo, now: datetime) -> str:
    """`14:05` today, `12/03 14:05` another day (day/month, as read in Vietnam): one line of a list."""
    if at is None:
        return "--:--"
    t = datetime.fromtimestamp(at, tz)
    if t.date() == now.astimezone(tz).date():
        return t.strftime("%H:%M")
    return t.strftime("%d/%m %H:%M")


MENTION_PART_LIMIT = 120  # a name shown instead of a mention: one part of a line
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{1,30}")
_TS = re.compile(r"\d{1,12}\.\d{1,8}")
_WORKSPACE_URL = re.compile(r"https://[A-Za-z0-9.-]{1,200}/?")  # auth.test's `url`: https://acme.slack.com/


def mention(user: str | None) -> str:
    """`<@U…>` for a Slack user id, the name itself for anything else (an agent's SIP username, escaped:
    AntBuddy's names are not ours)."""
    if not user:
        return say("someone")
    if user[:1] in ("U", "W") and user[1:].isalnum() and user.isascii() and user.upper() == user:
        return f"<@{user}>"
    return escape(user, limit=MENTION_PART_LIMIT)


def channel_mention(channel: str | None) -> str:
    """`<#C…>` for a channel id; anything else is shown as escaped text, never as a link."""
    if channel and _CHANNEL_ID.fullmatch(channel):
        return f"<#{channel}>"
    return escape(channel or "?", limit=MENTION_PART_LIMIT)


def message_link(channel: str | None, ts: str | None, workspace_url: str | None = None) -> str | None:
    """The permalink Slack would give (no chat.getPermalink round trip): on the workspace's own address from
    auth.test (`https://acme.slack.com/`) when known, which opens in the right workspace for people in several;
    else slack.com's, which Slack redirects. None unless channel and ts are Slack's own shapes (the link goes
    inside `<…|…>`, where nothing may be escaped)."""
    if not channel or not ts or not _CHANNEL_ID.fullmatch(channel) or not _TS.fullmatch(ts):
        return None
    base = "https://slack.com"
    if workspace_url and _WORKSPACE_URL.fullmatch(workspace_url):
        base = workspace_url.rstrip("/")
    return f"{base}/archives/{channel}/p{ts.replace('.', '')}"
