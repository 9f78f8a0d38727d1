"""Stream payload -> Event -> tracker -> decision -> alert. Legs are persisted in batches; each decision is
committed (with its alert and outbox row) before anything acts on it.

The store, the alert service and the metrics are handed in (bot/app.py wires them): this package sits below
them and names only the methods it calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from bot.calls.classify import CallDecision
from bot.calls.events import ANSWER, CREATE, DESTROY, Event, MalformedEvent, event_label, normalise
from bot.calls.tracker import Tracker

if TYPE_CHECKING:
    from storage.rows import LegRow

log = logging.getLogger(__name__)

# While the database refuses writes (another program holds its lock, the disk is full), decided calls and legs
# wait in memory and are written when it takes them again (docs/operations.md, The database).
DB_RETRY_FIRST = 0.25  # seconds before the first retry; doubles up to DB_RETRY_MAX
DB_RETRY_MAX = 2.0
MAX_HELD_DECISIONS = 50_000  # past this, the oldest held decisions are dropped (history raises them later)
MAX_HELD_LEGS = 100_000  # legs are diagnostics: past this, the oldest held ones are dropped
FOREIGN_ACCOUNTS_LOGGED = 16  # each other account is logged once, up to this many; all are counted


class LegStore(Protocol):
    def save_legs(self, legs: list[LegRow]) -> None: ...
    def transaction(self) -> AbstractContextManager[object]: ...


class DecisionHandler(Protocol):
    def handle_decision(self, decision: CallDecision) -> str: ...  # 'new' | 'repeat' | 'resolved' | ...


class Counters(Protocol):
    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None: ...


@dataclass
class PipelineStats:
    events: Counter[str] = field(default_factory=Counter)  # by event_label: a bounded set of keys
    rejected: int = 0
    foreign: int = 0  # events for another account id, dropped
    decisions: Counter[str] = field(default_factory=Counter)
    alert_actions: Counter[str] = field(default_factory=Counter)
    errors: int = 0


class Pipeline:
    """Owns the tracker. `on_event` is synchronous and cheap (called for every stream frame);
    `run()` flushes leg batches and turns due calls into decisions."""

    def __init__(
        self,
        tracker: Tracker,
        store: LegStore,
        alerts: DecisionHandler,
        *,
        flush_interval: float = 0.05,
        batch_max: int = 1000,
        clock: Callable[[], float] = time.monotonic,
        metrics: Counters | None = None,
        account_id: str | None = None,
    ) -> None:
        self.tracker = tracker
        # Events naming another account are dropped (None: keep all, for tests that replay other accounts).
        self.account_id = account_id.strip().lower() if account_id and account_id.strip() else None
        self.store = store
        self.alerts = alerts
        self.flush_interval = flush_interval
        self.batch_max = batch_max
        self.clock = clock
        self.metrics = metrics
        self.stats = PipelineStats()
        self._legs: dict[str, LegRow] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._deadline_armed = False  # the run loop is sleeping toward the tracker's next deadline
        self._held: list[CallDecision] = []  # decided, not yet committed: the database refused the write
        self._db_retry_at = 0.0  # clock() time before which no write is tried again
        self._db_backoff = 0.0
        self._db_trouble_since: float | None = None
        self._foreign_seen: set[str] = set()  # other accounts already logged
        self._evicted = 0  # tracker.evicted last seen
        self._over_cap = False  # open calls hit the tracker's cap and have not fallen back below 90 % of it
        # Read-only watchers of each accepted event (bot/queues/queue_alerts.py counts who waits in a queue);
        # each must be cheap and must not raise into the stream.
        self.observers: list[Callable[[Event], None]] = []

    # -- hot path ---------------------------------------------------------------------------------
    def on_event(self, name: str, payload: object) -> None:
        """One stream event. Malformed payloads are logged and counted; the stream goes on."""
        try:
            event = normalise(name, payload)
        except MalformedEvent as exc:
            self.stats.rejected += 1
            log.warning("event rejected name=%.40r reason=%s", name, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a bug in parsing must not stop the stream
            self.stats.rejected += 1
            log.exception("event parse failed name=%.40r error=%s", name, type(exc).__name__)
            return
        account = event.account_id
        if account is not None and self.account_id is not None and account != self.account_id:
            self._drop_foreign(account)
            return
        label = event_label(event.name)
        self.stats.events[label] += 1
        if self.metrics:
            self.metrics.inc("events_total", event=label)
        now = self.clock()
        self.tracker.feed(event, now)
        for observe in self.observers:
            try:
                observe(event)
            except Exception as exc:  # noqa: BLE001 - a watcher's bug must not stop the calls being decided
                log.warning("event observer failed error=%s", type(exc).__name__)
        if self.tracker.evicted != self._evicted:
            self._count_evicted()
        self._remember_leg(event)
        if event.name == DESTROY and not self._deadline_armed:
            # The loop is asleep without a deadline: wake it so it can sleep until this call's grace ends.
            self._deadline_armed = True
            self._wake.set()
        if len(self._legs) >= self.batch_max:
            self._wake.set()

    def _drop_foreign(self, account: str) -> None:
        """An event for another account (a misrouted or shared stream): never a call of ours. Counted; each
        account logged once, so a flood of them is one line, not one per event."""
        self.stats.foreign += 1
        if self.metrics:
            self.metrics.inc("events_dropped_total", reason="foreign_account")
        seen = self._foreign_seen
        if account in seen or len(seen) > FOREIGN_ACCOUNTS_LOGGED:
            return
        seen.add(account)
        if len(seen) > FOREIGN_ACCOUNTS_LOGGED:
            log.warning("events for more other accounts dropped; no longer logged each (see /metrics)")
        else:
            log.warning(
                "events for another account dropped account=%.40r ours=%s: check ANTBUDDY_ACCOUNT_ID and the "
                "stream's subscription",
                account,
                self.account_id,
            )

    def _count_evicted(self) -> None:
        evicted = self.tracker.evicted
        if self.metrics:
            self.metrics.inc("calls_evicted_total", float(evicted - self._evicted))
        self._evicted = evicted
        if not self._over_cap:
            self._over_cap = True
            log.warning(
                "open calls reached the cap max=%d: the oldest are let go undecided; AntBuddy's history decides "
                "them at the next reconcile",
                self.tracker.max_open,
            )

    def _remember_leg(self, event: Event) -> None:
        ts = event.timestamp.timestamp() if event.timestamp else None
        known = self._legs.get(event.leg_id)
        if known is None:
            row: LegRow = {
                "leg_id": event.leg_id,
                "call_id": None,
                "direction": event.direction,
                "caller": event.caller_number,
                "destination": event.destination_number,
                "username": event.username,
                "created_at": None,
                "answered_at": None,
                "destroyed_at": None,
                "hangup_cause": None,
            }
            self._legs[event.leg_id] = row
        else:
            row = known
            row["direction"] = row["direction"] or event.direction
            row["caller"] = row["caller"] or event.caller_number
            row["destination"] = row["destination"] or event.destination_number
            row["username"] = row["username"] or event.username
        if event.name == CREATE:
            row["created_at"] = row["created_at"] or ts
        elif event.name == ANSWER:
            row["answered_at"] = row["answered_at"] or ts
        elif event.name == DESTROY:
            row["destroyed_at"] = row["destroyed_at"] or ts
            row["hangup_cause"] = event.hangup_cause or row["hangup_cause"]

    # -- hooks for the composition root ------------------------------------------------------------
    def expect_own_call(self, number: str, device: str | None) -> None:
        """A click-to-call we started (Call back, `/ring call`): its legs never join a customer's inbound call."""
        self.tracker.expect_own_call(number, device, self.clock())

    def settle(self, call_ids: list[str]) -> int:
        """History decided these calls: let go of any the stream still holds open (bot/alerts/reconcile.py)."""
        return self.tracker.settle(call_ids, self.clock())

    def open_calls(self) -> tuple[int, float | None]:
        """(calls held open, seconds since the oldest was first seen): for /healthz and /metrics."""
        return self.tracker.open_calls(), self.tracker.oldest_open_age(self.clock())

    def held(self) -> tuple[int, int]:
        """(decided calls, legs) waiting in memory for the database to take writes again."""
        return len(self._held), len(self._legs)

    # -- background -------------------------------------------------------------------------------
    def flush(self, *, legs: bool = True) -> list[CallDecision]:
        """Write buffered legs (unless `legs` is False: the run loop, woken only because a call's grace ended,
        leaves them batching), then decide every call whose grace has passed. Returns the decisions committed.

        When the database refuses the writes, the legs and the decisions stay in memory and are written, in order,
        once it takes them again: nothing the stream decided is lost to a lock or a full disk."""
        now = self.clock()
        decisions = self.tracker.due(now)
        if self._held:
            decisions, self._held = self._held + decisions, []
        if now < self._db_retry_at:
            self._hold(decisions)
            return []
        rows: list[LegRow] = []
        if legs and self._legs:
            rows = list(self._legs.values())
            self._legs.clear()
        if rows or decisions:
            # One transaction, one commit, for the legs and the decisions of this flush; the legs are a savepoint
            # of their own and each decision is still all-or-nothing (a savepoint in handle_decision).
            try:
                with self.store.transaction():
                    if rows:
                        self._save_legs(rows)
                    for decision in decisions:
                        self.decide(decision)
            except sqlite3.OperationalError as exc:  # busy, full, read-only: nothing was written; all tries again
                self._keep_legs(rows)
                self._hold(decisions)
                self._refused(exc, now)
                return []
            except Exception as exc:  # noqa: BLE001 - the commit failed: reconciliation raises them later
                self.stats.errors += 1
                log.error("committing decisions failed count=%d legs=%d error=%s", len(decisions), len(rows), exc)
        if self._over_cap and self.tracker.open_calls() < 0.9 * self.tracker.max_open:
            self._over_cap = False
            log.info("open calls back under the cap open=%d evicted=%d", self.tracker.open_calls(), self._evicted)
        self._writable(now, len(decisions))
        return decisions

    def _save_legs(self, rows: list[LegRow]) -> None:
        """Inside flush's transaction. The database refusing the write propagates (the whole flush waits); any
        other failure loses only these legs, which are diagnostics: the decisions matter more."""
        try:
            self.store.save_legs(rows)
        except sqlite3.OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - see above
            self.stats.errors += 1
            log.error("saving legs failed count=%d error=%s", len(rows), exc)

    def _hold(self, decisions: list[CallDecision]) -> None:
        self._held = decisions
        if len(decisions) > MAX_HELD_DECISIONS:
            dropped = len(decisions) - MAX_HELD_DECISIONS
            del self._held[:dropped]
            self.stats.errors += dropped
            log.error("database refusing writes: dropped the %d oldest held calls (history raises them)", dropped)

    def _keep_legs(self, rows: list[LegRow]) -> None:
        """Put refused leg rows back under the ones seen since (which know more of the leg)."""
        for row in rows:
            newer = self._legs.get(row["leg_id"])
            if newer is None:
                self._legs[row["leg_id"]] = row
                continue
            for key, value in row.items():
                if newer.get(key) is None:
                    newer[key] = value  # type: ignore[literal-required]
        while len(self._legs) > MAX_HELD_LEGS:
            del self._legs[next(iter(self._legs))]

    def _refused(self, exc: sqlite3.OperationalError, now: float) -> None:
        self._db_backoff = min(DB_RETRY_MAX, self._db_backoff * 2 if self._db_backoff else DB_RETRY_FIRST)
        self._db_retry_at = now + self._db_backoff
        if self._db_trouble_since is None:
            self._db_trouble_since = now
            log.warning(
                "database refused writes (%s): holding %d decided calls and %d legs in memory, retrying",
                exc,
                len(self._held),
                len(self._legs),
            )

    def _writable(self, now: float, written: int) -> None:
        if self._db_trouble_since is not None:
            log.info(
                "database takes writes again after %.1f s; wrote %d held calls", now - self._db_trouble_since, written
            )
        self._db_trouble_since = None
        self._db_backoff = 0.0
        self._db_retry_at = 0.0

    def decide(self, decision: CallDecision) -> str:
        """Hand one decision to alerting (which commits it before anything is posted). The database refusing the
        write (sqlite3.OperationalError: busy, full) propagates, so the whole batch is tried again later."""
        try:
            action = self.alerts.handle_decision(decision)
        except sqlite3.OperationalError:
            raise
        except Exception as exc:  # noqa: BLE001 - keep deciding the others; reconciliation will retry
            self.stats.errors += 1
            log.exception("storing decision failed call_id=%s error=%s", decision.call_id, type(exc).__name__)
            return "error"
        self.stats.decisions[decision.outcome.value] += 1
        if self.metrics:
            self.metrics.inc("calls_total", outcome=decision.outcome.value, source=decision.source)
        self.stats.alert_actions[action] += 1
        if self.metrics and action in ("new", "repeat", "resolved"):
            self.metrics.inc("alerts_total", action=action)
        log.info(
            "call decided call_id=%s outcome=%s customer=%s queue=%s ring_s=%s agents=%s action=%s",
            decision.call_id,
            decision.outcome.value,
            decision.customer_number,
            decision.queue_id,
            decision.ring_seconds,
            ",".join(decision.agents_rung) or "-",
            action,
        )
        return action

    async def run(self) -> None:
        """Flush legs at most every `flush_interval` (batched writes), and decide each call the moment its grace
        window ends (the loop sleeps until the tracker's next deadline)."""
        last_flush = self.clock()
        while not self._stopping:
            now = self.clock()
            next_due = self.tracker.next_due()
            self._deadline_armed = next_due is not None
            timeout = (last_flush + self.flush_interval - now) if self._legs else 1.0
            if next_due is not None:
                timeout = min(timeout, next_due - now)
            if self._held or self._db_trouble_since is not None:
                timeout = max(min(timeout, self._db_retry_at - now), 0.001)  # written as soon as it may be tried
            if timeout > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancel
                        await self._wake.wait()
            self._wake.clear()
            now = self.clock()
            legs_due = self._stopping or len(self._legs) >= self.batch_max or now - last_flush >= self.flush_interval
            if not legs_due and not self._due_now():
                continue  # woken only to re-arm the deadline: let legs keep batching
            # A call whose grace just ended is decided now; its legs wait for the batch (one write per interval,
            # not one per decided call: calls end a few milliseconds apart in a busy stream).
            self.flush(legs=legs_due)
            if legs_due:
                last_flush = self.clock()

    def _due_now(self) -> bool:
        now = self.clock()
        if self._held and self._db_retry_at <= now:
            return True
        next_due = self.tracker.next_due()
        return next_due is not None and next_due <= now

    async def stop(self) -> None:
        """Stop the loop and write what is buffered. Calls still inside their grace window are left to the
        next start-up's reconciliation, which reads them from AntBuddy's history."""
        self._stopping = True
        self._wake.set()
        self.flush()
