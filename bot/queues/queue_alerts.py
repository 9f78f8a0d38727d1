"""Live queue alerts: watches the queues admins set thresholds on, posts one message per breach in the queue's
route channel and edits it as the breach worsens, recovers or flaps (bot/queues/health.py decides; this module
does the I/O). Wakes on every stream event that changes a watched queue, and once a second for waits that grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

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
from bot.slack.render.digest import OpenAlert
from bot.slack.render.queues import AlertView, render_queue_alert
from storage import Store
from storage.queues import QueueStore

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0  # waits grow without events: re-check this often
POLL_SECONDS = 15.0  # the dashboard (agent states, waiting_call_logs) is read this often
BUSY_POLL_SECONDS = 5.0  # ... and this often while someone waits in a watched queue (the directory caches 5 s)
SLACK_TIMEOUT = 10.0


@dataclass
class Tracked:
    """A queue's current breach and where its message is."""

    breach: Breach
    breach_id: int
    channel: str
    ts: str | None = None
    owner: str | None = None


class QueueMonitor:
    def __init__(
        self,
        store: Store,
        directory: Directory,
        slack: AsyncWebClient,
        *,
        default_channel: str,
        tz: tzinfo,
        cooldown: float = DEFAULT_COOLDOWN,
        live: LiveQueues | None = None,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.qstore = QueueStore(store)
        self.directory = directory
        self.slack = slack
        self.default_channel = default_channel
        self.tz = tz
        self.cooldown = cooldown
        self.live = live or LiveQueues()
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.mono = mono
        self.watches: dict[str, tuple[Thresholds, str, str | None]] = {}  # queue id -> (thresholds, spec, name)
        self.tracked: dict[str, Tracked] = {}
        self.ready: dict[str, int] = {}  # queue id -> member agents ready (from the dashboard)
        self.agent_states: dict[str, str] = {}  # agent id -> dashboard state
        self.alert_posted: Callable[[str, float], None] | None = None  # (queue id, mono time) for the benchmark
        self._wake = asyncio.Event()
        self._stopping = False
        self._lock = asyncio.Lock()
        self.reload()

    # -- state from the database -----------------------------------------------------------------------
    def reload(self) -> None:
        """Read watches and the latest breach of each queue (start-up, and after `/ring watch`)."""
        watches: dict[str, tuple[Thresholds, str, str | None]] = {}
        for row in self.qstore.watches():
            try:
                t = parse_thresholds(str(row["thresholds"]).split())
            except ValueError:
                log.warning("queue watch unreadable queue=%s; skipped", row["queue_id"])
                continue
            if t is not None:
                watches[row["queue_id"]] = (t, t.spec(), row.get("queue_name"))
        self.watches = watches
        for row in self.qstore.latest_breaches():
            if row["queue_id"] in self.tracked:
                continue
            b = Breach(
                queue_id=row["queue_id"],
                level=Level(int(row["level"])),
                started=float(row["started_at"]),
                peak_waiting=int(row["peak_waiting"] or 0),
                peak_wait=float(row["peak_wait"] or 0),
                reasons=tuple(r for r in str(row["reasons"] or "").split(",") if r),
                recovered_at=row["recovered_at"],
                reopened=int(row["reopened"] or 0),
            )
            self.tracked[row["queue_id"]] = Tracked(b, int(row["id"]), row["channel"], row["ts"], row["owner"])

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

    async def check(self) -> None:
        """Assess every watched queue and post or edit what changed."""
        async with self._lock:
            for queue_id, (thresholds, _, _) in list(self.watches.items()):
                snap = self.snapshot(queue_id)
                level, reasons = assess(snap, thresholds)
                tracked = self.tracked.get(queue_id)
                old = tracked.breach if tracked else None
                new, action = step(old, queue_id, level, reasons, snap, self.clock(), cooldown=self.cooldown)
                if new is None:
                    self.tracked.pop(queue_id, None)
                    continue
                if action == POST or tracked is None:
                    channel = self._channel(queue_id)
                    tracked = Tracked(new, 0, channel)
                    self.tracked[queue_id] = tracked
                else:
                    tracked.breach = new
                if action != NOTHING or tracked.ts is None:
                    await self._publish(queue_id, tracked, snap)
                elif new != old:
                    self._save(tracked)  # peaks moved: kept for the recovery line

    async def claim(self, breach_id: int, user: str) -> bool:
        """ "I'm on it": the first person to press it owns the breach; False when someone already does."""
        async with self._lock:
            tracked = next((t for t in self.tracked.values() if t.breach_id == breach_id), None)
            if tracked is None:
                row = self.qstore.breach(breach_id)
                if row is None or row.get("owner"):
                    return False
                self.qstore.save_breach({"id": breach_id, "owner": user})
                return True
            if tracked.owner:
                return False
            tracked.owner = user
            await self._publish(tracked.breach.queue_id, tracked, self.snapshot(tracked.breach.queue_id))
            return True

    def _channel(self, queue_id: str) -> str:
        name = self._name(queue_id)
        try:
            return self.store.route_for(queue_id=queue_id, did_key=None, queue_name=name) or self.default_channel
        except sqlite3.Error:
            return self.default_channel

    def _name(self, queue_id: str) -> str:
        watch = self.watches.get(queue_id)
        return self.directory.queue_name(queue_id) or (watch[2] if watch else None) or queue_id

    def _save(self, t: Tracked) -> None:
        b = t.breach
        row: dict[str, Any] = {
            "id": t.breach_id or None,
            "queue_id": b.queue_id,
            "channel": t.channel,
            "ts": t.ts,
            "level": int(b.level),
            "reasons": ",".join(b.reasons),
            "started_at": b.started,
            "peak_waiting": b.peak_waiting,
            "peak_wait": b.peak_wait,
            "recovered_at": b.recovered_at,
            "reopened": b.reopened,
            "owner": t.owner,
        }
        try:
            t.breach_id = self.qstore.save_breach(row)
        except sqlite3.OperationalError as exc:  # busy or full: the message still goes out; saved next change
            log.warning("queue breach not saved queue=%s error=%s", b.queue_id, exc)

    async def _publish(self, queue_id: str, t: Tracked, snap: Snapshot) -> None:
        self._save(t)
        watch = self.watches.get(queue_id)
        view = AlertView(
            queue=self._name(queue_id),
            waiting=snap.waiting,
            longest=snap.longest,
            ready=snap.ready,
            spec=watch[1] if watch else "",
            abandon_pct=snap.abandon_pct,
            owner=t.owner,
        )
        msg = render_queue_alert(t.breach, view, t.breach_id, self.tz)
        try:
            async with asyncio.timeout(SLACK_TIMEOUT):
                if t.ts is None:
                    resp = await self.slack.chat_postMessage(channel=t.channel, **msg)
                    t.ts = str(resp.get("ts") or "") or None
                    if self.alert_posted is not None:
                        self.alert_posted(queue_id, self.mono())
                else:
                    await self.slack.chat_update(channel=t.channel, ts=t.ts, **msg)
        except Exception as exc:  # noqa: BLE001 - Slack down or slow: the next check tries again
            log.warning("queue alert not sent queue=%s error=%s", queue_id, type(exc).__name__)
            return
        log.info(
            "queue alert queue=%s level=%s open=%s waiting=%d ts=%s",
            queue_id,
            t.breach.level.name.lower(),
            t.breach.open,
            snap.waiting,
            t.ts,
        )
        self._save(t)

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
                    await self.check()
                except Exception as exc:  # noqa: BLE001 - a bug in one pass must not stop the alerts
                    log.exception("queue check failed error=%s", type(exc).__name__)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def open_breaches(self) -> list[Tracked]:
        return [t for t in self.tracked.values() if t.breach.open]

    def open_alerts(self) -> list[OpenAlert]:
        """The open breaches as the daily digest lists them: queue name, since when, who is on it."""
        return [OpenAlert(self._name(t.breach.queue_id), t.breach.started, t.owner) for t in self.open_breaches()]

    def waiting_now(self, queue_id: str) -> list[tuple[str | None, float]]:
        now = self.mono()
        return [(w.caller, s) for w, s in self.live.waiting(queue_id, now)]
