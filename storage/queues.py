"""The SQL of queue health (#14): watches, breach messages, digests sent, and the call rows stats are built from."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from storage.store import Store


@dataclass(frozen=True)
class CallFact:
    """One inbound queue call, as stats need it."""

    started_at: float
    outcome: str  # answered | missed | abandoned | ...
    queue_id: str | None
    ring_seconds: int
    customer_key: str | None
    customer_number: str | None


class QueueStore:
    """Reads and writes the #14 tables through the main Store's connection (one connection, one thread)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.conn = store.conn

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # -- watches --------------------------------------------------------------------------------------
    def set_watch(self, queue_id: str, queue_name: str | None, thresholds: str, set_by: str) -> None:
        with self.store.transaction():
            self.conn.execute(
                """INSERT INTO queue_watches(queue_id, queue_name, thresholds, set_by, updated_at) VALUES (?,?,?,?,?)
                   ON CONFLICT(queue_id) DO UPDATE SET queue_name = excluded.queue_name,
                   thresholds = excluded.thresholds, set_by = excluded.set_by, updated_at = excluded.updated_at""",
                (queue_id, queue_name, thresholds, set_by, time.time()),
            )

    def drop_watch(self, queue_id: str) -> bool:
        with self.store.transaction():
            return self.conn.execute("DELETE FROM queue_watches WHERE queue_id = ?", (queue_id,)).rowcount > 0

    def watches(self) -> list[dict[str, Any]]:
        return self._rows("SELECT queue_id, queue_name, thresholds, set_by, updated_at FROM queue_watches ORDER BY 2")

    # -- breaches -------------------------------------------------------------------------------------
    def save_breach(self, row: dict[str, Any]) -> int:
        """Insert (no id) or update (id) one breach row; its id."""
        row = {**row, "updated_at": time.time()}
        with self.store.transaction():
            if row.get("id") is None:
                row.pop("id", None)
                cols = list(row)
                cur = self.conn.execute(
                    f"INSERT INTO queue_breaches({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    tuple(row.values()),
                )
                return int(cur.lastrowid or 0)
            breach_id = int(row.pop("id"))
            sets = ", ".join(f"{c} = ?" for c in row)
            self.conn.execute(f"UPDATE queue_breaches SET {sets} WHERE id = ?", (*row.values(), breach_id))
            return breach_id

    def latest_breaches(self) -> list[dict[str, Any]]:
        """The newest breach row of every queue (open, or recovered and maybe still within its cool-down)."""
        return self._rows(
            """SELECT * FROM queue_breaches b
               WHERE id = (SELECT max(id) FROM queue_breaches WHERE queue_id = b.queue_id)"""
        )

    def breach(self, breach_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM queue_breaches WHERE id = ?", (breach_id,))
        return rows[0] if rows else None

    def open_breaches(self) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM queue_breaches WHERE recovered_at IS NULL ORDER BY started_at")

    # -- digests --------------------------------------------------------------------------------------
    def digest_sent(self, day: str, channel: str) -> bool:
        return bool(self.conn.execute("SELECT 1 FROM digests WHERE day = ? AND channel = ?", (day, channel)).fetchone())

    def mark_digest(self, day: str, channel: str) -> bool:
        """Record the day's digest for the channel; False when it was already recorded (never twice)."""
        with self.store.transaction():
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO digests(day, channel, posted_at) VALUES (?, ?, ?)", (day, channel, time.time())
            )
            return cur.rowcount > 0

    # -- what stats read ------------------------------------------------------------------------------
    def queue_calls(self, since: float, until: float, queue_id: str | None = None) -> list[CallFact]:
        sql = """SELECT started_at, outcome, queue_id, coalesce(ring_seconds, 0), customer_key, customer_number
                 FROM calls WHERE direction = 'inbound' AND started_at >= ? AND started_at < ?"""
        params: tuple[Any, ...] = (since, until)
        if queue_id:
            sql += " AND queue_id = ?"
            params += (queue_id,)
        return [CallFact(*r) for r in self.conn.execute(sql, params).fetchall()]

    def callbacks(self, since: float, until: float) -> list[float]:
        """Seconds from each alert to its first successful call back, for call backs made in the period."""
        rows = self.conn.execute(
            """SELECT min(a.at) - al.created_at FROM audit a JOIN alerts al ON al.id = a.alert_id
               WHERE a.action = 'click_to_call' AND a.result = 'ok' AND a.at >= ? AND a.at < ?
               GROUP BY a.alert_id""",
            (since, until),
        ).fetchall()
        return [max(0.0, float(r[0])) for r in rows if r[0] is not None]

    def alert_channels(self) -> list[str]:
        """Every channel an alert or a route points at (the digest goes to each)."""
        rows = self.conn.execute(
            "SELECT channel FROM routes UNION SELECT DISTINCT channel FROM queue_breaches"
        ).fetchall()
        return sorted({r[0] for r in rows if r[0]})
