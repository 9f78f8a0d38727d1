"""Retention: each table loses its rows older than the cut-off and keeps the rest; the file gives the space back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import OwnershipStore, Store
from storage.queues import QueueStore
from storage.retention import (
    TABLES,
    Cutoff,
    auto_vacuum,
    count_old,
    free_pages,
    prune_all,
    prune_step,
    switch_to_incremental,
    vacuum_step,
)
from tests.support.clock import FakeClock

DAY = 86400.0
OLD, NEW = 1_000_000.0, 2_000_000.0  # a row from long ago, and one from after the cut-off
CUT = Cutoff.at(1_500_000.0)


def _call(store: Store, call_id: str, at: float) -> None:
    store.insert_call({"call_id": call_id, "direction": "inbound", "outcome": "missed", "started_at": at})


def _alert(store: Store, clock: FakeClock, call_id: str, at: float) -> int:
    clock.now = at
    return store.create_alert({"call_id": call_id, "channel": "C1", "outcome": "missed", "last_call_at": at})


def _ids(store: Store, table: str) -> list[int]:
    return [r[0] for r in store.conn.execute(f"SELECT id FROM {table} ORDER BY id")]


def _count(store: Store, table: str) -> int:
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_calls_older_than_the_cutoff_go_and_newer_ones_stay(store: Store) -> None:
    _call(store, "old", OLD)
    _call(store, "new", NEW)
    assert prune_all(store, CUT)["calls"] == 1
    assert store.get_call("old") is None and store.get_call("new") is not None


def test_an_alert_goes_with_its_ownership_and_dm_copies_once_nothing_happened_to_it_since_the_cutoff(
    store: Store, clock: FakeClock
) -> None:
    owners = OwnershipStore(store)
    old, new = _alert(store, clock, "old", OLD), _alert(store, clock, "new", NEW)
    repeated = _alert(store, clock, "repeated", OLD)
    clock.now = NEW
    store.update_alert(repeated, repeat_count=2, last_call_at=NEW)  # the caller rang again lately: it stays
    for alert_id in (old, new, repeated):
        owners.set_owner(alert_id, "U0AN", OLD)
        owners.add_copy(alert_id, "U0AN")
    removed = prune_all(store, CUT)
    assert (removed["alerts"], removed["alert_ownership"], removed["alert_copies"]) == (1, 1, 1)
    assert store.get_alert(old) is None and store.get_alert(new) and store.get_alert(repeated)
    assert owners.get_copy(old, "U0AN") is None and owners.get(old)["owner"] is None
    assert owners.get_copy(new, "U0AN") is not None and owners.get(repeated)["owner"] == "U0AN"


def test_audit_rows_older_than_the_cutoff_go(store: Store, clock: FakeClock) -> None:
    clock.now = OLD
    store.add_audit("link", "ok", slack_user="U0AN")
    clock.now = NEW
    store.add_audit("link", "ok", slack_user="U0BINH")
    assert prune_all(store, CUT)["audit"] == 1
    assert [r["slack_user"] for r in store.audit()] == ["U0BINH"]


def test_short_hangups_older_than_the_cutoff_go(store: Store) -> None:
    owners = OwnershipStore(store)
    owners.add_short_hangup({"call_id": "old", "started_at": OLD, "ring_seconds": 2}, "C1")
    owners.add_short_hangup({"call_id": "new", "started_at": NEW, "ring_seconds": 2}, "C1")
    assert prune_all(store, CUT)["short_hangups"] == 1
    assert [r["call_id"] for r in owners.short_hangups_by_id(["old", "new"])] == ["new"]


def test_queue_breaches_go_once_recovered_before_the_cutoff(store: Store, clock: FakeClock) -> None:
    queues = QueueStore(store)
    clock.now = OLD
    old = queues.save_breach(None, {"queue_id": "Q1", "channel": "C1", "level": 1, "started_at": OLD})
    queues.save_breach(old, {"recovered_at": OLD + 60})
    long_open = queues.save_breach(None, {"queue_id": "Q2", "channel": "C1", "level": 1, "started_at": OLD})
    clock.now = NEW
    queues.save_breach(long_open, {"peak_waiting": 4})  # changed lately: kept
    assert prune_all(store, CUT)["queue_breaches"] == 1
    assert queues.breach(old) is None and queues.breach(long_open) is not None


def test_digests_queued_before_the_cutoff_go(store: Store, clock: FakeClock) -> None:
    queues = QueueStore(store)
    clock.now = OLD
    queues.mark_digest("1970-01-12", "C1")
    clock.now = NEW
    queues.mark_digest("1970-01-24", "C1")
    store.conn.execute("INSERT INTO digests(day, channel) VALUES ('1970-01-01', 'C2')")  # never queued: by its day
    assert prune_all(store, CUT)["digests"] == 2
    assert store.conn.execute("SELECT day FROM digests").fetchall() == [("1970-01-24",)]


def test_finished_outbox_rows_go_and_rows_on_their_way_to_slack_stay(store: Store, clock: FakeClock) -> None:
    clock.now = OLD
    sent, dead, pending = (store.enqueue("post", "C1", alert_id=n) for n in (1, 2, 3))
    store.mark_outbox(sent, "sent", ts="1.1", sent_at=OLD)
    store.mark_outbox(dead, "dead", error="slack refused: invalid_blocks")
    clock.now = NEW
    recent = store.enqueue("post", "C1", alert_id=4)
    store.mark_outbox(recent, "sent", ts="2.2", sent_at=NEW)
    assert prune_all(store, CUT)["outbox"] == 2
    assert _ids(store, "outbox") == [pending, recent]


def test_legs_and_finished_outbox_rows_go_from_the_shorter_diagnostics_cutoff(store: Store, clock: FakeClock) -> None:
    store.save_legs([{"leg_id": "a", "created_at": NEW - 8 * DAY}, {"leg_id": "b", "created_at": NEW - DAY}])
    _call(store, "week-old", NEW - 8 * DAY)
    removed = prune_all(store, Cutoff.at(NEW - 400 * DAY, short=NEW - 7 * DAY))
    assert removed["legs"] == 1 and _count(store, "legs") == 1
    assert removed["calls"] == 0 and store.get_call("week-old") is not None


def test_people_s_settings_and_the_jobs_still_due_are_never_pruned(store: Store, clock: FakeClock) -> None:
    clock.now = OLD
    store.set_route("queue:Q1", "C1", by="U0ADMIN")
    store.set_dial_rule("GB", "allow", by="U0ADMIN")
    QueueStore(store).set_watch("Q1", "CSKH", "waiting>=3", "U0ADMIN")
    store.conn.execute("INSERT INTO scheduled_jobs(key, kind, due_at) VALUES ('digest:daily', 'digest', 1)")
    prune_all(store, Cutoff.at(NEW))
    for table in ("routes", "dial_rules", "queue_watches", "scheduled_jobs"):
        assert _count(store, table) == 1, table


def test_a_step_deletes_at_most_a_batch_per_table_and_the_steps_add_up(store: Store) -> None:
    for n in range(5):
        _call(store, f"c{n}", OLD)
    assert count_old(store, CUT)["calls"] == 5
    assert prune_step(store, CUT, batch=2)["calls"] == 2
    assert prune_all(store, CUT, batch=2) == {**dict.fromkeys(TABLES, 0), "calls": 3}
    assert count_old(store, CUT)["calls"] == 0


def test_a_new_database_gives_pruned_pages_back_to_the_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "ringbot.db"
    store = Store.open(path, clock=clock)
    try:
        assert auto_vacuum(store) == "incremental"
        with store.transaction():
            for n in range(3000):
                _call(store, f"call-{n:05d}-" + "x" * 200, OLD)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        full = path.stat().st_size
        prune_all(store, CUT)
        assert free_pages(store) > 0
        while vacuum_step(store, pages=10):
            pass
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert free_pages(store) == 0
        assert path.stat().st_size < full / 4
    finally:
        store.close()


def test_a_database_made_before_retention_switches_to_incremental_with_one_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)").connection.close()
    store = Store.open(path)
    try:
        assert auto_vacuum(store) == "none" and vacuum_step(store) == 0
        switch_to_incremental(store)
        assert auto_vacuum(store) == "incremental"
    finally:
        store.close()


def test_the_vacuum_that_switches_needs_the_file_to_itself(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)").connection.close()
    store = Store.open(path, busy_timeout=0.05)
    other = sqlite3.connect(path)
    other.execute("BEGIN IMMEDIATE")  # another program writing
    try:
        with pytest.raises(sqlite3.OperationalError):
            switch_to_incremental(store)
    finally:
        other.rollback()
        other.close()
        store.close()
