"""The `scheduled_jobs` table: work due later (an escalation, a digest) as plain data, written in the same
transaction as the change that makes it due, so an alert and its escalation are stored together or not at all.

Rows are read back raw: bot/ops/scheduled.py checks every value before it trusts it (a row somebody edited by
hand, or a future version wrote, is set aside with one log line, never run and never a crash).

An older ringbot's pickled `jobs` table is moved into this one once, at open, by storage/migrations.py."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)


class JobRow(TypedDict):
    """A stored job as it is in the table: values not yet checked (`due_at` may be text in a damaged row, `key`
    a blob)."""

    key: Any
    kind: Any
    due_at: Any
    args: Any  # the JSON text
    daily: Any
    set_aside: str | None
    created_at: Any


class JobTable:
    """Scheduling is a write like any other: `at` inside a Store transaction commits with it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def at(self, kind: str, when: float, *, key: str, **args: Any) -> None:
        """Run `kind` once at `when` (unix seconds) with `args` (JSON values). The same key replaces the job."""
        self._put(key, kind, when, args, daily=None)

    def daily(self, kind: str, when: float, *, key: str, every: str, **args: Any) -> None:
        """Run `kind` at `when`, then every day at `every` ('HH:MM Area/City'; bot/ops/scheduled.py works out
        the next time)."""
        self._put(key, kind, when, args, daily=every)

    def _put(self, key: str, kind: str, when: float, args: Mapping[str, Any], *, daily: str | None) -> None:
        text = json.dumps(dict(args), ensure_ascii=False, allow_nan=False)  # TypeError: not plain data
        self.store._write(
            "INSERT OR REPLACE INTO scheduled_jobs(key, kind, due_at, args, daily, set_aside, created_at)"
            " VALUES (?, ?, ?, ?, ?, NULL, ?)",
            (key, kind, float(when), text, daily, self.store.clock()),
        )

    def cancel(self, key: str) -> bool:
        """Forget the job `key`; False when there was none."""
        return self.store._write("DELETE FROM scheduled_jobs WHERE key = ?", (key,)).rowcount == 1

    def finished(self, key: str, due_at: float) -> bool:
        """The one-off job `key` that was due at `due_at` ran: remove it. A job scheduled again under the same key
        meanwhile (another due time) stays; False then."""
        cur = self.store._write("DELETE FROM scheduled_jobs WHERE key = ? AND due_at = ?", (key, float(due_at)))
        return cur.rowcount == 1

    def moved(self, key: str, when: float, *, was: float | None = None) -> bool:
        """The job `key` runs next at `when` (a daily job after its run). With `was`, only while it is still due
        at `was` (not scheduled again meanwhile); False when nothing was moved."""
        if was is None:
            cur = self.store._write("UPDATE scheduled_jobs SET due_at = ? WHERE key = ?", (float(when), key))
        else:
            cur = self.store._write(
                "UPDATE scheduled_jobs SET due_at = ? WHERE key = ? AND due_at = ?", (float(when), key, float(was))
            )
        return cur.rowcount == 1

    def set_aside(self, key: object, why: str) -> None:
        """Keep the row for a person to look at, but never run it (`key` as read, even when it is not text)."""
        self.store._write("UPDATE scheduled_jobs SET set_aside = ? WHERE key = ?", (why[:300], key))

    # -- reading ------------------------------------------------------------------------------------
    def due(self, now: float, *, limit: int = 100) -> list[JobRow]:
        """Live jobs due by `now`, soonest first, and every live row whose due time is not a number (so the
        runner can set it aside instead of never seeing it). SQLite sorts text and blobs after every number, so
        `due_at >= ''` is exactly the rows whose due time is not a number; two ranges of the index, not a scan of
        the table every second."""
        return self._rows(
            "SELECT * FROM scheduled_jobs WHERE set_aside IS NULL AND due_at <= ?"
            " UNION ALL SELECT * FROM scheduled_jobs WHERE set_aside IS NULL AND due_at >= ''"
            " ORDER BY due_at, key LIMIT ?",
            (now, limit),
        )

    def next_due(self) -> float | None:
        """When the soonest live job is due."""
        row = self.store.conn.execute(
            "SELECT min(due_at) FROM scheduled_jobs WHERE set_aside IS NULL AND typeof(due_at) IN ('real', 'integer')"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def get(self, key: str) -> JobRow | None:
        rows = self._rows("SELECT * FROM scheduled_jobs WHERE key = ?", (key,))
        return rows[0] if rows else None

    def keys(self, prefix: str = "") -> list[str]:
        """Keys of the live jobs, those starting with `prefix`."""
        rows = self.store.conn.execute(
            "SELECT key FROM scheduled_jobs WHERE set_aside IS NULL AND substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def _rows(self, sql: str, params: tuple[object, ...]) -> list[JobRow]:
        cur = self.store.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [JobRow(**dict(zip(names, r, strict=True))) for r in cur.fetchall()]  # type: ignore[typeddict-item]
