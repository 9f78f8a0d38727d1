"""Per-route alert settings: escalation (when, to whom, a second step), business hours, holidays, the urgent
override and short hang-ups. Set with `/ring route <target> escalate|hours|holidays|urgent|min-ring …` (read by
`apply_setting`, changed through bot/alerts/routing.py) or in the routes file's `settings:` section; stored as
JSON per routes key (`queue:<id>`, `did:<key>`, `default`).

The settings of the most specific route that has any apply, as a whole (queue, then DID, then default); a field
not set takes its default below (docs/alerts.md, "Defaults").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.alerts.hours import HoursError, Week, parse_holidays, parse_week
from bot.values import whole

if TYPE_CHECKING:
    from storage import OwnershipStore

WEEK_MINUTES = 7 * 24 * 60  # the longest escalation delay
MIN_RING_MAX = 600  # seconds: a caller who waited longer is never a short hang-up
TYPED_NUMBER_MAX = 10**9  # a typed number of minutes or seconds beyond this is not a setting, just a typo
ESCALATE_AFTER_MIN = 15  # minutes unowned before the thread reply that mentions the escalation target
_TARGET = re.compile(r"^(?:[UWS][A-Z0-9]{2,20}|here|channel)$")
FIELDS = (
    "escalate_after",
    "escalate_to",
    "second_after",
    "supervisors",
    "hours",
    "holidays",
    "urgent",
    "min_ring_seconds",
)


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and shows the expected form."""


class SettingsSyntax(SettingsError):
    """`/ring route <target> <word> …` not in a form `apply_setting` reads: the answer is the usage line."""


@dataclass(frozen=True)
class RouteSettings:
    escalate_after: int = ESCALATE_AFTER_MIN  # minutes; 0 = never escalate
    escalate_to: tuple[str, ...] = ()  # user group (S…) or user (U…) ids; empty: @here
    second_after: int = 0  # minutes after the first step; 0 = no second step
    supervisors: tuple[str, ...] = ()  # user ids a second step DMs
    hours: Mapping[str, Any] = field(default_factory=dict)  # {"mon-fri": "08:00-17:30"}; empty: always open
    holidays: tuple[str, ...] = ()  # ISO dates, closed all day
    urgent: bool = False  # post one by one even after hours
    min_ring_seconds: int = 0  # a caller who gave up sooner is counted, not alerted; 0 = off

    @property
    def week(self) -> Week | None:
        return parse_week(self.hours)

    @property
    def holiday_dates(self) -> frozenset[date]:
        return parse_holidays(self.holidays)

    def to_json(self) -> dict[str, Any]:
        return {
            "escalate_after": self.escalate_after,
            "escalate_to": list(self.escalate_to),
            "second_after": self.second_after,
            "supervisors": list(self.supervisors),
            "hours": dict(self.hours),
            "holidays": list(self.holidays),
            "urgent": self.urgent,
            "min_ring_seconds": self.min_ring_seconds,
        }


def _minutes(name: str, value: object) -> int:
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    number = whole(text, most=10**18)
    if number is None:
        raise SettingsError(f"{name} must be a whole number of minutes (0 = off), got {value!r}")
    if number > WEEK_MINUTES:
        raise SettingsError(f"{name} must be at most a week ({WEEK_MINUTES} minutes)")
    return number


def _ids(name: str, value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value or "").replace(",", " ").split()
    out = tuple(str(v).strip().lstrip("@") for v in items if str(v).strip())
    for v in out:
        if not _TARGET.match(v):
            raise SettingsError(f"{name}: {v!r} is not a Slack user (U…), user group (S…) or here")
    return out


def settings_from(data: Mapping[str, object] | None) -> RouteSettings:
    """Validated RouteSettings from stored or file JSON (unknown keys refused). Raises SettingsError."""
    data = dict(data or {})
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; use {', '.join(FIELDS)}")
    hours = data.get("hours") or {}
    if not isinstance(hours, dict):
        raise SettingsError('hours must be a mapping like {"mon-fri": "08:00-17:30"}')
    holidays = data.get("holidays") or []
    if not isinstance(holidays, list):
        raise SettingsError("holidays must be a list of dates like 2026-01-01")
    try:
        parse_week(hours)
        parse_holidays(holidays)
    except HoursError as exc:
        raise SettingsError(str(exc)) from None
    min_ring = data.get("min_ring_seconds", 0)
    if isinstance(min_ring, bool) or not isinstance(min_ring, int) or not 0 <= min_ring <= MIN_RING_MAX:
        raise SettingsError(f"min_ring_seconds must be 0 to {MIN_RING_MAX} seconds, got {min_ring!r}")
    return RouteSettings(
        escalate_after=_minutes("escalate_after", data.get("escalate_after", ESCALATE_AFTER_MIN)),
        escalate_to=_ids("escalate_to", data.get("escalate_to")),
        second_after=_minutes("second_after", data.get("second_after", 0)),
        supervisors=_ids("supervisors", data.get("supervisors")),
        hours={str(k): v for k, v in hours.items()},
        holidays=tuple(str(h) for h in holidays),
        urgent=bool(data.get("urgent", False)),
        min_ring_seconds=min_ring,
    )


SETTING_WORDS = ("escalate", "hours", "holidays", "urgent", "min-ring")


def apply_setting(current: RouteSettings, word: str, values: list[str]) -> RouteSettings:
    """The settings after `/ring route <target> <word> <values…>` (pure): one field changed, the rest kept.
    Raises SettingsSyntax for a form it cannot read, SettingsError for a value that is not allowed."""
    word = word.lower()
    data = current.to_json()
    if word == "escalate":
        if values[:1] and values[0].lower() in ("off", "never", "0"):
            data.update(escalate_after=0, second_after=0)
            return settings_from(data)
        after = _number(values[0]) if values else None
        if after is None:
            raise SettingsSyntax(word)
        rest = values[1:]
        then = next((i for i, v in enumerate(rest) if v.lower() == "then"), None)
        first, second = (rest, []) if then is None else (rest[:then], rest[then + 1 :])
        data.update(escalate_after=after, escalate_to=[_mention_id(v) for v in first])
        if second:
            second_after = _number(second[0])
            if second_after is None:
                raise SettingsSyntax(word)
            data.update(second_after=second_after, supervisors=[_mention_id(v) for v in second[1:]])
        return settings_from(data)
    if word == "hours":
        if values[:1] and values[0].lower() in ("always", "off", "none", "24/7"):
            data["hours"] = {}
            return settings_from(data)
        if len(values) < 2 or len(values) % 2:
            raise SettingsSyntax(word)
        data["hours"] = typed_hours(values)
        return settings_from(data)
    if word == "holidays":
        data["holidays"] = [] if values[:1] and values[0].lower() in ("none", "off") else values
        return settings_from(data)
    if word == "urgent":
        if values[:1] not in (["on"], ["off"]):
            raise SettingsSyntax(word)
        data["urgent"] = values[0] == "on"
        return settings_from(data)
    if word == "min-ring":
        seconds = _number(values[0]) if len(values) == 1 else None
        if seconds is None:
            raise SettingsSyntax(word)
        data["min_ring_seconds"] = seconds
        return settings_from(data)
    raise SettingsSyntax(word)


def typed_hours(values: list[str]) -> dict[str, str]:
    """`mon 08:00-12:00 mon 13:00-17:00 tue 08:00-17:00` -> one entry per day word, its spans in the order typed:
    a day named twice keeps both spans (a dict built pair by pair would keep only the last)."""
    hours: dict[str, str] = {}
    for day, span in zip(values[::2], values[1::2], strict=True):
        hours[day] = f"{hours[day]} {span}" if day in hours else span
    return hours


def _number(word: str) -> int | None:
    """A typed number of minutes or seconds (ASCII digits; `²` is not one); settings_from checks its range."""
    return whole(word, most=TYPED_NUMBER_MAX)


def _mention_id(token: str) -> str:
    """`<@U123|an>`, `<!subteam^S123|@team>`, `@here`, `U123` -> the bare id (validated by settings_from)."""
    t = token.strip().strip("<>")
    if t.startswith("!subteam^"):
        t = t[len("!subteam^") :]
    return t.lstrip("@!").split("|", 1)[0]


def route_keys(*, queue_id: str | None, queue_name: str | None, did_key: str | None) -> list[str]:
    """Most specific first, as Store.route_for picks a channel."""
    keys = [f"queue:{queue_id}" if queue_id else "", f"queue:{queue_name}" if queue_name else ""]
    keys.append(f"did:{did_key}" if did_key else "")
    return [k for k in keys if k] + ["default"]


def settings_for(owners: OwnershipStore, keys: list[str]) -> tuple[str, RouteSettings]:
    """(the key whose settings apply, its settings); ('default', defaults) when none is stored. A stored value that
    no longer validates falls back to the defaults rather than stopping alerts."""
    for key in keys:
        data = owners.route_settings(key)
        if data is not None:
            try:
                return key, settings_from(data)
            except SettingsError:
                return key, RouteSettings()
    return "default", RouteSettings()


def stored_or_default(owners: OwnershipStore, key: str) -> RouteSettings:
    """The settings stored for exactly `key` (for an admin changing one field of them)."""
    try:
        return settings_from(owners.route_settings(key))
    except SettingsError:
        return RouteSettings()
