"""The outbox against the fake Slack over real HTTP (slack_sdk AsyncWebClient): pacing, 429, 5xx, crash recovery,
coalescing, burst folding, dead letters."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.outbox.worker import Outbox
from bot.alerts.service import AlertService
from bot.calls.tracker import CallDecision, Outcome
from bot.devtools.fakeslack import FakeSlack
from storage import Store

os.environ.setdefault("SKIP_SLACK_SDK_WARNING", "1")
T0 = datetime.now(UTC) - timedelta(minutes=5)


def decision(n: int, *, number: str | None = None, at: datetime | None = None, **kw) -> CallDecision:
    base = dict(
        call_id=f"call-{n}",
        outcome=Outcome.MISSED,
        customer_number=number or f"09876{n:05d}",
        dialled="02873019555",
        queue_id=None,
        started_at=at or T0 + timedelta(seconds=n),
        ended_at=(at or T0) + timedelta(seconds=n + 20),
        ring_seconds=20,
        talk_seconds=0,
        hangup_cause="ORIGINATOR_CANCEL",
        agents_rung=("an",),
    )
    base.update(kw)
    return CallDecision(**base)


class Rig:
    """Store + AlertService + Outbox wired like the app, against one FakeSlack."""

    def __init__(self, tmp_path, fake: FakeSlack, **outbox_kw) -> None:
        self.fake = fake
        self.store = Store.open(tmp_path / "ringbot.db")
        self.client = AsyncWebClient(token="xoxb-test", base_url=fake.url, retry_handlers=[], timeout=5)
        self.alerts = AlertService(self.store, default_channel="C0CALLS", wake=self.wake)
        self.outbox: Outbox | None = None
        self.task: asyncio.Task | None = None
        self.make_outbox(**outbox_kw)

    def make_outbox(self, **kw) -> Outbox:
        kw.setdefault("backoff_base", 0.05)
        self.outbox = Outbox(self.store, self.client, render=self.alerts.renderer(), **kw)
        return self.outbox

    def wake(self) -> None:
        if self.outbox:
            self.outbox.wake()

    def start(self) -> None:
        assert self.outbox is not None
        self.task = asyncio.create_task(self.outbox.run())

    async def close(self) -> None:
        if self.outbox and self.task:
            await self.outbox.stop(2.0)
        self.store.close()

    def top_level_posts(self, channel: str = "C0CALLS"):
        return [c for c in self.fake.posts(channel) if not c.body.get("thread_ts")]


@pytest.fixture
async def fake():
    f = FakeSlack()
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
async def rig(tmp_path, fake, request):
    kw = getattr(request, "param", {}) or {}
    r = Rig(tmp_path, fake, **kw)
    yield r
    await r.close()


def post_for(fake: FakeSlack, alert_id: int):
    return [
        c
        for c in fake.posts()
        if (c.body.get("metadata") or {}).get("event_payload", {}).get("alert_id") == alert_id
        and c.body.get("text", "").startswith("Missed")
    ]


async def test_alert_is_posted_once_with_blocks_metadata_and_its_ts_stored(rig, fake):
    rig.start()
    assert rig.alerts.handle_decision(decision(1)) == "new"
    assert await fake.wait_for(lambda: len(fake.posts()) == 1)
    alert = rig.store.alert_for_call("call-1")
    call = fake.posts()[0]
    assert call.body["channel"] == "C0CALLS" and call.body["text"].startswith("Missed call from 0987 600 001")
    assert call.body["metadata"] == {
        "event_type": "ringbot_alert",
        "event_payload": {"alert_id": alert["id"], "outbox_id": 1, "kind": "post"},
    }
    assert any(b["type"] == "actions" for b in call.body["blocks"])
    assert await fake.wait_for(lambda: rig.store.get_alert(alert["id"])["ts"] is not None)
    assert rig.store.get_outbox(1)["status"] == "sent"
    assert (alert["channel"], rig.store.get_alert(alert["id"])["ts"]) in fake.messages


@pytest.mark.parametrize("rig", [{"rate_per_second": 1.0, "burst": 3, "fold_threshold": 100}], indirect=True)
async def test_posts_are_paced_to_one_per_second_per_channel_after_a_small_burst(rig, fake):
    for n in range(5):
        rig.alerts.handle_decision(decision(n))
    rig.alerts.handle_decision(decision(99, number="0911000000"))
    rig.store.update_alert(rig.store.alert_for_call("call-99")["id"], channel="C0OTHER")
    rig.store.conn.execute("UPDATE outbox SET channel = 'C0OTHER' WHERE alert_id = 6")
    rig.store.conn.commit()
    rig.start()
    assert await fake.wait_for(lambda: len(fake.posts("C0CALLS")) == 5, timeout=8)
    times = sorted(c.at for c in fake.posts("C0CALLS"))
    assert fake.max_posts_per_window("C0CALLS", 0.95) <= 3  # the burst, never more
    assert times[4] - times[0] >= 1.8  # then one a second: 3 at once, the 4th ~1 s, the 5th ~2 s later
    other = fake.posts("C0OTHER")
    assert len(other) == 1 and other[0].at < times[4]  # another channel is not held behind this one


async def test_429_with_retry_after_is_honoured_and_the_post_delivered_once(rig, fake):
    fake.fail("chat.postMessage", status=429, retry_after=2)
    rig.start()
    rig.alerts.handle_decision(decision(1))
    assert await fake.wait_for(lambda: len(fake.posts()) == 1, timeout=6)
    attempts = fake.calls_to("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.9
    assert rig.outbox.stats.rate_limited == 1
    assert rig.store.get_outbox(1)["attempts"] == 1  # the 429 did not count as a failed attempt


async def test_two_500s_are_retried_with_backoff_and_the_post_delivered_once(rig, fake):
    fake.fail("chat.postMessage", status=500, count=2)
    rig.start()
    rig.alerts.handle_decision(decision(1))
    assert await fake.wait_for(lambda: len(fake.posts()) == 1, timeout=5)
    await asyncio.sleep(0.2)  # nothing further may arrive (bounded settle, then a count)
    assert len(fake.posts()) == 1
    assert [c.status for c in fake.calls_to("chat.postMessage", ok_only=False)] == [500, 500, 200]
    assert rig.outbox.stats.retried == 2 and rig.outbox.stats.posted == 1
    # after an ambiguous failure, Slack's history is checked before posting again
    assert len(fake.calls_to("conversations.history")) == 2


async def test_crash_after_slack_accepted_is_recovered_from_metadata_without_a_repost(rig, fake):
    rig.alerts.handle_decision(decision(1))
    row = rig.store.get_outbox(1)
    rig.store.mark_outbox(1, "inflight")
    # the previous process got this far: Slack accepted the post, then the process died before `sent`.
    resp = await rig.client.chat_postMessage(
        channel="C0CALLS", text="Missed call (before the crash)", metadata=rig.outbox._metadata(row)
    )
    assert rig.store.get_outbox(1)["status"] == "inflight"
    fresh = rig.make_outbox()
    await fresh.recover()
    assert rig.store.get_outbox(1)["status"] == "sent"
    assert rig.store.get_alert(1)["ts"] == resp["ts"]
    assert fresh.stats.recovered == 1
    rig.start()
    rig.alerts.claim(1, "U0AN")  # later changes edit the recovered message
    assert await fake.wait_for(lambda: len(fake.calls_to("chat.update")) == 1)
    assert len(fake.posts()) == 1


async def test_row_left_inflight_that_slack_never_got_is_posted_exactly_once(rig, fake):
    rig.alerts.handle_decision(decision(1))
    rig.store.mark_outbox(1, "inflight")
    await rig.outbox.recover()
    assert rig.store.get_outbox(1)["status"] == "pending"
    rig.start()
    assert await fake.wait_for(lambda: len(fake.posts()) == 1)
    await asyncio.sleep(0.2)
    assert len(fake.posts()) == 1 and rig.store.get_outbox(1)["status"] == "sent"


async def test_unreadable_history_on_recovery_reposts_and_warns(rig, fake, caplog):
    rig.alerts.handle_decision(decision(1))
    rig.store.mark_outbox(1, "inflight")
    fake.fail("conversations.history", status=200, error="missing_scope")
    with caplog.at_level(logging.WARNING, logger="bot.alerts.outbox.worker"):
        await rig.outbox.recover()
    assert "cannot verify" in caplog.text and "missing_scope" in caplog.text
    rig.start()
    assert await fake.wait_for(lambda: len(fake.posts()) == 1)


async def test_pending_updates_coalesce_into_one_chat_update_showing_the_latest_state(rig, fake):
    rig.alerts.handle_decision(decision(1))
    rig.alerts.claim(1, "U0AN")
    rig.alerts.mark_handled(1, "U0AN")
    rig.alerts.undo_handled(1, "U0AN", is_admin=False)
    rig.alerts.mark_handled(1, "U0BINH")
    assert len(rig.store.pending_outbox(kind="update")) == 4
    rig.start()
    assert await fake.wait_for(lambda: len(fake.calls_to("chat.update")) == 1)
    assert await fake.wait_for(lambda: rig.store.outbox_depth() == 0)
    await asyncio.sleep(0.2)
    assert len(fake.calls_to("chat.update")) == 1 and rig.outbox.stats.coalesced == 3
    msg = fake.messages[("C0CALLS", rig.store.get_alert(1)["ts"])]
    assert any("Handled by <@U0BINH>" in (b.get("text") or {}).get("text", "") for b in msg.blocks)


async def test_repeat_call_edits_the_alert_and_replies_in_its_thread(rig, fake):
    rig.start()
    rig.alerts.handle_decision(decision(1, number="0987654321"))
    rig.alerts.handle_decision(decision(2, number="0987 654 321", at=T0 + timedelta(minutes=4)))
    assert await fake.wait_for(lambda: len(fake.posts()) == 2 and len(fake.calls_to("chat.update")) == 1)
    alert = rig.store.get_alert(1)
    reply = fake.posts()[1]
    assert reply.body["thread_ts"] == alert["ts"] and reply.body["text"].startswith("Called again at")
    msg = fake.messages[("C0CALLS", alert["ts"])]
    assert "Called again ×1" in str(msg.blocks)


@pytest.mark.parametrize("rig", [{"rate_per_second": 50.0, "burst": 1, "fold_threshold": 3}], indirect=True)
async def test_a_burst_folds_into_one_summary_with_the_alerts_in_its_thread(rig, fake):
    for n in range(6):
        rig.alerts.handle_decision(decision(n))
    rig.start()
    assert await fake.wait_for(lambda: len(fake.posts()) == 7 and rig.store.outbox_depth() == 0, timeout=5)
    top = rig.top_level_posts()
    assert len(top) == 1 and "missed calls" in top[0].body["text"]
    summary_ts = top[0].body and [m.ts for m in fake.messages.values() if m.thread_ts is None][0]
    alerts = [rig.store.get_alert(i) for i in range(1, 7)]
    assert all(a["thread_ts"] == summary_ts and a["ts"] for a in alerts)
    # the summary's count is brought up to date (paced, as a chat.update)
    assert await fake.wait_for(lambda: "*6 missed calls*" in str(fake.messages[("C0CALLS", summary_ts)].blocks))
    assert fake.max_posts_per_window("C0CALLS", 0.015) <= 1


async def test_channel_not_found_is_a_dead_letter_with_the_fix_logged(rig, fake, caplog):
    fake.fail("chat.postMessage", status=200, error="channel_not_found")
    with caplog.at_level(logging.ERROR, logger="bot.alerts.outbox.worker"):
        rig.start()
        rig.alerts.handle_decision(decision(1))
        assert await fake.wait_for(lambda: rig.store.get_outbox(1)["status"] == "dead")
        rig.alerts.claim(1, "U0AN")  # an update for a never-posted alert does not wait forever
        assert await fake.wait_for(lambda: rig.store.outbox_depth() == 0)
    assert "channel=C0CALLS" in caplog.text and "invite @ringbot" in caplog.text
    assert rig.outbox.stats.failed == 2 and rig.outbox.stats.posted == 0 and fake.messages == {}
    assert "channel_not_found" in rig.store.get_outbox(1)["error"]


async def test_stop_finishes_the_inflight_post_and_leaves_the_rest_pending(tmp_path, fake):
    rig = Rig(tmp_path, fake, rate_per_second=0.5, burst=1, fold_threshold=100)
    try:
        for n in range(3):
            rig.alerts.handle_decision(decision(n))
        rig.start()
        assert await fake.wait_for(lambda: len(fake.posts()) == 1)
        started = time.monotonic()
        await rig.outbox.stop(2.0)
        assert time.monotonic() - started < 1.0 and rig.task.done()
        assert [r["status"] for r in (rig.store.get_outbox(i) for i in (1, 2, 3))] == ["sent", "pending", "pending"]
    finally:
        rig.store.close()


async def test_drain_sends_everything_pending_and_counts_it(rig, fake):
    rig.alerts.handle_decision(decision(1))
    rig.alerts.handle_decision(decision(2))
    assert await rig.outbox.drain(timeout=5) == 2
    assert rig.store.outbox_depth() == 0 and len(fake.posts()) == 2


@pytest.mark.parametrize("rig", [{"update_rate_per_channel": 10.0, "updates_per_minute": 6000}], indirect=True)
async def test_updates_in_one_channel_are_paced_too(rig, fake):
    for n in range(3):
        rig.alerts.handle_decision(decision(n))
    assert await rig.outbox.drain(timeout=5) == 3
    for n in range(3):
        rig.alerts.claim(n + 1, "U0AN")
    rig.start()
    assert await fake.wait_for(lambda: len(fake.calls_to("chat.update")) == 3)
    times = [c.at for c in fake.calls_to("chat.update")]
    assert all(b - a >= 0.08 for a, b in zip(times, times[1:]))


async def test_the_outbox_owns_retries_even_when_given_a_client_with_sdk_retry_handlers(tmp_path, fake):
    from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

    rig = Rig(tmp_path, fake)
    rig.client = AsyncWebClient(
        token="xoxb-test", base_url=fake.url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
    )
    rig.make_outbox()
    try:
        assert rig.outbox.client.retry_handlers == []
        fake.fail("chat.postMessage", status=429, retry_after=1)
        rig.alerts.handle_decision(decision(1))
        assert await rig.outbox.drain(timeout=5) == 1
        assert rig.outbox.stats.rate_limited == 1  # seen and paced by the outbox, not slept inside the SDK
    finally:
        rig.store.close()


async def test_a_long_slack_outage_never_dead_letters_an_alert(rig, fake):
    """More failures than max_attempts: the post keeps being retried (at the cap) and arrives once."""
    fake.fail("chat.postMessage", status=503, count=6)
    rig.make_outbox(max_attempts=3, backoff_base=0.01, backoff_cap=0.05)
    rig.start()
    rig.alerts.handle_decision(decision(1))
    assert await fake.wait_for(lambda: len(fake.posts()) == 1, timeout=10)
    await asyncio.sleep(0.2)
    assert len(fake.posts()) == 1
    assert rig.store.outbox_counts().get("dead", 0) == 0
    assert [c.status for c in fake.calls_to("chat.postMessage", ok_only=False)] == [503] * 6 + [200]


async def test_a_burst_summary_counts_every_queued_call_at_once_and_is_not_edited_for_nothing(tmp_path, fake):
    """The summary says how many calls the burst holds from its first post, and edits happen only when the
    count or times change, at most every few seconds (edits share Slack's Tier-3 budget)."""
    rig = Rig(tmp_path, fake, rate_per_second=50, burst=50, summary_refresh_seconds=0.2)
    try:
        for n in range(12):
            rig.alerts.handle_decision(decision(n))
        rig.start()
        assert await fake.wait_for(lambda: len(fake.posts()) == 13 and rig.store.outbox_depth() == 0, timeout=5)
        summary = rig.top_level_posts()[0]
        assert "*12 missed calls*" in str(summary.body["blocks"])  # not just the first fold_threshold of them
        await asyncio.sleep(0.6)  # refresh window passes: nothing changed, so nothing is edited
        assert fake.calls_to("chat.update") == []
    finally:
        await rig.close()
