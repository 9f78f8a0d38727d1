"""Work scheduled for later that must happen exactly once even if ringbot restarts in between: an escalation
due in 15 minutes, the overnight digest at opening time, the daily digest (docs/operations.md, Scheduled work).

APScheduler runs it; the job store is the database (`bot/ops/jobstore.py`), so a restart neither loses nor
repeats a job, and one that fell due while the bot was down runs once when it starts, late, and says so. A job
stores only a kind and plain arguments; what a kind does is registered by the composition root (`on`), so the
stored jobs never point into code that may be renamed.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler

log = logging.getLogger(__name__)

JOBSTORE = "persistent"
LATE_AFTER = 60.0  # seconds: a job this late ran after a restart (or a long stall), and says so
DB_RETRY = 30.0  # seconds before a job the database refused is run again

Handler = Callable[..., Awaitable[None]]  # handler(late=seconds, **args)
_handlers: dict[str, Handler] = {}
_retry: Jobs | None = None  # the Jobs that reschedules a refused one-off job (the last one built)


async def run(kind: str, due_at: float, args: dict[str, Any], key: str | None = None) -> None:
    """What every persisted job calls (by this module path, which never changes): the handler for `kind`. A one-off
    job the database refused (another program holds its lock, a full disk) is tried again DB_RETRY seconds later,
    under the same key, keeping its due time: busy never drops an escalation."""
    handler = _handlers.get(kind)
    if handler is None:
        log.warning("scheduled job has no handler kind=%s; dropped", kind)
        return
    late = max(0.0, time.time() - due_at) if due_at else 0.0
    if late > LATE_AFTER:
        log.info("scheduled job running late kind=%s late_s=%.0f (it fell due while ringbot was down)", kind, late)
    try:
        await handler(late=late, **args)
    except sqlite3.OperationalError as exc:
        if key is None or _retry is None or not due_at:
            log.error("scheduled job failed kind=%s error=%s: %s", kind, type(exc).__name__, exc)
            return
        log.warning(
            "scheduled job waits for the database kind=%s key=%s (%s); again in %.0f s", kind, key, exc, DB_RETRY
        )
        _retry.at(kind, due_at, key=key, retry_at=time.time() + DB_RETRY, **args)
    except Exception as exc:  # noqa: BLE001 - one job's failure is logged; the scheduler goes on
        log.error("scheduled job failed kind=%s error=%s: %s", kind, type(exc).__name__, exc)


class Jobs:
    """One-off and recurring jobs in the persistent store, by a key the caller chooses (`escalate:42:1`), so
    scheduling the same thing twice replaces it and cancelling needs nothing but the key."""

    def __init__(self, scheduler: BaseScheduler) -> None:
        global _retry
        self.scheduler = scheduler
        _retry = self

    @staticmethod
    def on(kind: str, handler: Handler) -> None:
        """What jobs of `kind` do: `await handler(late=seconds_late, **args)`."""
        _handlers[kind] = handler

    def at(self, kind: str, when: float, *, key: str, retry_at: float | None = None, **args: Any) -> None:
        """Run `kind` once at `when` (unix seconds), however late after a restart (`retry_at`: run then instead,
        still counting lateness from `when`)."""
        self.scheduler.add_job(
            run,
            "date",
            run_date=datetime.fromtimestamp(retry_at or when, UTC),
            args=[kind, when, args, key],
            id=key,
            jobstore=JOBSTORE,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    def daily(self, kind: str, *, hour: int, minute: int, timezone: str, key: str, **args: Any) -> None:
        """Run `kind` every day at hour:minute in `timezone`; missed days while down run once, not once each."""
        self.scheduler.add_job(
            run,
            "cron",
            hour=hour,
            minute=minute,
            timezone=timezone,
            args=[kind, 0.0, args],
            id=key,
            jobstore=JOBSTORE,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
        )

    def cancel(self, key: str) -> bool:
        """Forget the job `key`; False when there was none."""
        try:
            self.scheduler.remove_job(key, jobstore=JOBSTORE)
        except JobLookupError:
            return False
        return True

    def keys(self, prefix: str = "") -> list[str]:
        """Keys of the pending jobs, those starting with `prefix`."""
        return sorted(job.id for job in self.scheduler.get_jobs(jobstore=JOBSTORE) if job.id.startswith(prefix))
