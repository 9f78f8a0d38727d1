"""Meta: small named values the bot keeps between runs (reconciliation's high-water mark, burst folds...)."""

from __future__ import annotations

from storage import Store


def test_a_value_is_set_overwritten_and_read_with_a_default_when_missing(store: Store) -> None:
    assert store.get_meta("reconcile_until") is None
    assert store.get_meta("reconcile_until", "0") == "0"
    store.set_meta("reconcile_until", "100")
    store.set_meta("reconcile_until", "200")
    assert store.get_meta("reconcile_until") == "200"


def test_keys_are_found_by_their_exact_prefix(store: Store) -> None:
    store.set_meta("outbox_fold:C1", "{}")
    store.set_meta("outbox_fold:C2", "{}")
    store.set_meta("outboxXfold:C3", "{}")  # `_` is a LIKE wildcard; the prefix must match as written
    assert sorted(store.meta_keys("outbox_fold:")) == ["outbox_fold:C1", "outbox_fold:C2"]
    assert store.meta_keys("nothing:") == []
