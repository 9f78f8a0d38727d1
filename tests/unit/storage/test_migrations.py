"""An older ringbot's pickled `jobs` table (storage/migrations.py): read once at open without running any of it,
the jobs of the shape ringbot wrote moved into scheduled_jobs, everything else one log line."""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from storage import Store
from storage.jobs import JobTable
from tests.support.clock import FakeClock


def old_state(job_id: str, args: tuple[Any, ...], trigger: Any, *, func: str = "bot.ops.scheduled:run") -> bytes:
    """A job's state as APScheduler 3's Job.__getstate__ gave it and the old job store pickled it."""
    state = {
        "version": 1,
        "id": job_id,
        "func": func,
        "trigger": trigger,
        "executor": "default",
        "args": args,
        "kwargs": {},
        "name": "run",
        "misfire_grace_time": None,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": datetime(2026, 12, 8, 1, 0, tzinfo=UTC),
    }
    return pickle.dumps(state, pickle.HIGHEST_PROTOCOL)


def old_database(path: Path, rows: list[tuple[str, object, bytes]]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, next_run_time REAL, job_state BLOB NOT NULL)")
    conn.executemany("INSERT INTO jobs VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()


def test_the_old_pickled_jobs_are_moved_once_and_the_old_table_dropped(tmp_path: Path, caplog) -> None:
    run_at = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
    old_database(
        tmp_path / "ringbot.db",
        [
            ("escalate:42:1", 1_800_000_030.0, old_state(
                "escalate:42:1", ("escalate", 1_800_000_000.0, {"alert_id": 42, "step": 1}, "escalate:42:1"),
                DateTrigger(run_at))),  # a refused one tried again: runs later, lateness from its due time
            ("digest:C1:1800000100", 1_800_000_100.0, old_state(
                "digest:C1:1800000100", ("overnight_digest", 1_800_000_100.0, {"channel": "C1", "min_ring": 4}),
                DateTrigger(run_at))),  # the first version's shape: no key in the arguments
            ("digest:daily", 1_800_003_600.0, old_state(
                "digest:daily", ("digest", 0.0, {}), CronTrigger(hour=8, minute=0, timezone="Asia/Ho_Chi_Minh"))),
        ],
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="storage.migrations"):
        store = Store.open(tmp_path / "ringbot.db", clock=FakeClock())
    try:
        table = JobTable(store)
        rows = {r["key"]: (r["kind"], r["due_at"], r["args"], r["daily"]) for r in table.due(2e9)}
        assert rows == {
            "escalate:42:1": ("escalate", 1_800_000_000.0, '{"alert_id": 42, "step": 1}', None),
            "digest:C1:1800000100": ("overnight_digest", 1_800_000_100.0, '{"channel": "C1", "min_ring": 4}', None),
            "digest:daily": ("digest", 1_800_003_600.0, "{}", None),  # bot/app.py gives it its daily time again
        }
        assert not store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").fetchone()
        assert [r.getMessage() for r in caplog.records] == ["old scheduled jobs moved to scheduled_jobs count=3"]
    finally:
        store.close()
    caplog.clear()
    store = Store.open(tmp_path / "ringbot.db")  # once: the next open has nothing to read
    store.close()
    assert caplog.records == []


class RunsACommand:
    """A pickle that runs a shell command when it is loaded by pickle.loads."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (self.command,))


class RunsPython:
    """A pickle that runs Python code when it is loaded by pickle.loads."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, (self.code,))


def crafted(kind: str, target: Path) -> bytes:
    if kind == "shell":
        return pickle.dumps(RunsACommand(f"touch {target}"))
    if kind == "python":
        return pickle.dumps(RunsPython(f"open({str(target)!r}, 'w').close()"), protocol=0)
    # hidden inside a job of the right shape, where its due time should be
    return old_state("escalate:1:1", ("escalate", RunsACommand(f"touch {target}"), {"alert_id": 1}, "x"), None)


@pytest.mark.parametrize("kind", ["shell", "python", "inside a job"])
def test_a_crafted_pickle_in_the_old_table_runs_nothing_and_is_one_log_line(tmp_path: Path, caplog, kind) -> None:
    target = tmp_path / f"pwned-{kind.replace(' ', '-')}"
    if kind == "shell":  # the proof that the pickle would run its command if it were loaded as pickles load
        pickle.loads(crafted(kind, tmp_path / "proof"))  # noqa: S301 - the attack, on purpose
        assert (tmp_path / "proof").exists()
    good = old_state("escalate:7:1", ("escalate", 1_800_000_000.0, {"alert_id": 7}, "escalate:7:1"), None)
    old_database(tmp_path / "ringbot.db", [("evil", 1.0, crafted(kind, target)), ("escalate:7:1", 1.0, good)])
    with caplog.at_level(logging.WARNING, logger="storage.migrations"):
        store = Store.open(tmp_path / "ringbot.db")
    try:
        assert not target.exists()
        [line] = caplog.records
        assert line.getMessage().startswith("old scheduled job dropped id='evil' why=")
        assert JobTable(store).keys() == ["escalate:7:1"]  # the others are kept
        assert not store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'jobs'").fetchone()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("state", "why"),
    [
        (b"not a pickle", "unreadable state"),
        (pickle.dumps(["a", "list"]), "not a job ringbot wrote"),
        (old_state("x", ("escalate", 1.0, {}), None, func="os:system"), "not a job ringbot wrote"),
        (old_state("x", ("escalate", 1.0), None), "its arguments are not"),
        (old_state("x", ("escalate", "tomorrow", {}, "x"), None), "its arguments are not"),
        (old_state("x", ("escalate", 1.0, ["alert"], "x"), None), "its arguments are not"),
        (old_state("x", ("escalate", 1.0, {"at": datetime.now(UTC)}, "x"), None), "its arguments are not plain data"),
        (old_state("x", ("digest", 0.0, {}), None), "a daily job without a next run time"),
    ],
)
def test_an_old_job_of_another_shape_is_dropped_with_one_line(tmp_path: Path, caplog, state: bytes, why: str) -> None:
    old_database(tmp_path / "ringbot.db", [("x", "soon", state)])
    with caplog.at_level(logging.INFO, logger="storage.migrations"):
        store = Store.open(tmp_path / "ringbot.db")
    try:
        [line] = caplog.records
        assert f"id='x' why={why}" in line.getMessage()
        assert JobTable(store).keys() == []
    finally:
        store.close()
