"""The daily prune: what RINGBOT_RETENTION_DAYS no longer covers goes, diagnostics after a week, in one log line."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.ops.retention import DAY, cutoff_for, prune_daily, purge
from storage import Store
from storage.retention import TABLES, auto_vacuum

NOW = 1_800_000_000.0


def _calls(store: Store, *ages_in_days: float) -> None:
    with store.transaction():
        for n, age in enumerate(ages_in_days):
            at = NOW - age * DAY
            store.insert_call({"call_id": f"c{n}", "direction": "inbound", "outcome": "missed", "started_at": at})
            store.save_legs([{"leg_id": f"l{n}", "call_id": f"c{n}", "created_at": at}])


def test_the_cutoff_is_the_retention_for_calls_and_a_week_for_diagnostics() -> None:
    cut = cutoff_for(NOW, 400)
    assert (cut.before, cut.short) == (NOW - 400 * DAY, NOW - 7 * DAY)


async def test_the_daily_prune_deletes_past_the_retention_and_says_so_in_one_line(tmp_path: Path, caplog) -> None:
    store = Store.open(tmp_path / "ringbot.db")
    try:
        _calls(store, 1, 30, 399, 401, 700)
        with caplog.at_level(logging.INFO, logger="bot.ops.retention"):
            removed = await prune_daily(store, now=NOW, retention_days=400)
        assert removed == {**dict.fromkeys(TABLES, 0), "calls": 2, "legs": 4}
        assert [r["call_id"] for r in store.calls(limit=10)] == ["c0", "c1", "c2"]
        [line] = [r.getMessage() for r in caplog.records]
        assert line.startswith("database pruned older_than_days=400 calls=2 alerts=0 ")
        assert line.endswith("legs=4 vacuum=incremental")
        assert await prune_daily(store, now=NOW, retention_days=400) == dict.fromkeys(TABLES, 0)
    finally:
        store.close()


def test_purge_counts_what_it_removed_and_the_file_it_left(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ringbot.db")
    try:
        _calls(store, *(n % 100 for n in range(500)))
        done = purge(store, NOW - 50 * DAY, may_vacuum=False)
        assert done.removed["calls"] == done.removed["legs"] == 245  # ages 51..99, five of each
        assert auto_vacuum(store) == "incremental" and not done.switched and done.switch_refused is None
        assert done.bytes_after < done.bytes_before
    finally:
        store.close()


def test_purge_leaves_an_old_file_as_it_is_while_ringbot_run_uses_it_and_says_why(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    sqlite3.connect(path).execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)").connection.close()
    store = Store.open(path)
    try:
        _calls(store, 1, 100)
        done = purge(store, NOW - 50 * DAY, may_vacuum=False)
        assert done.removed["calls"] == 1 and auto_vacuum(store) == "none"
        assert not done.switched and done.switch_refused == "ringbot run is using this database"
    finally:
        store.close()
