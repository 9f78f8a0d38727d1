"""QueueAlerts records each change of a breach with what its message shows and, in the same transaction, the outbox
row that shows it; a database that refuses the write loses nothing: the next check writes it, once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.calls.events import ANSWER, DESTROY, Event
from bot.queues.queue_alerts import QueueAlerts
from storage import Store
from storage.queues import QueueStore
from tests.support.clock import FakeClock
from tests.unit.queues.conftest import Names


def caller(leg: str, name: str = ANSWER) -> Event:
    return Event(name, leg, direction="inbound", caller_number="0987654321", queue_id="q1")


class Woken:
    def __init__(self) -> None:
        self.times = 0

    def __call__(self) -> None:
        self.times += 1


def alerts_for(store: Store, clock: FakeClock, names: Names, woken: Woken) -> QueueAlerts:
    return QueueAlerts(store, names, default_channel="C0ALERTS", wake=woken, clock=clock, mono=clock, cooldown=600)


def queue_rows(store: Store) -> list[dict]:
    return [dict(r) for r in store.pending_outbox(kind="queue_alert")]


def test_a_breach_is_saved_with_its_snapshot_and_its_message_queued_together(
    store: Store, clock: FakeClock, names: Names
) -> None:
    QueueStore(store).set_watch("q1", "CSKH", "waiting>=2", "UADMIN")
    store.set_route("queue:q1", "C0CSKH")
    woken = Woken()
    alerts = alerts_for(store, clock, names, woken)
    alerts.on_event(caller("a1"))
    alerts.check()
    assert queue_rows(store) == [] and woken.times == 0  # one waiting: below the line
    alerts.on_event(caller("a2"))
    clock.advance(30)
    alerts.check()
    (row,) = queue_rows(store)
    breach = QueueStore(store).breach(row["body"]["breach_id"])
    assert breach is not None and row["channel"] == breach["channel"] == "C0CSKH"  # the queue's route
    assert breach["snapshot"] == {
        "queue": "CSKH", "waiting": 2, "longest": 30.0, "ready": None, "abandon_pct": None, "spec": "waiting>=2"
    }  # fmt: skip
    assert woken.times == 1
    clock.advance(1)
    alerts.check()
    assert len(queue_rows(store)) == 1  # nothing people should see changed: no new row
    for leg in ("a3", "a4"):
        alerts.on_event(caller(leg))
    alerts.check()  # four waiting: twice the line, critical
    rows = queue_rows(store)
    assert len(rows) == 2 and {r["body"]["breach_id"] for r in rows} == {breach["id"]}  # the same message
    for leg in ("a1", "a2", "a3", "a4"):
        alerts.on_event(caller(leg, DESTROY))
    alerts.check()  # everyone gone: recovered
    assert len(queue_rows(store)) == 3 and QueueStore(store).breach(breach["id"])["recovered_at"] is not None


def test_a_database_that_refuses_the_write_gets_it_at_the_next_check(
    tmp_path: Path, clock: FakeClock, names: Names
) -> None:
    store = Store.open(tmp_path / "busy.db", clock=clock, busy_timeout=0.05)
    try:
        QueueStore(store).set_watch("q1", "CSKH", "waiting>=1", "UADMIN")
        woken = Woken()
        alerts = alerts_for(store, clock, names, woken)
        alerts.on_event(caller("a1"))
        other = sqlite3.connect(tmp_path / "busy.db", timeout=0, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        alerts.check()
        assert alerts.tracked["q1"].unsaved and woken.times == 0
        other.rollback()
        other.close()
        assert queue_rows(store) == []
        alerts.check()
        assert len(queue_rows(store)) == 1 and woken.times == 1 and not alerts.tracked["q1"].unsaved
        alerts.check()
        assert len(queue_rows(store)) == 1  # written once
    finally:
        store.close()


def test_after_a_restart_the_open_breach_is_picked_up_not_posted_again(
    store: Store, clock: FakeClock, names: Names
) -> None:
    QueueStore(store).set_watch("q1", "CSKH", "waiting>=1", "UADMIN")
    first = alerts_for(store, clock, names, Woken())
    first.on_event(caller("a1"))
    first.check()
    assert len(queue_rows(store)) == 1
    again = alerts_for(store, clock, names, Woken())  # the next process: the stream tells it a1 still waits
    again.on_event(caller("a1"))
    again.check()
    assert len(queue_rows(store)) == 1 and again.tracked["q1"].breach_id == first.tracked["q1"].breach_id
