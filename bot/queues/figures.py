"""A period's queue figures from ringbot's own call records: counts, answer rate, service level, waits, busiest
hours, repeat callers. Pure.

Two ways in, the same figures out: one call at a time (`by_queue`, `total`, `hourly`), or the database's counts
per queue and outcome and per quarter hour and outcome (`counted_by_queue`, `counted_total`, `counted_hourly`),
which is how `/ring stats` and the digest read them (storage/queues.py adds them up in SQL)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

PERIODS = ("today", "yesterday", "7d", "30d")


class CallLike(Protocol):
    @property
    def started_at(self) -> float: ...
    @property
    def outcome(self) -> str: ...
    @property
    def queue_id(self) -> str | None: ...
    @property
    def ring_seconds(self) -> int: ...
    @property
    def customer_number(self) -> str | None: ...
    @property
    def customer_key(self) -> str | None: ...


@dataclass
class Figures:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    missed: int = 0
    within_sla: int = 0  # answered within the SLA seconds
    waits: list[int] = field(default_factory=list)
    # Figures added up by the database carry their waits as a sum and a maximum instead of one wait per call.
    wait_sum: int | None = None
    wait_max: int | None = None

    def add(self, outcome: str, wait: int, sla: int) -> None:
        self.offered += 1
        self.waits.append(wait)
        if outcome == "answered":
            self.answered += 1
            self.within_sla += wait <= sla
        elif outcome == "abandoned":
            self.abandoned += 1
        elif outcome == "missed":
            self.missed += 1

    def add_counted(self, outcome: str, calls: int, within_sla: int, wait_sum: int, wait_max: int) -> None:
        """`calls` calls of one outcome at once: `within_sla` of them answered within the SLA, their waits' sum
        and maximum."""
        self.offered += calls
        self.within_sla += within_sla
        self.wait_sum = (self.wait_sum or 0) + wait_sum
        self.wait_max = wait_max if self.wait_max is None else max(self.wait_max, wait_max)
        if outcome == "answered":
            self.answered += calls
        elif outcome == "abandoned":
            self.abandoned += calls
        elif outcome == "missed":
            self.missed += calls

    @property
    def answer_rate(self) -> float | None:
        return 100.0 * self.answered / self.offered if self.offered else None

    @property
    def service_level(self) -> float | None:
        return 100.0 * self.within_sla / self.offered if self.offered else None

    @property
    def avg_wait(self) -> float | None:
        if self.wait_sum is not None:  # every call is offered once, so `offered` counts the waits
            return self.wait_sum / self.offered if self.offered else None
        return sum(self.waits) / len(self.waits) if self.waits else None

    @property
    def max_wait(self) -> int | None:
        if self.wait_sum is not None:
            return self.wait_max
        return max(self.waits) if self.waits else None


def by_queue(calls: Iterable[CallLike], sla: int) -> dict[str | None, Figures]:
    """Figures per queue id (None: calls that reached no queue)."""
    out: dict[str | None, Figures] = {}
    for c in calls:
        out.setdefault(c.queue_id, Figures()).add(c.outcome, int(c.ring_seconds or 0), sla)
    return out


def total(calls: Iterable[CallLike], sla: int) -> Figures:
    f = Figures()
    for c in calls:
        f.add(c.outcome, int(c.ring_seconds or 0), sla)
    return f


@dataclass(frozen=True)
class Hour:
    hour: int  # 0..23, local time
    answered: int
    missed: int
    abandoned: int
    within_sla: int

    @property
    def offered(self) -> int:
        return self.answered + self.missed + self.abandoned

    @property
    def service_level(self) -> float | None:
        return 100.0 * self.within_sla / self.offered if self.offered else None


def hourly(calls: Iterable[CallLike], tz: tzinfo, sla: int) -> list[Hour]:
    """24 buckets by local hour of day (a multi-day period adds its days up)."""
    counts = [[0, 0, 0, 0] for _ in range(24)]
    for c in calls:
        h = datetime.fromtimestamp(c.started_at, tz).hour
        if c.outcome == "answered":
            counts[h][0] += 1
            counts[h][3] += int(c.ring_seconds or 0) <= sla
        elif c.outcome == "missed":
            counts[h][1] += 1
        elif c.outcome == "abandoned":
            counts[h][2] += 1
    return [Hour(h, *v) for h, v in enumerate(counts)]


class OutcomeCountLike(Protocol):
    """The calls of one queue with one outcome, counted by the database."""

    @property
    def queue_id(self) -> str | None: ...
    @property
    def outcome(self) -> str: ...
    @property
    def calls(self) -> int: ...
    @property
    def within_sla(self) -> int: ...  # answered within the SLA seconds
    @property
    def wait_sum(self) -> int: ...
    @property
    def wait_max(self) -> int: ...


class SlotCountLike(Protocol):
    """The calls of one outcome that started in one quarter hour, counted by the database."""

    @property
    def start(self) -> float: ...  # the quarter hour's first second, unix seconds (a multiple of 900)
    @property
    def outcome(self) -> str: ...
    @property
    def calls(self) -> int: ...
    @property
    def within_sla(self) -> int: ...


def counted_by_queue(rows: Iterable[OutcomeCountLike]) -> dict[str | None, Figures]:
    """`by_queue` from the database's counts."""
    out: dict[str | None, Figures] = {}
    for r in rows:
        out.setdefault(r.queue_id, Figures()).add_counted(r.outcome, r.calls, r.within_sla, r.wait_sum, r.wait_max)
    return out


def counted_total(rows: Iterable[OutcomeCountLike]) -> Figures:
    """`total` from the database's counts."""
    f = Figures()
    for r in rows:
        f.add_counted(r.outcome, r.calls, r.within_sla, r.wait_sum, r.wait_max)
    return f


def counted_hourly(slots: Iterable[SlotCountLike], tz: tzinfo) -> list[Hour]:
    """`hourly` from counts per quarter hour. Every time zone's offset from UTC, and every change of it, falls on
    a whole quarter hour, so all the calls of one quarter hour share their local hour."""
    counts = [[0, 0, 0, 0] for _ in range(24)]
    for s in slots:
        h = datetime.fromtimestamp(s.start, tz).hour
        if s.outcome == "answered":
            counts[h][0] += s.calls
            counts[h][3] += s.within_sla
        elif s.outcome == "missed":
            counts[h][1] += s.calls
        elif s.outcome == "abandoned":
            counts[h][2] += s.calls
    return [Hour(h, *v) for h, v in enumerate(counts)]


def busiest(hours: Sequence[Hour], n: int = 3) -> list[Hour]:
    return sorted((h for h in hours if h.offered), key=lambda h: (-h.offered, h.hour))[:n]


def repeat_callers(calls: Iterable[CallLike], n: int = 5) -> list[tuple[str, int]]:
    """(number, calls) for callers who called at least twice, most first."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for c in calls:
        key = c.customer_key or c.customer_number
        if key:
            counts[key] += 1
            shown.setdefault(key, c.customer_number or key)
    return [(shown[k], v) for k, v in counts.most_common() if v >= 2][:n]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def period_bounds(period: str, now: datetime) -> tuple[float, float]:
    """(since, until) unix seconds of `today|yesterday|7d|30d` in `now`'s timezone (7d and 30d end now)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "yesterday":
        return (midnight - timedelta(days=1)).timestamp(), midnight.timestamp()
    if period == "7d":
        return (midnight - timedelta(days=6)).timestamp(), now.timestamp() + 1
    if period == "30d":
        return (midnight - timedelta(days=29)).timestamp(), now.timestamp() + 1
    return midnight.timestamp(), now.timestamp() + 1
