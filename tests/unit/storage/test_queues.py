"""storage/queues.py: watches, breaches with their snapshot, "I'm on it" first-come, digests queued once, and the
call rows stats read. Writes join the caller's transaction (a breach and its outbox row, all or nothing)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import Store
from storage.queues import QueueStore
from storage.schema import open_db
from tests.support.clock import FakeClock


@pytest.fixture
def qs(store: Store) -> QueueStore:
    return QueueStore(store)


def breach_fields(**kw: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "queue_id": "q1",
        "channel": "C1",
        "level": 1,
        "reasons": "waiting",
        "started_at": 1000.0,
        "peak_waiting": 3,
        "peak_wait": 40.0,
        "snapshot": {"queue": "CSKH", "waiting": 3, "longest": 40.0, "ready": 0, "spec": "waiting>=3"},
    }
    return fields | kw


def test_a_watch_is_set_replaced_listed_and_dropped(qs: QueueStore, clock: FakeClock) -> None:
    qs.set_watch("q2", "Kinh doanh", "wait>=120s", "UADMIN")
    qs.set_watch("q1", "CSKH", "waiting>=3", "UADMIN")
    clock.advance(60)
    qs.set_watch("q1", "CSKH", "waiting>=5", "UOTHER")
    rows = qs.watches()
    assert [(r["queue_id"], r["thresholds"], r["set_by"]) for r in rows] == [
        ("q1", "waiting>=5", "UOTHER"),
        ("q2", "wait>=120s", "UADMIN"),
    ]
    assert rows[0]["updated_at"] == clock()
    assert qs.drop_watch("q1") is True
    assert qs.drop_watch("q1") is False
    assert [r["queue_id"] for r in qs.watches()] == ["q2"]


def test_a_breach_is_inserted_then_updated_with_its_snapshot(qs: QueueStore) -> None:
    breach_id = qs.save_breach(None, breach_fields())
    assert breach_id > 0
    qs.save_breach(breach_id, breach_fields(level=2, peak_waiting=6, snapshot={"queue": "CSKH", "waiting": 6}))
    row = qs.breach(breach_id)
    assert row is not None
    assert (row["level"], row["peak_waiting"], row["ts"], row["owner"]) == (2, 6, None, None)
    assert row["snapshot"] == {"queue": "CSKH", "waiting": 6}
    qs.set_breach_ts(breach_id, "1700000000.000100")
    assert qs.breach(breach_id)["ts"] == "1700000000.000100"  # type: ignore[index]
    assert qs.breach(breach_id + 1) is None


def test_a_breach_column_that_is_not_ours_never_reaches_sql(qs: QueueStore) -> None:
    with pytest.raises(ValueError, match="owner"):
        qs.save_breach(None, breach_fields(owner="U1"))  # the owner is only ever set by take_breach


def test_only_the_first_person_takes_a_breach(qs: QueueStore) -> None:
    breach_id = qs.save_breach(None, breach_fields())
    assert qs.take_breach(breach_id, "U1") is True
    assert qs.take_breach(breach_id, "U2") is False
    qs.save_breach(breach_id, breach_fields(level=2))  # the alerts' own saves keep the owner
    assert qs.breach(breach_id)["owner"] == "U1"  # type: ignore[index]


def test_latest_and_open_breaches(qs: QueueStore) -> None:
    old = qs.save_breach(None, breach_fields(recovered_at=1100.0))
    new = qs.save_breach(None, breach_fields(started_at=2000.0))
    other = qs.save_breach(None, breach_fields(queue_id="q2", started_at=1500.0, recovered_at=1600.0))
    assert [r["id"] for r in qs.latest_breaches()] == [new, other]
    assert [r["id"] for r in qs.open_breaches()] == [new]
    assert old not in [r["id"] for r in qs.latest_breaches()]


def test_a_snapshot_that_is_not_a_json_object_reads_as_empty(store: Store, qs: QueueStore) -> None:
    breach_id = qs.save_breach(None, breach_fields())
    store.conn.execute("UPDATE queue_breaches SET snapshot = 'not json' WHERE id = ?", (breach_id,))
    assert qs.breach(breach_id)["snapshot"] == {}  # type: ignore[index]


def digests(store: Store) -> list[tuple[str, str]]:
    return [tuple(r) for r in store.conn.execute("SELECT day, channel FROM digests ORDER BY 1, 2").fetchall()]


def test_a_digest_is_recorded_once_per_day_and_channel(store: Store, qs: QueueStore) -> None:
    assert qs.mark_digest("2026-03-02", "C1") is True
    assert qs.mark_digest("2026-03-02", "C1") is False
    assert qs.mark_digest("2026-03-02", "C2") is True
    assert digests(store) == [("2026-03-02", "C1"), ("2026-03-02", "C2")]


def test_writes_join_the_callers_transaction(store: Store, qs: QueueStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        qs.save_breach(None, breach_fields())
        qs.mark_digest("2026-03-02", "C1")
        raise RuntimeError("the outbox row could not be written")
    assert qs.latest_breaches() == [] and digests(store) == []


def test_queue_calls_and_callbacks_for_stats(store: Store, qs: QueueStore) -> None:
    rows = [
        ("c1", "inbound", "answered", "q1", 100.0, 5),
        ("c2", "inbound", "abandoned", "q2", 200.0, 40),
        ("c3", "outbound", "answered", "q1", 150.0, 0),
        ("c4", "inbound", "missed", "q1", 900.0, 20),
    ]
    store.conn.executemany(
        "INSERT INTO calls(call_id, direction, outcome, queue_id, started_at, ring_seconds) VALUES (?,?,?,?,?,?)", rows
    )
    store.conn.commit()
    assert [c.outcome for c in qs.queue_calls(0, 500)] == ["answered", "abandoned"]
    assert [c.outcome for c in qs.queue_calls(0, 1000, "q1")] == ["answered", "missed"]
    alert = store.create_alert({"call_id": "c4", "outcome": "missed", "channel": "C1", "created_at": 900.0})
    store.conn.execute(
        "INSERT INTO audit(at, action, result, alert_id) VALUES (960, 'click_to_call', 'ok', ?),"
        " (990, 'click_to_call', 'ok', ?), (970, 'click_to_call', 'offline', ?)",
        (alert, alert, alert),
    )
    store.conn.commit()
    assert qs.callbacks(0, 2000) == [60.0]


def test_an_older_database_gets_the_snapshot_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        """CREATE TABLE queue_breaches (id INTEGER PRIMARY KEY, queue_id TEXT NOT NULL, channel TEXT NOT NULL, ts TEXT,
           level INTEGER NOT NULL, reasons TEXT DEFAULT '', started_at REAL NOT NULL, peak_waiting INTEGER DEFAULT 0,
           peak_wait REAL DEFAULT 0, recovered_at REAL, reopened INTEGER DEFAULT 0, owner TEXT, updated_at REAL)"""
    )
    conn.execute("INSERT INTO queue_breaches(queue_id, channel, level, started_at) VALUES ('q1', 'C1', 1, 5.0)")
    conn.commit()
    conn.close()
    store = Store(open_db(path))
    try:
        (row,) = QueueStore(store).latest_breaches()
        assert row["snapshot"] == {} and row["queue_id"] == "q1"
    finally:
        store.close()
