"""Retention: what is deleted once it is older than RINGBOT_RETENTION_DAYS (or `ringbot purge --before`), table
by table, in small batches so the running bot's loop never waits long; and the file given back afterwards.

Every table that grows with traffic is here. What people set up (routes, links, dial rules, watches, settings)
and the jobs still due are never pruned: they do not grow with calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.store import Store

BATCH = 2000  # rows per DELETE: a few milliseconds each, so the loop answers between them
VACUUM_PAGES = 2000  # pages handed back to the file system per `PRAGMA incremental_vacuum` step

# Table -> the rows older than :before. Children are deleted with (or after) the rows they hang from.
_OLD: dict[str, str] = {
    "calls": "SELECT rowid FROM calls WHERE COALESCE(started_at, decided_at, 0) < :before",
    # An alert goes once nothing has happened to it since the cut-off (a repeat call, a click, a resolution).
    "alerts": "SELECT rowid FROM alerts WHERE max(COALESCE(created_at, 0), COALESCE(updated_at, 0),"
    " COALESCE(last_call_at, 0)) < :before",
    "alert_ownership": "SELECT rowid FROM alert_ownership WHERE alert_id NOT IN (SELECT id FROM alerts)",
    "alert_copies": "SELECT rowid FROM alert_copies WHERE alert_id NOT IN (SELECT id FROM alerts)",
    "audit": "SELECT rowid FROM audit WHERE at < :before",
    "short_hangups": "SELECT rowid FROM short_hangups WHERE COALESCE(started_at, 0) < :before",
    "queue_breaches": "SELECT rowid FROM queue_breaches"
    " WHERE max(started_at, COALESCE(recovered_at, 0), COALESCE(updated_at, 0)) < :before",
    "digests": "SELECT rowid FROM digests WHERE COALESCE(posted_at, CAST(strftime('%s', day) AS REAL)) < :before",
    # Only rows that are over: a pending or inflight row is still on its way to Slack.
    "outbox": "SELECT rowid FROM outbox WHERE status IN ('sent', 'dead') AND COALESCE(sent_at, created_at, 0) < :short",
    "legs": "SELECT rowid FROM legs WHERE COALESCE(destroyed_at, created_at, 0) < :short",
}
TABLES = tuple(_OLD)


@dataclass(frozen=True)
class Cutoff:
    """Rows older than `before` go; legs and finished outbox rows (diagnostics only) already from `short`."""

    before: float
    short: float

    @classmethod
    def at(cls, before: float, *, short: float | None = None) -> Cutoff:
        return cls(before, before if short is None else max(before, short))


def prune_step(store: Store, cutoff: Cutoff, *, batch: int = BATCH) -> dict[str, int]:
    """Delete at most `batch` old rows from each table, in one transaction; how many went, per table (a table
    with none left to delete shows 0). Call again until every count is 0."""
    removed: dict[str, int] = {}
    params = {"before": cutoff.before, "short": cutoff.short, "limit": batch}
    with store.transaction():
        for table, old in _OLD.items():
            removed[table] = store.conn.execute(
                f"DELETE FROM {table} WHERE rowid IN ({old} LIMIT :limit)", params
            ).rowcount
    return removed


def prune_all(store: Store, cutoff: Cutoff, *, batch: int = BATCH) -> dict[str, int]:
    """Delete every row older than the cut-off (`ringbot purge`), batch after batch; the totals per table."""
    total = dict.fromkeys(TABLES, 0)
    while True:
        step = prune_step(store, cutoff, batch=batch)
        for table, count in step.items():
            total[table] += count
        if not any(step.values()):
            return total


def count_old(store: Store, cutoff: Cutoff) -> dict[str, int]:
    """How many rows each table holds older than the cut-off (what a prune would delete; alerts' children are
    counted as they are now, before their alerts go)."""
    params = {"before": cutoff.before, "short": cutoff.short}
    return {t: int(store.conn.execute(f"SELECT count(*) FROM ({q})", params).fetchone()[0]) for t, q in _OLD.items()}


def auto_vacuum(store: Store) -> str:
    """How the file gives back deleted pages: `incremental` (new databases), or `none` (made before retention,
    until one VACUUM switches it)."""
    mode = int(store.conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    return {0: "none", 1: "full", 2: "incremental"}.get(mode, str(mode))


def vacuum_step(store: Store, *, pages: int = VACUUM_PAGES) -> int:
    """Hand up to `pages` free pages back to the file system (incremental auto-vacuum); the free pages left.
    In WAL mode the file itself shrinks at the next checkpoint."""
    if auto_vacuum(store) != "incremental":
        return 0
    store.conn.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()
    return free_pages(store)


def free_pages(store: Store) -> int:
    return int(store.conn.execute("PRAGMA freelist_count").fetchone()[0])


def switch_to_incremental(store: Store) -> None:
    """Make a database from before retention give pages back: `auto_vacuum` takes effect only through one full
    VACUUM, which rewrites the whole file and needs it to itself (DatabaseBusy-like sqlite3.OperationalError
    while another connection reads or writes it: sqlite3.OperationalError, nothing changed)."""
    store.conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    store.conn.execute("VACUUM")
