"""The scheduled_jobs table (storage/jobs.py): jobs as plain data by key, removed or moved only while they are
the job that ran."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage import Store
from storage.jobs import JobTable
from tests.support.rows import set_aside_jobs


def test_a_job_is_stored_by_key_and_the_same_key_replaces_it(store: Store) -> None:
    table = JobTable(store)
    table.at("escalate", 100.0, key="escalate:1:1", alert_id=1, step=1)
    table.at("escalate", 200.0, key="escalate:1:1", alert_id=1, step=1)
    table.at("escalate", 150.0, key="escalate:2:1", alert_id=2, step=1)
    assert table.keys("escalate:") == ["escalate:1:1", "escalate:2:1"]
    assert [r["key"] for r in table.due(160.0)] == ["escalate:2:1"]
    row = table.get("escalate:1:1")
    assert row is not None and row["due_at"] == 200.0 and row["args"] == '{"alert_id": 1, "step": 1}'
    assert table.next_due() == 150.0
    assert table.cancel("escalate:2:1") and not table.cancel("escalate:2:1")
    assert table.keys() == ["escalate:1:1"]


def test_only_plain_data_is_stored(store: Store) -> None:
    with pytest.raises(TypeError):
        JobTable(store).at("escalate", 1.0, key="k", when=datetime.now(UTC))
    with pytest.raises(ValueError):
        JobTable(store).at("escalate", 1.0, key="k", ratio=float("nan"))
    assert JobTable(store).keys() == []


def test_a_job_is_removed_or_moved_only_while_it_is_the_one_that_ran(store: Store) -> None:
    table = JobTable(store)
    table.at("escalate", 100.0, key="a", alert_id=1)
    table.at("escalate", 300.0, key="a", alert_id=1)  # scheduled again while the one due at 100 ran
    assert not table.finished("a", 100.0) and table.keys() == ["a"]
    assert table.finished("a", 300.0) and table.keys() == []
    table.daily("digest", 100.0, key="d", every="08:00 UTC")
    assert not table.moved("d", 500.0, was=99.0)
    assert table.moved("d", 500.0, was=100.0)
    row = table.get("d")
    assert row is not None and row["due_at"] == 500.0 and row["daily"] == "08:00 UTC"


def test_a_row_set_aside_is_kept_but_never_due(store: Store) -> None:
    table = JobTable(store)
    table.at("escalate", 1.0, key="a")
    table.set_aside("a", "no handler")
    assert table.due(10.0) == [] and table.keys() == [] and table.next_due() is None
    [row] = set_aside_jobs(store)
    assert (row["key"], row["set_aside"]) == ("a", "no handler")


def test_a_row_whose_due_time_is_text_is_due_at_once_so_it_can_be_set_aside(store: Store) -> None:
    store.conn.execute("INSERT INTO scheduled_jobs(key, kind, due_at) VALUES ('t', 'escalate', 'tomorrow 8am')")
    JobTable(store).at("escalate", 10_000.0, key="later")
    assert [r["key"] for r in JobTable(store).due(1.0)] == ["t"]
    assert JobTable(store).next_due() == 10_000.0
