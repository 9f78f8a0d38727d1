"""The daily digest through the outbox and the fake Slack, on a fake clock. The `digest` job queues one row per
channel and day (a second run, or a restart, queues nothing); the outbox renders it when it sends it, in the
channel's language, says when it is more than an hour late, and uploads the chart into its thread with
files.uploadV2 as a valid PNG, or draws text bars when it cannot (no matplotlib, no files:write, an upload Slack
refuses). A digest due during a Slack outage is posted exactly once after it; one whose post Slack took just
before a crash is found again, not posted twice."""

from __future__ import annotations

import asyncio
import struct
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.antbuddy import AntBuddyClient
from bot.antbuddy.directory import Directory
from bot.devtools.fakeslack import FakeSlack
from bot.devtools.simulator.directory import QUEUES
from bot.outbox import Outbox
from bot.outbox.recovery import message_metadata
from bot.queues.daily_digest import DailyDigest
from bot.queues.queue_messages import queue_messages
from storage import OutboxKind, Store
from storage.queues import QueueStore
from tests.conftest import make_settings
from tests.support.clock import FakeClock
from tests.wire.test_commands import add_call

CSKH = QUEUES[0].queue_id
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DUE = datetime(2026, 3, 2, 18, 0, tzinfo=TZ).timestamp()  # RINGBOT_DIGEST_AT on the day


class DigestRig:
    """The digest job and the outbox with the queue kinds, sharing one database and one fake clock."""

    def __init__(
        self,
        tmp_path: Path,
        fake: FakeSlack,
        *,
        scopes: set[str] | None = None,
        vi: frozenset[str] = frozenset(),
    ) -> None:
        self.tmp_path = tmp_path
        self.fake = fake
        self.clock = FakeClock(DUE)
        self.store = Store.open(tmp_path / "ringbot.db", clock=self.clock)
        settings = make_settings(tmp_path, SLACK_API_URL=fake.url)
        self.directory = Directory(AntBuddyClient.from_settings(settings))  # no request made: names from its cache
        self.client = AsyncWebClient(token="xoxb-test", base_url=fake.url, retry_handlers=[], timeout=5)
        self.scopes = scopes
        self.vi = vi
        self.outage_until: float | None = None
        self.digest = DailyDigest(
            self.store, self.directory, default_channel="C0ALERTS", tz=TZ, wake=lambda: None, clock=self.clock
        )
        self.outbox = self.make_outbox()
        seed(self.store)

    def make_outbox(self) -> Outbox:
        kinds = queue_messages(self.store, self.directory, tz=TZ, sla=20, clock=self.clock, scopes=lambda: self.scopes)
        return Outbox(
            self.store,
            self.client,
            render=lambda alert: ("", []),
            kinds=dict(kinds),
            channel_language=lambda channel: "vi" if channel in self.vi else "en",
            clock=self.clock,
            sleep=self.sleep,
            tz=TZ,
        )

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)
        if self.outage_until is not None and self.clock() >= self.outage_until:
            self.fake.clear_faults()  # Slack is back
            self.outage_until = None
        await asyncio.sleep(0.001)

    async def close(self) -> None:
        await self.directory.aclose()
        self.store.close()


def seed(store: Store) -> None:
    """Four calls in CSKH on the digest's day, and one open queue alert someone is on."""
    for i, (outcome, ring) in enumerate([("answered", 5), ("answered", 30), ("abandoned", 60), ("missed", 25)]):
        add_call(store, f"d-{i}", queue_id=CSKH, outcome=outcome, ring_seconds=ring)
        store.conn.execute("UPDATE calls SET started_at = ? WHERE call_id = ?", (DUE - 3600 * (i + 1), f"d-{i}"))
    store.conn.commit()
    qs = QueueStore(store)
    breach = qs.save_breach(
        None,
        {"queue_id": CSKH, "channel": "C0ALERTS", "level": 1, "reasons": "waiting", "started_at": DUE - 600,
         "snapshot": {"queue": "CSKH", "waiting": 3}},
    )  # fmt: skip
    qs.take_breach(breach, "U0SUPER")


def digest_posts(fake: FakeSlack) -> list[str]:
    return [str(c.body) for c in fake.posts("C0ALERTS") if "2026-03-02" in str(c.body.get("text"))]


@pytest.fixture
async def rig(tmp_path: Path, fake_slack: FakeSlack):
    r = DigestRig(tmp_path, fake_slack)
    yield r
    await r.close()


async def test_the_digest_is_queued_once_and_posted_with_its_chart_uploaded_as_a_png(rig: DigestRig) -> None:
    pytest.importorskip("matplotlib")  # the `charts` extra
    assert rig.digest.queue_day() == 1
    rig.clock.advance(120)
    assert rig.digest.queue_day() == 0  # the same day again (a second run, a restart): nothing queued
    assert await rig.outbox.drain(timeout=20) == 2  # the digest, then its chart
    (text,) = digest_posts(rig.fake)
    assert "Daily digest — 2026-03-02" in text and "4 offered · 2 answered · 1 abandoned · 1 missed" in text
    assert "CSKH since" in text and "U0SUPER" in text  # the open queue alert and who is on it
    assert "▁" not in text and "Sent late" not in text  # the chart replaces the text bars; it was on time
    methods = [c.method for c in rig.fake.calls]
    assert (
        methods.index("chat.postMessage")
        < methods.index("files.getUploadURLExternal")
        < methods.index("upload")
        < methods.index("files.completeUploadExternal")
    )
    (entry,) = rig.fake.files.values()
    png = entry["bytes"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert width >= 600 and height >= 200
    assert entry["channel"] == "C0ALERTS" and entry["title"] == "Calls per hour, Mon 2 Mar"  # as alerts write days
    (ts,) = [t for (c, t) in rig.fake.messages if c == "C0ALERTS"]
    (complete,) = rig.fake.calls_to("files.completeUploadExternal")
    assert complete.body.get("thread_ts") == ts  # into the digest's thread


async def test_without_files_write_the_digest_draws_text_bars_and_uploads_nothing(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    rig = DigestRig(tmp_path, fake_slack, scopes={"chat:write", "commands"})
    try:
        rig.digest.queue_day()
        assert await rig.outbox.drain(timeout=10) == 1
    finally:
        await rig.close()
    (text,) = digest_posts(fake_slack)
    assert "Calls per hour" in text and "█" in text  # bars: the busiest hour is a full block
    assert not fake_slack.calls_to("files.getUploadURLExternal", ok_only=False)


async def test_an_upload_slack_refuses_turns_the_digest_into_its_text_bars(rig: DigestRig) -> None:
    pytest.importorskip("matplotlib")
    rig.fake.fail("files.getUploadURLExternal", status=200, error="missing_scope")
    rig.digest.queue_day()
    assert await rig.outbox.drain(timeout=20) == 2  # the digest, then the edit in place of the chart
    (msg,) = [m for (c, _), m in rig.fake.messages.items() if c == "C0ALERTS"]
    assert "█" in str(msg.blocks) and "█" not in str(msg.history[0])  # posted for a chart, edited to bars
    assert not any(e.get("bytes") for e in rig.fake.files.values())
    assert rig.store.outbox_counts() == {"sent": 2}


async def test_the_digest_in_a_vietnamese_channel_is_vietnamese(tmp_path: Path, fake_slack: FakeSlack) -> None:
    rig = DigestRig(tmp_path, fake_slack, scopes=set(), vi=frozenset({"C0ALERTS"}))
    try:
        rig.digest.queue_day()
        assert await rig.outbox.drain(timeout=10) == 1
    finally:
        await rig.close()
    (post,) = fake_slack.posts("C0ALERTS")
    text = str(post.body)
    assert "Tổng kết trong ngày — 2026-03-02" in text and "4 cuộc vào" in text
    assert "Daily digest" not in text and "offered" not in text


async def test_a_digest_due_during_a_40_s_slack_outage_is_posted_once_after_it(rig: DigestRig) -> None:
    rig.scopes = set()  # text bars: the message alone
    rig.fake.fail("chat.postMessage", status=500, count=10_000)
    rig.outage_until = rig.clock() + 40
    rig.digest.queue_day()
    assert await rig.outbox.drain(timeout=20) == 1
    assert rig.clock() >= DUE + 40  # it went out after Slack came back
    assert len(digest_posts(rig.fake)) == 1
    statuses = [c.status for c in rig.fake.calls_to("chat.postMessage", ok_only=False)]
    assert statuses[-1] == 200 and set(statuses[:-1]) == {500} and len(statuses) > 2
    assert rig.store.outbox_counts() == {"sent": 1}
    assert "Sent late" not in digest_posts(rig.fake)[0]  # 40 s is not late


async def test_a_digest_sent_hours_after_it_fell_due_says_so(rig: DigestRig) -> None:
    rig.scopes = set()
    rig.clock.advance(3 * 3600)  # ringbot was down at 18:00: the job runs at 21:00, three hours late
    assert rig.digest.queue_day(late=3 * 3600) == 1
    assert await rig.outbox.drain(timeout=10) == 1
    (text,) = digest_posts(rig.fake)  # still the day it was due for
    assert "Sent late: this digest was due at 18:00, Mon 2 Mar" in text


async def test_a_digest_slack_took_just_before_a_crash_is_found_and_not_posted_again(rig: DigestRig) -> None:
    rig.scopes = set()
    rig.digest.queue_day()
    (row,) = rig.store.pending_outbox(kind=OutboxKind.DAILY_DIGEST)
    rig.store.mark_outbox(row["id"], "inflight")  # the process sent it, Slack took it, the process died
    await rig.client.chat_postMessage(
        channel="C0ALERTS", text="Daily digest — 2026-03-02", metadata=message_metadata(row)
    )
    fresh = rig.make_outbox()  # the next process
    await fresh.recover()
    assert rig.store.outbox_status(row["id"]) == "sent"
    assert await fresh.drain(timeout=5) == 0
    assert len(digest_posts(rig.fake)) == 1
    assert rig.digest.queue_day() == 0  # and the job, run again after the restart, queues nothing
