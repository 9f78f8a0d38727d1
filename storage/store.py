"""Store: every read and write of ringbot's state, as short statements on the loop thread."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar, Unpack, cast

from sqlite_utils import Database

from storage.rows import (
    OPEN_ALERT_STATUSES,
    AlertChanges,
    AlertRow,
    AlertStatus,
    AuditRow,
    CallbackRow,
    CallChanges,
    CallRow,
    DialRuleRow,
    FoldStats,
    GivenUp,
    LegRow,
    LinkRow,
    OutboxChanges,
    OutboxKind,
    OutboxRow,
    OutboxStatus,
    RouteRow,
)
from storage.schema import DatabaseBusy, open_db

# What sqlite3 binds: positional values for `?`, or a mapping for `:name`.
Params = Sequence[object] | dict[str, object]
# Per column, how a stored value becomes the row's Python value (JSON text to a dict, a status to its enum).
Decoders = Mapping[str, Callable[[str], object]]
_Row = TypeVar("_Row")

_LEG_COLUMNS = tuple(LegRow.__annotations__)
_CALL_COLUMNS = tuple(CallRow.__annotations__)
_INSERT_CALL = (
    f"INSERT OR IGNORE INTO calls({', '.join(_CALL_COLUMNS)}) VALUES ({', '.join(':' + c for c in _CALL_COLUMNS)})"
)
_ALERT_COLUMNS = frozenset(AlertRow.__annotations__) - {"id"}
_CALL_CHANGES = frozenset(CallChanges.__annotations__)
_ALERT_CHANGES = frozenset(AlertChanges.__annotations__)
_OUTBOX_CHANGES = frozenset(OutboxChanges.__annotations__)
_INSERT_AUDIT = (
    "INSERT INTO audit(at, slack_user, sip_user, number, alert_id, action, result, detail)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
MAX_DEFERRED_AUDIT = 10_000  # audit rows kept in memory while the database is busy (the oldest go first)
# For SQL text: "('open', 'calling_back')". The values are our own constants, never user input.
_OPEN_IN = "(" + ", ".join(f"'{s.value}'" for s in OPEN_ALERT_STATUSES) + ")"


# Audit results that say a person was refused (not an admin, a double click, too many dials, no phone linked, a
# number that is not one): counted per person, action and minute rather than written one row each.
COALESCED_RESULTS = frozenset({"refused", "duplicate", "rate_limited", "not_linked", "invalid_number"})
_TIMES = re.compile(r"^(.*?)(?: ?\[(\d+) times this minute\])?$", re.S)


def counted_detail(detail: str | None) -> str:
    """An audit row's detail with one more of the same refusal counted: `Q1` -> `Q1 [2 times this minute]`."""
    match = _TIMES.match(detail or "")
    text, times = (match[1], int(match[2] or 1)) if match else (detail or "", 1)
    return f"{text} [{times + 1} times this minute]".lstrip()


def refusals_in(detail: str | None) -> int:
    """How many refusals an audit row stands for (1 unless `counted_detail` counted more)."""
    match = _TIMES.match(detail or "")
    return int(match[2]) if match and match[2] else 1


def _json(text: str) -> object:
    """A JSON column as Python. Text that is not JSON comes back as it is rather than failing the read."""
    try:
        return json.loads(text)
    except ValueError:
        return text


_CALL_DECODERS: Decoders = {"agents_rung": _json, "detail": _json}
_ALERT_DECODERS: Decoders = {"status": AlertStatus, "resolved_detail": _json}
_OUTBOX_DECODERS: Decoders = {"kind": OutboxKind, "status": OutboxStatus, "body": _json}


log = logging.getLogger(__name__)

GIVEN_UP = "given up: "  # how the error of an outbox row given up for a channel or DM that kept refusing starts

MAX_HELD_CHANGES = 1000  # people's changes kept in memory while the database refuses writes; past it, refused


class Saved(StrEnum):
    """What became of a person's change (`Store.write_or_hold`): the listener says it in words."""

    NOW = "now"  # written
    LATER = "later"  # the database refuses writes for now: kept in memory, written in order as soon as it can


class NotSaved(Exception):
    """The database refuses writes and MAX_HELD_CHANGES already wait: nothing was kept. `state` says why
    (busy | full | readonly | error, as `write_failure`)."""

    def __init__(self, state: str) -> None:
        super().__init__(f"the database cannot be written ({state})")
        self.state = state


class SipUserTaken(Exception):
    """The SIP user is linked to another Slack user (`owner`); only an admin may move it."""

    def __init__(self, owner: str) -> None:
        super().__init__("the SIP user is linked to someone else")
        self.owner = owner


def _only_known(table: str, fields: Iterable[str], allowed: frozenset[str]) -> None:
    """Column names go into SQL text, so a name that is not one of ours stops here."""
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(
            f"{table}: cannot set {', '.join(unknown)}; the columns that can be set here are "
            + ", ".join(sorted(allowed))
        )


def _first(rows: list[_Row]) -> _Row | None:
    return rows[0] if rows else None


def _new_id(cur: sqlite3.Cursor) -> int:
    if cur.lastrowid is None:
        raise RuntimeError("SQLite reported no row id for an INSERT")
    return cur.lastrowid


def write_failure(exc: sqlite3.OperationalError) -> str:
    """What kind of write failure SQLite reported: busy (another connection holds the lock), full (disk or
    max_page_count), readonly (file or directory permissions), or error (I/O and the rest)."""
    text = str(exc).lower()
    if isinstance(exc, DatabaseBusy) or "locked" in text or "busy" in text:
        return "busy"
    if "full" in text:
        return "full"
    if "readonly" in text or "read-only" in text:
        return "readonly"
    return "error"


@dataclass
class WriteHealth:
    """How the last writes went, for /healthz and /metrics: 'ok', or the kind of failure (see `write_failure`)
    since when, with SQLite's words. Reset by the next write that goes through."""

    state: str = "ok"
    since: float | None = None  # when the current failure began
    detail: str | None = None
    failures: int = 0  # writes refused since the last one that went through
    last_ok_at: float | None = None


class Store:
    """Owns the SQLite connection. Methods are small and synchronous; each is one short transaction
    unless called inside `transaction()`, which makes a group of them atomic.

    A write that cannot take the lock within the connection's busy timeout raises DatabaseBusy (nothing was
    written: try again later); every write failure is kept in `health` until a write goes through."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.clock = clock
        self.health = WriteHealth()
        self._writing_depth = 0
        self._deferred_audit: list[tuple[object, ...]] = []  # audit rows a busy database could not take yet
        self._held: deque[tuple[str, Callable[[Store], object]]] = deque()  # people's changes waiting to be written

    @classmethod
    def open(cls, path: str | Path, *, clock: Callable[[], float] = time.time, busy_timeout: float = 5.0) -> Store:
        return cls(open_db(path, busy_timeout=busy_timeout), clock=clock)

    @classmethod
    def open_read_only(cls, path: str | Path) -> Store:
        """An existing database, read-only (`ringbot doctor` looks and changes nothing: no schema, no migration);
        sqlite3.Error when the file is not a database."""
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=2.0)
        return cls(Database(conn))

    def close(self) -> None:
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:  # noqa: BLE001 - closing must not fail
            pass
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        with self._writing(), self.db.atomic():
            yield self

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Around every write: the outermost one turns a lock timeout into DatabaseBusy and keeps `health`."""
        self._writing_depth += 1
        try:
            yield
        except sqlite3.OperationalError as exc:
            if self._writing_depth == 1:
                kind = write_failure(exc)
                health = self.health
                if health.state != kind:
                    health.state, health.since = kind, self.clock()
                health.detail = str(exc)[:200]
                health.failures += 1
                if kind == "busy" and not isinstance(exc, DatabaseBusy):
                    raise DatabaseBusy(str(exc)) from exc
            raise
        else:
            if self._writing_depth == 1:
                if self.health.state != "ok":
                    self.health = WriteHealth()
                self.health.last_ok_at = self.clock()
        finally:
            self._writing_depth -= 1

    # -- people's changes ---------------------------------------------------------------------------
    def write_or_hold(self, change: Callable[[Store], object], *, what: str) -> Saved:
        """Apply `change(store)` in one transaction (the change and its audit row together). While the database
        refuses writes (another program holds its lock, the disk is full), the change waits in memory behind
        any others and `flush_held` writes it, in order, as soon as it can: what a person was told is saved is
        never lost to a busy or full database. Raises NotSaved when too many already wait; anything `change`
        raises for its own reasons (a refusal, a bug) goes to the caller as usual."""
        if self._held and not self.flush_held():
            return self._hold(what, change)
        try:
            with self.transaction():
                change(self)
        except sqlite3.OperationalError as exc:
            log.warning("change held in memory what=%s (%s): written as soon as the database can be", what, exc)
            return self._hold(what, change)
        return Saved.NOW

    def _hold(self, what: str, change: Callable[[Store], object]) -> Saved:
        if len(self._held) >= MAX_HELD_CHANGES:
            raise NotSaved(self.health.state if self.health.state != "ok" else "busy")
        self._held.append((what, change))
        return Saved.LATER

    def flush_held(self) -> bool:
        """Write the changes the database refused, oldest first; True when none is left waiting. One that
        fails for its own reasons now (the alert is gone) is logged and dropped, so it holds nobody else's."""
        while self._held:
            what, change = self._held[0]
            try:
                with self.transaction():
                    change(self)
            except sqlite3.OperationalError:
                return False
            except Exception as exc:  # noqa: BLE001 - one change's failure must not hold the ones behind it
                log.warning("held change dropped what=%s error=%s: %s", what, type(exc).__name__, exc)
            else:
                log.info("held change written what=%s", what)
            self._held.popleft()
        return True

    def held_changes(self) -> int:
        """How many people's changes wait for the database (for /healthz)."""
        return len(self._held)

    # -- plumbing ---------------------------------------------------------------------------------
    def _select(self, sql: str, params: Params = (), decoders: Decoders | None = None) -> list[dict[str, object]]:
        cur = self.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        if decoders:
            for row in rows:
                for col, decode in decoders.items():
                    value = row.get(col)
                    if isinstance(value, str):
                        row[col] = decode(value)
        return rows

    def _calls(self, sql: str, params: Params = ()) -> list[CallRow]:
        return cast("list[CallRow]", self._select(sql, params, _CALL_DECODERS))

    def _alerts(self, sql: str, params: Params = ()) -> list[AlertRow]:
        return cast("list[AlertRow]", self._select(sql, params, _ALERT_DECODERS))

    def _outbox(self, sql: str, params: Params = ()) -> list[OutboxRow]:
        return cast("list[OutboxRow]", self._select(sql, params, _OUTBOX_DECODERS))

    def _count(self, sql: str, params: Params = ()) -> int:
        return int(self.conn.execute(sql, params).fetchone()[0])

    def _write(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        # Through sqlite-utils: it commits a lone statement and leaves one inside `transaction()` to the block.
        with self._writing():
            return self.db.execute(sql, params)

    # -- legs (batched by the pipeline) -----------------------------------------------------------
    def save_legs(self, legs: Sequence[Mapping[str, object]]) -> None:
        """Upsert a batch of leg rows in one transaction (one fsync per batch, not per event).
        A leg seen again keeps its first timestamps and takes any newly known names."""
        if not legs:
            return
        with self._writing(), self.db.atomic():
            self.conn.executemany(
                """INSERT INTO legs(leg_id, call_id, direction, caller, destination, username,
                                    created_at, answered_at, destroyed_at, hangup_cause)
                   VALUES (:leg_id, :call_id, :direction, :caller, :destination, :username,
                           :created_at, :answered_at, :destroyed_at, :hangup_cause)
                   ON CONFLICT(leg_id) DO UPDATE SET
                     call_id=COALESCE(excluded.call_id, legs.call_id),
                     direction=COALESCE(excluded.direction, legs.direction),
                     caller=COALESCE(excluded.caller, legs.caller),
                     destination=COALESCE(excluded.destination, legs.destination),
                     username=COALESCE(excluded.username, legs.username),
                     created_at=COALESCE(legs.created_at, excluded.created_at),
                     answered_at=COALESCE(legs.answered_at, excluded.answered_at),
                     destroyed_at=COALESCE(legs.destroyed_at, excluded.destroyed_at),
                     hangup_cause=COALESCE(excluded.hangup_cause, legs.hangup_cause)""",
                [{k: leg.get(k) for k in _LEG_COLUMNS} for leg in legs],
            )

    # -- calls ------------------------------------------------------------------------------------
    def insert_call(self, call: Mapping[str, object]) -> bool:
        """Store a decided call once; False (and nothing written) when the call id is already stored.
        Keys of `call` that are not columns are ignored (a decision carries more than the row keeps)."""
        row = {k: call.get(k) for k in _CALL_COLUMNS}
        for col, empty in (("agents_rung", "[]"), ("detail", "{}")):
            value = row[col]
            if value is None:
                row[col] = empty
            elif not isinstance(value, str):
                row[col] = json.dumps(value)
        row["decided_at"] = row["decided_at"] or self.clock()
        row["source"] = row["source"] or "stream"
        row["in_history"] = int(bool(row["in_history"]))
        cur = self._write(_INSERT_CALL, row)
        return cur.rowcount == 1

    def get_call(self, call_id: str) -> CallRow | None:
        return _first(self._calls("SELECT * FROM calls WHERE call_id = ?", (call_id,)))

    def update_call(self, call_id: str, /, **fields: Unpack[CallChanges]) -> None:
        """Change columns of a stored call; a name that is not a changeable column raises ValueError."""
        if not fields:
            return
        _only_known("calls", fields, _CALL_CHANGES)
        values: dict[str, object] = dict(fields)
        for col in ("agents_rung", "detail"):
            if col in values and not isinstance(values[col], str):
                values[col] = json.dumps(values[col])
        sets = ", ".join(f"{k} = :{k}" for k in values)
        self._write(f"UPDATE calls SET {sets} WHERE call_id = :_id", {**values, "_id": call_id})

    def find_call_near(
        self, customer_key: str, at: float, *, window: float = 120.0, direction: str | None = None
    ) -> CallRow | None:
        """The stored call from this caller closest to `at` within ±window seconds (history ↔ stream matching)."""
        sql = "SELECT * FROM calls WHERE customer_key = ? AND started_at BETWEEN ? AND ?"
        params: list[object] = [customer_key, at - window, at + window]
        if direction:
            sql += " AND direction = ?"
            params.append(direction)
        sql += " ORDER BY abs(started_at - ?) LIMIT 1"
        params.append(at)
        return _first(self._calls(sql, params))

    def calls(
        self,
        *,
        customer_key: str | None = None,
        answered_by: str | None = None,
        since: float | None = None,
        until: float | None = None,
        outcomes: Iterable[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[CallRow]:
        """Calls newest first, filtered (for /ring history and App Home)."""
        where: list[str] = ["1=1"]
        params: list[object] = []
        if customer_key:
            where.append("customer_key = ?")
            params.append(customer_key)
        if answered_by:
            where.append("(answered_by = ? OR agents_rung LIKE ?)")
            params += [answered_by, f'%"{answered_by}"%']
        if since is not None:
            where.append("started_at >= ?")
            params.append(since)
        if until is not None:
            where.append("started_at < ?")
            params.append(until)
        if outcomes:
            outs = list(outcomes)
            where.append(f"outcome IN ({', '.join('?' * len(outs))})")
            params += outs
        params += [limit, offset]
        return self._calls(
            f"SELECT * FROM calls WHERE {' AND '.join(where)} ORDER BY started_at DESC LIMIT ? OFFSET ?", params
        )

    def count_calls_from(self, customer_key: str, since: float, *, direction: str = "inbound") -> int:
        return self._count(
            "SELECT count(*) FROM calls WHERE customer_key = ? AND started_at >= ? AND direction = ?",
            (customer_key, since, direction),
        )

    # -- alerts -----------------------------------------------------------------------------------
    def create_alert(self, alert: Mapping[str, object]) -> int:
        """Insert a new open alert; its id. A key of `alert` that is not a column raises ValueError."""
        _only_known("alerts", alert, _ALERT_COLUMNS)
        now = self.clock()
        row: dict[str, object] = {
            "status": AlertStatus.OPEN,
            "repeat_count": 1,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "last_call_id": alert.get("call_id"),
            **alert,
        }
        row["status"] = AlertStatus(str(row["status"])).value
        if "resolved_detail" in row and not isinstance(row["resolved_detail"], str):
            row["resolved_detail"] = json.dumps(row["resolved_detail"])
        cols = list(row)
        cur = self._write(f"INSERT INTO alerts({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})", row)
        return _new_id(cur)

    def get_alert(self, alert_id: int) -> AlertRow | None:
        return _first(self._alerts("SELECT * FROM alerts WHERE id = ?", (alert_id,)))

    def alert_for_call(self, call_id: str) -> AlertRow | None:
        """The alert raised by this call, or the one it was folded into as a repeat."""
        return _first(
            self._alerts(
                "SELECT * FROM alerts WHERE call_id = ? OR last_call_id = ? ORDER BY id LIMIT 1", (call_id, call_id)
            )
        )

    def open_alert_for(self, customer_key: str) -> AlertRow | None:
        """The newest alert for this caller still waiting for a call back (a repeat call folds into it)."""
        return _first(
            self._alerts(
                f"SELECT * FROM alerts WHERE customer_key = ? AND status IN {_OPEN_IN} ORDER BY id DESC LIMIT 1",
                (customer_key,),
            )
        )

    def update_alert(self, alert_id: int, /, **fields: Unpack[AlertChanges]) -> AlertRow | None:
        """Change an alert; bumps its version so the outbox renders the newest state. Returns the new row.
        A name that is not a changeable column, or a status that is not an AlertStatus, raises ValueError."""
        _only_known("alerts", fields, _ALERT_CHANGES)
        values: dict[str, object] = dict(fields)
        if "status" in fields:
            values["status"] = AlertStatus(fields["status"]).value
        if "resolved_detail" in values and not isinstance(values["resolved_detail"], str):
            values["resolved_detail"] = json.dumps(values["resolved_detail"])
        values["updated_at"] = self.clock()
        sets = ", ".join(f"{k} = :{k}" for k in values)
        self._write(f"UPDATE alerts SET {sets}, version = version + 1 WHERE id = :_id", {**values, "_id": alert_id})
        return self.get_alert(alert_id)

    def set_alert_message(self, alert_id: int, *, ts: str, thread_ts: str | None = None) -> None:
        """Record where the alert was posted. No version bump: the content did not change."""
        self._write(
            "UPDATE alerts SET ts = ?, thread_ts = COALESCE(?, thread_ts) WHERE id = ?", (ts, thread_ts, alert_id)
        )

    def open_alerts(self, *, limit: int = 50, channel: str | None = None) -> list[AlertRow]:
        """Open (not handled, not resolved) alerts, oldest first."""
        sql = f"SELECT * FROM alerts WHERE status IN {_OPEN_IN}"
        params: list[object] = []
        if channel:
            sql += " AND channel = ?"
            params.append(channel)
        sql += " ORDER BY created_at ASC, id ASC LIMIT ?"
        params.append(limit)
        return self._alerts(sql, params)

    def count_open_alerts(self) -> int:
        return self._count(f"SELECT count(*) FROM alerts WHERE status IN {_OPEN_IN}")

    # -- outbox -----------------------------------------------------------------------------------
    def enqueue(
        self,
        kind: str,
        channel: str,
        *,
        alert_id: int | None = None,
        thread_ts: str | None = None,
        body: Mapping[str, object] | None = None,
        not_before: float = 0.0,
    ) -> int:
        """Queue a message for Slack (`kind` is an OutboxKind; anything else raises ValueError); its row id."""
        cur = self._write(
            """INSERT INTO outbox(alert_id, kind, channel, thread_ts, body, status, attempts, next_at, created_at)
               VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)""",
            (alert_id, OutboxKind(kind).value, channel, thread_ts, json.dumps(body or {}), not_before, self.clock()),
        )
        return _new_id(cur)

    def pending_outbox(self, *, channel: str | None = None, kind: str | None = None) -> list[OutboxRow]:
        sql = "SELECT * FROM outbox WHERE status = 'pending'"
        params: list[object] = []
        if channel:
            sql += " AND channel = ?"
            params.append(channel)
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return self._outbox(sql + " ORDER BY id", params)

    def inflight_outbox(self) -> list[OutboxRow]:
        """Rows a crash left mid-send: at start-up the outbox checks Slack for each before sending again."""
        return self._outbox("SELECT * FROM outbox WHERE status = 'inflight' ORDER BY id")

    def outbox_post_heads(self, now: float | None = None) -> list[OutboxRow]:
        """Per channel, the pending row that posts a message (post | reply | summary) to send next: the oldest one
        that is due at `now`, else the one due soonest. A row waiting out its own backoff never holds the rows
        behind it; with `now` None, simply the oldest (id order per channel)."""
        if now is None:
            return self._outbox(
                """SELECT * FROM outbox WHERE id IN (
                       SELECT min(id) FROM outbox WHERE status = 'pending' AND kind != 'update' GROUP BY channel)
                   ORDER BY id"""
            )
        return self._outbox(
            """SELECT * FROM outbox WHERE id IN (
                   SELECT id FROM (
                       SELECT id, row_number() OVER (
                           PARTITION BY channel
                           ORDER BY next_at > :now, CASE WHEN next_at > :now THEN next_at END, id) AS place
                       FROM outbox WHERE status = 'pending' AND kind != 'update')
                   WHERE place = 1)
               ORDER BY id""",
            {"now": now},
        )

    def pending_updates(self, *, limit: int = 200) -> list[OutboxRow]:
        return self._outbox(
            "SELECT * FROM outbox WHERE status = 'pending' AND kind = 'update' ORDER BY id LIMIT ?", (limit,)
        )

    def pending_update_ids(self, alert_id: int) -> list[int]:
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT id FROM outbox WHERE status = 'pending' AND kind = 'update' AND alert_id = ? ORDER BY id",
                (alert_id,),
            ).fetchall()
        ]

    def pending_posts_in(self, channel: str) -> tuple[int, int | None]:
        """(how many alert posts wait in `channel`, the newest one's id): burst folding looks at both."""
        count, newest = self.conn.execute(
            "SELECT count(*), max(id) FROM outbox WHERE status = 'pending' AND kind = 'post' AND channel = ?",
            (channel,),
        ).fetchone()
        return int(count), newest

    def outbox_post_for_alert(self, alert_id: int) -> OutboxRow | None:
        return _first(
            self._outbox("SELECT * FROM outbox WHERE kind = 'post' AND alert_id = ? ORDER BY id LIMIT 1", (alert_id,))
        )

    def mark_outbox(self, row_id: int, status: str, /, **fields: Unpack[OutboxChanges]) -> None:
        """Move an outbox row to `status` (an OutboxStatus) and set the given columns (ts, error...).
        Going inflight counts an attempt. An unknown status or column name raises ValueError."""
        state = OutboxStatus(status)
        _only_known("outbox", fields, _OUTBOX_CHANGES)
        values: dict[str, object] = dict(fields)
        if "body" in values and not isinstance(values["body"], str):
            values["body"] = json.dumps(values["body"])
        sets = ["status = :status", *(f"{k} = :{k}" for k in values)]
        if state is OutboxStatus.INFLIGHT:
            sets.append("attempts = attempts + 1")
        self._write(
            f"UPDATE outbox SET {', '.join(sets)} WHERE id = :_id", {**values, "status": state.value, "_id": row_id}
        )

    def claim_outbox(self, row_id: int, *, thread_ts: str | None = None) -> bool:
        """Take a pending row for sending: `pending` -> `inflight` (an attempt counted) in one compare-and-set
        statement. False when the row is no longer pending (another worker, even in another process, has it):
        the caller must not send it."""
        cur = self._write(
            "UPDATE outbox SET status = 'inflight', attempts = attempts + 1,"
            " thread_ts = COALESCE(?, thread_ts) WHERE id = ? AND status = 'pending'",
            (thread_ts, row_id),
        )
        return cur.rowcount == 1

    def set_outbox_channel(self, row_id: int, channel: str) -> None:
        """Where the row's message goes: a DM's channel id once conversations.open gave it (recovery reads there)."""
        self._write("UPDATE outbox SET channel = ? WHERE id = ?", (channel, row_id))

    def outbox_status(self, row_id: int) -> OutboxStatus | None:
        row = self.conn.execute("SELECT status FROM outbox WHERE id = ?", (row_id,)).fetchone()
        return OutboxStatus(row[0]) if row else None

    def requeue_outbox(self, row_id: int, *, next_at: float, error: str | None, count_attempt: bool = True) -> None:
        """Back to pending for a later try; `count_attempt=False` (a 429) gives back the attempt inflight took."""
        self._write(
            "UPDATE outbox SET status = 'pending', next_at = ?, error = ?,"
            " attempts = CASE WHEN ? THEN attempts ELSE max(attempts - 1, 0) END WHERE id = ?",
            (next_at, error, 1 if count_attempt else 0, row_id),
        )

    def requeue_outbox_after_error(self, row_id: int, *, next_at: float, error: str) -> None:
        """Back to pending after our own code failed on the row; the attempt counts whether or not it was claimed."""
        self._write(
            "UPDATE outbox SET status = 'pending', next_at = ?, error = ?,"
            " attempts = attempts + (status = 'pending') WHERE id = ?",
            (next_at, error, row_id),
        )

    def requeue_dead(self, *, channel: str | None = None) -> int:
        """Give dead outbox rows another go (after fixing a channel or a long outage). Their attempt count stays
        above zero, so the outbox first looks in Slack for each one and only posts what is not there."""
        sql = "UPDATE outbox SET status = 'pending', next_at = 0, attempts = max(attempts, 1) WHERE status = 'dead'"
        params: list[object] = []
        if channel:
            sql += " AND channel = ?"
            params.append(channel)
        return self._write(sql, params).rowcount

    def give_up_outbox(self, why: str, *, created_before: float, channel: str | None = None) -> int:
        """Give up the rows still waiting (pending) that were queued before `created_before`, in `channel` or in
        every channel: dead, with `error` saying `given up: <why>`. How many."""
        sql = "UPDATE outbox SET status = 'dead', error = ? WHERE status = 'pending' AND created_at < ?"
        params: list[object] = [f"{GIVEN_UP}{why}"[:1000], created_before]
        if channel is not None:
            sql += " AND channel = ?"
            params.append(channel)
        return self._write(sql, params).rowcount

    def given_up_outbox(self, *, limit: int = 20) -> list[GivenUp]:
        """Rows given up for a channel (or a person's DM) that kept refusing, per channel, most first: what
        /healthz and doctor show until they are requeued or pruned."""
        rows = self._select(
            "SELECT channel, count(*) AS rows, max(error) AS error FROM outbox"
            " WHERE status = 'dead' AND substr(error, 1, ?) = ? GROUP BY channel ORDER BY rows DESC, channel LIMIT ?",
            (len(GIVEN_UP), GIVEN_UP, limit),
        )
        return cast("list[GivenUp]", rows)

    def fold_stats(self, channel: str, thread_ts: str | None, upto_id: int) -> FoldStats:
        """Alerts in a burst fold: already posted under `thread_ts`, or still waiting (post rows up to `upto_id`).

        Returns count and the first/last call time among them (for the summary message)."""
        row = self.conn.execute(
            """SELECT count(*), min(coalesce(c.started_at, a.created_at)), max(coalesce(c.started_at, a.created_at))
               FROM alerts a LEFT JOIN calls c ON c.call_id = a.call_id
               WHERE a.channel = :ch AND ((:ts IS NOT NULL AND a.thread_ts = :ts) OR a.id IN (
                   SELECT alert_id FROM outbox WHERE channel = :ch AND kind = 'post'
                   AND status IN ('pending', 'inflight') AND id <= :upto))""",
            {"ch": channel, "ts": thread_ts, "upto": upto_id},
        ).fetchone()
        return {"count": int(row[0]), "first_at": row[1], "last_at": row[2]}

    def outbox_depth(self) -> int:
        """Rows not yet delivered (pending or inflight): /healthz and the metrics report it."""
        return self._count("SELECT count(*) FROM outbox WHERE status IN ('pending', 'inflight')")

    def oldest_undelivered_at(self) -> float | None:
        """When the oldest alert post still waiting for Slack was queued (None when none waits): /healthz."""
        row = self.conn.execute(
            "SELECT min(created_at) FROM outbox WHERE status IN ('pending', 'inflight') AND kind = 'post'"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def outbox_counts(self) -> dict[str, int]:
        """Rows per status."""
        return dict(self.conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())

    # -- routes -----------------------------------------------------------------------------------
    def set_route(self, key: str, channel: str, *, by: str | None = None) -> None:
        with self._writing():
            self.db.table("routes").upsert(
                {"key": key, "channel": channel, "set_by": by, "set_at": self.clock()}, pk="key"
            )

    def delete_route(self, key: str) -> bool:
        return self._write("DELETE FROM routes WHERE key = ?", (key,)).rowcount == 1

    def routes(self) -> list[RouteRow]:
        return cast("list[RouteRow]", self._select("SELECT * FROM routes ORDER BY key"))

    def route_for(self, *, queue_id: str | None, did_key: str | None, queue_name: str | None = None) -> str | None:
        """Channel for an alert: by queue (id, then name), then by DID, then the stored default
        (None: use the configured one)."""
        keys = [
            k
            for k in (
                f"queue:{queue_id}" if queue_id else None,
                f"queue:{queue_name}" if queue_name else None,
                f"did:{did_key}" if did_key else None,
            )
            if k
        ]
        keys.append("default")
        channels: dict[str, str] = dict(
            self.conn.execute(f"SELECT key, channel FROM routes WHERE key IN ({', '.join('?' * len(keys))})", keys)
        )
        for k in keys:
            if k in channels:
                return channels[k]
        return None

    # -- links (Slack user <-> SIP device) --------------------------------------------------------
    def save_link(
        self,
        slack_user: str,
        sip_user: str,
        sip_password_enc: str,
        *,
        by: str | None = None,
        take_over: bool = False,
    ) -> str | None:
        """Link `slack_user` to `sip_user` (replacing their own link, if any). A SIP user belongs to at most one
        Slack user (a unique index, without case): when someone else has it, SipUserTaken, unless `take_over`
        (an admin's decision), which removes their link in the same transaction. Returns whom it was taken
        from, else None."""
        with self._writing(), self.db.atomic():
            owner = self.link_owner(sip_user)
            taken_from = owner if owner is not None and owner != slack_user else None
            if taken_from is not None:
                if not take_over:
                    raise SipUserTaken(taken_from)
                self._write("DELETE FROM links WHERE slack_user = ?", (taken_from,))
            try:
                self.db.table("links").upsert(
                    {
                        "slack_user": slack_user,
                        "sip_user": sip_user,
                        "sip_password_enc": sip_password_enc,
                        "linked_by": by or slack_user,
                        "linked_at": self.clock(),
                    },
                    pk="slack_user",
                )
            except sqlite3.IntegrityError:  # the index's word is final, whatever the check above saw
                raise SipUserTaken(self.link_owner(sip_user) or "") from None
        return taken_from

    def link_owner(self, sip_user: str) -> str | None:
        """The Slack user `sip_user` is linked to (compared without case), or None."""
        row = self.conn.execute(
            "SELECT slack_user FROM links WHERE sip_user = ? COLLATE NOCASE LIMIT 1", (sip_user,)
        ).fetchone()
        return row[0] if row else None

    def get_link(self, slack_user: str) -> LinkRow | None:
        return cast("LinkRow | None", _first(self._select("SELECT * FROM links WHERE slack_user = ?", (slack_user,))))

    def delete_link(self, slack_user: str) -> bool:
        return self._write("DELETE FROM links WHERE slack_user = ?", (slack_user,)).rowcount == 1

    def links(self) -> list[LinkRow]:
        """Every stored link, by Slack user (for re-sealing the passwords with a new key)."""
        return cast("list[LinkRow]", self._select("SELECT * FROM links ORDER BY slack_user"))

    def reseal_link(self, slack_user: str, was: str, now: str) -> bool:
        """Replace a link's sealed password `was` with `now` (the same password, another key); False when the link
        changed meanwhile (relinked or removed), which is then left as it is."""
        return (
            self._write(
                "UPDATE links SET sip_password_enc = ? WHERE slack_user = ? AND sip_password_enc = ?",
                (now, slack_user, was),
            ).rowcount
            == 1
        )

    def slack_user_for_sip(self, sip_user: str) -> str | None:
        """The Slack user linked to this SIP username (to @mention the agent who answered)."""
        row = self.conn.execute(
            "SELECT slack_user FROM links WHERE sip_user = ? ORDER BY linked_at DESC LIMIT 1", (sip_user,)
        ).fetchone()
        return row[0] if row else None

    # -- dial rules (admins' allow / deny, on top of RINGBOT_DIAL_ALLOW / RINGBOT_DIAL_DENY) ---------------
    def dial_rules(self) -> list[DialRuleRow]:
        return cast("list[DialRuleRow]", self._select("SELECT * FROM dial_rules ORDER BY kind, rule"))

    def dial_rule(self, rule: str) -> DialRuleRow | None:
        return cast("DialRuleRow | None", _first(self._select("SELECT * FROM dial_rules WHERE rule = ?", (rule,))))

    def set_dial_rule(self, rule: str, kind: str, *, by: str | None = None) -> None:
        with self._writing():
            self.db.table("dial_rules").upsert(
                {"rule": rule, "kind": kind, "set_by": by, "set_at": self.clock()}, pk="rule"
            )

    def delete_dial_rule(self, rule: str) -> bool:
        return self._write("DELETE FROM dial_rules WHERE rule = ?", (rule,)).rowcount == 1

    # -- audit ------------------------------------------------------------------------------------
    def add_audit(
        self,
        action: str,
        result: str,
        *,
        slack_user: str | None = None,
        sip_user: str | None = None,
        number: str | None = None,
        alert_id: int | None = None,
        detail: str | None = None,
    ) -> int:
        """Append to the audit trail; the new row's id. While another program holds the database's lock, a lone
        audit row waits in memory (id 0) and is written with the next one that goes through (or by
        `flush_deferred`): what people did is never lost to a busy database."""
        row = (self.clock(), slack_user, sip_user, number, alert_id, action, result, detail)
        try:
            if slack_user is not None and result in COALESCED_RESULTS:
                counted = self._count_refusal(row[0], slack_user, action, result)
                if counted is not None:
                    return counted
            cur = self._write(_INSERT_AUDIT, row)
        except DatabaseBusy:
            if self._writing_depth:
                raise  # inside a transaction: the caller retries all of it
            self._deferred_audit.append(row)
            del self._deferred_audit[:-MAX_DEFERRED_AUDIT]
            return 0
        if self._deferred_audit and not self._writing_depth:
            self.flush_deferred()
        return _new_id(cur)

    def _count_refusal(self, at: float, slack_user: str, action: str, result: str) -> int | None:
        """The same refusal again within the same minute: its row's count goes up (in `detail`) instead of a new
        row, so someone pressing a refused button a thousand times adds one row a minute. The row's id, or None
        when this is the first of the minute."""
        minute = at - at % 60
        found = self.conn.execute(
            "SELECT id, detail FROM audit WHERE slack_user = ? AND at >= ? AND at < ? AND action = ? AND result = ?"
            " ORDER BY id DESC LIMIT 1",
            (slack_user, minute, minute + 60, action, result),
        ).fetchone()
        if found is None:
            return None
        row_id, detail = found
        self._write("UPDATE audit SET detail = ? WHERE id = ?", (counted_detail(detail), row_id))
        return int(row_id)

    def flush_deferred(self) -> int:
        """Write the audit rows a busy database made wait; how many. Still busy: they wait for the next try."""
        rows = self._deferred_audit
        if not rows:
            return 0
        try:
            with self._writing(), self.db.atomic():
                self.conn.executemany(_INSERT_AUDIT, rows)
        except DatabaseBusy:
            return 0
        self._deferred_audit = []
        return len(rows)

    def audit(
        self,
        *,
        alert_id: int | None = None,
        slack_user: str | None = None,
        action: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[AuditRow]:
        """The audit trail, newest first, filtered."""
        where: list[str] = ["1=1"]
        params: list[object] = []
        for col, val in (("alert_id", alert_id), ("slack_user", slack_user), ("action", action)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        params.append(limit)
        rows = self._select(
            f"SELECT * FROM audit WHERE {' AND '.join(where)} ORDER BY at DESC, id DESC LIMIT ?", params
        )
        return cast("list[AuditRow]", rows)

    def callbacks_for_numbers(self, numbers: Iterable[str], since: float) -> dict[str, CallbackRow]:
        """Latest successful click-to-call per number since `since` (for "called back by" in history)."""
        nums = list(set(numbers))
        if not nums:
            return {}
        rows = cast(
            "list[CallbackRow]",
            self._select(
                f"""SELECT number, slack_user, max(at) AS at FROM audit
                    WHERE action = 'click_to_call' AND result = 'ok' AND at >= ?
                    AND number IN ({", ".join("?" * len(nums))})
                    GROUP BY number""",
                [since, *nums],
            ),
        )
        return {r["number"]: r for r in rows}

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self._write(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def meta_keys(self, prefix: str) -> list[str]:
        """Keys that start with `prefix` (the outbox keeps one burst fold per channel under `outbox_fold:`)."""
        rows = self.conn.execute("SELECT key FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)).fetchall()
        return [r[0] for r in rows]

    # -- upkeep -----------------------------------------------------------------------------------
    def checkpoint(self) -> None:
        """Fold the WAL back into the database file without waiting for readers."""
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def journal_mode(self) -> str:
        """SQLite's journal mode (doctor reports it: WAL is what lets backups run beside the bot)."""
        return str(self.conn.execute("PRAGMA journal_mode").fetchone()[0])
