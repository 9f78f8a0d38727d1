"""The runner of stored jobs (bot/ops/scheduled.py: Jobs) on a fake clock: a job runs once when due (late after a
restart, and says so), a daily one comes back, a job the database refused waits 30 s keeping its lateness, a
failing handler is one line, and an unreadable row is set aside with one line and holds up nothing."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.ops.scheduled import DB_RETRY, Daily, Handler, Jobs
from storage import DatabaseBusy, Store
from storage.jobs import JobTable
from tests.support.clock import FakeClock
from tests.support.rows import set_aside_jobs

NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOON)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ringbot.db"


@pytest.fixture
def store(db: Path, clock: FakeClock) -> Iterator[Store]:
    s = Store.open(db, clock=clock, busy_timeout=0.05)
    try:
        yield s
    finally:
        s.close()


class Calls:
    """Handlers that record what they were given."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def handler(self, kind: str) -> Handler:
        async def handle(**kw: Any) -> None:
            self.seen.append((kind, kw))

        return handle

    def kinds(self, *kinds: str) -> dict[str, Handler]:
        return {k: self.handler(k) for k in kinds}


def runner(store: Store, clock: FakeClock, handlers: dict[str, Handler]) -> Jobs:
    return Jobs(store, AsyncIOScheduler(timezone="UTC"), handlers, clock=clock)


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.ops.scheduled"]


async def test_a_job_runs_once_when_it_falls_due_and_is_gone(store, clock) -> None:
    calls = Calls()
    jobs = runner(store, clock, calls.kinds("escalate"))
    jobs.at("escalate", NOON + 60, key="escalate:1:1", alert_id=1, step=1)
    assert await jobs.run_due() == []
    clock.advance(59)
    assert await jobs.run_due() == []
    clock.advance(1.5)
    assert await jobs.run_due() == ["escalate:1:1"]
    assert calls.seen == [("escalate", {"late": 0.5, "alert_id": 1, "step": 1})]
    assert await jobs.run_due() == [] and jobs.keys() == []


async def test_a_job_due_while_the_bot_was_down_runs_once_after_the_restart_late_and_says_so(db, clock, caplog) -> None:
    calls = Calls()
    store = Store.open(db, clock=clock)
    jobs = runner(store, clock, calls.kinds("escalate"))
    jobs.at("escalate", NOON + 60, key="escalate:42:1", alert_id=42)
    jobs.at("escalate", NOON + 3600, key="escalate:43:1", alert_id=43)
    jobs.at("escalate", NOON + 3600, key="escalate:44:1", alert_id=44)
    assert jobs.cancel("escalate:44:1") and not jobs.cancel("escalate:44:1")
    store.close()  # down for 10 minutes

    clock.advance(600)
    store = Store.open(db, clock=clock)
    with caplog.at_level(logging.INFO, logger="bot.ops.scheduled"):
        assert await runner(store, clock, calls.kinds("escalate")).run_due() == ["escalate:42:1"]
    assert calls.seen == [("escalate", {"late": 540.0, "alert_id": 42})]
    assert lines(caplog) == ["scheduled job running late kind=escalate key=escalate:42:1 late_s=540"]
    store.close()

    store = Store.open(db, clock=clock)  # and again: nothing runs a second time
    jobs = runner(store, clock, calls.kinds("escalate"))
    assert await jobs.run_due() == [] and jobs.keys() == ["escalate:43:1"]
    store.close()


async def test_a_daily_job_comes_back_the_next_day_at_its_time(store, clock) -> None:
    calls = Calls()
    jobs = runner(store, clock, calls.kinds("digest"))
    jobs.daily("digest", hour=18, minute=30, timezone="Asia/Ho_Chi_Minh", key="digest:daily")  # 11:30 UTC
    first = JobTable(store).get("digest:daily")
    assert first is not None and first["due_at"] == datetime(2026, 12, 8, 11, 30, tzinfo=UTC).timestamp()
    assert first["daily"] == "18:30 Asia/Ho_Chi_Minh"
    clock.now = first["due_at"] + 2
    assert await jobs.run_due() == ["digest:daily"]
    again = JobTable(store).get("digest:daily")
    assert again is not None and again["due_at"] == first["due_at"] + 86400
    assert [late for _, kw in calls.seen for late in [kw["late"]]] == [2.0]


async def test_a_daily_job_missed_for_days_runs_once_and_says_so(store, clock, caplog) -> None:
    calls = Calls()
    jobs = runner(store, clock, calls.kinds("digest"))
    jobs.daily("digest", hour=8, minute=0, timezone="UTC", key="digest:daily")
    due = JobTable(store).get("digest:daily")["due_at"]  # type: ignore[index]
    clock.now = due + 3 * 86400 + 3600  # down for three days
    jobs.daily("digest", hour=8, minute=0, timezone="UTC", key="digest:daily")  # the start-up sets it again
    with caplog.at_level(logging.INFO, logger="bot.ops.scheduled"):
        assert await jobs.run_due() == ["digest:daily"]
        assert await jobs.run_due() == []
    assert len(calls.seen) == 1
    [line] = lines(caplog)
    assert line.startswith("scheduled job running late kind=digest key=digest:daily late_s=262800 missed_runs=4")
    assert JobTable(store).get("digest:daily")["due_at"] == due + 4 * 86400  # type: ignore[index]


def test_a_new_daily_time_takes_over_unless_a_run_is_overdue(store, clock) -> None:
    jobs = runner(store, clock, {})
    jobs.daily("digest", hour=13, minute=0, timezone="UTC", key="digest:daily")
    jobs.daily("digest", hour=14, minute=0, timezone="UTC", key="digest:daily")
    assert JobTable(store).get("digest:daily")["due_at"] == NOON + 2 * 3600  # type: ignore[index]
    clock.advance(3 * 3600)  # 15:00: today's 14:00 was missed while down
    jobs.daily("digest", hour=9, minute=0, timezone="UTC", key="digest:daily")
    row = JobTable(store).get("digest:daily")
    assert row is not None and (row["due_at"], row["daily"]) == (NOON + 2 * 3600, "09:00 UTC")


async def test_a_job_the_database_refused_runs_again_30_s_later_keeping_its_lateness(store, clock, caplog) -> None:
    tries: list[float] = []

    async def flaky(*, late: float, alert_id: int) -> None:
        tries.append(late)
        if len(tries) == 1:
            raise DatabaseBusy("database is locked")

    jobs = runner(store, clock, {"escalate": flaky})
    jobs.at("escalate", NOON - 5, key="escalate:7:1", alert_id=7)
    with caplog.at_level(logging.INFO, logger="bot.ops.scheduled"):
        assert await jobs.run_due() == []
        clock.advance(DB_RETRY - 1)
        assert await jobs.run_due() == []  # not yet
        assert jobs.keys() == ["escalate:7:1"]
        clock.advance(1)
        assert await jobs.run_due() == ["escalate:7:1"]
    assert tries == [5.0, 5.0 + DB_RETRY]
    assert jobs.keys() == []
    assert lines(caplog) == [
        "scheduled job waits for the database kind=escalate key=escalate:7:1 (database is locked); again in 30 s"
    ]


async def test_a_failing_handler_is_one_error_line_and_the_job_is_done(store, clock, caplog) -> None:
    calls = Calls()

    async def broken(**_: Any) -> None:
        raise KeyError("alert")

    jobs = runner(store, clock, {"escalate": broken, "digest": broken, "ok": calls.handler("ok")})
    jobs.at("escalate", NOON, key="a")
    jobs.daily("digest", hour=11, minute=0, timezone="UTC", key="digest:daily")  # tomorrow 11:00
    jobs.at("ok", NOON, key="b")
    clock.now = NOON + 86400 - 3600
    with caplog.at_level(logging.INFO, logger="bot.ops.scheduled"):
        assert await jobs.run_due() == ["a", "b", "digest:daily"]
    assert calls.seen == [("ok", {"late": 82800.0})]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "scheduled job failed kind=escalate key=a error=KeyError: 'alert'",
        "scheduled job failed kind=digest key=digest:daily error=KeyError: 'alert'",
    ]
    assert jobs.keys() == ["digest:daily"]  # the one-off is gone, the daily one moved to tomorrow
    assert JobTable(store).get("digest:daily")["due_at"] == NOON + 2 * 86400 - 3600  # type: ignore[index]


UNREADABLE = [
    ("args not an object", "INSERT INTO scheduled_jobs(key, kind, due_at, args) VALUES (?, 'ok', 0, '[1, 2]')",
     "args is not a JSON object"),
    ("args not JSON", "INSERT INTO scheduled_jobs(key, kind, due_at, args) VALUES (?, 'ok', 0, '{alert: 1')",
     "args is not JSON"),
    ("args a blob", "INSERT INTO scheduled_jobs(key, kind, due_at, args) VALUES (?, 'ok', 0, x'7b7d')",
     "args is not JSON text"),
    ("args named late", """INSERT INTO scheduled_jobs(key, kind, due_at, args) VALUES (?, 'ok', 0, '{"late": 1}')""",
     "args has a name a handler cannot take ('late')"),
    ("due_at text", "INSERT INTO scheduled_jobs(key, kind, due_at) VALUES (?, 'ok', '2026-12-07T08:00:00')",
     "due_at is not a time in unix seconds (str)"),
    ("due_at a blob", "INSERT INTO scheduled_jobs(key, kind, due_at) VALUES (?, 'ok', x'00')",
     "due_at is not a time in unix seconds (bytes)"),
    ("due_at infinite", "INSERT INTO scheduled_jobs(key, kind, due_at) VALUES (?, 'ok', -9e999)",
     "due_at is not a time in unix seconds (float)"),
    ("unknown kind", "INSERT INTO scheduled_jobs(key, kind, due_at) VALUES (?, 'reboot', 0)",
     "no handler for kind 'reboot'"),
    ("kind a number", "INSERT INTO scheduled_jobs(key, kind, due_at) VALUES (?, 12, 0)",
     "no handler for kind '12'"),
    ("daily time", "INSERT INTO scheduled_jobs(key, kind, due_at, daily) VALUES (?, 'ok', 0, '25:00 UTC')",
     "daily is not 'HH:MM Area/City': no such time of day"),
    ("daily zone", "INSERT INTO scheduled_jobs(key, kind, due_at, daily) VALUES (?, 'ok', 0, '08:00 ../../etc/passwd')",
     "daily is not 'HH:MM Area/City': unknown time zone"),
    ("daily shape", "INSERT INTO scheduled_jobs(key, kind, due_at, daily) VALUES (?, 'ok', 0, 'every morning')",
     "daily is not 'HH:MM Area/City': not 'HH:MM Area/City'"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "sql", "why"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
async def test_an_unreadable_row_is_one_line_set_aside_never_run_and_stalls_nothing(
    store, clock, caplog, case: str, sql: str, why: str
) -> None:
    calls = Calls()
    jobs = runner(store, clock, calls.kinds("ok"))
    jobs.at("ok", NOON - 10, key="before", n=1)
    store.conn.execute(sql, ("bad",))
    store.conn.commit()
    jobs.at("ok", NOON + 10, key="after", n=2)
    with caplog.at_level(logging.INFO, logger="bot.ops.scheduled"):
        assert await jobs.run_due() == ["before"]
        clock.advance(10)
        assert await jobs.run_due() == ["after"]
        clock.advance(86400)
        assert await jobs.run_due() == []
    assert [kw["n"] for _, kw in calls.seen] == [1, 2]
    assert lines(caplog) == [f"scheduled job set aside key='bad' why={why}; it is never run"]
    [row] = set_aside_jobs(store)
    assert (row["key"], row["set_aside"]) == ("bad", why)


async def test_more_unreadable_rows_than_a_pass_reads_hold_up_no_job(store, clock, caplog) -> None:
    calls = Calls()
    jobs = runner(store, clock, calls.kinds("ok"))
    store.conn.executemany(
        "INSERT INTO scheduled_jobs(key, kind, due_at) VALUES (?, 'ok', 'at eight')", [(f"t{i}",) for i in range(150)]
    )
    store.conn.commit()
    jobs.at("ok", NOON, key="good")
    with caplog.at_level(logging.WARNING, logger="bot.ops.scheduled"):
        assert await jobs.run_due() == ["good"]  # text sorts after every number: the real job comes first
        await jobs.run_due()
    assert len(lines(caplog)) == 150 and len(set_aside_jobs(store)) == 150


async def test_a_job_whose_removal_the_database_refused_is_not_run_twice(store, db, clock) -> None:
    calls = Calls()
    other = sqlite3.connect(db, timeout=0, isolation_level=None)

    async def takes_the_lock(**kw: Any) -> None:
        calls.seen.append(("escalate", kw))
        other.execute("BEGIN EXCLUSIVE")  # another program takes the lock as the job finishes

    jobs = runner(store, clock, {"escalate": takes_the_lock})
    jobs.at("escalate", NOON, key="escalate:1:1", alert_id=1)
    try:
        assert await jobs.run_due() == ["escalate:1:1"]
        clock.advance(1)
        assert await jobs.run_due() == []  # the row is still there: it is not run again
        assert jobs.keys() == ["escalate:1:1"]
    finally:
        other.rollback()
        other.close()
    clock.advance(1)
    assert await jobs.run_due() == [] and jobs.keys() == []  # removed as soon as the database could be written
    assert len(calls.seen) == 1


async def test_a_tick_while_a_pass_runs_returns_at_once(store, clock) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def slow(**_: Any) -> None:
        runs.append("slow")
        started.set()
        await release.wait()

    jobs = runner(store, clock, {"slow": slow})
    jobs.at("slow", NOON, key="s")
    running = asyncio.create_task(jobs.run_due())
    await started.wait()
    await asyncio.wait_for(jobs._tick(), 5)  # returns at once: the pass still running covers it
    assert runs == ["slow"]
    release.set()
    assert await running == ["s"]


def test_start_adds_one_interval_job_on_the_loop(store, clock) -> None:
    jobs = runner(store, clock, {})
    jobs.start()
    [job] = jobs.scheduler.get_jobs()
    assert asyncio.iscoroutinefunction(job.func) and job.trigger.interval.total_seconds() == 1.0


@pytest.mark.parametrize(
    ("spec", "after", "expected"),
    [
        ("08:00 UTC", "2026-12-07T07:59:59+00:00", "2026-12-07T08:00:00+00:00"),
        ("08:00 UTC", "2026-12-07T08:00:00+00:00", "2026-12-08T08:00:00+00:00"),
        ("02:30 Europe/Berlin", "2026-03-28T12:00:00+00:00", "2026-03-29T01:30:00+00:00"),  # clocks go forward
        ("07:00 Asia/Ho_Chi_Minh", "2026-12-07T01:00:00+00:00", "2026-12-08T00:00:00+00:00"),
    ],
)
def test_the_next_daily_time_is_wall_clock_time_in_its_zone(spec: str, after: str, expected: str) -> None:
    got = Daily.parse(spec).next_after(datetime.fromisoformat(after).timestamp())
    assert got == datetime.fromisoformat(expected).timestamp()


async def test_a_daily_job_set_aside_is_scheduled_afresh_when_the_start_up_sets_it_again(store, clock) -> None:
    calls = Calls()
    jobs = runner(store, clock, calls.kinds("digest"))
    store.conn.execute(
        "INSERT INTO scheduled_jobs(key, kind, due_at, daily) VALUES ('digest:daily', 'digest', 0, 'at 8am')"
    )
    store.conn.commit()
    assert await jobs.run_due() == [] and jobs.keys() == []  # set aside
    jobs.daily("digest", hour=13, minute=0, timezone="UTC", key="digest:daily")
    assert jobs.keys() == ["digest:daily"]
    clock.advance(3600)
    assert await jobs.run_due() == ["digest:daily"] and len(calls.seen) == 1
