"""A person's change while the database refuses writes, through signed `/ring` requests: another program holds
the write lock, or the disk is full (here the bot's connection is given no room for one more page, which makes
SQLite answer "database or disk is full"). `/ring route … escalate 4`, `/ring route … #channel` and `/ring lang vi`
are each answered plainly (saved, applies as soon as the database can be written; or not saved, try again), every
change the person was told was saved is in the database once it takes writes again, and the log has no ERROR and
no traceback."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

import storage.store
from bot.devtools.simulator.directory import QUEUES
from storage import OwnershipStore
from tests.wire.test_commands import ask

CSKH = QUEUES[0].queue_id
SAVED_LATER = "as soon as the database can be written"
NO_LIMIT = 1_073_741_823  # SQLite's default max_page_count


@pytest.fixture
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO)
    yield caplog
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.levelname} {r.name}: {r.getMessage()}" for r in bad]
    assert "Traceback" not in caplog.text


def fill_the_disk(conn: sqlite3.Connection) -> None:
    """No room for one more page, and none left in the audit table's last page, so every change (each writes an
    audit row) fails with "database or disk is full", as on a full filesystem."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    for size in (2000, 500, 100, 20, 1):
        while True:
            try:
                with conn:
                    conn.execute("INSERT INTO audit(at, action, result, detail) VALUES (0, 'filler', 'ok', ?)",
                                 ("x" * size,))  # fmt: skip
            except sqlite3.OperationalError as exc:
                assert "full" in str(exc)
                break


def settings_of(store: Any, key: str) -> dict[str, Any] | None:
    return OwnershipStore(store).route_settings(key)


async def test_while_another_program_holds_the_lock_changes_are_saved_later_and_then_written(
    bot_http: Any, log_lines: Any
) -> None:
    store = bot_http.deps.store
    holder = sqlite3.connect(bot_http.deps.settings.db_path, timeout=0, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a backup tool, an `sqlite3` shell
    try:
        body = await ask(bot_http, "route CSKH escalate 4", user="UADMIN")
        assert body["text"].startswith(f"Saved for queue CSKH; it applies {SAVED_LATER}.")
        assert "escalate after: 4 min" in body["text"]
        body = await ask(bot_http, "route CSKH <#C0CSKH01|cskh>", user="UADMIN")
        assert body["text"] == f"Saved: alerts for queue CSKH go to <#C0CSKH01> {SAVED_LATER}."
        body = await ask(bot_http, "lang vi", user="U0AGENT")
        assert body["text"].startswith("Từ giờ")  # the answer is in the language just chosen
        assert "ngay khi ghi được vào cơ sở dữ liệu" in body["text"]
        help_text = (await ask(bot_http, "help", user="U0AGENT"))["blocks"][0]["text"]["text"]
        assert "tổng đài của bạn ngay trong Slack" in help_text  # the held choice is already their language
        assert settings_of(store, f"queue:{CSKH}") is None and store.get_meta("lang:U0AGENT") is None
    finally:
        holder.rollback()
        holder.close()
    assert store.flush_held()  # what the runtime does every second
    assert settings_of(store, f"queue:{CSKH}")["escalate_after"] == 4  # type: ignore[index]
    assert store.route_for(queue_id=CSKH, did_key=None) == "C0CSKH01"
    assert store.get_meta("lang:U0AGENT") == "vi"
    assert sorted((a["action"], a["result"]) for a in store.audit()) == [
        ("lang", "ok"),
        ("route", "ok"),
        ("route_settings", "ok"),
    ]


async def test_on_a_full_disk_changes_are_saved_later_until_too_many_wait_then_not_saved(
    bot_http: Any, log_lines: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = bot_http.deps.store
    monkeypatch.setattr(storage.store, "MAX_HELD_CHANGES", 2)
    fill_the_disk(store.conn)
    try:
        body = await ask(bot_http, "route CSKH escalate 4", user="UADMIN")
        assert body["text"].startswith(f"Saved for queue CSKH; it applies {SAVED_LATER}.")
        body = await ask(bot_http, "lang vi", user="U0AGENT")
        assert "ngay khi ghi được vào cơ sở dữ liệu" in body["text"]
        body = await ask(bot_http, "route CSKH min-ring 5", user="UADMIN")  # a third: too many wait
        assert body["text"] == "Not saved: the database cannot be written (the disk is full). Try again in a minute."
        bot_http.slack.locales["U0BINH"] = "vi-VN"  # told in their own language
        body = await ask(bot_http, "lang en", user="U0BINH")
        assert body["text"] == "Chưa lưu: không ghi được vào cơ sở dữ liệu (ổ đĩa đã đầy). Bạn thử lại sau một phút."
        assert store.health.state == "full"
    finally:
        store.conn.execute(f"PRAGMA max_page_count = {NO_LIMIT}")  # space again
    assert store.flush_held()  # what the runtime does every second
    settings = settings_of(store, f"queue:{CSKH}")
    assert settings is not None and settings["escalate_after"] == 4
    assert settings["min_ring_seconds"] == 0  # told "not saved": not written
    assert store.get_meta("lang:U0AGENT") == "vi" and store.get_meta("lang:U0BINH") is None
    body = await ask(bot_http, "route CSKH settings", user="UADMIN")
    assert "escalate after: 4 min" in body["text"]
