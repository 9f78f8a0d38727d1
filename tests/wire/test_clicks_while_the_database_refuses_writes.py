"""While the database refuses writes — another program holds its lock, or SQLite refuses every write as on a
full disk or a read-only file — clicking Mark handled and submitting the link dialog are each answered plainly
("saved; it applies as soon as the database can be written"), both are in the database once it takes writes
again, and the log has no traceback and no ERROR. With too many changes already waiting, the answer is "not
saved: try again in a minute", and nothing half-done is left behind."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.slack.ids import ACTION_HANDLED, ACTION_TAKE, VIEW_LINK
from bot.slack.render.link import LinkForm
from bot.slack.text import say
from storage import Store
from tests.wire.conftest import bot_with_outbox
from tests.wire.link_support import DEADLINE, dms, link_values, wait_reply

AN = "U0AN"
SAVED_LATER = say("database.saved_later")
NOT_SAVED = say("database.not_saved", why=say("database.why.readonly"))  # the bot's connection refusing writes


@contextlib.contextmanager
def refusing_writes(store: Store, how: str) -> Iterator[None]:
    """`locked`: a second connection holds the write lock (a backup tool, an sqlite3 shell). `refusing`: the bot's
    own connection refuses every write, as SQLite does on a full disk or a read-only file (the one way to make it
    refuse at will without root; the store tells these apart by SQLite's words, tests/unit/storage)."""
    if how == "locked":
        path = store.conn.execute("PRAGMA database_list").fetchone()[2]
        holder = sqlite3.connect(path, timeout=0, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
    else:
        store.conn.execute("PRAGMA query_only = ON")
        try:
            yield
        finally:
            store.conn.execute("PRAGMA query_only = OFF")


async def make_alert(ring: Any, n: int = 1) -> int:
    """An alert whose message is in the fake Slack's channel (so its edit has something to edit)."""
    posted = await ring.deps.slack.chat_postMessage(channel="C0ALERTS", text="a missed call")
    return ring.deps.store.create_alert(
        {
            "call_id": f"call-db-{n}",
            "customer_number": f"098765432{n}",
            "customer_key": f"098765432{n}",
            "outcome": "missed",
            "channel": "C0ALERTS",
            "ts": posted["ts"],
        }
    )


def troubles(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("how", ["locked", "refusing"])
async def test_a_click_and_a_link_are_answered_plainly_and_written_once_the_database_takes_writes(
    tmp_path: Path, fake_slack: Any, simulator: Any, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    caplog.set_level(logging.INFO)
    async with bot_with_outbox(tmp_path, fake_slack, simulator) as ring:
        store = ring.deps.store
        alert_id = await make_alert(ring)
        taken_id = await make_alert(ring, 2)
        with refusing_writes(store, how):
            await ring.action(ACTION_HANDLED, str(alert_id), user=AN)
            assert await wait_reply(ring, 1) == SAVED_LATER
            await ring.action(ACTION_TAKE, str(taken_id), user=AN)  # I'll take it
            assert await wait_reply(ring, 2) == SAVED_LATER
            resp = await ring.view(VIEW_LINK, link_values("user_an101", "pw-101"), user=AN,
                                   private_metadata=LinkForm(AN).dump())  # fmt: skip
            answer = resp.json()
            assert answer["response_action"] == "update" and SAVED_LATER in str(answer["view"])
            assert store.get_alert(alert_id)["status"] == "open" and store.get_link(AN) is None
            assert ring.deps.alerts.owners.get(taken_id)["owner"] is None
            assert store.held_changes() >= 3
        assert store.flush_held()  # what the runtime does every second
        alert = store.get_alert(alert_id)
        assert (alert["status"], alert["handled_by"]) == ("handled", AN)
        assert ring.deps.alerts.owners.get(taken_id)["owner"] == AN
        assert store.get_link(AN)["sip_user"] == "user_an101"
        assert {r["action"] for r in store.audit(slack_user=AN)} >= {"handled", "own", "link"}
        ring.deps.alerts.wake()
        await ring.slack.wait_for(lambda: dms(ring, AN), DEADLINE)  # the link's confirmation, after all
        await ring.slack.wait_for(lambda: ring.slack.calls_to("chat.update"), DEADLINE)  # "Handled by @an"
        assert "user_an101" in dms(ring, AN)[0].body["text"]
    assert troubles(caplog) == []


async def test_with_too_many_changes_waiting_the_answer_is_not_saved_and_nothing_is_half_done(
    tmp_path: Path, fake_slack: Any, simulator: Any, caplog: pytest.LogCaptureFixture, monkeypatch: Any
) -> None:
    monkeypatch.setattr("storage.store.MAX_HELD_CHANGES", 1)
    async with bot_with_outbox(tmp_path, fake_slack, simulator) as ring:
        store = ring.deps.store
        alert_id = await make_alert(ring)
        with refusing_writes(store, "refusing"):
            await ring.action(ACTION_HANDLED, str(alert_id), user=AN)
            assert await wait_reply(ring, 1) == SAVED_LATER
            resp = await ring.view(VIEW_LINK, link_values("user_an101", "pw-101"), user=AN,
                                   private_metadata=LinkForm(AN).dump())  # fmt: skip
            assert resp.json() == {"response_action": "errors", "errors": {"sip_user": NOT_SAVED}}
            await ring.command("unlink", user=AN)
            assert await wait_reply(ring, 2) == say("unlink.none", whose="")  # nothing linked: nothing to hold
        assert store.flush_held()
        assert store.get_alert(alert_id)["status"] == "handled" and store.get_link(AN) is None
        assert [r["action"] for r in store.audit(slack_user=AN)] == ["handled"]
    assert troubles(caplog) == []
