"""The SQL of queue health: watches, breaches (one Slack message each), digests queued, and the call rows stats are
built from.

Writes never open their own transaction: a caller groups them (a breach and its outbox row, a watch and its audit
row through `Store.write_or_hold`), and a lone one commits by itself."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar, cast

from storage.rows import JSONObject
from storage.store import Store

# Columns the queue alerts write on a breach (`save_breach`); `ts` and `owner` have their own writers.
_BREACH_COLUMNS = frozenset(
    {"queue_id", "channel", "level", "reasons", "started_at", "peak_waiting", "peak_wait", "recovered_at", "reopened",
     "snapshot"}
)  # fmt: skip


@dataclass(frozen=True)
class CallFact:
    """One inbound queue call, as stats need it."""

    started_at: float
    outcome: str  # answered | missed | abandoned | ...
    queue_id: str | None
    ring_seconds: int
    customer_key: str | None
    customer_number: str | None


@dataclass(frozen=True)
class OutcomeCount:
    """The inbound calls of one queue with one outcome in a period, added up."""

    queue_id: str | None
    outcome: str
    calls: int
    within_sla: int  # answered within the SLA seconds
    wait_sum: int  # seconds they rang, added up
    wait_max: int


@dataclass(frozen=True)
class SlotCount:
    """The inbound calls with one outcome that started in one quarter hour (UTC), added up."""

    start: float  # the quarter hour's first second, unix seconds
    outcome: str
    calls: int
    within_sla: int


@dataclass(frozen=True)
class PeriodCounts:
    """What stats need of a period, added up by SQLite rather than read call by call."""

    outcomes: list[OutcomeCount]
    slots: list[SlotCount]
    repeat: list[tuple[str, int]]  # (number shown, calls) of callers who called at least twice, most first
    callbacks: list[float]


# The inbound calls of a period, of some queues or all: `{only}` is empty or "AND queue_id IN (?, ...)". Each
# wait is `int(ring_seconds or 0)`, as the per-call figures take it.
_PERIOD = """FROM (SELECT started_at, outcome, queue_id, CAST(coalesce(ring_seconds, 0) AS INTEGER) AS wait,
                   customer_key, customer_number
                   FROM calls WHERE direction = 'inbound' AND started_at >= ? AND started_at < ? {only})"""
_IN_TIME = "sum(outcome = 'answered' AND wait <= ?)"  # answered within the SLA (its seconds: the first parameter)


def _period(since: float, until: float, queue_ids: set[str] | None) -> tuple[str, tuple[Any, ...]]:
    """The FROM clause of a period's inbound calls, and its parameters."""
    if queue_ids is None:
        return _PERIOD.format(only=""), (since, until)
    only = f"AND queue_id IN ({', '.join('?' * len(queue_ids))})"
    return _PERIOD.format(only=only), (since, until, *sorted(queue_ids))


def database_file(store: Store) -> str | None:
    """The file the store's database lives in; None for an in-memory one, which no second connection can see."""
    row = store.conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else None


@contextmanager
def reading(path: str) -> Iterator[QueueStore]:
    """A QueueStore on a connection of its own, read-only, to the database in `path` (`database_file`), for a long
    read in a worker thread: SQLite's WAL lets it read while the main connection writes. Open and use it in that
    thread."""
    reader = Store.open_read_only(path)
    try:
        yield QueueStore(reader)
    finally:
        reader.conn.close()  # not Store.close: a reader has nothing to checkpoint


T = TypeVar("T")


async def read_off_loop(store: Store, read: Callable[[QueueStore], T]) -> T:
    """`read` in a worker thread, on a read-only connection of its own (a month of figures takes SQLite a good part
    of a second, and no other request should wait for it); on the event loop for an in-memory database, which only
    the store's own connection sees."""
    path = database_file(store)
    if path is None:
        return read(QueueStore(store))

    def in_thread() -> T:
        with reading(path) as reader:
            return read(reader)

    return await asyncio.to_thread(in_thread)


class WatchRow(TypedDict):
    """A queue's thresholds, as an admin typed them (`/ring watch`)."""

    queue_id: str
    queue_name: str | None
    thresholds: str
    set_by: str | None
    updated_at: float | None


class BreachRow(TypedDict):
    """One breach of a queue's thresholds: one Slack message, edited as it changes."""

    id: int
    queue_id: str
    channel: str
    ts: str | None  # the message, once posted
    level: int  # bot.queues.health.Level
    reasons: str  # comma-separated: waiting, wait, noready, abandon
    started_at: float
    peak_waiting: int
    peak_wait: float
    recovered_at: float | None
    reopened: int
    owner: str | None  # who pressed "I'm on it"
    updated_at: float | None
    snapshot: JSONObject  # what the message shows now: queue, waiting, longest, ready, abandon_pct, spec


def _object(text: object) -> JSONObject:
    """A JSON object column; anything else (an old row, a hand edit) reads as empty."""
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class QueueStore:
    """Reads and writes the queue tables through the main Store's connection (one connection, one thread)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        cur = self.store.conn.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def _breaches(self, sql: str, params: tuple[Any, ...] = ()) -> list[BreachRow]:
        rows = self._rows(sql, params)
        for row in rows:
            row["snapshot"] = _object(row.get("snapshot"))
        return cast("list[BreachRow]", rows)

    # -- watches --------------------------------------------------------------------------------------
    def set_watch(self, queue_id: str, queue_name: str | None, thresholds: str, set_by: str) -> None:
        self.store._write(
            """INSERT INTO queue_watches(queue_id, queue_name, thresholds, set_by, updated_at) VALUES (?,?,?,?,?)
               ON CONFLICT(queue_id) DO UPDATE SET queue_name = excluded.queue_name,
               thresholds = excluded.thresholds, set_by = excluded.set_by, updated_at = excluded.updated_at""",
            (queue_id, queue_name, thresholds, set_by, self.store.clock()),
        )

    def drop_watch(self, queue_id: str) -> bool:
        """Forget the queue's thresholds; False when it had none."""
        return self.store._write("DELETE FROM queue_watches WHERE queue_id = ?", (queue_id,)).rowcount > 0

    def watches(self) -> list[WatchRow]:
        return cast(
            "list[WatchRow]",
            self._rows("SELECT queue_id, queue_name, thresholds, set_by, updated_at FROM queue_watches ORDER BY 2, 1"),
        )

    # -- breaches -------------------------------------------------------------------------------------
    def save_breach(self, breach_id: int | None, fields: Mapping[str, Any]) -> int:
        """Insert (no id) or update one breach; its id. `snapshot` is a dict, stored as JSON."""
        unknown = set(fields) - _BREACH_COLUMNS
        if unknown:
            raise ValueError(f"queue_breaches: cannot set {', '.join(sorted(unknown))}")
        row = {**fields, "updated_at": self.store.clock()}
        if "snapshot" in row:
            row["snapshot"] = json.dumps(row["snapshot"], ensure_ascii=False, allow_nan=False)
        if breach_id is None:
            cols = list(row)
            cur = self.store._write(
                f"INSERT INTO queue_breaches({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                tuple(row.values()),
            )
            return int(cur.lastrowid or 0)
        sets = ", ".join(f"{c} = ?" for c in row)
        self.store._write(f"UPDATE queue_breaches SET {sets} WHERE id = ?", (*row.values(), breach_id))
        return breach_id

    def set_breach_ts(self, breach_id: int, ts: str) -> None:
        """Where the breach's message is, once Slack gave it a ts (edits go there)."""
        self.store._write("UPDATE queue_breaches SET ts = ? WHERE id = ?", (ts, breach_id))

    def take_breach(self, breach_id: int, user: str) -> bool:
        """ "I'm on it": `user` owns the breach unless someone already does (compare-and-set); True when taken."""
        cur = self.store._write("UPDATE queue_breaches SET owner = ? WHERE id = ? AND owner IS NULL", (user, breach_id))
        return cur.rowcount == 1

    def breach(self, breach_id: int) -> BreachRow | None:
        rows = self._breaches("SELECT * FROM queue_breaches WHERE id = ?", (breach_id,))
        return rows[0] if rows else None

    def latest_breaches(self) -> list[BreachRow]:
        """The newest breach of every queue (open, or recovered and maybe still within its cool-down)."""
        return self._breaches(
            """SELECT * FROM queue_breaches b
               WHERE id = (SELECT max(id) FROM queue_breaches WHERE queue_id = b.queue_id) ORDER BY id"""
        )

    def open_breaches(self) -> list[BreachRow]:
        """Breaches not recovered, oldest first (the daily digest lists them)."""
        return self._breaches("SELECT * FROM queue_breaches WHERE recovered_at IS NULL ORDER BY started_at, id")

    # -- digests --------------------------------------------------------------------------------------
    def mark_digest(self, day: str, channel: str) -> bool:
        """Record the day's digest for the channel; False when it was already recorded (never twice)."""
        cur = self.store._write(
            "INSERT OR IGNORE INTO digests(day, channel, posted_at) VALUES (?, ?, ?)",
            (day, channel, self.store.clock()),
        )
        return cur.rowcount > 0

    # -- what stats read ------------------------------------------------------------------------------
    def queue_calls(self, since: float, until: float, queue_id: str | None = None) -> list[CallFact]:
        """Inbound calls that started in [since, until), of one queue when `queue_id` is given."""
        sql = """SELECT started_at, outcome, queue_id, coalesce(ring_seconds, 0), customer_key, customer_number
                 FROM calls WHERE direction = 'inbound' AND started_at >= ? AND started_at < ?"""
        params: tuple[Any, ...] = (since, until)
        if queue_id:
            sql += " AND queue_id = ?"
            params += (queue_id,)
        return [CallFact(*r) for r in self.store.conn.execute(sql, params).fetchall()]

    def period_counts(self, since: float, until: float, *, sla: int, queue_ids: set[str] | None = None) -> PeriodCounts:
        """The inbound calls that started in [since, until) (of `queue_ids` only, when given), added up per queue and
        outcome, per quarter hour and outcome, and per caller (the five who called most, at least twice: ties go to
        whoever called first; a caller is their customer key, else their number, and shows as the number their
        first call came from)."""
        period, params = _period(since, until, queue_ids)
        slots = [
            SlotCount(*r)
            for r in self.store.conn.execute(
                f"""SELECT CAST(started_at / 900 AS INTEGER) * 900 AS slot, outcome, count(*), {_IN_TIME}
                    {period} GROUP BY slot, outcome""",
                (sla, *params),
            )
        ]
        # SQLite takes a bare column (the number shown) from the row that gave min(): the caller's first call.
        repeat = [
            (str(r[0]), int(r[1]))
            for r in self.store.conn.execute(
                f"""SELECT coalesce(nullif(customer_number, ''), who), count(*) AS n, min(started_at) AS first
                    FROM (SELECT started_at, customer_number,
                                 coalesce(nullif(customer_key, ''), nullif(customer_number, '')) AS who {period})
                    WHERE who IS NOT NULL GROUP BY who HAVING n >= 2 ORDER BY n DESC, first LIMIT 5""",
                params,
            )
        ]
        outcomes = self.outcome_counts(since, until, sla=sla, queue_ids=queue_ids)
        return PeriodCounts(outcomes, slots, repeat, self.callbacks(since, until))

    def outcome_counts(
        self, since: float, until: float, *, sla: int, queue_ids: set[str] | None = None
    ) -> list[OutcomeCount]:
        """The inbound calls that started in [since, until) (of `queue_ids` only), added up per queue and outcome."""
        period, params = _period(since, until, queue_ids)
        rows = self.store.conn.execute(
            f"SELECT queue_id, outcome, count(*), {_IN_TIME}, sum(wait), max(wait) {period} GROUP BY queue_id, outcome",
            (sla, *params),
        )
        return [OutcomeCount(*r) for r in rows]

    def queues_called(self, since: float, until: float) -> set[str]:
        """The queues inbound calls that started in [since, until) reached."""
        rows = self.store.conn.execute(
            """SELECT DISTINCT queue_id FROM calls
               WHERE direction = 'inbound' AND started_at >= ? AND started_at < ? AND queue_id != ''""",
            (since, until),
        )
        return {str(r[0]) for r in rows}

    def first_call_at(self) -> float | None:
        """When the oldest stored call started (None: no calls yet)."""
        row = self.store.conn.execute("SELECT min(started_at) FROM calls").fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def callbacks(self, since: float, until: float) -> list[float]:
        """Seconds from each alert to its first successful call back, for call backs made in the period."""
        rows = self.store.conn.execute(
            """SELECT min(a.at) - al.created_at FROM audit a JOIN alerts al ON al.id = a.alert_id
               WHERE a.action = 'click_to_call' AND a.result = 'ok' AND a.at >= ? AND a.at < ?
               GROUP BY a.alert_id""",
            (since, until),
        ).fetchall()
        return [max(0.0, float(r[0])) for r in rows if r[0] is not None]
