"""The daily digest and the real `ringbot` process killed with kill -9: during a Slack outage (500s), and while Slack
holds the digest's post (the message is in the channel, the answer not yet back). Either way, after the restart
the digest is in the channel exactly once, and its chart follows it once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.devtools.fakeslack import FakeSlack
from bot.queues.chart import charts_available
from bot.queues.daily_digest import DailyDigest
from storage import Store
from tests.e2e.procs import RingbotProcess, ringbot_env
from tests.support.waiting import eventually
from tests.unit.queues.conftest import Names

pytestmark = pytest.mark.slow
TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # the process's zone (RINGBOT_TIMEZONE unset)


def queue_todays_digest(tmp_path: Path) -> str:
    """What the `digest` job does at RINGBOT_DIGEST_AT (bot/queues/daily_digest.py), done before the process starts
    so the test does not wait for a minute to turn: one row for the alert channel. The day it queued."""
    store = Store.open(tmp_path / "ringbot.db")
    try:
        digest = DailyDigest(store, Names({}), default_channel="C0ALERTS", tz=TZ, wake=lambda: None)
        assert digest.queue_day() == 1
        row = store.pending_outbox(kind="daily_digest")[0]
        return str(row["body"]["day"])
    finally:
        store.close()


def digest_posts(slack: FakeSlack, day: str, *, ok_only: bool = True) -> list:
    return [
        c
        for c in slack.calls_to("chat.postMessage", ok_only=ok_only)
        if f"Daily digest — {day}" in str(c.body.get("text"))
    ]


def digest_row_status(tmp_path: Path) -> str:
    db = sqlite3.connect(tmp_path / "ringbot.db")
    try:
        return str(db.execute("SELECT status FROM outbox WHERE kind = 'daily_digest'").fetchone()[0])
    finally:
        db.close()


async def test_a_digest_due_during_an_outage_with_a_kill_9_inside_it_is_posted_once_after_slack_recovers(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    day = queue_todays_digest(tmp_path)
    fake_slack.fail("chat.postMessage", status=500, count=10_000)  # Slack's text endpoint is down
    proc = RingbotProcess(ringbot_env(tmp_path, simulator.url, fake_slack.url, RINGBOT_DIGEST_AT="off"), tmp_path)
    proc.start()
    try:
        await proc.wait_healthy()
        assert await fake_slack.wait_for(lambda: len(digest_posts(fake_slack, day, ok_only=False)) >= 2, 20), (
            proc.logs()[-3000:]
        )
        proc.kill9()  # in the middle of the outage
        tried = len(digest_posts(fake_slack, day, ok_only=False))
        proc.start()
        await proc.wait_healthy()
        assert await fake_slack.wait_for(lambda: len(digest_posts(fake_slack, day, ok_only=False)) > tried, 30)
        assert digest_posts(fake_slack, day) == []
        fake_slack.clear_faults()  # Slack is back
        assert await fake_slack.wait_for(lambda: len(digest_posts(fake_slack, day)) >= 1, 60), proc.logs()[-3000:]
        await asyncio.sleep(1.5)  # a second post would show up now
        assert len(digest_posts(fake_slack, day)) == 1
        assert digest_row_status(tmp_path) == "sent"
        assert proc.terminate() == 0
    finally:
        proc.ensure_stopped()


async def test_a_digest_whose_post_slack_holds_when_the_process_is_killed_is_not_posted_twice(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    day = queue_todays_digest(tmp_path)
    fake_slack.hold("chat.postMessage", 8.0)  # the post lands in the channel; the answer comes too late
    proc = RingbotProcess(ringbot_env(tmp_path, simulator.url, fake_slack.url, RINGBOT_DIGEST_AT="off"), tmp_path)
    proc.start()
    try:
        await proc.wait_healthy()
        assert await fake_slack.wait_for(lambda: len(digest_posts(fake_slack, day)) == 1, 20), proc.logs()[-3000:]
        proc.kill9()  # Slack has the digest; the process never heard so
        assert digest_row_status(tmp_path) == "inflight"
        fake_slack.clear_faults()
        proc.start()
        await proc.wait_healthy()
        # recovery finds the digest by its metadata, books it sent, and its chart follows into its thread
        await eventually(lambda: digest_row_status(tmp_path) == "sent", "the digest found again", 20)
        (post,) = digest_posts(fake_slack, day)
        if charts_available():
            (ts,) = [t for (c, t) in fake_slack.messages if c == "C0ALERTS"]
            await eventually(lambda: fake_slack.calls_to("files.completeUploadExternal"), "the chart", 20)
            assert fake_slack.calls_to("files.completeUploadExternal")[0].body.get("thread_ts") == ts
        await asyncio.sleep(1.5)  # a second post, or a second chart, would show up now
        assert len(digest_posts(fake_slack, day)) == 1
        assert len(fake_slack.calls_to("files.completeUploadExternal")) == (1 if charts_available() else 0)
        assert proc.terminate() == 0
    finally:
        proc.ensure_stopped()
