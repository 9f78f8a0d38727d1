"""SQL for ownership: who owns an alert, how far it escalated, held (after-hours) alerts, DM copies, short hang-ups and
per-route settings. Beside the Store rather than in it: the same connection, its own tables (storage/schema.py)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypedDict, cast

from storage.rows import OPEN_ALERT_STATUSES, AlertRow, JSONObject

if TYPE_CHECKING:
    from storage.store import Store

_OPEN_IN = "(" + ", ".join(f"'{s.value}'" for s in OPEN_ALERT_STATUSES) + ")"


class OwnershipRow(TypedDict):
    """An alert's owner and escalation state (a missing row reads as all empty)."""

    alert_id: int
    owner: str | None
    owned_at: float | None
    escalation_step: int
    escalated_at: float | None
    held: str | None  # after_hours: not posted, waits for the overnight digest
    digested_at: float | None


class CopyRow(TypedDict):
    """The alert's second message, in the DM of the person who was rung."""

    alert_id: int
    user: str
    channel: str | None
    ts: str | None


class ShortHangupRow(TypedDict):
    call_id: str
    channel: str
    customer_number: str | None
    started_at: float | None
    ring_seconds: int | None
    digested_at: float | None


def _empty(alert_id: int) -> OwnershipRow:
    return {
        "alert_id": alert_id,
        "owner": None,
        "owned_at": None,
        "escalation_step": 0,
        "escalated_at": None,
        "held": None,
        "digested_at": None,
    }


class OwnershipStore:
    """The ownership tables, through the Store's connection and write guard (DatabaseBusy, transactions)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _upsert(self, alert_id: int, **fields: object) -> None:
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        sets = ", ".join(f"{c} = excluded.{c}" for c in fields)
        self.store._write(
            f"INSERT INTO alert_ownership(alert_id, {cols}) VALUES (?, {marks})"
            f" ON CONFLICT(alert_id) DO UPDATE SET {sets}",
            (alert_id, *fields.values()),
        )

    # -- owner and escalation ---------------------------------------------------------------------
    def get(self, alert_id: int) -> OwnershipRow:
        rows = self.store._select("SELECT * FROM alert_ownership WHERE alert_id = ?", (alert_id,))
        return cast("OwnershipRow", rows[0]) if rows else _empty(alert_id)

    def set_owner(self, alert_id: int, owner: str | None, at: float | None) -> None:
        self._upsert(alert_id, owner=owner, owned_at=at if owner else None)

    def set_escalation(self, alert_id: int, step: int, at: float) -> None:
        self._upsert(alert_id, escalation_step=step, escalated_at=at)

    def hold(self, alert_id: int, reason: str) -> None:
        self._upsert(alert_id, held=reason)

    def owned_open(self, owner: str, *, limit: int = 50) -> list[AlertRow]:
        """The open alerts `owner` took, oldest first."""
        return self.store._alerts(
            f"SELECT a.* FROM alerts a JOIN alert_ownership o ON o.alert_id = a.id"
            f" WHERE o.owner = ? AND a.status IN {_OPEN_IN} ORDER BY a.created_at, a.id LIMIT ?",
            (owner, limit),
        )

    def held_alerts(self, channel: str) -> list[AlertRow]:
        """Alerts held after hours in `channel` that no digest listed yet, oldest first."""
        return self.store._alerts(
            "SELECT a.* FROM alerts a JOIN alert_ownership o ON o.alert_id = a.id"
            " WHERE o.held IS NOT NULL AND o.digested_at IS NULL AND a.channel = ? ORDER BY a.created_at, a.id",
            (channel,),
        )

    def mark_digested(self, alert_ids: Iterable[int], at: float) -> None:
        for alert_id in alert_ids:
            self._upsert(alert_id, digested_at=at)

    # -- the DM copy ------------------------------------------------------------------------------
    def add_copy(self, alert_id: int, user: str) -> None:
        self.store._write("INSERT OR IGNORE INTO alert_copies(alert_id, user) VALUES (?, ?)", (alert_id, user))

    def copies(self, alert_id: int) -> list[CopyRow]:
        rows = self.store._select("SELECT * FROM alert_copies WHERE alert_id = ? ORDER BY user", (alert_id,))
        return cast("list[CopyRow]", rows)

    def get_copy(self, alert_id: int, user: str) -> CopyRow | None:
        rows = self.store._select("SELECT * FROM alert_copies WHERE alert_id = ? AND user = ?", (alert_id, user))
        return cast("CopyRow", rows[0]) if rows else None

    def set_copy_message(self, alert_id: int, user: str, *, channel: str, ts: str) -> None:
        self.store._write(
            "UPDATE alert_copies SET channel = ?, ts = ? WHERE alert_id = ? AND user = ?", (channel, ts, alert_id, user)
        )

    # -- short hang-ups ---------------------------------------------------------------------------
    def add_short_hangup(self, call: Mapping[str, object], channel: str) -> None:
        self.store._write(
            "INSERT OR IGNORE INTO short_hangups(call_id, channel, customer_number, started_at, ring_seconds)"
            " VALUES (?, ?, ?, ?, ?)",
            (call["call_id"], channel, call.get("customer_number"), call.get("started_at"), call.get("ring_seconds")),
        )

    def short_hangups(
        self, *, channel: str | None = None, pending: bool = True, since: float = 0.0
    ) -> list[ShortHangupRow]:
        """Short hang-ups, oldest first: those no digest listed yet (`pending`), or all since `since`."""
        sql = "SELECT * FROM short_hangups WHERE COALESCE(started_at, 0) >= ?"
        params: list[object] = [since]
        if channel:
            sql += " AND channel = ?"
            params.append(channel)
        if pending:
            sql += " AND digested_at IS NULL"
        rows = self.store._select(sql + " ORDER BY started_at, call_id", params)
        return cast("list[ShortHangupRow]", rows)

    def short_hangups_by_id(self, call_ids: Iterable[str]) -> list[ShortHangupRow]:
        """The short hang-ups of these calls, oldest first (what one overnight digest lists)."""
        ids = list(call_ids)
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        rows = self.store._select(
            f"SELECT * FROM short_hangups WHERE call_id IN ({marks}) ORDER BY started_at, call_id", ids
        )
        return cast("list[ShortHangupRow]", rows)

    def mark_short_digested(self, call_ids: Iterable[str], at: float) -> None:
        for call_id in call_ids:
            self.store._write("UPDATE short_hangups SET digested_at = ? WHERE call_id = ?", (at, call_id))

    def earlier_calls_from(self, customer_key: str, *, before: float, since: float) -> int:
        """Calls from this caller in [since, before): a repeat call always alerts, however short."""
        return self.store._count(
            "SELECT count(*) FROM calls WHERE customer_key = ? AND started_at >= ? AND started_at < ?",
            (customer_key, since, before),
        )

    # -- per-route settings -----------------------------------------------------------------------
    def route_settings(self, key: str) -> JSONObject | None:
        row = self.store.conn.execute("SELECT settings FROM route_settings WHERE key = ?", (key,)).fetchone()
        if not row:
            return None
        try:
            data = json.loads(row[0])
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def set_route_settings(self, key: str, settings: Mapping[str, object], *, by: str | None) -> None:
        self.store._write(
            "INSERT INTO route_settings(key, settings, set_by, set_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET settings = excluded.settings, set_by = excluded.set_by,"
            " set_at = excluded.set_at",
            (key, json.dumps(dict(settings), sort_keys=True), by, self.store.clock()),
        )
