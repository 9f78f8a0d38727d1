"""Upkeep: pruning what only diagnostics need, transactions that hold together, the doctor's probes."""

from __future__ import annotations

import pytest

from storage import Store
from tests.support.rows import count_rows, outbox_row


def test_prune_drops_old_legs_and_sent_outbox_rows_but_keeps_calls_and_pending_rows(store: Store) -> None:
    store.save_legs(
        [{"leg_id": "old", "created_at": 100.0, "destroyed_at": 130.0}, {"leg_id": "new", "created_at": 9_000.0}]
    )
    old_sent = store.enqueue("post", "C1", alert_id=1)
    store.mark_outbox(old_sent, "sent", ts="1.1", sent_at=200.0)
    pending = store.enqueue("post", "C1", alert_id=2)
    store.insert_call({"call_id": "c", "direction": "inbound", "outcome": "missed", "started_at": 100.0})
    assert store.prune(legs_before=1_000.0, outbox_before=1_000.0) == {"legs": 1, "outbox": 1}
    assert count_rows(store, "legs") == 1
    pending_row = outbox_row(store, pending)
    assert pending_row is not None and pending_row["status"] == "pending"
    assert store.get_call("c") is not None


def test_a_transaction_that_fails_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_call({"call_id": "c", "direction": "inbound", "outcome": "missed"})
        store.enqueue("post", "C1", alert_id=1)
        raise RuntimeError("the alert could not be raised")
    assert store.get_call("c") is None and store.outbox_depth() == 0


def test_the_doctor_sees_a_database_in_wal_mode(store: Store) -> None:
    store.checkpoint()
    assert store.journal_mode() == "wal"
