"""The row types name exactly the columns the schema creates, so a column added in one place shows up here."""

from __future__ import annotations

import pytest

from storage import AlertRow, AuditRow, CallRow, DialRuleRow, LegRow, LinkRow, OutboxRow, RouteRow, Store


@pytest.mark.parametrize(
    ("table", "row_type"),
    [
        ("legs", LegRow),
        ("calls", CallRow),
        ("alerts", AlertRow),
        ("outbox", OutboxRow),
        ("routes", RouteRow),
        ("links", LinkRow),
        ("dial_rules", DialRuleRow),
        ("audit", AuditRow),
    ],
)
def test_each_row_type_has_the_tables_columns_in_order(store: Store, table: str, row_type: type) -> None:
    columns = [r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")]
    assert list(row_type.__annotations__) == columns


def test_a_new_database_is_in_wal_mode_and_records_its_schema_version(store: Store) -> None:
    assert store.journal_mode() == "wal"
    assert store.get_meta("schema_version") == "1"
