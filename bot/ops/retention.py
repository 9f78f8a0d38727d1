"""Keeping the database bounded: the daily prune of what is older than RINGBOT_RETENTION_DAYS (run by bot/app.py),
and `ringbot purge --before DATE` (bot/cli.py). The SQL, table by table, is storage/retention.py."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass

from storage import Store
from storage.retention import (
    TABLES,
    Cutoff,
    auto_vacuum,
    prune_all,
    prune_step,
    switch_to_incremental,
    vacuum_step,
)

log = logging.getLogger(__name__)

DAY = 86400.0
# Legs and outbox rows already sent or given up are diagnostics: a week of them is enough, whatever the retention.
DIAGNOSTICS_DAYS = 7


def cutoff_for(now: float, retention_days: int) -> Cutoff:
    """What the daily prune deletes at `now`: calls and the rest older than the retention, diagnostics older than
    a week."""
    return Cutoff.at(now - retention_days * DAY, short=now - DIAGNOSTICS_DAYS * DAY)


def describe(removed: dict[str, int]) -> str:
    """`calls=3 alerts=1 ...` for the log line, every table named (0 included) so a line is easy to compare."""
    return " ".join(f"{table}={removed.get(table, 0)}" for table in TABLES)


async def prune_daily(store: Store, *, now: float, retention_days: int) -> dict[str, int]:
    """Delete what the retention no longer covers, a batch at a time with the loop free in between (a bot that
    was upgraded with a year of rows to delete keeps answering), then give the pages back to the file. Logs one
    line; raises sqlite3.OperationalError when the database refuses (busy, full): the next day tries again."""
    cutoff = cutoff_for(now, retention_days)
    removed = dict.fromkeys(TABLES, 0)
    while True:
        step = prune_step(store, cutoff)
        for table, count in step.items():
            removed[table] += count
        if not any(step.values()):
            break
        await asyncio.sleep(0)
    while True:
        if not vacuum_step(store):
            break
        await asyncio.sleep(0)
    store.checkpoint()  # in WAL mode the file shrinks when the freed pages are checkpointed
    log.info(
        "database pruned older_than_days=%s %s vacuum=%s",
        retention_days,
        describe(removed),
        auto_vacuum(store),
    )
    return removed


@dataclass(frozen=True)
class Purged:
    """What `ringbot purge` did: rows removed per table, whether the file was switched to incremental vacuum (a
    database made before retention), and the file's size in bytes before and after."""

    removed: dict[str, int]
    switched: bool
    switch_refused: str | None  # why the one VACUUM could not run now (ringbot run holds the file), else None
    bytes_before: int
    bytes_after: int


def purge(store: Store, before: float, *, may_vacuum: bool) -> Purged:
    """Delete every row older than `before` (legs and finished outbox rows included), then give the space back.
    A database made before retention needs one full VACUUM to give space back at all: done here when
    `may_vacuum` (no `ringbot run` on this file), else said in `switch_refused`."""
    bytes_before = _size(store)
    removed = prune_all(store, Cutoff.at(before))
    switched, refused = False, None
    if auto_vacuum(store) != "incremental":
        if not may_vacuum:
            refused = "ringbot run is using this database"
        else:
            try:
                switch_to_incremental(store)
                switched = True
            except sqlite3.OperationalError as exc:
                refused = str(exc)
    while vacuum_step(store):
        pass
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Purged(removed, switched, refused, bytes_before, _size(store))


def _size(store: Store) -> int:
    """The database's size in bytes (the file's, once the WAL is checkpointed)."""
    pages = int(store.conn.execute("PRAGMA page_count").fetchone()[0])
    return pages * int(store.conn.execute("PRAGMA page_size").fetchone()[0])
