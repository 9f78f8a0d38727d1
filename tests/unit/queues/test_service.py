"""The queue service: a watch set or dropped, and "I'm on it", each validated and written with its audit row in
one transaction; a database that refuses writes keeps the change until it can (Saved.LATER), and loses none."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.reconcile import HistoryFill
from bot.alerts.service import AlertService
from bot.antbuddy import HistoryRecord
from bot.queues.health import parse_thresholds
from bot.queues.queue_alerts import QueueAlerts
from bot.queues.service import AlreadyOnIt, NotAdmin, QueueService, UnknownBreach
from storage import OutboxKind, Saved, Store
from storage.queues import QueueStore
from tests.support.clock import FakeClock
from tests.unit.queues.conftest import Names

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class NoHistory:
    """AntBuddy's history, empty: what the records lack reads as nothing."""

    async def history(self, start: datetime, end: datetime) -> AsyncIterator[HistoryRecord]:
        for record in ():
            yield record


@pytest.fixture
def quick(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """The store as the running bot opens it: 50 ms at most for another connection's lock."""
    s = Store.open(tmp_path / "q.db", clock=clock, busy_timeout=0.05)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def service(quick: Store, clock: FakeClock, names: Names) -> QueueService:
    alerts = QueueAlerts(quick, names, default_channel="C0ALERTS", wake=lambda: None, clock=clock, mono=clock)
    history = HistoryFill(quick, NoHistory(), AlertService(quick, default_channel="C0ALERTS", clock=clock), clock=clock)
    return QueueService(quick, alerts, history, default_channel="C0ALERTS", tz=TZ, sla=20, wake=lambda: None)


class Locked:
    """Another program holding the database's write lock until `release`."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


def audit(store: Store) -> list[tuple[str, str, str | None]]:
    rows = store.conn.execute("SELECT action, result, detail FROM audit ORDER BY id").fetchall()
    return [tuple(r) for r in rows]


WAITING_3 = parse_thresholds(["waiting>=3", "wait>=90s"])


def test_an_admin_sets_and_drops_a_watch_with_its_audit_rows(service: QueueService, quick: Store) -> None:
    assert service.set_watch("q1", "CSKH", WAITING_3, by="UADMIN", is_admin=True) is Saved.NOW
    assert [(r["queue_id"], r["thresholds"]) for r in service.watches().rows] == [("q1", "waiting>=3 wait>=90s")]
    assert "q1" in service.alerts.watches  # the alerts watch it from now on
    assert service.watches().channels == {"q1": "C0ALERTS"}
    assert service.drop_watch("q1", by="UADMIN", is_admin=True) == (Saved.NOW, True)
    assert service.drop_watch("q1", by="UADMIN", is_admin=True) == (Saved.NOW, False)
    assert service.alerts.watches == {}
    assert audit(quick) == [
        ("queue_watch", "ok", "q1 waiting>=3 wait>=90s"),
        ("queue_watch", "off", "q1"),
        ("queue_watch", "unchanged", "q1"),
    ]


def test_anyone_else_is_refused_and_the_refusal_audited(service: QueueService, quick: Store) -> None:
    with pytest.raises(NotAdmin):
        service.set_watch("q1", "CSKH", WAITING_3, by="U0AGENT", is_admin=False)
    with pytest.raises(NotAdmin):
        service.drop_watch("q1", by="U0AGENT", is_admin=False)
    assert service.watches().rows == []
    assert audit(quick) == [("queue_watch", "refused", "q1 [2 times this minute]")]  # one row a minute, counted


def test_a_watch_set_while_the_database_is_locked_is_written_when_it_can_be(
    service: QueueService, quick: Store, tmp_path: Path
) -> None:
    lock = Locked(tmp_path / "q.db")
    try:
        assert service.set_watch("q1", "CSKH", WAITING_3, by="UADMIN", is_admin=True) is Saved.LATER
        assert service.watches().rows == []
    finally:
        lock.release()
    assert quick.flush_held()
    assert [r["queue_id"] for r in service.watches().rows] == ["q1"] and "q1" in service.alerts.watches
    assert audit(quick) == [("queue_watch", "ok", "q1 waiting>=3 wait>=90s")]


def a_breach(store: Store) -> int:
    return QueueStore(store).save_breach(
        None, {"queue_id": "q1", "channel": "C0CSKH", "level": 1, "reasons": "waiting", "started_at": 1.0}
    )


def test_the_first_to_press_i_am_on_it_owns_the_breach_and_its_message_is_edited(
    service: QueueService, quick: Store
) -> None:
    breach = a_breach(quick)
    assert service.claim(breach, "U0SUPER") is Saved.NOW
    assert QueueStore(quick).breach(breach)["owner"] == "U0SUPER"
    (row,) = quick.pending_outbox(kind=OutboxKind.QUEUE_ALERT)
    assert row["channel"] == "C0CSKH" and row["body"] == {"breach_id": breach}
    with pytest.raises(AlreadyOnIt) as taken:
        service.claim(breach, "U0OTHER")
    assert taken.value.owner == "U0SUPER"
    with pytest.raises(UnknownBreach):
        service.claim(breach + 1, "U0SUPER")
    assert audit(quick) == [("queue_on_it", "ok", str(breach))]


def test_i_am_on_it_while_the_database_is_locked_is_kept_and_written_later(
    service: QueueService, quick: Store, tmp_path: Path
) -> None:
    breach = a_breach(quick)
    lock = Locked(tmp_path / "q.db")
    try:
        assert service.claim(breach, "U0SUPER") is Saved.LATER
    finally:
        lock.release()
    assert quick.flush_held()
    assert QueueStore(quick).breach(breach)["owner"] == "U0SUPER"
    assert len(quick.pending_outbox(kind=OutboxKind.QUEUE_ALERT)) == 1


async def test_stats_and_today_read_our_own_call_records(service: QueueService, quick: Store, clock: FakeClock) -> None:
    now = datetime.fromtimestamp(clock(), TZ)
    quick.conn.execute(
        "INSERT INTO calls(call_id, direction, outcome, queue_id, started_at, ring_seconds)"
        " VALUES ('c1', 'inbound', 'answered', 'q1', ?, 5), ('c2', 'inbound', 'abandoned', 'q2', ?, 50)",
        (clock() - 60, clock() - 120),
    )
    quick.conn.commit()
    today = await service.today(now)
    assert today["q1"].answered == 1 and today["q2"].abandoned == 1
    stats = await service.stats("today", now=now, names={"q1": "CSKH"}, queue_id="q1")
    assert "*CSKH*: 1 offered · 1 answered" in str(stats["blocks"]) and "q2" not in str(stats["blocks"])
