"""A period's queue figures from ringbot's own call records: counts, answer rate, service level, waits, busiest
hours, repeat callers. Pure."""

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

    @property
    def answer_rate(self) -> float | None:
        return 100.0 * self.answered / self.offered if self.offered else None

    @property
    def service_level(self) -> float | None:
        return 100.0 * self.within_sla / self.offered if self.offered else None

    @property
    def avg_wait(self) -> float | None:
        return sum(self.waits) / len(self.waits) if self.waits else None

    @property
    def max_wait(self) -> int | None:
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
