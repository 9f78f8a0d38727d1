"""Another connection holding the write lock, and a full disk: the store says which, writes nothing half-way,
keeps the audit trail in memory meanwhile, and forgets the trouble at the first write that goes through."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import DatabaseBusy, Store, write_failure
from tests.support.clock import FakeClock
from tests.support.rows import count_rows


@pytest.fixture
def quick(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """The store as the running bot opens it: it waits 50 ms at most for another connection's lock."""
    s = Store.open(tmp_path / "ringbot.db", clock=clock, busy_timeout=0.05)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def locked(tmp_path: Path, quick: Store) -> Iterator[sqlite3.Connection]:
    other = sqlite3.connect(tmp_path / "ringbot.db", timeout=0, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield other
    finally:
        other.rollback()
        other.close()


def test_a_write_under_another_connections_lock_is_busy_and_changes_nothing(quick, locked, clock) -> None:
    with pytest.raises(DatabaseBusy):
        with quick.transaction():
            quick.set_meta("a", "1")
            quick.set_meta("b", "2")
    assert quick.health.state == "busy" and quick.health.since == clock.now and quick.health.failures == 1
    assert quick.get_meta("a") is None  # reads go on (WAL): nothing of the transaction was written
    locked.rollback()
    clock.now += 5
    quick.set_meta("a", "1")
    assert quick.health.state == "ok" and quick.health.last_ok_at == clock.now and quick.get_meta("a") == "1"


def test_lone_writes_are_busy_too_and_legs_can_be_tried_again(quick, locked) -> None:
    leg = {"leg_id": "l1", "direction": "inbound", "caller": "0909", "created_at": 1.0}
    with pytest.raises(DatabaseBusy):
        quick.save_legs([leg])
    with pytest.raises(DatabaseBusy):
        quick.set_meta("k", "v")
    locked.rollback()
    quick.save_legs([leg])
    assert count_rows(quick, "legs") == 1


def test_audit_rows_wait_in_memory_while_busy_and_are_written_with_the_next(quick, locked, clock) -> None:
    assert quick.add_audit("handled", "ok", slack_user="U1") == 0  # kept, not lost, not raised
    clock.now += 1
    assert quick.add_audit("handled", "ok", slack_user="U2") == 0
    assert quick.flush_deferred() == 0  # still busy
    locked.rollback()
    assert quick.add_audit("route", "ok", slack_user="U3") > 0
    assert sorted(r["slack_user"] for r in quick.audit()) == ["U1", "U2", "U3"]
    assert quick.flush_deferred() == 0


def test_inside_a_transaction_a_busy_audit_row_fails_the_transaction(quick, locked) -> None:
    with pytest.raises(DatabaseBusy), quick.transaction():
        quick.add_audit("handled", "ok")
    locked.rollback()
    assert quick.flush_deferred() == 0 and quick.audit() == []


def test_a_full_disk_is_told_apart_from_a_lock(store) -> None:
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page, as on a full disk
    with pytest.raises(sqlite3.OperationalError) as err:
        store.set_meta("big", "x" * 200_000)
    assert not isinstance(err.value, DatabaseBusy)
    assert store.health.state == "full" and "full" in (store.health.detail or "")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("database is locked", "busy"),
        ("database table is locked", "busy"),
        ("database or disk is full", "full"),
        ("attempt to write a readonly database", "readonly"),
        ("disk I/O error", "error"),
    ],
)
def test_write_failures_are_named_by_what_sqlite_said(message: str, kind: str) -> None:
    assert write_failure(sqlite3.OperationalError(message)) == kind
