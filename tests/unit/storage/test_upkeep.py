"""Upkeep: transactions that hold together, the doctor's probes (pruning: test_retention.py)."""

from __future__ import annotations

import pytest

from storage import Store


def test_a_transaction_that_fails_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_call({"call_id": "c", "direction": "inbound", "outcome": "missed"})
        store.enqueue("post", "C1", alert_id=1)
        raise RuntimeError("the alert could not be raised")
    assert store.get_call("c") is None and store.outbox_depth() == 0


def test_the_doctor_sees_a_database_in_wal_mode(store: Store) -> None:
    store.checkpoint()
    assert store.journal_mode() == "wal"
