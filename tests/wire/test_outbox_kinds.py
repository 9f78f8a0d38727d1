"""The outbox's kinds rendered when they are sent (bot/outbox/message.py), against the fake Slack over real HTTP on a
fake clock: the reader's language (a channel's, a person's in their DM), one send for all pending edits of one
message, uploads, retries through an outage, and recovery after a crash without a second post."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.devtools.fakeslack import FakeSlack
from bot.outbox import Outbox
from bot.outbox.message import Gone, Outgoing, Upload, Wait
from bot.outbox.recovery import message_metadata
from bot.slack.text import say
from storage import OutboxKind, OutboxRow, Store
from tests.support.clock import FakeClock
from tests.support.rows import outbox_row
from tests.support.waiting import eventually

KIND = OutboxKind.NOTICE  # any registered kind: the outbox does not know what it means
EN = say("error.database_busy")


@dataclass
class Sample:
    """A kind that says one catalog sentence, edits its message once posted (body `subject`), uploads (body
    `upload`), waits (body `wait`) or is gone (body `gone`); it remembers what `sent` was told."""

    posted: dict[str, str] = field(default_factory=dict)  # subject -> ts
    sent_calls: list[tuple[int, str, str]] = field(default_factory=list)
    waiting: bool = True

    async def render(self, row: OutboxRow) -> Outgoing:
        body = row.get("body") or {}
        if body.get("gone"):
            raise Gone("the sample was removed")
        if body.get("wait") and self.waiting:
            raise Wait()
        if body.get("upload") and str(row.get("error") or "").startswith("slack refused"):
            return Outgoing(text=say("error.database_busy"))  # what it can say without the file
        if body.get("upload"):
            return Outgoing(text="", upload=Upload(b"\x89PNG sample", "sample.png", say("error.database_busy")))
        subject = body.get("subject")
        return Outgoing(text=say("error.database_busy"), edit_ts=self.posted.get(subject) if subject else None)

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        self.sent_calls.append((row["id"], channel, ts))
        subject = (row.get("body") or {}).get("subject")
        if subject and ts:
            self.posted.setdefault(subject, ts)

    def subject(self, row: OutboxRow) -> str | None:
        return (row.get("body") or {}).get("subject")


class Rig:
    def __init__(self, tmp_path, fake: FakeSlack) -> None:
        self.fake = fake
        self.clock = FakeClock()
        self.store = Store.open(tmp_path / "ringbot.db")
        self.client = AsyncWebClient(token="xoxb-test", base_url=fake.url, retry_handlers=[], timeout=5)
        self.kind = Sample()
        self.outbox = self.make_outbox()

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await asyncio.sleep(0.001)

    async def person_language(self, user: str) -> str:
        return "vi" if user == "U0VI" else "en"

    def make_outbox(self) -> Outbox:
        return Outbox(
            self.store,
            self.client,
            render=lambda alert: ("", []),
            kinds={KIND: self.kind},
            channel_language=lambda channel: "vi" if channel == "C0VI" else "en",
            person_language=self.person_language,
            clock=self.clock,
            sleep=self.sleep,
        )


def vietnamese(text: str) -> bool:
    return text != EN and text.strip() != ""


async def test_each_message_is_rendered_in_its_channels_language(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    rig.store.enqueue(KIND, "C0VI", body={})
    rig.store.enqueue(KIND, "C0EN", body={})
    assert await rig.outbox.drain(timeout=10) == 2
    (vi,) = fake_slack.posts("C0VI")
    (en,) = fake_slack.posts("C0EN")
    assert en.body["text"] == EN and vietnamese(vi.body["text"])
    assert vi.body["metadata"]["event_payload"]["outbox_id"] == 1  # found again by recovery after a crash
    assert [(rid, ch) for rid, ch, _ in rig.kind.sent_calls] == [(1, "C0VI"), (2, "C0EN")]
    rig.store.close()


async def test_a_dm_is_opened_written_in_the_persons_language_and_the_row_moves_to_it(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    rig.store.enqueue(KIND, "U0VI", body={"user": "U0VI"})
    rig.store.enqueue(KIND, "U0EN", body={"user": "U0EN"})
    assert await rig.outbox.drain(timeout=10) == 2
    assert len(fake_slack.calls_to("conversations.open")) == 2
    (vi,) = fake_slack.posts("D0VI")
    (en,) = fake_slack.posts("D0EN")
    assert vietnamese(vi.body["text"]) and en.body["text"] == EN
    assert outbox_row(rig.store, 1)["channel"] == "D0VI"  # where recovery looks for it
    rig.store.close()


async def test_pending_edits_of_one_message_are_answered_by_one_send(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    rig.store.enqueue(KIND, "C0EN", body={"subject": "breach:1"})
    assert await rig.outbox.drain(timeout=10) == 1
    for _ in range(3):
        rig.store.enqueue(KIND, "C0EN", body={"subject": "breach:1"})
    assert await rig.outbox.drain(timeout=10) == 1
    assert len(fake_slack.posts("C0EN")) == 1 and len(fake_slack.calls_to("chat.update")) == 1
    assert rig.store.outbox_counts() == {"sent": 4}
    rig.store.close()


async def test_an_upload_goes_through_files_upload_v2(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    rig.store.enqueue(KIND, "C0EN", body={"upload": True})
    assert await rig.outbox.drain(timeout=10) == 1
    assert [c.body["length"] for c in fake_slack.calls_to("upload")] == [len(b"\x89PNG sample")]
    assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1
    assert outbox_row(rig.store, 1)["status"] == "sent"
    rig.store.close()


async def test_a_message_due_during_an_outage_is_sent_exactly_once_after_it(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    fake_slack.fail("chat.postMessage", status=500, count=6)
    rig.store.enqueue(KIND, "C0VI", body={})
    assert await rig.outbox.drain(timeout=30) == 1
    assert len(fake_slack.posts("C0VI")) == 1
    assert [c.status for c in fake_slack.calls_to("chat.postMessage", ok_only=False)] == [500] * 6 + [200]
    rig.store.close()


async def test_a_crash_after_slack_took_the_post_is_recovered_without_a_second_post(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    rig.store.enqueue(KIND, "C0EN", body={"subject": "breach:7"})
    row = outbox_row(rig.store, 1)
    rig.store.mark_outbox(1, "inflight")
    resp = await rig.client.chat_postMessage(channel="C0EN", text=EN, metadata=message_metadata(row))
    fresh = rig.make_outbox()  # the next process
    await fresh.recover()
    assert outbox_row(rig.store, 1)["status"] == "sent"
    assert rig.kind.sent_calls == [(1, "C0EN", resp["ts"])]  # the kind learnt where its message is
    assert await fresh.drain(timeout=5) == 0
    assert len(fake_slack.posts("C0EN")) == 1
    rig.store.close()


async def test_a_dm_never_opened_before_a_crash_is_simply_sent(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    rig.store.enqueue(KIND, "U0VI", body={"user": "U0VI"})
    rig.store.mark_outbox(1, "inflight")
    await rig.outbox.recover()
    assert not fake_slack.calls_to("conversations.history")  # nothing to look for: nothing was posted
    assert await rig.outbox.drain(timeout=10) == 1
    assert len(fake_slack.posts("D0VI")) == 1
    rig.store.close()


async def test_a_row_that_waits_is_sent_when_it_can_and_a_gone_one_is_closed(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    rig.store.enqueue(KIND, "C0EN", body={"wait": True})
    rig.store.enqueue(KIND, "C0EN", body={"gone": True})
    task = asyncio.create_task(rig.outbox.run())
    await eventually(lambda: rig.store.outbox_status(2) == "dead", "the gone row closed")
    assert rig.store.outbox_status(1) == "pending" and not fake_slack.posts("C0EN")
    rig.kind.waiting = False
    await eventually(lambda: len(fake_slack.posts("C0EN")) == 1, "the row that waited")
    await rig.outbox.stop(2.0)
    await asyncio.wait_for(task, 2.0)
    assert outbox_row(rig.store, 2)["error"].startswith("nothing left to send")
    rig.store.close()


async def test_an_upload_slack_refuses_for_good_holds_no_other_post(tmp_path, fake_slack) -> None:
    rig = Rig(tmp_path, fake_slack)
    fake_slack.fail("files.getUploadURLExternal", status=200, error="missing_scope", count=5)
    rig.store.enqueue(KIND, "C0EN", body={"upload": True})
    rig.store.enqueue(KIND, "C0VI", body={})
    started = rig.clock()
    assert await rig.outbox.drain(timeout=10) == 2
    assert len(fake_slack.calls_to("files.getUploadURLExternal", ok_only=False)) == 1  # refused once, not retried
    assert [p.body["text"] for p in fake_slack.posts("C0EN")] == [EN]  # the kind's answer without the file
    assert len(fake_slack.posts("C0VI")) == 1
    assert rig.clock() - started < 5  # no workspace-wide pause for a scope only uploads need
    rig.store.close()
