"""One-time moves of an older ringbot's data into today's tables, run at open by storage/schema.py.

An older ringbot kept APScheduler's jobs pickled in a `jobs` table; `import_pickled_jobs` reads that table once,
with an unpickler that never imports or calls anything, keeps the jobs of the one shape ringbot wrote, moves them
into `scheduled_jobs` (storage/jobs.py) and drops the table (docs/security.md, "Scheduled jobs are data").
Nothing here imports the store: the schema module that runs it is imported by the store."""

from __future__ import annotations

import io
import json
import logging
import math
import pickle
import sqlite3
import time

log = logging.getLogger(__name__)

OLD_JOB_FUNC = "bot.ops.scheduled:run"  # what every job the older ringbot stored called


class Inert:
    """What a global named in a pickle becomes: it records what it was built with and the state given to it, and
    does nothing else. No module is imported and no function is called, whatever the pickle names."""

    pickled_global = ""  # 'module:name' as the pickle named it

    def __new__(cls, *args: object, **kwargs: object) -> Inert:
        obj = object.__new__(cls)
        obj.__dict__.update(built_with=(args, kwargs), state=None)
        return obj

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Called by pickle's REDUCE after __new__: nothing to do."""

    def __setstate__(self, state: object) -> None:
        self.__dict__["state"] = state

    def __call__(self, *args: object, **kwargs: object) -> Inert:
        """A stand-in called in turn (`getattr(ZoneInfo, '_unpickle')(key)`): another stand-in."""
        return Inert(*args, **kwargs)


class InertUnpickler(pickle.Unpickler):
    """Reads a pickle's data (dicts, lists, strings, numbers) and turns every global it names into an `Inert`
    stand-in, so nothing in the pickle can run."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self._stand_ins: dict[tuple[str, str], type[Inert]] = {}

    def find_class(self, module: str, name: str) -> type[Inert]:
        key = (str(module), str(name))
        if key not in self._stand_ins:  # one class per global, so NEWOBJ gets the type it asks for
            self._stand_ins[key] = type("Inert", (Inert,), {"pickled_global": f"{key[0]}:{key[1]}"})
        return self._stand_ins[key]


class _Unusable(Exception):
    """An old job that is dropped; the message says why, for the one log line."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def old_job(job_id: object, next_run_time: object, blob: object) -> tuple[str, str, float, str]:
    """(key, kind, due_at, JSON args) of one row of the old `jobs` table; _Unusable when it is not a job the
    older ringbot wrote. Its state's `args` were [kind, due_at, args, key] (an early version: [kind, due_at, args]);
    a daily job had due_at 0 and runs next at the row's `next_run_time`."""
    if not isinstance(job_id, str) or not job_id:
        raise _Unusable("no id")
    if not isinstance(blob, bytes):
        raise _Unusable("the state is not a pickle")
    try:
        state = InertUnpickler(blob).load()
    except Exception as exc:  # noqa: BLE001 - whatever the bytes are, the job is dropped with one log line
        raise _Unusable(f"unreadable state ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("func") != OLD_JOB_FUNC:
        raise _Unusable("not a job ringbot wrote (another function or shape)")
    args = state.get("args")
    if not isinstance(args, tuple | list) or len(args) not in (3, 4):
        raise _Unusable("its arguments are not [kind, due time, arguments, key]")
    kind, when, job_args = args[0], _number(args[1]), args[2]
    if not isinstance(kind, str) or not kind or when is None or not isinstance(job_args, dict):
        raise _Unusable("its arguments are not [kind, due time, arguments, key]")
    if len(args) == 4 and args[3] is not None and not isinstance(args[3], str):
        raise _Unusable("its key is not text")
    if when == 0.0:  # a daily job: when it runs next is the row's, not the state's
        when = _number(next_run_time)
        if when is None:
            raise _Unusable("a daily job without a next run time")
    try:
        text = json.dumps(job_args, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise _Unusable("its arguments are not plain data") from None
    return job_id, kind, when, text


def import_pickled_jobs(conn: sqlite3.Connection) -> int:
    """Move the jobs of an older ringbot's `jobs` table (APScheduler pickles) into `scheduled_jobs`, then drop the
    table: run once, at open. A row that is not a job ringbot wrote is one log line and dropped. How many moved."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone():
        return 0
    try:
        rows = conn.execute("SELECT id, next_run_time, job_state FROM jobs").fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise
        log.warning("old scheduled jobs table dropped unread why=%s", exc)
        rows = []
    moved = 0
    with conn:
        for job_id, next_run_time, blob in rows:
            try:
                key, kind, due_at, args = old_job(job_id, next_run_time, blob)
            except _Unusable as why:
                log.warning("old scheduled job dropped id=%.80r why=%s", job_id, why)
                continue
            cur = conn.execute(
                "INSERT OR IGNORE INTO scheduled_jobs(key, kind, due_at, args, daily, set_aside, created_at)"
                " VALUES (?, ?, ?, ?, NULL, NULL, ?)",
                (key, kind, due_at, args, time.time()),
            )
            moved += cur.rowcount
        conn.execute("DROP TABLE jobs")
    if moved:
        log.info("old scheduled jobs moved to scheduled_jobs count=%s", moved)
    return moved
