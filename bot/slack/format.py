"""How seconds, moments, people and messages read in Slack: one duration style, the local clock (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from babel.dates import format_date
from babel.numbers import format_decimal

from bot.slack.blocks import escape
from bot.slack.i18n import language
from bot.slack.text import say

MINUTE, HOUR, DAY = 60, 3600, 86400


def duration(seconds: float | None, *, precise: bool = True) -> str:
    """'25 s', '2m 14s', '1h 02m', '2d 3h' ('25 giây', '2 phút 14 giây'...): how long something lasted, in the
    language being spoken (the patterns are catalog keys `duration.*`).

    `precise=False` drops the seconds past the first minute ('12m'): enough for "time in a state"."""
    s = max(0, int(round(seconds or 0)))
    if s < MINUTE:
        return say("duration.seconds", s=s)
    if s < HOUR:
        minutes, rest = divmod(s, MINUTE)
        if rest and precise:
            return say("duration.minutes_seconds", m=minutes, s=rest)
        return say("duration.minutes", m=minutes)
    if s < DAY:
        return say("duration.hours_minutes", h=s // HOUR, m=s % HOUR // MINUTE)
    return say("duration.days_hours", d=s // DAY, h=s % DAY // HOUR)


def clock_time(at: float | None, tz: tzinfo) -> str:
    """'14:09' in the configured zone."""
    if at is None:
        return "?"
    return f"{datetime.fromtimestamp(at, tz=UTC).astimezone(tz):%H:%M}"


# CLDR patterns: 'Tue 24 Nov'; 'Thứ Ba 24/11' (Vietnamese write the day and month as numbers)
_DAY_PATTERN = {"en": "EEE d MMM", "vi": "EEEE d/M"}


def day_and_time(at: float | None, tz: tzinfo, *, now: float | None = None) -> str:
    """'14:05, Tue 24 Nov' / '14:05, Thứ Ba 24/11' in the configured zone (the year only when it is not
    this year); weekday and month names from Babel's locale data for the language being spoken."""
    if at is None:
        return "?"
    dt = datetime.fromtimestamp(at, tz=UTC).astimezone(tz)
    lang = language()
    pattern = _DAY_PATTERN.get(lang, _DAY_PATTERN["en"])
    if now is not None and datetime.fromtimestamp(now, tz=UTC).astimezone(tz).year != dt.year:
        pattern += "/y" if lang == "vi" else " y"
    return f"{dt:%H:%M}, {format_date(dt, pattern, locale=lang)}"


def day_label(at: float, tz: tzinfo, *, now: float | None = None) -> str:
    """'Mon 2 Mar' / 'Thứ Hai 2/3': the day of `at` as day_and_time writes it (the year only when not this year)."""
    return day_and_time(at, tz, now=now).split(", ", 1)[1]


def list_time(at: float | None, tz: tzinfo, now: datetime) -> str:
    """`14:05` today, `yesterday 14:05` / `hôm qua 14:05`, `12/03 14:05` another day (day/month, as read in
    Vietnam): one line of a list."""
    if at is None:
        return "--:--"
    t = datetime.fromtimestamp(at, tz)
    today = now.astimezone(tz).date()
    if t.date() == today:
        return t.strftime("%H:%M")
    if t.date() == today - timedelta(days=1):
        return f"{say('day.yesterday')} {t:%H:%M}"
    return t.strftime("%d/%m %H:%M")


def number(value: float | None) -> str:
    """A count or figure written the local way: 12,345 in English, 12.345 in Vietnamese."""
    return format_decimal(value or 0, locale=language())


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
