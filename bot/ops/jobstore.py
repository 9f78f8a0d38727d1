"""APScheduler's job store in ringbot's own SQLite database, so scheduled work (an escalation due in 15 minutes,
tomorrow's digest) survives a restart: nothing is lost, nothing runs twice, and a job that fell due while the
bot was down runs once when it starts (the scheduler's `coalesce` and `misfire_grace_time`; docs/operations.md).

APScheduler 3's own persistent store needs SQLAlchemy; this one keeps the same contract (a job's state is what
`Job.__getstate__` gives, pickled) on the Store's connection, so all SQL stays in storage/.
"""

from __future__ import annotations

import logging
import pickle
from datetime import datetime
from typing import TYPE_CHECKING, Any

from apscheduler.job import Job
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.util import datetime_to_utc_timestamp, utc_timestamp_to_datetime

if TYPE_CHECKING:
    from storage import Store

log = logging.getLogger(__name__)


class SQLiteJobStore(BaseJobStore):
    """Jobs as rows of the `jobs` table. A job whose function can no longer be imported (renamed in an
    upgrade) is logged and removed, as APScheduler's own stores do."""

    def __init__(self, store: Store, *, pickle_protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        super().__init__()
        self.store = store
        self.pickle_protocol = pickle_protocol

    # -- reading ------------------------------------------------------------------------------------
    def lookup_job(self, job_id: str) -> Job | None:
        state = self.store.job_state(job_id)
        return self._restore([(job_id, state)])[0] if state is not None else None

    def get_due_jobs(self, now: datetime) -> list[Job]:
        return self._restore(self.store.job_states(due_by=datetime_to_utc_timestamp(now)))

    def get_next_run_time(self) -> datetime | None:
        return utc_timestamp_to_datetime(self.store.next_job_time())

    def get_all_jobs(self) -> list[Job]:
        jobs = self._restore(self.store.job_states())
        self._fix_paused_jobs_sorting(jobs)
        return jobs

    # -- writing ------------------------------------------------------------------------------------
    def add_job(self, job: Job) -> None:
        if not self.store.add_job_state(job.id, datetime_to_utc_timestamp(job.next_run_time), self._dump(job)):
            raise ConflictingIdError(job.id)

    def update_job(self, job: Job) -> None:
        if not self.store.update_job_state(job.id, datetime_to_utc_timestamp(job.next_run_time), self._dump(job)):
            raise JobLookupError(job.id)

    def remove_job(self, job_id: str) -> None:
        if not self.store.delete_jobs([job_id]):
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        self.store.delete_jobs()

    def shutdown(self) -> None:
        """The Store's connection belongs to the runtime, which closes it."""

    # -- state ---------------------------------------------------------------------------------------
    def _dump(self, job: Job) -> bytes:
        return pickle.dumps(job.__getstate__(), self.pickle_protocol)

    def _restore(self, rows: list[tuple[str, bytes]]) -> list[Job]:
        jobs: list[Job] = []
        broken: list[str] = []
        for job_id, blob in rows:
            try:
                state: dict[str, Any] = pickle.loads(blob)  # noqa: S301 - our own rows, written by _dump
                state["jobstore"] = self
                job = Job.__new__(Job)
                job.__setstate__(state)
                job._scheduler = self._scheduler
                job._jobstore_alias = self._alias
                jobs.append(job)
            except Exception as exc:  # noqa: BLE001 - an unreadable job must not stop the others
                log.warning("scheduled job unreadable id=%s error=%s; removed", job_id, type(exc).__name__)
                broken.append(job_id)
        if broken:
            self.store.delete_jobs(broken)
        return jobs
