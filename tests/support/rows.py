"""Rows read straight through a store's connection, for tests that check what was written: reads the product
itself never makes, so the store does not carry them."""

from __future__ import annotations

import json
from typing import cast

from storage import Store
from storage.rows import OutboxKind, OutboxRow, OutboxStatus


def outbox_row(store: Store, row_id: int) -> OutboxRow | None:
    """The outbox row `row_id` whatever its status, decoded as the store decodes the rows it hands out."""
    cur = store.conn.execute("SELECT * FROM outbox WHERE id = ?", (row_id,))
    found = cur.fetchone()
    if found is None:
        return None
    row: dict[str, object] = dict(zip([d[0] for d in cur.description], found, strict=True))
    row["kind"], row["status"] = OutboxKind(row["kind"]), OutboxStatus(row["status"])
    row["body"] = json.loads(str(row["body"])) if row["body"] is not None else None
    return cast("OutboxRow", row)


def count_rows(store: Store, table: str) -> int:
    """How many rows `table` holds (`alerts`, `legs`, ...)."""
    return int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - a test's own name


def set_aside_jobs(store: Store) -> list[dict[str, object]]:
    """The scheduled_jobs rows the runner set aside (never run), by key."""
    cur = store.conn.execute("SELECT * FROM scheduled_jobs WHERE set_aside IS NOT NULL ORDER BY key")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
