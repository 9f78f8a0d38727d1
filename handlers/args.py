"""Parse `/ring` arguments into small dataclasses (pure): a bad argument raises UsageError(hint), its words
from the text catalog."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from bot.calls.numbers import clean, number_key
from bot.slack.blocks import escape
from bot.slack.text import MESSAGES, say

ECHO_LIMIT = 60  # characters of a typed word quoted back in an error
MAX_DAYS = 31  # AntBuddy's history window; our own store could go further but answers stay readable


def _echo(token: str) -> str:
    """A word the person typed, quoted back in a code span: escaped, and short (a pasted essay is not echoed)."""
    return escape(token, limit=ECHO_LIMIT, code=True)


def usage(sub: str) -> str:
    """The one-line usage answer for a sub-command (the catalog's `usage.<sub>`)."""
    return say(f"usage.{sub}") if f"usage.{sub}" in MESSAGES else say("usage.help")


_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_NUMBER_PART = re.compile(r"^\+?[\d().\-]+$")
_DAYS = re.compile(r"^(\d{1,3})d$")


class UsageError(ValueError):
    """An argument we cannot use; `hint` is the one-line usage answer for that sub-command."""

    def __init__(self, hint: str, problem: str = "") -> None:
        super().__init__(problem or hint)
        self.hint = hint
        self.problem = problem

    def message(self) -> str:
        """What the person sees: the problem (if any) then the usage line."""
        return f"{self.problem}\n{self.hint}" if self.problem else self.hint


@dataclass(frozen=True)
class Command:
    """`/ring <sub> args... [share]`: the sub-command (lower case), its arguments, and whether to share."""

    sub: str
    args: tuple[str, ...]
    share: bool


@dataclass(frozen=True)
class Period:
    """`today` (since local midnight) or the last `hours` hours."""

    label: str
    hours: int | None  # None for today

    def since(self, now: datetime, tz: tzinfo) -> datetime:
        """The start of the period for `now` (aware) in the time zone `tz`."""
        if self.hours is None:
            local = now.astimezone(tz)
            return local.replace(hour=0, minute=0, second=0, microsecond=0)
        return now - timedelta(hours=self.hours)


@dataclass(frozen=True)
class HistoryQuery:
    number: str | None  # as typed (cleaned), for display
    customer_key: str | None  # bot.calls.numbers.number_key of it
    slack_user: str | None  # Slack user id from <@U...>
    period: Period
    missed_only: bool


@dataclass(frozen=True)
class RouteArgs:
    target: str  # "default", a DID as typed, or a queue name/id (spaces allowed)
    channel: str | None  # channel id; None: remove the route (`off`)


def parse_command(text: str) -> Command:
    """Split the slash-command text; `share` anywhere (as a word) turns the answer in-channel."""
    words = (text or "").split()
    if not words:
        return Command("help", (), False)
    sub, rest = words[0].lower(), words[1:]
    share = any(w.lower() == "share" for w in rest)
    args = tuple(w for w in rest if w.lower() != "share")
    return Command(sub, args, share)


def parse_user(token: str) -> str | None:
    """`<@U123|name>` or `<@U123>` -> "U123"; anything else None."""
    m = _USER.match(token.strip())
    return m.group(1) if m else None


def parse_channel(token: str) -> str | None:
    """`<#C123|name>`, `<#C123>` or a bare `C123...` id -> the channel id; anything else None."""
    token = token.strip()
    if m := _CHANNEL.match(token):
        return m.group(1)
    return token if _CHANNEL_ID.match(token) else None


def parse_period(token: str) -> Period | None:
    """`today`, `24h`, `Nd` (1 ≤ N ≤ 31) -> Period; None when the word is not a period at all.

    Raises UsageError for a period-shaped word that is out of range (`0d`, `90d`)."""
    word = token.lower()
    if word == "today":
        return Period("today", None)
    if word == "24h":
        return Period("24h", 24)
    if m := _DAYS.match(word):
        days = int(m.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise UsageError(usage("history"), say("usage.out_of_range", token=_echo(token), max=MAX_DAYS))
        return Period(f"{days}d", days * 24)
    return None


def is_number_part(token: str) -> bool:
    return bool(_NUMBER_PART.match(token)) and any(c.isdigit() for c in token)


def parse_number(text: str) -> str:
    """A phone number as typed (spaces and separators allowed) -> cleaned digits; UsageError if not one."""
    cleaned = clean(text)
    digits = cleaned.lstrip("+")
    if not digits.isdigit() or not 3 <= len(digits) <= 20:
        raise UsageError(usage("call"), say("usage.not_a_number", text=_echo(text)))
    return cleaned


def parse_history(args: tuple[str, ...] | list[str]) -> HistoryQuery:
    """`[number|@user] [today|24h|7d|Nd] [missed]` in any order. A number may be typed with spaces
    (`0987 654 321`): consecutive digit groups are joined. Default period: 7d for one caller or
    person, 24h for everything."""
    hint = usage("history")
    number_parts: list[str] = []
    user: str | None = None
    period: Period | None = None
    missed = False
    number_done = False
    for token in args:
        if is_number_part(token):
            if number_done or len(clean("".join(number_parts))) >= 9:  # "0987654321 0912345678"
                raise UsageError(hint, say("usage.one_number"))
            number_parts.append(token)
            continue
        if number_parts:
            number_done = True
        word = token.lower()
        if word in ("missed", "abandoned"):
            missed = True
        elif (p := parse_period(token)) is not None:
            if period is not None:
                raise UsageError(hint, say("usage.one_period"))
            period = p
        elif (u := parse_user(token)) is not None:
            if user is not None:
                raise UsageError(hint, say("usage.one_person"))
            user = u
        elif token.startswith("@"):
            raise UsageError(hint, say("usage.who_is", token=_echo(token)))
        else:
            raise UsageError(hint, say("usage.not_understood", token=_echo(token)))
    number = None
    key = None
    if number_parts:
        if user is not None:
            raise UsageError(hint, say("usage.number_or_person"))
        number = parse_number("".join(number_parts))
        key = number_key(number)
    if period is None:
        period = Period("7d", 7 * 24) if (number or user) else Period("24h", 24)
    return HistoryQuery(number=number, customer_key=key, slack_user=user, period=period, missed_only=missed)


def parse_route(args: tuple[str, ...] | list[str]) -> RouteArgs:
    """`<queue name|id|DID|default> #channel`; the target may hold spaces (`Kinh doanh`)."""
    hint = usage("route")
    if len(args) < 2:
        raise UsageError(hint)
    if args[-1].lower() in ("off", "none", "remove"):
        target = " ".join(args[:-1]).strip().strip("\"'“”")
        if not target:
            raise UsageError(hint)
        return RouteArgs(target=target, channel=None)
    channel = parse_channel(args[-1])
    if channel is None:
        raise UsageError(hint, say("usage.not_a_channel", token=_echo(args[-1])))
    target = " ".join(args[:-1]).strip().strip("\"'“”")
    if not target:
        raise UsageError(hint)
    return RouteArgs(target=target, channel=channel)


def no_args(sub: str, args: tuple[str, ...] | list[str]) -> None:
    """Sub-commands that take nothing (besides `share`)."""
    if args:
        raise UsageError(usage(sub), say("usage.no_args", sub=sub))
