"""Queue alerts: watches the queues admins set thresholds on and keeps one breach per queue (bot/queues/health.py
decides; this module does the I/O). Each change of a breach is saved with what its message shows and, in the same
transaction, an outbox row that says "show this breach" (bot/queues/queue_messages.py renders it when it is sent:
posted the first time, edited after). Wakes on every stream event that changes a watched queue, and once a second
for waits that grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.antbuddy.directory import Directory
from bot.calls.events import Event
from bot.queues.health import (
    DEFAULT_COOLDOWN,
    NOTHING,
    POST,
    Breach,
    Level,
    Snapshot,
    Thresholds,
    assess,
    parse_thresholds,
    step,
)
from bot.queues.live import DashboardWaiter, LiveQueues
from storage import Store
from storage.queues import BreachRow, QueueStore
from storage.rows import OutboxKind

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # waits grow without events: re-check this often
POLL_SECONDS = 15.0  # the dashboard (agent states, waiting_call_logs) is read this often
BUSY_POLL_SECONDS = 5.0  # ... and this often while someone waits in a watched queue (the directory caches 5 s)


@dataclass(frozen=True)
class Watch:
    """A queue's thresholds, and the words they were typed in."""

    thresholds: Thresholds
    spec: str
    queue_name: str | None


@dataclass
class Tracked:
    """A queue's current breach, where its message goes, and whether its last change still waits to be saved."""

    breach: Breach
    breach_id: int | None  # None until the breach was first saved
    channel: str
    unsaved: bool = False  # the database refused the last change: saved (and its message queued) next check


def breach_of(row: BreachRow) -> Breach:
    """The health model's Breach from its stored row."""
    return Breach(
        queue_id=row["queue_id"],
        level=Level(int(row["level"])),
        started=float(row["started_at"]),
        peak_waiting=int(row["peak_waiting"] or 0),
        peak_wait=float(row["peak_wait"] or 0),
        reasons=tuple(r for r in str(row["reasons"] or "").split(",") if r),
        recovered_at=row["recovered_at"],
        reopened=int(row["reopened"] or 0),
    )


class QueueAlerts:
    """Decides and records queue alerts; never talks to Slack (the outbox does)."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        *,
        default_channel: str,
        wake: Callable[[], None],
        cooldown: float = DEFAULT_COOLDOWN,
        live: LiveQueues | None = None,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.qstore = QueueStore(store)
        self.directory = directory
        self.default_channel = default_channel
        self.wake_outbox = wake
        self.cooldown = cooldown
        self.live = live or LiveQueues()
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.mono = mono
        self.watches: dict[str, Watch] = {}
        self.tracked: dict[str, Tracked] = {}
        self.ready: dict[str, int] = {}  # queue id -> member agents ready (from the dashboard)
        self.agent_states: dict[str, str] = {}  # agent id -> dashboard state
        self._wake = asyncio.Event()
        self._stopping = False
        self.reload()

    # -- state from the database -----------------------------------------------------------------------
    def reload(self) -> None:
        """Read watches and the latest breach of each queue (start-up, and after a watch changed)."""
        watches: dict[str, Watch] = {}
        for w in self.qstore.watches():
            try:
                t = parse_thresholds(str(w["thresholds"]).split())
            except ValueError:
                log.warning("queue watch unreadable queue=%s; skipped", w["queue_id"])
                continue
            if t is not None:
                watches[w["queue_id"]] = Watch(t, t.spec(), w["queue_name"])
        self.watches = watches
        for row in self.qstore.latest_breaches():
            if row["queue_id"] not in self.tracked:
                self.tracked[row["queue_id"]] = Tracked(breach_of(row), int(row["id"]), row["channel"])

    # -- the stream hook (Pipeline.observers) -------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Cheap and synchronous: update who waits; wake the checker when a watched queue changed."""
        queue_id = self.live.feed(event, self.mono())
        if queue_id is not None and queue_id in self.watches:
            self._wake.set()

    # -- checking -----------------------------------------------------------------------------------------
    def snapshot(self, queue_id: str) -> Snapshot:
        now = self.mono()
        waiting = self.live.waiting(queue_id, now)
        abandoned, left = self.live.abandon_rate(queue_id, now)
        return Snapshot(
            waiting=len(waiting),
            longest=waiting[0][1] if waiting else 0.0,
            ready=self.ready.get(queue_id),
            abandoned=abandoned,
            left=left,
        )

    def check(self) -> None:
        """Assess every watched queue; record what changed, and queue its message."""
        for queue_id, watch in list(self.watches.items()):
            snap = self.snapshot(queue_id)
            level, reasons = assess(snap, watch.thresholds)
            tracked = self.tracked.get(queue_id)
            old = tracked.breach if tracked else None
            new, action = step(old, queue_id, level, reasons, snap, self.clock(), cooldown=self.cooldown)
            if new is None:
                self.tracked.pop(queue_id, None)
                continue
            if action == POST or tracked is None:
                tracked = Tracked(new, None, self._channel(queue_id))
                self.tracked[queue_id] = tracked
            else:
                tracked.breach = new
            if action != NOTHING or tracked.unsaved:
                self._record(tracked, snap, message=True)
            elif new != old:
                self._record(tracked, snap, message=False)  # peaks moved: kept for the recovery line

    def _channel(self, queue_id: str) -> str:
        try:
            routed = self.store.route_for(queue_id=queue_id, did_key=None, queue_name=self._name(queue_id))
        except sqlite3.Error:
            return self.default_channel
        return routed or self.default_channel

    def _name(self, queue_id: str) -> str:
        watch = self.watches.get(queue_id)
        return self.directory.queue_name(queue_id) or (watch.queue_name if watch else None) or queue_id

    def _record(self, t: Tracked, snap: Snapshot, *, message: bool) -> None:
        """Save the breach with what its message shows now and, for a change people should see, an outbox row for
        it: both or neither. A database that refuses the write leaves the change for the next check."""
        b = t.breach
        watch = self.watches.get(b.queue_id)
        fields: dict[str, Any] = {
            "queue_id": b.queue_id,
            "channel": t.channel,
            "level": int(b.level),
            "reasons": ",".join(b.reasons),
            "started_at": b.started,
            "peak_waiting": b.peak_waiting,
            "peak_wait": b.peak_wait,
            "recovered_at": b.recovered_at,
            "reopened": b.reopened,
            "snapshot": {
                "queue": self._name(b.queue_id),
                "waiting": snap.waiting,
                "longest": round(snap.longest, 3),
                "ready": snap.ready,
                "abandon_pct": snap.abandon_pct,
                "spec": watch.spec if watch else "",
            },
        }
        try:
            with self.store.transaction():
                breach_id = self.qstore.save_breach(t.breach_id, fields)
                if message:
                    self.store.enqueue(OutboxKind.QUEUE_ALERT, t.channel, body={"breach_id": breach_id})
        except sqlite3.OperationalError as exc:  # busy or full: kept in memory, written by the next check
            t.unsaved = t.unsaved or message
            log.warning("queue breach not saved queue=%s error=%s; tried again next check", b.queue_id, exc)
            return
        t.breach_id = breach_id
        if message:
            t.unsaved = False
            log.info(
                "queue alert queued queue=%s breach=%d level=%s open=%s waiting=%d",
                b.queue_id,
                breach_id,
                b.level.name.lower(),
                b.open,
                snap.waiting,
            )
            self.wake_outbox()

    # -- the dashboard ------------------------------------------------------------------------------------
    async def poll_dashboard(self) -> None:
        """Agent states per queue, and the dashboard's waiting callers to correct the stream's view."""
        try:
            dashboard, queues = await asyncio.gather(self.directory.dashboard(), self.directory.queues())
        except Exception as exc:  # noqa: BLE001 - the next poll tries again; stream-only state meanwhile
            log.debug("queue monitor dashboard poll failed error=%s", type(exc).__name__)
            return
        self.agent_states = {a.agent_id: a.status or "" for a in dashboard.agents if a.agent_id}
        self.ready = {
            str(q.queue_id): sum(self.agent_states.get(a) == "ready" for a in q.agent_ids) for q in queues if q.queue_id
        }
        now = self.mono()
        changed = False
        for summary in dashboard.queues:
            logs = summary.raw.get("waiting_call_logs")
            if not summary.queue_id or not isinstance(logs, list):
                continue
            entries = [
                DashboardWaiter(str(w.get("call_id")), w.get("caller_id_number"), int(w.get("wait_time") or 0))
                for w in logs
                if isinstance(w, dict) and w.get("call_id")
            ]
            if self.live.reconcile(str(summary.queue_id), entries, now):
                changed = True
                log.info("queue waiting list taken from the dashboard queue=%s", summary.queue_id)
        if changed or self.watches:
            self._wake.set()

    # -- background ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Check on every change and every second; poll the dashboard every `poll_seconds`."""
        last_poll: float | None = None
        while not self._stopping:
            busy = any(self.live.waiting(q, self.mono()) for q in self.watches)
            # While callers wait in a watched queue, agent states matter by the second: read them more often.
            every = min(BUSY_POLL_SECONDS, self.poll_seconds) if busy else self.poll_seconds
            if last_poll is None or self.mono() - last_poll >= every:
                last_poll = self.mono()
                await self.poll_dashboard()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            if self.watches:
                try:
                    self.check()
                except Exception as exc:  # noqa: BLE001 - a bug in one pass must not stop the alerts
                    log.exception("queue check failed error=%s", type(exc).__name__)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def open_breaches(self) -> list[Tracked]:
        return [t for t in self.tracked.values() if t.breach.open]

    def waiting_now(self, queue_id: str) -> list[tuple[str | None, float]]:
        now = self.mono()
        return [(w.caller, s) for w, s in self.live.waiting(queue_id, now)]
