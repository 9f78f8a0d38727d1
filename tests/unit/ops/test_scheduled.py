"""Persisted jobs: a job scheduled before a restart runs once after it (late, and says so), never twice, and
cancelling or rescheduling by key works across restarts (bot/ops/scheduled.py, bot/ops/jobstore.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.ops.jobstore import SQLiteJobStore
from bot.ops.scheduled import JOBSTORE, Jobs
from storage import Store
from tests.support.waiting import eventually


def scheduler(store: Store) -> AsyncIOScheduler:
    return AsyncIOScheduler(timezone="UTC", jobstores={"default": MemoryJobStore(), JOBSTORE: SQLiteJobStore(store)})


async def test_a_job_due_while_the_bot_was_down_runs_once_on_start_late_and_says_so(tmp_path: Path, caplog) -> None:
    ran: list[dict[str, Any]] = []

    async def escalate(*, late: float, alert_id: int) -> None:
        ran.append({"alert_id": alert_id, "late": late})

    Jobs.on("test.escalate", escalate)
    store = Store.open(tmp_path / "jobs.db")
    first = scheduler(store)
    first.start(paused=True)  # the bot is up but the job is not due yet
    jobs = Jobs(first)
    jobs.at("test.escalate", time.time() - 120, key="escalate:42:1", alert_id=42)  # due while "down"
    jobs.at("test.escalate", time.time() + 3600, key="escalate:43:1", alert_id=43)
    jobs.at("test.escalate", time.time() + 3600, key="escalate:44:1", alert_id=44)
    assert jobs.cancel("escalate:44:1") and not jobs.cancel("escalate:44:1")
    first.shutdown(wait=False)
    store.close()

    store = Store.open(tmp_path / "jobs.db")  # the restart
    second = scheduler(store)
    with caplog.at_level(logging.INFO, logger="bot.ops.scheduled"):
        second.start()
        await eventually(lambda: ran, "the overdue job ran")
        await asyncio.sleep(0.2)
    assert [r["alert_id"] for r in ran] == [42] and ran[0]["late"] >= 119
    assert "running late kind=test.escalate" in caplog.text
    assert Jobs(second).keys("escalate:") == ["escalate:43:1"]  # the one that ran is gone: never twice
    second.shutdown(wait=False)
    store.close()

    store = Store.open(tmp_path / "jobs.db")  # and again: nothing runs a second time
    third = scheduler(store)
    third.start()
    await asyncio.sleep(0.3)
    assert [r["alert_id"] for r in ran] == [42]
    third.shutdown(wait=False)
    store.close()


async def test_a_daily_job_missed_for_days_runs_once(tmp_path: Path) -> None:
    ran: list[float] = []

    async def digest(*, late: float, channel: str) -> None:
        ran.append(late)

    Jobs.on("test.digest", digest)
    store = Store.open(tmp_path / "jobs.db")
    s = scheduler(store)
    s.start(paused=True)
    Jobs(s).daily("test.digest", hour=0, minute=0, timezone="UTC", key="digest:C1", channel="C1")
    job = s.get_job("digest:C1", jobstore=JOBSTORE)
    # three days' runs missed: move its next run into the past, as a bot down for days would find it
    job.modify(next_run_time=job.next_run_time.replace(year=job.next_run_time.year - 1))
    s.resume()
    await eventually(lambda: ran, "the digest ran")
    await asyncio.sleep(0.3)
    assert len(ran) == 1
    s.shutdown(wait=False)
    store.close()


def test_an_unreadable_job_is_dropped_and_the_others_kept(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "jobs.db")
    store.add_job_state("broken", 1.0, b"not a pickle")
    jobstore = SQLiteJobStore(store)
    jobstore._scheduler = None
    jobstore._alias = JOBSTORE
    assert jobstore.get_all_jobs() == []
    assert store.job_states() == []
    store.close()


@pytest.fixture(autouse=True)
def _forget_handlers():
    from bot.ops import scheduled

    yield
    for kind in [k for k in scheduled._handlers if k.startswith("test.")]:
        del scheduled._handlers[kind]


async def test_a_job_the_database_refused_runs_again_later_under_its_key(tmp_path: Path, monkeypatch) -> None:
    import sqlite3

    from bot.ops import scheduled

    tries: list[float] = []

    async def flaky(*, late: float, alert_id: int) -> None:
        tries.append(late)
        if len(tries) == 1:
            raise sqlite3.OperationalError("database is locked")

    Jobs.on("test.flaky", flaky)
    monkeypatch.setattr(scheduled, "DB_RETRY", 0.2)
    store = Store.open(tmp_path / "jobs.db")
    s = scheduler(store)
    s.start()
    Jobs(s).at("test.flaky", time.time(), key="escalate:7:1", alert_id=7)
    await eventually(lambda: len(tries) == 2, "tried again after the refusal")
    assert Jobs(s).keys("escalate:") == []  # done: nothing left to run
    s.shutdown(wait=False)
    store.close()
