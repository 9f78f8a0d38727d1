"""A period's figures from our own call rows (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.queues.figures import busiest, by_queue, hourly, median, period_bounds, repeat_callers, total
from bot.slack.render.digest import text_bars

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class C:
    started_at: float
    outcome: str
    queue_id: str | None = "q1"
    ring_seconds: int = 0
    customer_key: str | None = None
    customer_number: str | None = None


def at(hour: int, minute: int = 0) -> float:
    return datetime(2026, 3, 2, hour, minute, tzinfo=TZ).timestamp()


CALLS = [
    C(at(9), "answered", ring_seconds=5, customer_key="+8491", customer_number="091"),
    C(at(9, 30), "answered", ring_seconds=25, customer_key="+8491", customer_number="091"),
    C(at(10), "abandoned", ring_seconds=60, customer_key="+8492", customer_number="092"),
    C(at(10, 5), "missed", "q2", 30, "+8491", "091"),
]


def test_counts_rates_service_level_and_waits() -> None:
    f = total(CALLS, sla=20)
    assert (f.offered, f.answered, f.abandoned, f.missed, f.within_sla) == (4, 2, 1, 1, 1)
    assert f.answer_rate == 50.0 and f.service_level == 25.0 and f.avg_wait == 30.0 and f.max_wait == 60
    per = by_queue(CALLS, sla=20)
    assert per["q1"].offered == 3 and per["q2"].missed == 1
    assert total([], sla=20).answer_rate is None  # no calls: no rate, not 0 %


def test_hours_busiest_repeat_callers_and_bars() -> None:
    hours = hourly(CALLS, TZ, sla=20)
    assert (hours[9].answered, hours[10].abandoned, hours[10].missed) == (2, 1, 1)
    assert [h.hour for h in busiest(hours)] == [9, 10]  # ties: the earlier hour first
    assert repeat_callers(CALLS) == [("091", 3)]
    bars = text_bars(hours)
    assert len(bars) == 24 and bars[9] == bars[10] == "█" and bars[0] == "▁"
    assert median([1.0, 9.0, 3.0]) == 3.0 and median([]) is None


def test_periods_are_local_days() -> None:
    now = datetime(2026, 3, 2, 18, 0, tzinfo=TZ)
    since, until = period_bounds("yesterday", now)
    assert since == datetime(2026, 3, 1, tzinfo=TZ).timestamp() and until == datetime(2026, 3, 2, tzinfo=TZ).timestamp()
    assert period_bounds("7d", now)[0] == datetime(2026, 2, 24, tzinfo=TZ).timestamp()
    assert period_bounds("today", now)[0] == datetime(2026, 3, 2, tzinfo=TZ).timestamp()
