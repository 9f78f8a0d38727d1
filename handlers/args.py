"""Parse `/ring` arguments into small dataclasses (pure): a bad argument raises UsageError(hint), its words
from the text catalog."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from bot.alerts.route_settings import SETTING_WORDS
from bot.calls.numbers import clean, number_key
from bot.slack.blocks import escape
from bot.slack.text import MESSAGES, say
from bot.values import is_digits

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
_NUMBER_PART = re.compile(r"^\+?[0-9().\-]+$")  # ASCII digits: bot/values.py says why
_DAYS = re.compile(r"^([0-9]{1,3})d$")


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


@dataclass(frozen=True)
class RouteSettingsArgs:
    target: str  # as typed, for bot/alerts/routes.py: route_target
    word: str  # escalate | hours | holidays | urgent | min-ring, or `settings` (show them)
    values: tuple[str, ...]


def parse_command(text: str) -> Command:
    """Split the slash-command text; `share` (or `chia-sẻ`) anywhere as a word turns the answer in-channel. A
    Vietnamese sub-command name (`nhỡ`, `hàng-đợi`...) becomes its English one."""
    words = (text or "").split()
    if not words:
        return Command("help", (), False)
    sub, rest = english_subcommand(words[0]), words[1:]
    share = any(is_share(w) for w in rest)
    args = tuple(w for w in rest if not is_share(w))
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
    """`today`, `24h`, `Nd` (1 ≤ N ≤ 31) -> Period, and in Vietnamese `hôm-nay`, `24giờ`, `7ngày` (`hôm nay` and
    `7 ngày` as two words are joined by `join_vietnamese`); None when the word is not a period at all.

    Raises UsageError for a period-shaped word that is out of range (`0d`, `90d`)."""
    word = token.lower()
    folded = fold(token).replace("-", "")
    if word == "today" or folded == "homnay":
        return Period("today", None)
    if word == "24h" or folded in ("24gio", "24g"):
        return Period("24h", 24)
    if m := (_DAYS.match(word) or _DAYS_VI.match(folded)):
        days = int(m.group(1))
        if not 1 <= days <= MAX_DAYS:
            raise UsageError(usage("history"), say("usage.out_of_range", token=_echo(token), max=MAX_DAYS))
        return Period(f"{days}d", days * 24)
    return None


def is_number_part(token: str) -> bool:
    return bool(_NUMBER_PART.match(token)) and any(c in "0123456789" for c in token)


def parse_number(text: str) -> str:
    """A phone number as typed (spaces and separators allowed) -> cleaned digits; UsageError if not one."""
    cleaned = clean(text)
    digits = cleaned.lstrip("+")
    if not is_digits(digits) or not 3 <= len(digits) <= 20:
        raise UsageError(usage("call"), say("usage.not_a_number", text=_echo(text)))
    return cleaned


def parse_history(args: tuple[str, ...] | list[str]) -> HistoryQuery:
    """`[number|@user] [today|24h|7d|Nd] [missed]` in any order. A number may be typed with spaces
    (`0987 654 321`): consecutive digit groups are joined. Default period: 7d for one caller or
    person, 24h for everything."""
    hint = usage("history")
    args = join_vietnamese(args)
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
        if word in ("missed", "abandoned") or fold(token) in _MISSED_VI:
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


def parse_route_settings(args: tuple[str, ...] | list[str]) -> RouteSettingsArgs | None:
    """`<target…> escalate|hours|holidays|urgent|min-ring|settings <values…>`; None when no setting word follows
    the target (a plain `/ring route <target> #channel|off`)."""
    for i, word in enumerate(args[1:], start=1):
        if word.lower() in (*SETTING_WORDS, "settings"):
            target = " ".join(args[:i]).strip()
            return RouteSettingsArgs(target=target, word=word.lower(), values=tuple(args[i + 1 :]))
    return None


def no_args(sub: str, args: tuple[str, ...] | list[str]) -> None:
    """Sub-commands that take nothing (besides `share`)."""
    if args:
        raise UsageError(usage(sub), say("usage.no_args", sub=sub))


# -- Vietnamese: sub-command aliases and periods (docs/commands.md lists them) ---------------------------------
# Typed with or without diacritics (`nhỡ` or `nho`), hyphens or underscores: `fold` compares them all alike.
SUBCOMMAND_ALIASES: dict[str, str] = {
    "trợ-giúp": "help",
    "giúp": "help",
    "nhân-viên": "agents",
    "tổng-đài-viên": "agents",
    "hàng-đợi": "queues",
    "lịch-sử": "history",
    "nhỡ": "missed",
    "gọi-nhỡ": "missed",
    "gọi": "call",
    "liên-kết": "link",
    "bỏ-liên-kết": "unlink",
    "tôi": "me",
    "quay-số": "dial",
    "định-tuyến": "routes",
    "ngôn-ngữ": "lang",
    "của-tôi": "mine",
    "thống-kê": "stats",
    "theo-dõi": "watch",
    "đang-theo-dõi": "watches",
}
_SHARE_VI = "chia-se"
_MISSED_VI = ("nho", "goi-nho", "bi-bo", "bo")
_DAYS_VI = re.compile(r"^([0-9]{1,3})ngay$")


def fold(word: str) -> str:
    """`Nhỡ` -> `nho`, `hàng_đợi` -> `hang-doi`: lower case, no diacritics, `_` as `-`, for comparing typed words."""
    text = unicodedata.normalize("NFD", word.strip().lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(c for c in text if not unicodedata.combining(c)).replace("_", "-")


_ALIASES_FOLDED = {fold(alias): sub for alias, sub in SUBCOMMAND_ALIASES.items()}


def english_subcommand(word: str) -> str:
    """The sub-command a typed word names: its English name, lower case (unknown words are returned as typed)."""
    return _ALIASES_FOLDED.get(fold(word), word.lower())


def is_share(word: str) -> bool:
    return word.lower() == "share" or fold(word) == _SHARE_VI


def join_vietnamese(args: tuple[str, ...] | list[str]) -> list[str]:
    """Two-word Vietnamese periods as one word: `hôm nay` -> `hôm-nay`, `7 ngày` -> `7ngày`, `24 giờ` -> `24giờ`."""
    out: list[str] = []
    for token in args:
        if out:
            prev, this = fold(out[-1]), fold(token)
            if (prev, this) == ("hom", "nay") or (is_digits(prev) and len(prev) <= 3 and this in ("ngay", "gio")):
                out[-1] = f"{out[-1]}{'-' if prev == 'hom' else ''}{token}"
                continue
        out.append(token)
    return out
