"""The queue outbox kinds render at send time, in the language being spoken: a queue alert posts once and edits
after, the daily digest says it is late when it is, queues its chart only when a chart can be had, and the chart
falls back to the digest's text bars."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.outbox.message import Gone
from bot.queues.queue_messages import DailyDigestMessage, DigestChartMessage, QueueAlertMessage, queue_messages
from bot.slack.i18n import speaking
from storage import OutboxKind, Store
from storage.queues import QueueStore
from tests.support.clock import FakeClock
from tests.support.rows import outbox_row
from tests.unit.queues.conftest import Names

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
DUE = datetime(2026, 3, 2, 18, 0, tzinfo=TZ).timestamp()


def kinds(store: Store, names: Names, clock: FakeClock, scopes: set[str] | None = None) -> dict:
    return queue_messages(store, names, tz=TZ, sla=20, clock=clock, scopes=lambda: scopes)


def row_of(store: Store, row_id: int) -> dict:
    row = outbox_row(store, row_id)
    assert row is not None
    return dict(row)


def a_breach(store: Store, **kw: object) -> int:
    fields = {"queue_id": "q1", "channel": "C1", "level": 1, "reasons": "waiting", "started_at": DUE - 300,
              "peak_waiting": 3, "snapshot": {"queue": "CSKH", "waiting": 3, "longest": 70.0, "ready": 0,
                                               "spec": "waiting>=3"}} | kw  # fmt: skip
    return QueueStore(store).save_breach(None, fields)


async def test_a_queue_alert_is_posted_in_the_language_spoken_then_edited(store, names, clock) -> None:
    kind = kinds(store, names, clock)[OutboxKind.QUEUE_ALERT]
    assert isinstance(kind, QueueAlertMessage)
    breach = a_breach(store)
    row = row_of(store, store.enqueue(OutboxKind.QUEUE_ALERT, "C1", body={"breach_id": breach}))
    with speaking("vi"):
        first = await kind.render(row)
    assert first.edit_ts is None  # not posted yet: a post
    assert first.text.startswith(":warning: *CSKH*: 3 khách đang chờ, lâu nhất 1 phút 10 giây, 0 sẵn sàng")
    assert "Tôi xử lý" in str(first.blocks)
    kind.sent(row, channel="C1", ts="1.0001")
    QueueStore(store).take_breach(breach, "U0SUPER")
    with speaking("en"):
        second = await kind.render(row)
    assert second.edit_ts == "1.0001" and "<@U0SUPER> is on it" in str(second.blocks)  # an edit, with the owner
    other = row_of(store, store.enqueue(OutboxKind.QUEUE_ALERT, "C1", body={"breach_id": breach}))
    assert kind.subject(row) == kind.subject(other) != kind.subject({**row, "body": {"breach_id": breach + 1}})


async def test_a_queue_alert_whose_breach_is_gone_is_closed(store, names, clock) -> None:
    kind = kinds(store, names, clock)[OutboxKind.QUEUE_ALERT]
    for body in ({"breach_id": 99}, {"breach_id": "1; DROP"}, {}):
        with pytest.raises(Gone):
            await kind.render(row_of(store, store.enqueue(OutboxKind.QUEUE_ALERT, "C1", body=body)))


async def test_the_daily_digest_renders_in_the_language_spoken_and_says_when_it_is_late(store, names, clock) -> None:
    kind = kinds(store, names, clock, scopes=set())[OutboxKind.DAILY_DIGEST]
    assert isinstance(kind, DailyDigestMessage)
    a_breach(store)
    row = row_of(store, store.enqueue(OutboxKind.DAILY_DIGEST, "C1", body={"day": "2026-03-02", "due_at": DUE}))
    clock.now = DUE + 3000
    with speaking("vi"):
        on_time = await kind.render(row)
    assert on_time.text == "Tổng kết trong ngày — 2026-03-02"
    assert "Gửi muộn" not in str(on_time.blocks) and "CSKH từ" in str(on_time.blocks)
    assert "Cuộc gọi theo giờ" in str(on_time.blocks)  # no files:write: text bars
    clock.now = DUE + 3700
    with speaking("en"):
        late = await kind.render(row)
    assert "Sent late: this digest was due at 18:00, Mon 2 Mar" in str(late.blocks)
    kind.sent(row, channel="C1", ts="2.0002")
    assert store.pending_outbox(kind=OutboxKind.DIGEST_CHART) == []  # bars already: no chart follows


async def test_a_digest_for_some_queues_shows_only_theirs(store, names, clock) -> None:
    kind = kinds(store, names, clock, scopes=set())[OutboxKind.DAILY_DIGEST]
    a_breach(store)  # in q1
    body = {"day": "2026-03-02", "due_at": DUE, "queue_ids": ["q2"]}
    with speaking("en"):
        out = await kind.render(row_of(store, store.enqueue(OutboxKind.DAILY_DIGEST, "C2", body=body)))
    assert "No queue alert is open." in str(out.blocks)


async def test_a_digest_row_with_an_unreadable_day_is_closed(store, names, clock) -> None:
    kind = kinds(store, names, clock)[OutboxKind.DAILY_DIGEST]
    with pytest.raises(Gone):
        await kind.render(row_of(store, store.enqueue(OutboxKind.DAILY_DIGEST, "C1", body={"day": "yesterday"})))


async def test_the_chart_is_queued_after_the_digest_and_drawn_off_the_loop(store, names, clock) -> None:
    pytest.importorskip("matplotlib")
    table = kinds(store, names, clock)
    digest, chart = table[OutboxKind.DAILY_DIGEST], table[OutboxKind.DIGEST_CHART]
    assert isinstance(chart, DigestChartMessage)
    body = {"day": "2026-03-02", "due_at": DUE, "queue_ids": None}
    row = row_of(store, store.enqueue(OutboxKind.DAILY_DIGEST, "C1", body=body))
    with speaking("en"):
        assert "▁" not in str((await digest.render(row)).blocks)  # the chart will show the hours
    digest.sent(row, channel="C1", ts="3.0003")
    (queued,) = store.pending_outbox(kind=OutboxKind.DIGEST_CHART)
    assert queued["thread_ts"] == "3.0003" and queued["body"] == body
    with speaking("vi"):
        out = await chart.render(dict(queued))
    assert out.upload is not None and out.thread_ts == "3.0003" and out.edit_ts is None
    assert out.upload.content[:8] == b"\x89PNG\r\n\x1a\n" and out.upload.title == "Cuộc gọi theo giờ, Thứ Hai 2/3/2026"
    refused = {**queued, "error": "slack refused: missing_scope (fix: add files:write)"}
    with speaking("en"):
        bars = await chart.render(refused)  # Slack will not take the file: the digest shows its bars instead
    assert bars.upload is None and bars.edit_ts == "3.0003" and "Calls per hour (█" in str(bars.blocks)


async def test_a_chart_with_no_digest_to_go_under_is_closed(store, names, clock) -> None:
    chart = kinds(store, names, clock)[OutboxKind.DIGEST_CHART]
    with pytest.raises(Gone):
        await chart.render(row_of(store, store.enqueue(OutboxKind.DIGEST_CHART, "C1", body={"day": "2026-03-02"})))
