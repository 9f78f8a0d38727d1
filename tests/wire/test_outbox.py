"""The outbox against the fake Slack over real HTTP (slack_sdk AsyncWebClient): pacing, 429, 5xx, crash recovery,
coalescing, burst folding, dead letters.

The outbox runs on a fake clock: its idle sleeps move the clock instead of waiting, so pacing, Retry-After and
backoff are checked in the outbox's own seconds (exactly, and without waiting for them)."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.messages import alert_messages
from bot.alerts.service import AlertService
from bot.calls.classify import CallDecision, Outcome
from bot.devtools.fakeslack import FakeSlack, SlackCall
from bot.outbox import Outbox
from bot.outbox.recovery import message_metadata
from storage import Store
from tests.support.clock import FakeClock
from tests.support.rows import outbox_row
from tests.support.waiting import eventually

os.environ.setdefault("SKIP_SLACK_SDK_WARNING", "1")
T0 = datetime.now(UTC) - timedelta(minutes=5)
EPS = 1e-6  # float rounding of clock arithmetic near 1.7e9 s
LOGGER = "bot.outbox"


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
    """Store + AlertService + Outbox wired like the app, against one FakeSlack, on a fake clock."""

    def __init__(self, tmp_path, fake: FakeSlack, *, frozen: bool = False, **outbox_kw) -> None:
        self.fake = fake
        self.clock = FakeClock()
        # frozen: the clock never moves and the outbox really sleeps (for stop(), which must cut a wait short).
        self.frozen = frozen
        self.stamped: list[tuple[SlackCall, float]] = []  # every call Slack saw, with the outbox's clock then
        fake.on_call = lambda call: self.stamped.append((call, self.clock()))
        self.store = Store.open(tmp_path / "ringbot.db")
        self.client = AsyncWebClient(token="xoxb-test", base_url=fake.url, retry_handlers=[], timeout=5)
        self.alerts = AlertService(self.store, default_channel="C0CALLS", wake=self.wake)
        self.outbox: Outbox | None = None
        self.task: asyncio.Task | None = None
        self.make_outbox(**outbox_kw)

    async def sleep(self, seconds: float) -> None:
        """The outbox's idle wait: the clock jumps ahead, and the loop gets a moment for Slack's answers."""
        self.clock.advance(seconds)
        await asyncio.sleep(0.001)

    def make_outbox(self, **kw) -> Outbox:
        kw.setdefault("clock", self.clock)
        kw.setdefault("sleep", asyncio.sleep if self.frozen else self.sleep)
        kw.setdefault("kinds", alert_messages(self.store, tz=self.alerts.tz, rules=self.alerts.rules, clock=self.clock))
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

    def times(self, method: str, channel: str | None = None, *, ok_only: bool = True) -> list[float]:
        """When (outbox clock) Slack got each `method` call, oldest first."""
        return [
            at
            for call, at in self.stamped
            if call.method == method
            and (channel is None or call.body.get("channel") == channel)
            and (call.status == 200 or not ok_only)
        ]


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:], strict=False)]


def most_in_window(times: list[float], window: float) -> int:
    """Most of `times` inside any `window` seconds."""
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


@pytest.fixture
def fake(fake_slack: FakeSlack) -> FakeSlack:
    return fake_slack


@pytest.fixture
async def rig(tmp_path, fake, request):
    kw = getattr(request, "param", {}) or {}
    r = Rig(tmp_path, fake, **kw)
    yield r
    await r.close()


async def test_alert_is_posted_once_with_blocks_metadata_and_its_ts_stored(rig, fake):
    rig.start()
    assert rig.alerts.handle_decision(decision(1)) == "new"
    await eventually(lambda: len(fake.posts()) == 1, "the alert's post")
    alert = rig.store.alert_for_call("call-1")
    call = fake.posts()[0]
    assert call.body["channel"] == "C0CALLS" and call.body["text"].startswith("Missed call from 0987 600 001")
    assert call.body["metadata"] == {
        "event_type": "ringbot_alert",
        "event_payload": {"alert_id": alert["id"], "outbox_id": 1, "kind": "post"},
    }
    assert any(b["type"] == "actions" for b in call.body["blocks"])
    await eventually(lambda: rig.store.get_alert(alert["id"])["ts"] is not None, "the alert's ts stored")
    assert outbox_row(rig.store, 1)["status"] == "sent"
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
    await eventually(lambda: len(fake.posts("C0CALLS")) == 5 and len(fake.posts("C0OTHER")) == 1, "all six posts")
    times = rig.times("chat.postMessage", "C0CALLS")
    assert most_in_window(times, 0.95) == 3  # the burst, never more
    assert all(gap >= 1.0 - EPS for gap in gaps(times[2:]))  # then one a second
    (other,) = rig.times("chat.postMessage", "C0OTHER")
    assert other < times[3]  # another channel is not held behind this one


async def test_429_with_retry_after_is_honoured_and_the_post_delivered_once(rig, fake):
    fake.fail("chat.postMessage", status=429, retry_after=2)
    rig.start()
    rig.alerts.handle_decision(decision(1))
    await eventually(lambda: len(fake.posts()) == 1, "the post after the 429")
    attempts = fake.calls_to("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    first, second = rig.times("chat.postMessage", ok_only=False)
    assert second - first >= 2.0 - EPS
    assert rig.outbox.stats.rate_limited == 1
    assert outbox_row(rig.store, 1)["attempts"] == 1  # the 429 did not count as a failed attempt


async def test_two_500s_are_retried_with_backoff_and_the_post_delivered_once(rig, fake):
    fake.fail("chat.postMessage", status=500, count=2)
    rig.alerts.handle_decision(decision(1))
    assert await rig.outbox.drain(timeout=10) == 1
    assert len(fake.posts()) == 1
    assert [c.status for c in fake.calls_to("chat.postMessage", ok_only=False)] == [500, 500, 200]
    assert rig.outbox.stats.retried == 2 and rig.outbox.stats.posted == 1
    first_wait, second_wait = gaps(rig.times("chat.postMessage", ok_only=False))
    assert first_wait >= 0.5 - EPS and second_wait >= 1.0 - EPS  # 1 s, then 2 s, each less up to half (jitter)
    # after an ambiguous failure, Slack's history is checked before posting again
    assert len(fake.calls_to("conversations.history")) == 2


async def test_crash_after_slack_accepted_is_recovered_from_metadata_without_a_repost(rig, fake):
    rig.alerts.handle_decision(decision(1))
    row = outbox_row(rig.store, 1)
    rig.store.mark_outbox(1, "inflight")
    # the previous process got this far: Slack accepted the post, then the process died before `sent`.
    resp = await rig.client.chat_postMessage(
        channel="C0CALLS", text="Missed call (before the crash)", metadata=message_metadata(row)
    )
    assert outbox_row(rig.store, 1)["status"] == "inflight"
    fresh = rig.make_outbox()
    await fresh.recover()
    assert outbox_row(rig.store, 1)["status"] == "sent"
    assert rig.store.get_alert(1)["ts"] == resp["ts"]
    assert fresh.stats.recovered == 1
    rig.start()
    rig.alerts.claim(1, "U0AN")  # later changes edit the recovered message
    await eventually(lambda: len(fake.calls_to("chat.update")) == 1, "the edit of the recovered message")
    assert len(fake.posts()) == 1


async def test_row_left_inflight_that_slack_never_got_is_posted_exactly_once(rig, fake):
    rig.alerts.handle_decision(decision(1))
    rig.store.mark_outbox(1, "inflight")
    await rig.outbox.recover()
    assert outbox_row(rig.store, 1)["status"] == "pending"
    assert await rig.outbox.drain(timeout=10) == 1
    assert len(fake.posts()) == 1 and outbox_row(rig.store, 1)["status"] == "sent"


async def test_unreadable_history_on_recovery_reposts_and_warns(rig, fake, caplog):
    rig.alerts.handle_decision(decision(1))
    rig.store.mark_outbox(1, "inflight")
    fake.fail("conversations.history", status=200, error="missing_scope")
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await rig.outbox.recover()
    assert "cannot verify" in caplog.text and "missing_scope" in caplog.text
    rig.start()
    await eventually(lambda: len(fake.posts()) == 1, "the re-post")


async def test_pending_updates_coalesce_into_one_chat_update_showing_the_latest_state(rig, fake):
    rig.alerts.handle_decision(decision(1))
    rig.alerts.claim(1, "U0AN")
    rig.alerts.mark_handled(1, "U0AN")
    rig.alerts.undo_handled(1, "U0AN", is_admin=False)
    rig.alerts.mark_handled(1, "U0BINH")
    assert len(rig.store.pending_outbox(kind="update")) == 4
    assert await rig.outbox.drain(timeout=10) == 2  # the post, then one edit
    assert len(fake.calls_to("chat.update")) == 1 and rig.outbox.stats.coalesced == 3
    msg = fake.messages[("C0CALLS", rig.store.get_alert(1)["ts"])]
    assert any("Handled by <@U0BINH>" in (b.get("text") or {}).get("text", "") for b in msg.blocks)


async def test_repeat_call_edits_the_alert_and_replies_in_its_thread(rig, fake):
    rig.start()
    rig.alerts.handle_decision(decision(1, number="0987654321"))
    rig.alerts.handle_decision(decision(2, number="0987 654 321", at=T0 + timedelta(minutes=4)))
    await eventually(
        lambda: len(fake.posts()) == 2 and len(fake.calls_to("chat.update")) == 1, "the reply and the edit"
    )
    alert = rig.store.get_alert(1)
    reply = fake.posts()[1]
    assert reply.body["thread_ts"] == alert["ts"] and reply.body["text"].startswith("Called again at")
    msg = fake.messages[("C0CALLS", alert["ts"])]
    assert "Called again ×1" in str(msg.blocks)


@pytest.mark.parametrize("rig", [{"rate_per_second": 50.0, "burst": 1, "fold_threshold": 3}], indirect=True)
async def test_a_burst_folds_into_one_summary_with_the_alerts_in_its_thread(rig, fake):
    for n in range(6):
        rig.alerts.handle_decision(decision(n))
    assert await rig.outbox.drain(timeout=10) == 7
    top = rig.top_level_posts()
    assert len(top) == 1 and "missed calls" in top[0].body["text"]
    summary_ts = [m.ts for m in fake.messages.values() if m.thread_ts is None][0]
    alerts = [rig.store.get_alert(i) for i in range(1, 7)]
    assert all(a["thread_ts"] == summary_ts and a["ts"] for a in alerts)
    assert "*6 missed calls*" in str(fake.messages[("C0CALLS", summary_ts)].blocks)
    assert all(gap >= 0.02 - EPS for gap in gaps(rig.times("chat.postMessage", "C0CALLS")))  # still 50 a second


async def test_channel_not_found_holds_the_channel_logs_the_fix_once_and_posts_after_the_fix(rig, fake, caplog):
    """Every row of a channel that is gone would fail the same way: the channel waits (rows kept, tried every
    HOLD_SECONDS), the log names the fix once, and nothing is dead-lettered, so the fix needs no requeue."""
    fake.fail("chat.postMessage", status=200, error="channel_not_found", count=10**6)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        rig.start()
        for n in range(3):
            rig.alerts.handle_decision(decision(n))
        await eventually(lambda: rig.outbox.stats.held >= 3, "three tries, held each time")
    held = [r for r in caplog.records if "outbox holding channel=C0CALLS" in r.getMessage()]
    assert len(held) == 1 and "invite @ringbot" in held[0].getMessage()
    tries = rig.times("chat.postMessage", ok_only=False)
    assert all(gap >= 30 - EPS for gap in gaps(tries))  # one try per hold, not one per row
    assert rig.store.outbox_counts().get("dead", 0) == 0 and fake.messages == {}
    assert "channel_not_found" in outbox_row(rig.store, 1)["error"]
    fake.clear_faults()  # someone invited the bot
    await eventually(lambda: len(fake.messages) == 3, "the three alerts, once the channel is fixed")
    assert rig.store.outbox_depth() == 0


async def test_a_refusal_of_the_row_itself_is_a_dead_letter_and_its_updates_are_given_up(rig, fake, caplog):
    fake.fail("chat.postMessage", status=200, error="invalid_blocks")
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        rig.start()
        rig.alerts.handle_decision(decision(1))
        await eventually(lambda: outbox_row(rig.store, 1)["status"] == "dead", "the dead letter")
        rig.alerts.claim(1, "U0AN")  # an update for a never-posted alert does not wait forever
        await eventually(lambda: rig.store.outbox_depth() == 0, "the update given up")
    assert "outbox dead letter" in caplog.text and "channel=C0CALLS" in caplog.text
    assert rig.outbox.stats.failed == 2 and rig.outbox.stats.posted == 0 and fake.messages == {}


async def test_stop_finishes_the_inflight_post_and_leaves_the_rest_pending(tmp_path, fake):
    # The clock stands still, so after the first post the worker waits for a token that never comes.
    rig = Rig(tmp_path, fake, frozen=True, rate_per_second=0.1, burst=1, fold_threshold=100)
    try:
        for n in range(3):
            rig.alerts.handle_decision(decision(n))
        rig.start()
        await eventually(lambda: len(fake.posts()) == 1, "the first post")
        await rig.outbox.stop(2.0)
        assert rig.task.done() and not rig.task.cancelled()  # the wait was cut short, not timed out
        assert rig.task.exception() is None
        assert [r["status"] for r in (outbox_row(rig.store, i) for i in (1, 2, 3))] == ["sent", "pending", "pending"]
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
    assert await rig.outbox.drain(timeout=5) == 3
    assert all(gap >= 0.1 - EPS for gap in gaps(rig.times("chat.update")))


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


async def test_a_long_slack_outage_never_dead_letters_an_alert(rig, fake, caplog):
    """More failures than max_attempts: the post keeps being retried (at the cap) and arrives once."""
    fake.fail("chat.postMessage", status=503, count=12)
    rig.make_outbox(max_attempts=3)  # backoff 1 s doubling, capped at 300 s: about 20 minutes of outage
    rig.alerts.handle_decision(decision(1))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert await rig.outbox.drain(timeout=30) == 1
    assert len(fake.posts()) == 1
    assert rig.store.outbox_counts().get("dead", 0) == 0
    assert [c.status for c in fake.calls_to("chat.postMessage", ok_only=False)] == [503] * 12 + [200]
    waits = gaps(rig.times("chat.postMessage", ok_only=False))
    assert all(150 - EPS <= wait <= 300 + 0.01 for wait in waits[-3:])  # at the cap (300 s, jittered), not beyond
    retries = [r for r in caplog.records if r.getMessage().startswith("outbox retry")]
    # logged when the channel starts failing, and once more (louder) when the row reaches max_attempts
    assert [r.levelno for r in retries] == [logging.WARNING, logging.ERROR]


async def test_a_burst_summary_counts_every_queued_call_at_once_and_is_not_edited_for_nothing(tmp_path, fake):
    """The summary says how many calls the burst holds from its first post, and edits happen only when the
    count or times change, at most every few seconds (edits share Slack's Tier-3 budget)."""
    rig = Rig(tmp_path, fake, rate_per_second=50, burst=50)
    try:
        for n in range(12):
            rig.alerts.handle_decision(decision(n))
        # drain() returns once the summary's count has been looked at again after its last reply
        assert await rig.outbox.drain(timeout=10) == 13
        summary = rig.top_level_posts()[0]
        assert "*12 missed calls*" in str(summary.body["blocks"])  # not just the first fold_threshold of them
        assert fake.calls_to("chat.update") == []  # nothing changed, so nothing was edited
    finally:
        rig.store.close()


async def test_a_channel_that_refuses_for_a_day_has_its_rows_given_up_with_the_fix_in_one_log_line(rig, fake, caplog):
    """A held channel is not tried every 30 s forever: once its rows have waited a day they are dead, their error
    saying why and how to send them after the fix, and the log says so once for the channel, not once per row."""
    rig.store.clock = rig.clock  # rows queued on the outbox's clock, so that a day passes for both
    fake.fail("chat.postMessage", status=200, error="not_in_channel", count=10**6)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        rig.start()
        for n in range(3):
            rig.alerts.handle_decision(decision(n))
        await eventually(lambda: rig.outbox.stats.held >= 1, "the channel held")
        rig.clock.advance(3600)
        rig.alerts.handle_decision(decision(9))  # queued an hour later: not a day old when the others go
        rig.clock.advance(86400 - 3600 + 60)
        await eventually(lambda: rig.store.outbox_counts().get("dead", 0) == 3, "the day-old rows given up", timeout=20)
    counts = rig.store.outbox_counts()
    assert counts.get("pending", 0) + counts.get("inflight", 0) == 1
    errors = [e for (e,) in rig.store.conn.execute("SELECT error FROM outbox WHERE id <= 3 ORDER BY id")]
    assert len(errors) == 3
    assert all(e.startswith("given up: held for a day: slack refused: not_in_channel") for e in errors)
    assert all("invite @ringbot" in e and "ringbot requeue --channel C0CALLS" in e for e in errors)
    gave_up = [r for r in caplog.records if "outbox gave up" in r.getMessage() and r.levelno == logging.ERROR]
    assert len(gave_up) == 1 and "channel=C0CALLS" in gave_up[0].getMessage()
    assert rig.store.given_up_outbox() == [{"channel": "C0CALLS", "rows": 3, "error": errors[0]}]
    assert fake.messages == {}
