"""The alert side's messages worded when sent (bot/alerts/messages.py), in both languages, on a real store: the
repeat-call reply, the escalation reply, the supervisor's DM and the overnight digest; waiting for the alert's
message, giving up when there will be none, and saying when a message comes late."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.escalation import Escalation
from bot.alerts.messages import alert_messages
from bot.alerts.overnight import Overnight
from bot.alerts.service import AlertService
from bot.calls.classify import CallDecision, Outcome
from bot.outbox.message import Gone, MessageKind, Wait
from bot.slack.i18n import speaking
from storage import OutboxKind, OutboxRow, Store
from tests.support.clock import FakeClock

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=TZ)  # a Tuesday
CHANNEL = "C0CALLS"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOON.timestamp())


@pytest.fixture
def store(tmp_path, clock):
    s = Store.open(tmp_path / "ringbot.db", clock=clock)
    yield s
    s.close()


@pytest.fixture
def svc(store, clock) -> AlertService:
    return AlertService(store, default_channel=CHANNEL, clock=clock, tz=TZ)


@pytest.fixture
def kinds(store, svc, clock) -> dict[OutboxKind, MessageKind]:
    return alert_messages(store, tz=TZ, rules=svc.rules, clock=clock, workspace_url=lambda: "https://acme.slack.com/")


def decision(n: int, at: datetime, *, ring: int = 12) -> CallDecision:
    return CallDecision(
        call_id=f"c{n}",
        outcome=Outcome.MISSED,
        customer_number="0987654321",
        dialled="02873019555",
        queue_id=None,
        started_at=at,
        ended_at=at + timedelta(seconds=ring),
        ring_seconds=ring,
        talk_seconds=0,
        hangup_cause="NO_ANSWER",
        agents_rung=("an", "binh"),
    )


def only(store: Store, kind: OutboxKind) -> OutboxRow:
    [row] = store.pending_outbox(kind=kind)
    return row


async def render_in(lang: str, kind: MessageKind, row: OutboxRow):
    with speaking(lang):
        return await kind.render(row)


def posted(store: Store, alert_id: int, ts: str = "1700000000.000100") -> None:
    """The alert's own message is in Slack (what the sender books after chat.postMessage)."""
    post = store.outbox_post_for_alert(alert_id)
    assert post is not None
    store.mark_outbox(post["id"], "sent", ts=ts, sent_at=0.0)
    store.set_alert_message(alert_id, ts=ts)


# -- the reply under the alert when the same caller calls again ---------------------------------------------------
async def test_a_repeat_reply_waits_for_the_alerts_message_then_names_the_call_in_the_readers_language(
    svc, store, kinds
) -> None:
    svc.handle_decision(decision(1, NOON))
    svc.handle_decision(decision(2, NOON + timedelta(minutes=4)))
    alert_id = store.alert_for_call("c1")["id"]
    row = only(store, OutboxKind.REPLY)
    assert row["body"] == {"call_id": "c2"}
    with pytest.raises(Wait):
        await render_in("en", kinds[OutboxKind.REPLY], row)
    posted(store, alert_id)
    en = await render_in("en", kinds[OutboxKind.REPLY], row)
    vi = await render_in("vi", kinds[OutboxKind.REPLY], row)
    assert en.thread_ts == vi.thread_ts == "1700000000.000100"
    assert en.text.startswith("Called again at 12:04 (rang 12 s")
    assert vi.text.startswith("Khách gọi thêm lúc 12:04")


async def test_a_reply_under_an_alert_that_will_never_be_posted_is_gone(svc, store, kinds) -> None:
    svc.handle_decision(decision(1, NOON))
    svc.handle_decision(decision(2, NOON + timedelta(minutes=4)))
    alert_id = store.alert_for_call("c1")["id"]
    store.mark_outbox(store.outbox_post_for_alert(alert_id)["id"], "dead", error="channel_not_found")
    with pytest.raises(Gone):
        await kinds[OutboxKind.REPLY].render(only(store, OutboxKind.REPLY))


async def test_a_reply_row_written_before_replies_were_worded_when_sent_keeps_its_text(svc, store, kinds) -> None:
    svc.handle_decision(decision(1, NOON))
    alert_id = store.alert_for_call("c1")["id"]
    posted(store, alert_id)
    store.enqueue(OutboxKind.REPLY, CHANNEL, alert_id=alert_id, body={"text": "Called again at 12:04"})
    out = await kinds[OutboxKind.REPLY].render(only(store, OutboxKind.REPLY))
    assert out.text == "Called again at 12:04"


# -- escalation ------------------------------------------------------------------------------------------------
def escalation(store: Store, svc: AlertService, clock: FakeClock) -> Escalation:
    return Escalation(store, rules=svc.rules, clock=clock)


async def test_the_escalation_reply_reads_the_routes_target_now_in_the_channels_language(svc, store, clock, kinds):
    svc.handle_decision(decision(1, NOON))
    alert_id = store.alert_for_call("c1")["id"]
    posted(store, alert_id)
    clock.advance(15 * 60)
    assert await escalation(store, svc, clock).run(alert_id=alert_id, step=1) == "replied"
    row = only(store, OutboxKind.ESCALATION)
    assert row["body"] == {"step": 1, "due_at": clock.now}
    # The target set after the step ran is the one mentioned: the words are chosen when it is sent.
    svc.owners.set_route_settings("default", {"escalate_after": 15, "escalate_to": ["S0LEADS"]}, by="UADMIN")
    en = await render_in("en", kinds[OutboxKind.ESCALATION], row)
    vi = await render_in("vi", kinds[OutboxKind.ESCALATION], row)
    assert en.text == (
        ":rotating_light: <!subteam^S0LEADS>: nobody has taken this missed call for 15 min."
        " Click *I'll take it* on the alert to own it."
    )
    assert vi.text.startswith(":rotating_light: <!subteam^S0LEADS>: cuộc gọi nhỡ này đã 15 phút mà chưa ai nhận.")
    assert en.thread_ts == "1700000000.000100" and "late" not in en.text


async def test_an_escalation_sent_late_says_how_late_and_one_for_a_taken_alert_is_gone(svc, store, clock, kinds):
    svc.handle_decision(decision(1, NOON))
    alert_id = store.alert_for_call("c1")["id"]
    posted(store, alert_id)
    clock.advance(25 * 60)
    await escalation(store, svc, clock).run(late=600, alert_id=alert_id, step=1)  # fell due 10 min ago
    row = only(store, OutboxKind.ESCALATION)
    assert "so it comes 10 min late." in (await render_in("en", kinds[OutboxKind.ESCALATION], row)).text
    clock.advance(5 * 60)  # and Slack was down 5 min more
    assert "đến muộn 15 phút" in (await render_in("vi", kinds[OutboxKind.ESCALATION], row)).text
    svc.ownership.take(alert_id, "U0AN")
    with pytest.raises(Gone):
        await kinds[OutboxKind.ESCALATION].render(row)


async def test_the_second_step_dms_each_supervisor_worded_in_their_language(svc, store, clock, kinds) -> None:
    svc.owners.set_route_settings(
        "default",
        {"escalate_after": 5, "second_after": 10, "supervisors": ["U0BOSS", "U0LEAD"]},
        by="UADMIN",
    )
    svc.handle_decision(decision(1, NOON))
    alert_id = store.alert_for_call("c1")["id"]
    posted(store, alert_id)
    runner = escalation(store, svc, clock)
    clock.advance(5 * 60)
    await runner.run(alert_id=alert_id, step=1)
    clock.advance(10 * 60)
    assert await runner.run(alert_id=alert_id, step=2) == "told_supervisors"
    rows = store.pending_outbox(kind=OutboxKind.ESCALATION_DM)
    assert [(r["channel"], r["body"]["user"], r["body"]["minutes"]) for r in rows] == [
        ("U0BOSS", "U0BOSS", 15),
        ("U0LEAD", "U0LEAD", 15),
    ]
    en = await render_in("en", kinds[OutboxKind.ESCALATION_DM], rows[0])
    vi = await render_in("vi", kinds[OutboxKind.ESCALATION_DM], rows[1])
    assert en.text == "Missed call from 0987 654 321 unowned for 15 min"
    assert vi.text == "Cuộc gọi nhỡ từ 0987 654 321 chưa ai nhận sau 15 phút"
    assert "https://acme.slack.com/archives/C0CALLS/p1700000000000100" in en.blocks[0]["text"]["text"]


# -- the overnight digest --------------------------------------------------------------------------------------
async def test_the_overnight_digest_lists_what_was_held_as_it_is_now_and_says_when_it_comes_late(
    svc, store, clock, kinds
) -> None:
    svc.owners.set_route_settings("default", {"hours": {"mon-sun": "08:00-17:30"}}, by="UADMIN")
    night = NOON.replace(hour=2)
    clock.now = night.timestamp()
    assert svc.handle_decision(decision(1, night)) == "held"
    assert svc.handle_decision(decision(2, night + timedelta(minutes=5))) == "repeat"
    clock.now = NOON.replace(hour=8).timestamp()
    assert await Overnight(store, clock=clock).run(channel=CHANNEL) == 2
    row = only(store, OutboxKind.OVERNIGHT_DIGEST)
    alert_id = store.alert_for_call("c1")["id"]
    assert row["body"] == {"alert_ids": [alert_id], "short_ids": [], "min_ring": 0, "due_at": clock.now}
    assert await Overnight(store, clock=clock).run(channel=CHANNEL) == 0  # listed once only

    en = await render_in("en", kinds[OutboxKind.OVERNIGHT_DIGEST], row)
    vi = await render_in("vi", kinds[OutboxKind.OVERNIGHT_DIGEST], row)
    assert en.text == "While we were closed: 2 missed calls" and en.thread_ts is None
    assert vi.text == "Trong lúc ngoài giờ làm việc: 2 cuộc gọi nhỡ"
    assert "0987 654 321" in en.blocks[1]["text"]["text"] and len(en.blocks) == 2

    svc.mark_handled(alert_id, "U0AN")  # handled before Slack took the digest: it says so
    clock.advance(3 * 3600)  # Slack was down three hours
    late = await render_in("en", kinds[OutboxKind.OVERNIGHT_DIGEST], row)
    assert "handled" in late.blocks[1]["text"]["text"]
    assert late.blocks[-1]["elements"][0]["text"].startswith(":hourglass_flowing_sand: Due at 08:00")
    assert "so it comes 3h 00m late." in late.blocks[-1]["elements"][0]["text"]


async def test_an_overnight_digest_with_nothing_left_to_list_is_gone(store, kinds) -> None:
    store.enqueue(OutboxKind.OVERNIGHT_DIGEST, CHANNEL, body={"alert_ids": [999], "short_ids": ["nope"]})
    with pytest.raises(Gone):
        await kinds[OutboxKind.OVERNIGHT_DIGEST].render(only(store, OutboxKind.OVERNIGHT_DIGEST))
