"""Fault injection: the outbox against a fake Slack that fails the way Slack (and what stands in front of it)
does: proxy error pages that are not JSON, a 404 from a wrong URL, `invalid_auth`, `channel_not_found`, 429
storms, Slack unreachable; and a crash (the worker killed mid-call) during each, in the middle of a burst.

Each scenario runs on the outbox's fake clock (see test_outbox.py's Rig): a minute of outage takes a moment.
After Slack is well again every alert is in Slack exactly once, no log line carries a traceback, and the
worker and the restart never stop."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.devtools.fakeslack import FakeSlack
from bot.outbox import Outbox
from storage import Store
from tests.support.rows import outbox_row
from tests.support.waiting import eventually
from tests.wire.test_outbox import Rig, decision

BURST = 60  # alerts per scenario: enough to fold into a summary, small enough to stay quick
FAST = {"rate_per_second": 50.0, "burst": 50, "fold_threshold": 5}


def alert_posts(fake: FakeSlack) -> Counter[int]:
    """Alert id -> how many messages Slack holds for its post (from the message metadata)."""
    seen: Counter[int] = Counter()
    for msg in fake.messages.values():
        payload = (msg.metadata or {}).get("event_payload") or {}
        if payload.get("kind") == "post" and payload.get("alert_id"):
            seen[int(payload["alert_id"])] += 1
    return seen


def summaries(fake: FakeSlack) -> list[str]:
    return [
        m.ts for m in fake.messages.values() if ((m.metadata or {}).get("event_payload") or {}).get("kind") == "summary"
    ]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]
    assert not bad, f"a log line carries a traceback: {bad[0].getMessage()!r}"


async def run_for(rig: Rig, outbox: Outbox, seconds: float) -> asyncio.Task[None]:
    """Start `outbox` and let its clock move `seconds` on (it moves while the outbox waits)."""
    task = asyncio.create_task(outbox.run())
    until = rig.clock() + seconds
    await eventually(lambda: rig.clock() >= until or task.done(), f"{seconds} s of outbox time")
    assert not task.done(), f"the worker stopped: {task.exception() if not task.cancelled() else 'cancelled'}"
    return task


async def kill(task: asyncio.Task[None]) -> None:
    """kill -9, as near as one process gets: the worker stops wherever it is, mid-call included."""
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


FAULTS: dict[str, Callable[[FakeSlack], None]] = {
    "html_502": lambda f: f.fail_html("*", status=502, count=10**6),
    "text_500": lambda f: f.fail("*", status=500, count=10**6, body="Internal Server Error", content_type="text/plain"),
    "wrong_url_404": lambda f: f.fail(
        "*", status=404, count=10**6, body="404 page not found", content_type="text/plain"
    ),
    "invalid_auth": lambda f: f.fail("*", status=200, count=10**6, error="invalid_auth"),
    "channel_not_found": lambda f: f.fail("*", status=200, count=10**6, error="channel_not_found"),
    "429_storm": lambda f: f.fail("*", status=429, count=10**6, retry_after=1),
    "unreachable": lambda f: setattr(f, "unreachable", True),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_every_alert_is_posted_once_after_a_fault_and_a_crash_during_a_burst(tmp_path, fake, fault, caplog):
    caplog.set_level(logging.DEBUG, logger="bot")
    rig = Rig(tmp_path, fake, **FAST)
    try:
        for n in range(BURST // 2):
            rig.alerts.handle_decision(decision(n))
        first = await run_for(rig, rig.outbox, 1)  # some go out before Slack fails
        FAULTS[fault](fake)
        for n in range(BURST // 2, BURST):
            rig.alerts.handle_decision(decision(n))
        await asyncio.sleep(0)
        calls_before = len(fake.calls)
        await kill(first)
        # restart while Slack still fails: recovery must not stop the start-up
        rig.store.close()
        rig.store = Store.open(tmp_path / "ringbot.db", clock=rig.clock)
        rig.alerts.store = rig.store
        outbox = rig.make_outbox(**FAST)
        await outbox.recover()
        task = await run_for(rig, outbox, 60)  # a minute of outage
        during = len(fake.calls) - calls_before
        await kill(task)  # and a crash in the middle of it
        fake.clear_faults()
        rig.store.close()
        rig.store = Store.open(tmp_path / "ringbot.db", clock=rig.clock)
        rig.alerts.store = rig.store
        outbox = rig.make_outbox(**FAST)
        await outbox.recover()
        task = asyncio.create_task(outbox.run())
        await eventually(lambda: len(alert_posts(fake)) == BURST, "every alert in Slack", timeout=30)
        await eventually(lambda: rig.store.outbox_depth() == 0, "nothing left pending", timeout=30)
        await kill(task)
        assert max(alert_posts(fake).values()) == 1, "an alert was posted twice"
        assert rig.store.outbox_counts().get("dead", 0) == 0
        assert len(summaries(fake)) <= 2  # one per burst (before and after the fault), whatever Slack answered
        assert rig.store.conn.execute("SELECT count(*) FROM outbox WHERE kind = 'summary'").fetchone()[0] <= 2
        assert during < 200, f"{during} Slack calls in a minute of failure: the outbox hammered a failing Slack"
        no_tracebacks(caplog)
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("bot.")]
        assert len(loud) <= 12, "logged per row, not per change:\n" + "\n".join(r.getMessage() for r in loud)
    finally:
        rig.store.close()


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    return fake_slack


async def test_recovery_survives_a_slack_that_answers_html(tmp_path, fake, caplog):
    rig = Rig(tmp_path, fake)
    try:
        rig.alerts.handle_decision(decision(1))
        rig.store.mark_outbox(1, "inflight")
        fake.fail_html("conversations.history", status=502)
        await rig.outbox.recover()  # no exception: the row is looked at again later
        assert outbox_row(rig.store, 1)["status"] == "pending"
        assert await rig.outbox.drain(timeout=10) == 1
        assert len(fake.posts()) == 1
        no_tracebacks(caplog)
    finally:
        rig.store.close()


async def test_a_poisoned_row_delays_no_other_alert(tmp_path, fake, caplog):
    """An alert whose call time is year 9999 cannot be rendered with its times; it is posted plainly (or set
    aside) and the alerts behind it in the same channel go out as usual."""
    rig = Rig(tmp_path, fake, **FAST)
    try:
        poisoned = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
        rig.alerts.handle_decision(decision(0, at=poisoned))
        for n in range(1, 10):
            rig.alerts.handle_decision(decision(n))
        rig.start()
        await eventually(lambda: {a for a in alert_posts(fake)} >= set(range(2, 11)), "the other alerts")
        no_tracebacks(caplog)
    finally:
        await rig.outbox.stop(2.0)
        rig.store.close()


async def test_one_rows_long_backoff_does_not_hold_its_channel(tmp_path, fake):
    rig = Rig(tmp_path, fake, fold_threshold=100)
    try:
        rig.alerts.handle_decision(decision(1))
        rig.store.requeue_outbox(1, next_at=rig.clock() + 300, error="slack 500: internal_error")
        rig.alerts.handle_decision(decision(2))
        rig.start()
        await eventually(lambda: 2 in alert_posts(fake), "the second alert, before the first's backoff is over")
        assert rig.clock() < 1_700_000_000 + 300
    finally:
        await rig.outbox.stop(2.0)
        rig.store.close()


async def test_two_outboxes_on_one_database_post_each_row_once(tmp_path, fake):
    """Claiming a row is one compare-and-set: two workers (two processes, or two connections) never both send it."""
    rig = Rig(tmp_path, fake, fold_threshold=1000, rate_per_second=50, burst=50)
    other_store = Store.open(tmp_path / "ringbot.db", clock=rig.clock)
    try:
        for n in range(80):
            rig.alerts.handle_decision(decision(n))
        other = Outbox(
            other_store,
            rig.client,
            render=rig.alerts.renderer(),
            clock=rig.clock,
            sleep=rig.sleep,
            fold_threshold=1000,
            rate_per_second=50,
            burst=50,
        )
        rig.start()
        task = asyncio.create_task(other.run())
        await eventually(lambda: len(alert_posts(fake)) == 80, "every alert")
        await eventually(lambda: rig.store.outbox_depth() == 0, "nothing pending")
        await other.stop(2.0)
        await kill(task)
        assert max(alert_posts(fake).values()) == 1
        assert len(fake.posts()) == 80
    finally:
        await rig.outbox.stop(2.0)
        other_store.close()
        rig.store.close()
