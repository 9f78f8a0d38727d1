"""The `digest` job queues one DAILY_DIGEST row per alert channel in the transaction that records the day: once per
channel and day, for the day it fell due on however late it runs, and all or nothing when the database refuses."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.queues.daily_digest import DailyDigest
from storage import OutboxKind, Store
from storage.queues import QueueStore
from tests.support.clock import FakeClock
from tests.unit.queues.conftest import Names

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DUE = datetime(2026, 3, 2, 18, 0, tzinfo=TZ).timestamp()


def digest_for(store: Store, names: Names, clock: FakeClock, woken: list[int]) -> DailyDigest:
    return DailyDigest(store, names, default_channel="C0ALERTS", tz=TZ, wake=lambda: woken.append(1), clock=clock)


async def test_each_channel_gets_one_row_for_its_queues(store: Store, names: Names, clock: FakeClock) -> None:
    clock.now = DUE
    store.set_route("queue:q2", "C0SALES")
    woken: list[int] = []
    digest = digest_for(store, names, clock, woken)
    await digest.job(late=0.0)
    rows = {r["channel"]: r["body"] for r in store.pending_outbox(kind=OutboxKind.DAILY_DIGEST)}
    assert rows == {
        "C0ALERTS": {"day": "2026-03-02", "due_at": DUE, "queue_ids": None},  # the default channel: every queue
        "C0SALES": {"day": "2026-03-02", "due_at": DUE, "queue_ids": ["q2"]},
    }
    assert woken == [1]
    clock.advance(60)
    assert digest.queue_day() == 0 and woken == [1]  # the same day again: nothing
    assert QueueStore(store).mark_digest("2026-03-02", "C0SALES") is False  # recorded


def test_a_job_run_late_is_the_digest_of_the_day_it_fell_due(store: Store, names: Names, clock: FakeClock) -> None:
    clock.now = DUE + 8 * 3600  # 02:00 the next morning: ringbot was down at 18:00
    assert digest_for(store, names, clock, []).queue_day(late=8 * 3600) == 1
    (row,) = store.pending_outbox(kind=OutboxKind.DAILY_DIGEST)
    assert row["body"]["day"] == "2026-03-02" and row["body"]["due_at"] == DUE


def test_a_database_that_refuses_the_write_queues_nothing_and_the_retry_queues_it_once(
    tmp_path: Path, names: Names, clock: FakeClock
) -> None:
    clock.now = DUE
    store = Store.open(tmp_path / "busy.db", clock=clock, busy_timeout=0.05)
    try:
        store.set_route("queue:q2", "C0SALES")
        digest = digest_for(store, names, clock, [])
        other = sqlite3.connect(tmp_path / "busy.db", timeout=0, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(sqlite3.OperationalError):
            digest.queue_day()  # the job runner tries again later
        other.rollback()
        other.close()
        assert store.pending_outbox() == []
        assert store.conn.execute("SELECT count(*) FROM digests").fetchone()[0] == 0  # nothing half done
        assert digest.queue_day() == 2
        assert digest.queue_day() == 0
    finally:
        store.close()
