"""Business hours (pure): a weekly schedule and a holidays list say whether a moment is open, and when it opens next.

A schedule is written the way people say it: `{"mon-fri": "08:00-17:30", "sat": "08:00-12:00"}`; a day not named
is closed, and a holiday (an ISO date) is closed all day. No schedule at all means always open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])-([01]?[0-9]|2[0-4]):([0-5][0-9])$")  # ASCII digits only

# Per weekday (Monday first): the open spans, in minutes after midnight, [start, end).
Week = tuple[tuple[tuple[int, int], ...], ...]


class HoursError(ValueError):
    """A schedule that cannot be read; the message says which part and how it should look."""


def _days(name: str) -> list[int]:
    name = name.strip().lower()[:7]
    if name in ("daily", "every", "all"):
        return list(range(7))
    if "-" in name:
        first, _, last = name.partition("-")
        if first[:3] not in DAYS or last[:3] not in DAYS:
            raise HoursError(f"{name!r} is not a range of days like mon-fri")
        a, b = DAYS.index(first[:3]), DAYS.index(last[:3])
        return [(a + i) % 7 for i in range((b - a) % 7 + 1)]
    if name[:3] not in DAYS:
        raise HoursError(f"{name!r} is not a day (mon, tue, … sun, or a range like mon-fri)")
    return [DAYS.index(name[:3])]


def _spans(text: object) -> list[tuple[int, int]]:
    parts = text if isinstance(text, list) else str(text).replace(",", " ").split()
    spans: list[tuple[int, int]] = []
    for part in parts:
        m = _SPAN.match(str(part).strip())
        if not m:
            raise HoursError(f"{part!r} is not a time span like 08:00-17:30")
        start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
        if end <= start or end > 24 * 60:
            raise HoursError(f"{part!r} ends before it starts")
        spans.append((start, end))
    return spans


def parse_week(spec: Mapping[str, object] | None) -> Week | None:
    """`{"mon-fri": "08:00-17:30"}` -> Week; None or empty -> None (always open). Raises HoursError."""
    if not spec:
        return None
    week: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for days, spans in spec.items():
        for day in _days(str(days)):
            week[day].extend(_spans(spans))
    return tuple(tuple(sorted(d)) for d in week)


def parse_holidays(values: Iterable[object]) -> frozenset[date]:
    out: set[date] = set()
    for value in values:
        try:
            out.add(date.fromisoformat(str(value).strip()))
        except ValueError:
            raise HoursError(f"{value!r} is not a date like 2026-01-01") from None
    return frozenset(out)


def is_open(week: Week | None, holidays: frozenset[date], when: datetime) -> bool:
    """Open at `when` (an aware datetime in the business's time zone)?"""
    if week is None:
        return True
    if when.date() in holidays:
        return False
    minute = when.hour * 60 + when.minute
    return any(start <= minute < end for start, end in week[when.weekday()])


def next_opening(week: Week | None, holidays: frozenset[date], after: datetime) -> datetime | None:
    """The first opening time strictly after `after` (same time zone), within two weeks; None when never open."""
    if week is None or not any(week):
        return None
    midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in range(15):
        day = midnight + timedelta(days=offset)
        if day.date() in holidays:
            continue
        for start, _end in week[day.weekday()]:
            at = (day + timedelta(minutes=start)).replace(tzinfo=after.tzinfo)
            # A span that starts right after a closed moment is an opening; a span that just continues the
            # previous day's (00:00 after a day open till 24:00) is not, but is still the next open moment.
            if at > after:
                return at
    return None


def describe_week(week: Week | None) -> str:
    """`mon-fri 08:00-17:30, sat 08:00-12:00` (for answers and docs); `always` for None."""
    if week is None:
        return "always"
    out: list[str] = []
    i = 0
    while i < 7:
        j = i
        while j + 1 < 7 and week[j + 1] == week[i]:
            j += 1
        if week[i]:
            spans = " ".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in week[i])
            days = DAYS[i] if i == j else f"{DAYS[i]}-{DAYS[j]}"
            out.append(f"{days} {spans}")
        i = j + 1
    return ", ".join(out) or "closed"
