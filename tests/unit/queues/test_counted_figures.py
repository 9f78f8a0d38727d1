"""The figures SQLite adds up (storage/queues.py `period_counts`, read by `build_period`) are the figures the pure
functions compute call by call, on random call rows: every count, rate and wait per queue and in total, the 24
hours in time zones with DST and with quarter-hour offsets, the repeat callers and their order. And `/ring stats`
and the digest read them in a worker thread, on a connection of their own."""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.queues import figures as fig
from bot.queues.daily_digest import build_period
from storage import Store
from storage.queues import QueueStore, database_file, read_off_loop, reading

OUTCOMES = ("answered", "answered", "answered", "missed", "abandoned", "voicemail", "unknown")
QUEUES = ("q1", "q2", "q3", None, "")
SLA = 20


def shown(f: fig.Figures) -> tuple[object, ...]:
    """Everything a reader of a Figures sees."""
    return (f.offered, f.answered, f.abandoned, f.missed, f.within_sla, f.answer_rate, f.service_level, f.avg_wait,
            f.max_wait)  # fmt: skip


def fill(store: Store, seed: int, *, since: float, until: float, calls: int) -> None:
    rnd = random.Random(seed)
    starts = rnd.sample(range(int(since) - 3600, int(until) + 3600), calls)  # distinct, some outside the period
    callers = [f"09{n:08d}" for n in range(40)]
    rows = []
    for n, started in enumerate(starts):
        number = rnd.choice([*callers, None, ""])
        key = rnd.choice([None, "", f"+84{number}" if number else None])
        ring = rnd.choice([None, 0, rnd.randint(0, 120), rnd.randint(0, 40) + 0.7])  # a REAL: int() drops the .7
        rows.append((f"c{n}", rnd.choice(["inbound"] * 5 + ["outbound"]), rnd.choice(OUTCOMES), rnd.choice(QUEUES),
                     started + rnd.random(), ring, number, key))  # fmt: skip
    store.conn.executemany(
        """INSERT INTO calls(call_id, direction, outcome, queue_id, started_at, ring_seconds, customer_number,
           customer_key) VALUES (?,?,?,?,?,?,?,?)""",
        rows,
    )
    store.conn.commit()


@pytest.mark.parametrize(
    ("seed", "zone", "queue_ids"),
    [
        (1, "Asia/Ho_Chi_Minh", None),
        (2, "Europe/Berlin", None),  # the period spans the switch to summer time
        (3, "Asia/Kathmandu", None),  # UTC+05:45
        (4, "America/St_Johns", {"q1", "q3"}),  # UTC-03:30, DST too
        (5, "Asia/Ho_Chi_Minh", {"q2"}),
    ],
)
def test_sql_figures_are_the_pure_figures(store: Store, seed: int, zone: str, queue_ids: set[str] | None) -> None:
    tz = ZoneInfo(zone)
    since = datetime(2026, 3, 10, tzinfo=tz).timestamp()
    until = datetime(2026, 4, 9, tzinfo=tz).timestamp()
    fill(store, seed, since=since, until=until, calls=4000)
    qs = QueueStore(store)
    calls = sorted(qs.queue_calls(since, until), key=lambda c: c.started_at)
    if queue_ids is not None:
        calls = [c for c in calls if c.queue_id in queue_ids]
    names = {"q1": "CSKH", "q2": "Kinh doanh"}

    p = build_period(qs, since, until, title="t", tz=tz, sla=SLA, names=names, queue_ids=queue_ids)

    assert len(calls) > 500 and p.overall.offered == len(calls)
    assert shown(p.overall) == shown(fig.total(calls, SLA))
    per = fig.by_queue(calls, SLA)
    assert [(name, shown(f)) for name, f in p.queues] == sorted(
        ((names.get(q, q), shown(f)) for q, f in per.items() if q is not None), key=lambda x: (-x[1][0], x[0])
    )
    assert p.hours == fig.hourly(calls, tz, SLA)
    assert p.repeat == fig.repeat_callers(calls) and len(p.repeat) == 5


def test_an_empty_period_reads_as_no_figures(store: Store) -> None:
    p = build_period(QueueStore(store), 0, 10, title="t", tz=ZoneInfo("UTC"), sla=SLA, names={})
    assert p.queues == [] and p.repeat == [] and shown(p.overall) == shown(fig.total([], SLA))
    assert p.overall.avg_wait is None and p.overall.max_wait is None


def test_a_period_is_read_in_a_worker_thread_on_its_own_connection(store: Store) -> None:
    fill(store, 6, since=0, until=86_400, calls=500)
    path = database_file(store)
    assert path is not None
    seen: list[tuple[int, bool]] = []

    def read(qs: QueueStore) -> fig.Figures:
        seen.append((threading.get_ident(), qs.store.conn is store.conn))
        return fig.counted_total(qs.outcome_counts(0, 86_400, sla=SLA))

    total = asyncio.run(read_off_loop(store, read))
    assert seen == [(seen[0][0], False)] and seen[0][0] != threading.get_ident()
    assert shown(total) == shown(fig.total(QueueStore(store).queue_calls(0, 86_400), SLA))
    with reading(path) as reader, pytest.raises(Exception, match="readonly"):
        reader.store.conn.execute("DELETE FROM calls")


def test_an_in_memory_database_is_read_on_the_loop() -> None:
    memory = Store.open(":memory:")
    assert database_file(memory) is None
    assert asyncio.run(read_off_loop(memory, lambda qs: threading.get_ident())) == threading.get_ident()
