"""Work scheduled for later that must happen even if ringbot restarts in between: an escalation due in 15
minutes, the overnight digest at opening time, the daily digest (docs/operations.md, Scheduled work).

A job is a row of plain data in the `scheduled_jobs` table (storage/jobs.py: kind, key, due time, JSON
arguments), never code: what a kind does is a handler the composition root hands to `Jobs` when it builds it.
Every second `run_due` runs what is due. A row it cannot read (text where a time should be, arguments that are
not a JSON object, a kind nobody handles) is logged once, set aside and never run, and holds up no other job.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as wall_time
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler

from storage import Store
from storage.jobs import JobRow, JobTable

log = logging.getLogger(__name__)

LATE_AFTER = 60.0  # seconds: a job this late ran after a restart (or a long stall), and says so
DB_RETRY = 30.0  # seconds before a job the database refused is run again
BATCH = 100  # jobs read per pass; the rest are due in the next pass, a second later
RUNNER_JOB_ID = "scheduled-jobs"  # the in-memory APScheduler interval job that calls run_due

Handler = Callable[..., Awaitable[object]]  # await handler(late=seconds, **args)

_DAILY = re.compile(r"(\d\d):(\d\d) (\S{1,100})")


class Unreadable(Exception):
    """A stored job that cannot be run as it is; the message says why (one log line, and the row's set_aside)."""


@dataclass(frozen=True)
class Daily:
    """A job that comes back every day at hour:minute, wall-clock time in `zone`."""

    hour: int
    minute: int
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: object) -> Daily:
        """'HH:MM Area/City' (as `spec` writes it); ValueError when it is anything else."""
        match = _DAILY.fullmatch(spec) if isinstance(spec, str) else None
        if match is None:
            raise ValueError("not 'HH:MM Area/City'")
        hour, minute = int(match[1]), int(match[2])
        if hour > 23 or minute > 59:
            raise ValueError("no such time of day")
        try:
            zone = ZoneInfo(match[3])
        except Exception:  # noqa: BLE001 - unknown, malformed or unreadable: the same answer
            raise ValueError("unknown time zone") from None
        return cls(hour, minute, zone)

    @property
    def spec(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d} {self.zone.key}"

    def next_after(self, t: float) -> float:
        """The first time after `t` (unix seconds) that the clock in `zone` shows hour:minute."""
        day = datetime.fromtimestamp(t, self.zone).date()
        for offset in range(3):  # today, or tomorrow (a third day only around a time change)
            when = datetime.combine(day + timedelta(days=offset), wall_time(self.hour, self.minute), self.zone)
            if when.timestamp() > t:
                return when.timestamp()
        raise AssertionError("a day always has the time of day")  # pragma: no cover


@dataclass(frozen=True)
class Job:
    """A stored job whose every value was checked."""

    key: str
    kind: str
    due_at: float
    args: dict[str, Any]
    daily: Daily | None


def read_job(row: JobRow, kinds: Collection[str]) -> Job:
    """The job a row holds, or Unreadable saying why not. Nothing in the row is trusted: it may have been edited
    by hand, written by another version, or damaged."""
    key, kind, due_at = row["key"], row["kind"], row["due_at"]
    if not isinstance(key, str):
        raise Unreadable("the key is not text")
    if not isinstance(kind, str):
        raise Unreadable("the kind is not text")
    if kind not in kinds:
        raise Unreadable(f"no handler for kind {kind[:60]!r}")
    if isinstance(due_at, bool) or not isinstance(due_at, int | float) or not math.isfinite(due_at):
        raise Unreadable(f"due_at is not a time in unix seconds ({type(due_at).__name__})")
    text = row["args"]
    if not isinstance(text, str):
        raise Unreadable("args is not JSON text")
    try:
        args = json.loads(text)
    except (ValueError, RecursionError):
        raise Unreadable("args is not JSON") from None
    if not isinstance(args, dict):
        raise Unreadable("args is not a JSON object")
    bad = [name for name in args if not name.isidentifier() or name == "late"]
    if bad:
        raise Unreadable(f"args has a name a handler cannot take ({bad[0][:40]!r})")
    daily = None
    if row["daily"] is not None:
        try:
            daily = Daily.parse(row["daily"])
        except ValueError as exc:
            raise Unreadable(f"daily is not 'HH:MM Area/City': {exc}") from None
    return Job(key, kind, float(due_at), args, daily)


@dataclass
class _Pending:
    """Bookkeeping the database refused: kept in memory and written when it can be."""

    aside: dict[Any, str] = field(default_factory=dict)  # key as read -> why: logged, not yet marked in the row
    waiting: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (due_at, try again at)
    ran: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # key -> (due_at, next time or None)


class Jobs:
    """Runs the stored jobs. Complete when built: the handlers are given here, by kind, and `start` adds the one
    in-memory interval job that calls `run_due`. Callers and tests schedule by a key they choose
    (`escalate:42:1`): scheduling the same key again replaces the job, and cancelling needs nothing but the key."""

    def __init__(
        self,
        store: Store,
        scheduler: BaseScheduler,
        handlers: Mapping[str, Handler],
        *,
        clock: Callable[[], float] = time.time,
        poll_seconds: float = 1.0,
    ) -> None:
        self.table = JobTable(store)
        self.scheduler = scheduler
        self.handlers: Mapping[str, Handler] = dict(handlers)
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._pending = _Pending()
        self._lock = asyncio.Lock()
        self._failing = False  # the table could not be read on the last pass (logged once)

    # -- for callers ------------------------------------------------------------------------------
    def at(self, kind: str, when: float, *, key: str, **args: Any) -> None:
        """Run `kind` once at `when` (unix seconds), however late after a restart."""
        self.table.at(kind, when, key=key, **args)

    def daily(self, kind: str, *, hour: int, minute: int, timezone: str, key: str, **args: Any) -> None:
        """Run `kind` every day at hour:minute in `timezone`; a day missed while ringbot was down runs once, late
        (several missed days: once, not once each). Called again at every start with the same values it keeps
        the stored due time, so a run missed while down is not skipped."""
        daily = Daily.parse(f"{hour:02d}:{minute:02d} {timezone}")
        now = self.clock()
        when = daily.next_after(now)
        row = self.table.get(key)
        if row is not None and row["set_aside"] is None and row["kind"] == kind:
            try:
                stored = read_job(row, {kind})
            except Unreadable:
                stored = None
            if stored is not None and (stored.daily == daily or stored.due_at <= now):
                if stored.daily == daily and stored.args == args:
                    return  # as it is
                when = stored.due_at  # overdue: it runs once, late, then on the new time
        self.table.daily(kind, when, key=key, every=daily.spec, **args)

    def cancel(self, key: str) -> bool:
        """Forget the job `key`; False when there was none."""
        self._pending.waiting.pop(key, None)
        return self.table.cancel(key)

    def keys(self, prefix: str = "") -> list[str]:
        """Keys of the live jobs, those starting with `prefix`."""
        return self.table.keys(prefix)

    # -- running ----------------------------------------------------------------------------------
    def start(self) -> None:
        """Run what is due every `poll_seconds` from now on (the scheduler runs it on the loop)."""
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=self.poll_seconds,
            id=RUNNER_JOB_ID,
            replace_existing=True,
            coalesce=True,
            max_instances=2,  # a tick while a long pass runs returns at once instead of being logged as skipped
            misfire_grace_time=None,
        )

    async def _tick(self) -> None:
        if self._lock.locked():
            return  # the pass still running covers this one
        try:
            await self.run_due()
        except sqlite3.Error as exc:
            if not self._failing:
                log.warning("scheduled jobs not read (%s); tried again every %.0f s", exc, self.poll_seconds)
            self._failing = True
        else:
            if self._failing:
                log.info("scheduled jobs read again")
            self._failing = False

    async def run_due(self, now: float | None = None) -> list[str]:
        """Run each job due by `now` once; the keys of those that ran (a handler that raised included: it is
        done). A one-off job is removed after it ran, a daily one moved to its next time."""
        async with self._lock:
            now = self.clock() if now is None else now
            self._write_pending(now)
            pending = self._pending
            skip = len(pending.aside) + len(pending.waiting) + len(pending.ran)
            ran: list[str] = []
            for row in self.table.due(now, limit=BATCH + skip):
                if await self._run(row, now):
                    ran.append(row["key"])
            return ran

    async def _run(self, row: JobRow, now: float) -> bool:
        pending = self._pending
        if row["key"] in pending.aside:
            return False
        try:
            job = read_job(row, self.handlers)
        except Unreadable as why:
            log.warning("scheduled job set aside key=%.100r why=%s; it is never run", row["key"], why)
            pending.aside[row["key"]] = str(why)
            self._write_pending(now)
            return False
        done = pending.ran.get(job.key)
        if done is not None and done[0] == job.due_at:
            return False  # ran already; the database has not taken its removal yet
        waiting = pending.waiting.get(job.key)
        if waiting is not None:
            if waiting[0] == job.due_at and waiting[1] > now:
                return False
            del pending.waiting[job.key]
        late = max(0.0, now - job.due_at)
        if late > LATE_AFTER:
            log.info(
                "scheduled job running late kind=%s key=%s late_s=%.0f%s",
                job.kind,
                job.key,
                late,
                f" missed_runs={1 + int(late // 86400)} (a daily job runs once for them all)" if job.daily else "",
            )
        try:
            await self.handlers[job.kind](late=late, **job.args)
        except sqlite3.OperationalError as exc:  # DatabaseBusy, a full disk: the job waits, keeping its lateness
            log.warning(
                "scheduled job waits for the database kind=%s key=%s (%s); again in %.0f s",
                job.kind,
                job.key,
                exc,
                DB_RETRY,
            )
            pending.waiting[job.key] = (job.due_at, now + DB_RETRY)
            return False
        except Exception as exc:  # noqa: BLE001 - one job's failure is logged; the others and the scheduler go on
            log.error("scheduled job failed kind=%s key=%s error=%s: %s", job.kind, job.key, type(exc).__name__, exc)
        pending.ran[job.key] = (job.due_at, job.daily.next_after(now) if job.daily else None)
        self._write_pending(now)
        return True

    def _write_pending(self, now: float) -> None:
        """Write what the database refused before: set-aside marks, removals, next times."""
        pending = self._pending
        try:
            for key, why in list(pending.aside.items()):
                self.table.set_aside(key, why)
                del pending.aside[key]
            for key, (due_at, then) in list(pending.ran.items()):
                if then is None:
                    self.table.finished(key, due_at)
                else:
                    self.table.moved(key, then, was=due_at)
                del pending.ran[key]
        except sqlite3.OperationalError:
            pass  # the next pass tries again; meanwhile none of these is run
        for key, (_, again) in list(pending.waiting.items()):
            if again <= now - 10 * DB_RETRY:
                del pending.waiting[key]  # its row went (cancelled, run elsewhere): forget it
