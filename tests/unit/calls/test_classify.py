"""classify: one table per source (legs joined by the tracker, AntBuddy history records) from the shape of a call to
its outcome, and which outcomes raise or resolve an alert (docs/call-model.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.antbuddy import HistoryRecord, QueueStat
from bot.calls.classify import (
    CallDecision,
    Outcome,
    call_direction,
    classify_call,
    classify_record,
    raises_alert,
    record_call_ids,
    resolves_alert,
)

T = 1_715_652_900.0  # unix seconds: 2024-05-14 02:15:00 UTC
CUSTOMER = "0909123456"
DID = "02873019555"


@dataclass
class Leg:
    """A leg as the tracker hands it over (bot.calls.classify.Leg)."""

    leg_id: str
    direction: str | None = None
    caller_number: str | None = None
    destination_number: str | None = None
    username: str | None = None
    authorizing_type: str | None = None
    queue_id: str | None = None
    member_call_id: str | None = None
    agent_id: str | None = None
    callback_for: str | None = None
    callback_number: str | None = None
    hangup_cause: str | None = None
    disposition: str | None = None
    duration: int | None = None
    billing_seconds: int | None = None
    created_ts: float | None = None
    answered_ts: float | None = None
    destroyed_ts: float | None = None
    answered: bool = False
    bridged: bool = False
    fax: bool = False
    conference: bool = False

    def start(self) -> float:
        return self.created_ts if self.created_ts is not None else math.inf


def customer(**kw) -> Leg:
    """The customer's A-leg from the carrier: rang 25 s, then hung up."""
    base = Leg(
        "a",
        "inbound",
        CUSTOMER,
        DID,
        authorizing_type="resource",
        hangup_cause="ORIGINATOR_CANCEL",
        duration=25,
        created_ts=T,
        destroyed_ts=T + 25,
    )
    return replace(base, **kw)


def agent(ext: str, *, answered: bool = False, **kw) -> Leg:
    """A leg ringing agent `ext`'s phone; when answered, after 9 s of ringing and for 61 s."""
    base = Leg(
        f"b{ext}",
        "outbound",
        CUSTOMER,
        ext,
        username=f"user_{ext}",
        authorizing_type="device",
        hangup_cause="NORMAL_CLEARING" if answered else "ORIGINATOR_CANCEL",
        created_ts=T + 1,
        destroyed_ts=T + 70 if answered else T + 25,
    )
    if answered:
        base = replace(base, answered=True, answered_ts=T + 9, billing_seconds=61)
    return replace(base, **kw)


def desk_phone(**kw) -> Leg:
    """An agent's desk phone dialling a customer: the inbound leg of one of our devices."""
    base = Leg("d", "inbound", "101", "0912345678", username="user_101", authorizing_type="device", created_ts=T)
    return replace(base, **kw)


def carrier(*, answered: bool, **kw) -> Leg:
    """The leg out to the customer through the carrier."""
    base = Leg("c", "outbound", "101", "0912345678", authorizing_type="resource", created_ts=T + 1, duration=20)
    if answered:
        base = replace(base, answered=True, answered_ts=T + 6, billing_seconds=52)
    return replace(base, **kw)


def click_to_call_device(**kw) -> Leg:
    """AntBuddy click-to-call: the agent's phone rings first, as an outbound leg showing the customer's number."""
    base = Leg(
        "q",
        "outbound",
        "0912345678",
        "101",
        username="user_101",
        authorizing_type="device",
        created_ts=T,
        answered=True,
        answered_ts=T + 2,
    )
    return replace(base, **kw)


STREAM_SHAPES = [
    # (what happened, root, other legs, outcome; None = not the center's business)
    ("nobody rang, the caller hung up", customer(), [], Outcome.MISSED),
    ("a ring group nobody answered", customer(), [agent("101"), agent("102")], Outcome.MISSED),
    ("an agent answered", customer(), [agent("101"), agent("102", answered=True)], Outcome.ANSWERED),
    ("only an IVR or voicemail answered", customer(answered=True, hangup_cause="NORMAL_CLEARING"), [], Outcome.MISSED),
    ("queued, nobody answered", customer(queue_id="q1"), [agent("101")], Outcome.ABANDONED),
    ("an agent leg from a queue", customer(), [agent("101", member_call_id="a")], Outcome.ABANDONED),
    ("queued and answered", customer(queue_id="q1"), [agent("101", answered=True)], Outcome.ANSWERED),
    ("LOSE_RACE: another leg answered", customer(), [agent("101", hangup_cause="LOSE_RACE")], Outcome.ANSWERED),
    ("PICKED_OFF: picked up elsewhere", customer(), [agent("101", hangup_cause="PICKED_OFF")], Outcome.ANSWERED),
    ("the customer's leg was bridged", customer(bridged=True), [agent("101")], Outcome.ANSWERED),
    ("an agent leg was bridged", customer(), [agent("101", bridged=True)], Outcome.ANSWERED),
    ("a withheld caller id", customer(caller_number="anonymous"), [], Outcome.MISSED),
    ("one of our phones calling an extension", desk_phone(destination_number="102"), [agent("102")], None),
    (
        "an extension caller with no device type, dialling an extension",
        customer(caller_number="1001", destination_number="102", authorizing_type=None),
        [],
        None,
    ),
    (
        "an extension caller with no device type, dialling out",
        customer(caller_number="1001", authorizing_type=None),
        [],
        Outcome.OUTBOUND_UNANSWERED,
    ),
    ("a desk phone call the customer answered", desk_phone(), [carrier(answered=True)], Outcome.OUTBOUND_ANSWERED),
    ("a desk phone call nobody answered", desk_phone(), [carrier(answered=False)], Outcome.OUTBOUND_UNANSWERED),
    (
        "click-to-call the customer answered",
        click_to_call_device(),
        [carrier(answered=True, caller_number="101")],
        Outcome.OUTBOUND_ANSWERED,
    ),
    ("click-to-call the agent never picked up", click_to_call_device(answered=False), [], None),
]


@pytest.mark.parametrize("root, others, outcome", [s[1:] for s in STREAM_SHAPES], ids=[s[0] for s in STREAM_SHAPES])
def test_the_shape_of_a_stream_call_decides_its_outcome(root: Leg, others: list[Leg], outcome: Outcome | None) -> None:
    decision = classify_call(root, [root, *others])
    assert (decision.outcome if decision else None) is outcome


def test_an_answered_call_says_who_answered_and_how_long_they_talked() -> None:
    root = customer(hangup_cause="NORMAL_CLEARING", destroyed_ts=T + 70)
    d = classify_call(root, [root, agent("101"), agent("102", answered=True)])
    assert d is not None
    assert (d.call_id, d.customer_number, d.dialled) == ("a", CUSTOMER, DID)
    assert (d.answered_by, d.agents_rung) == ("102", ("101", "102"))
    assert (d.ring_seconds, d.talk_seconds) == (9, 61)
    assert d.leg_ids == ("a", "b101", "b102")
    assert (d.started_at, d.ended_at) == (datetime.fromtimestamp(T, UTC), datetime.fromtimestamp(T + 70, UTC))


def test_a_missed_call_rang_as_long_as_the_customer_leg_lasted() -> None:
    root = customer()
    d = classify_call(root, [root, agent("101")])
    assert d is not None
    assert (d.ring_seconds, d.talk_seconds, d.answered_by, d.hangup_cause) == (25, 0, None, "ORIGINATOR_CANCEL")


def test_an_abandoned_call_waited_for_the_customer_legs_billed_time_on_hold() -> None:
    root = customer(queue_id="q1", answered=True, hangup_cause="NORMAL_CLEARING", duration=50, billing_seconds=47)
    d = classify_call(root, [root, agent("101")])
    assert d is not None
    assert (d.outcome, d.queue_id, d.ring_seconds) == (Outcome.ABANDONED, "q1", 47)


def test_the_queue_may_be_known_only_from_an_agent_leg() -> None:
    root = customer()
    d = classify_call(root, [root, agent("101", queue_id="q7")])
    assert d is not None
    assert (d.outcome, d.queue_id) == (Outcome.ABANDONED, "q7")


def test_an_outbound_call_names_the_customer_and_the_agent() -> None:
    root = desk_phone()
    d = classify_call(root, [root, carrier(answered=True)])
    assert d is not None
    assert (d.customer_number, d.dialled, d.answered_by, d.agents_rung) == ("0912345678", None, "101", ("101",))
    assert (d.ring_seconds, d.talk_seconds) == (5, 52)


# -- history records ---------------------------------------------------------------------------------------

AT = datetime(2026, 11, 24, 7, 50, tzinfo=UTC)


def record(
    *,
    call_id: str | None = "h1",
    direction: str = "to_ab",
    cls: str = "trunking",
    status: str = "CANCELLED",
    duration: int = 25,
    billing: int = 0,
    queue_stats: tuple[QueueStat, ...] = (),
    raw: dict | None = None,
) -> HistoryRecord:
    inbound = direction == "to_ab"
    return HistoryRecord(
        call_id=call_id,
        caller_number=CUSTOMER if inbound else "101",
        caller_type="realnumber",
        callee_number=DID if inbound else "0912345678",
        callee_type="user",
        callee_username="user_ag01",
        call_class=cls,
        did_number=DID if inbound else None,
        direction=direction,
        status_detail=status,
        duration_seconds=duration,
        billing_seconds=billing,
        started_at=AT,
        recording=None,
        queue_stats=queue_stats,
        raw=raw or {},
    )


def queue_stat(status: str, *, call_id: str | None = None, wait: int | None = 47) -> QueueStat:
    return QueueStat(
        call_id=call_id,
        queue_id="q1",
        status=status,
        wait_time=wait,
        talk_time=None,
        agent_id=None,
        username=None,
        hung_up_by="member",
        end_call_reason="member_hangup",
        caller_id_number=CUSTOMER,
        entered_at=None,
        misses=({"username": "user_ag01"}, {"agent_id": "ag2"}, {"reason": "timeout"}),
        raw={},
    )


HISTORY_SHAPES = [
    # (what history says, record, outcome; None = not judged)
    ("inbound CANCELLED", record(status="CANCELLED"), Outcome.MISSED),
    ("inbound IVR: nobody answered", record(status="IVR"), Outcome.MISSED),
    ("inbound BUSY", record(status="BUSY"), Outcome.MISSED),
    ("inbound UNSUCCESS", record(status="unsuccess"), Outcome.MISSED),
    ("inbound SUCCESS", record(status="SUCCESS", duration=70, billing=61), Outcome.ANSWERED),
    ("inbound, another status", record(status="SOMETHING"), None),
    ("queue_stat abandoned", record(status="SUCCESS", queue_stats=(queue_stat("abandoned"),)), Outcome.ABANDONED),
    (
        "abandoned in one queue, handled in another",
        record(status="SUCCESS", billing=30, queue_stats=(queue_stat("abandoned"), queue_stat("handled"))),
        Outcome.ANSWERED,
    ),
    ("queue_stat processed", record(status="CANCELLED", queue_stats=(queue_stat("processed"),)), Outcome.MISSED),
    ("internal (one_one)", record(cls="one_one"), None),
    ("no class", record(cls=""), None),
    ("outbound SUCCESS", record(direction="from_ab", status="SUCCESS", billing=52), Outcome.OUTBOUND_ANSWERED),
    ("outbound CANCELLED", record(direction="from_ab", status="CANCELLED"), Outcome.OUTBOUND_UNANSWERED),
    ("no direction", record(direction=""), None),
]


@pytest.mark.parametrize("rec, outcome", [s[1:] for s in HISTORY_SHAPES], ids=[s[0] for s in HISTORY_SHAPES])
def test_a_history_record_decides_its_outcome(rec: HistoryRecord, outcome: Outcome | None) -> None:
    decision = classify_record(rec)
    assert (decision.outcome if decision else None) is outcome
    assert decision is None or decision.source == "history"


def test_a_missed_record_rang_for_its_whole_duration_and_keeps_its_status_as_the_cause() -> None:
    d = classify_record(record(status="BUSY", duration=25))
    assert d is not None
    assert (d.call_id, d.customer_number, d.dialled) == ("h1", CUSTOMER, DID)
    assert (d.ring_seconds, d.talk_seconds, d.hangup_cause) == (25, 0, "BUSY")
    assert (d.started_at, d.ended_at) == (AT, AT + timedelta(seconds=25))


def test_an_abandoned_record_gives_the_queue_the_wait_the_reason_and_who_missed_it() -> None:
    d = classify_record(record(status="SUCCESS", duration=60, queue_stats=(queue_stat("abandoned"),)))
    assert d is not None
    assert (d.queue_id, d.ring_seconds, d.hangup_cause) == ("q1", 47, "member_hangup")
    assert d.agents_rung == ("user_ag01", "ag2")


def test_an_abandoned_record_without_a_wait_time_waited_its_whole_duration() -> None:
    d = classify_record(record(duration=60, queue_stats=(queue_stat("abandoned", wait=None),)))
    assert d is not None and d.ring_seconds == 60


def test_an_answered_record_rang_until_billing_started() -> None:
    d = classify_record(record(status="SUCCESS", duration=70, billing=61))
    assert d is not None
    assert (d.ring_seconds, d.talk_seconds, d.answered_by, d.hangup_cause) == (9, 61, "user_ag01", None)


def test_an_outbound_record_names_the_agent_who_placed_the_call() -> None:
    d = classify_record(
        record(direction="from_ab", status="SUCCESS", billing=52, raw={"caller": {"username": "user_ag07"}})
    )
    assert d is not None
    assert (d.customer_number, d.dialled, d.answered_by, d.talk_seconds) == ("0912345678", None, "user_ag07", 52)
    unanswered = classify_record(record(direction="from_ab", status="CANCELLED"))
    assert unanswered is not None
    assert (unanswered.answered_by, unanswered.talk_seconds, unanswered.hangup_cause) == (None, 0, "CANCELLED")


def test_a_record_answers_to_its_own_call_id_then_its_queue_stats() -> None:
    rec = record(call_id=None, queue_stats=(queue_stat("abandoned", call_id="qs1"), queue_stat("abandoned")))
    assert record_call_ids(rec) == ["qs1"]
    d = classify_record(rec)
    assert d is not None and d.call_id == "qs1"


def test_a_record_without_any_call_id_gets_the_same_made_up_id_every_time() -> None:
    a, b = classify_record(record(call_id=None)), classify_record(record(call_id=None))
    assert a is not None and b is not None
    assert a.call_id == b.call_id and a.call_id.startswith("hist-")


# -- what an outcome means for alerts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "outcome, raises, resolves, direction",
    [
        (Outcome.MISSED, True, False, "inbound"),
        (Outcome.ABANDONED, True, False, "inbound"),
        (Outcome.ANSWERED, False, True, "inbound"),
        (Outcome.OUTBOUND_ANSWERED, False, True, "outbound"),
        (Outcome.OUTBOUND_UNANSWERED, False, False, "outbound"),
    ],
)
def test_missed_and_abandoned_calls_raise_alerts_and_any_answered_call_resolves_them(
    outcome: Outcome, raises: bool, resolves: bool, direction: str
) -> None:
    assert (raises_alert(outcome), resolves_alert(outcome), call_direction(outcome)) == (raises, resolves, direction)


def test_an_outcome_is_its_stored_string() -> None:
    assert Outcome("abandoned") is Outcome.ABANDONED
    assert str(Outcome.OUTBOUND_ANSWERED) == "outbound_answered"
    assert isinstance(CallDecision("x", Outcome.MISSED, CUSTOMER, DID, None, AT, AT, 0, 0, None).outcome.value, str)


# -- queue callbacks (docs/call-model.md) --------------------------------------------------------------------------
def _callback_stat(status: str, **kw) -> QueueStat:
    return replace(queue_stat(status, call_id="cust-1"), is_callback=True, **kw)


def test_a_caller_waiting_for_the_queues_callback_is_abandoned_but_marked_as_asking_for_it() -> None:
    d = classify_record(record(status="IVR", queue_stats=(_callback_stat("waiting"),)))
    assert d is not None and d.outcome is Outcome.ABANDONED and d.callback_requested
    assert d.queue_callback_for is None


def test_history_of_a_callback_the_queue_made_answers_the_original_call_without_being_it() -> None:
    stat = _callback_stat("processed", username="user_ag01", talk_time=64)
    d = classify_record(record(call_id="cust-1", status="IVR", queue_stats=(stat,)))
    assert d is not None and d.outcome is Outcome.ANSWERED
    assert d.queue_callback_for == "cust-1" and d.answered_by == "user_ag01" and d.talk_seconds == 64


def test_a_plain_abandon_is_not_a_callback_request() -> None:
    d = classify_record(record(status="IVR", queue_stats=(queue_stat("abandoned"),)))
    assert d is not None and not d.callback_requested


def test_the_queues_callback_leg_is_an_outbound_call_tied_to_the_call_it_answers() -> None:
    agent = Leg(
        "agent-cb",
        direction="outbound",
        caller_number=CUSTOMER,
        destination_number="101",
        authorizing_type="user",
        callback_for="cust-1",
        callback_number="0912345678",
        created_ts=100.0,
        answered_ts=104.0,
        destroyed_ts=170.0,
        answered=True,
    )
    out = Leg(
        "callback-1",
        direction="outbound",
        caller_number="101",
        destination_number="0912345678",
        created_ts=105.0,
        answered_ts=110.0,
        destroyed_ts=170.0,
        billing_seconds=60,
        answered=True,
        bridged=True,
    )
    d = classify_call(agent, [agent, out])
    assert d is not None and d.outcome is Outcome.OUTBOUND_ANSWERED and d.queue_callback_for == "cust-1"
    assert d.customer_number == "0912345678" and d.answered_by == "101" and d.talk_seconds == 60
    unanswered = replace(agent, answered=False, answered_ts=None)
    d = classify_call(unanswered, [unanswered])
    assert d is not None and d.outcome is Outcome.OUTBOUND_UNANSWERED and d.customer_number == "0912345678"
    assert d.queue_callback_for == "cust-1"
