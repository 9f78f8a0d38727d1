"""Tracker: legs joined into calls, and each call decided once as docs/call-model.md says (real payload shapes)."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime

import pytest

from bot.calls.classify import CallDecision, Outcome
from bot.calls.events import CREATE, DESTROY, Event, normalise
from bot.calls.tracker import Tracker
from tests.support import payloads as P

UTC = UTC
GRACE = 2.0
STYLES = ["kazoo", "snake"]


def run(events, *, tracker: Tracker | None = None, start: float = 0.0, step: float = 0.01) -> list[CallDecision]:
    """Feed events in the order given, then let the grace window pass."""
    tracker = Tracker(grace_seconds=GRACE) if tracker is None else tracker
    now = start
    out: list[CallDecision] = []
    for name, body in events:
        tracker.feed(normalise(name, body), now)
        out.extend(tracker.due(now))
        now += step
    out.extend(tracker.due(now + GRACE + 0.01))
    return out


def only(decisions: list[CallDecision]) -> CallDecision:
    assert len(decisions) == 1, decisions
    return decisions[0]


# -- the Kazoo 3.x example calls of tests/support/payloads.py, verbatim -----------------------------------


def test_kazoo_example_answered_call_is_answered_by_agent_101_after_9s_with_61s_talk():
    d = only(run(P.ANSWERED_7_1))
    assert d.outcome is Outcome.ANSWERED
    assert d.call_id == "5e2a91c07d1b4f1e8a3b@203.0.113.10"
    assert (d.customer_number, d.dialled) == ("0909123456", "02873019555")
    assert (d.answered_by, d.agents_rung) == ("101", ("101",))
    assert (d.ring_seconds, d.talk_seconds) == (9, 61)
    assert d.started_at == datetime(2024, 5, 14, 2, 15, 2, tzinfo=UTC)
    assert d.ended_at == datetime(2024, 5, 14, 2, 16, 12, tzinfo=UTC)
    assert set(d.leg_ids) == {"5e2a91c07d1b4f1e8a3b@203.0.113.10", "a4f0c7e2-11b2-4d1e-8c3f-5e9a2b7d6c01"}


def test_kazoo_example_ring_group_cancel_is_missed_after_25s_with_both_agents_rung():
    d = only(run(P.MISSED_7_2))
    assert d.outcome is Outcome.MISSED
    assert (d.customer_number, d.dialled, d.ring_seconds) == ("0909123456", "02873019555", 25)
    assert d.agents_rung == ("101", "102")
    assert d.hangup_cause == "ORIGINATOR_CANCEL"
    assert d.answered_by is None and d.talk_seconds == 0
    assert d.started_at == datetime(2024, 5, 14, 3, 10, 0, tzinfo=UTC)


def test_kazoo_example_queue_call_given_up_on_hold_is_abandoned_with_wait_47s():
    d = only(run(P.ABANDONED_7_3))
    assert d.outcome is Outcome.ABANDONED
    assert d.queue_id == "c0ffee00c0ffee00c0ffee00c0ffee00"
    assert d.ring_seconds == 47  # billing seconds of the A-leg = time on hold
    assert d.agents_rung == ("101",)
    assert d.hangup_cause == "NORMAL_CLEARING"


def test_kazoo_example_missed_call_in_the_documents_snake_shape():
    create = {k: v for k, v in P.DOC_STYLE_DESTROY.items() if k not in ("duration", "hangup_cause")}
    doc = [("CHANNEL_CREATE", {**create, "Timestamp": 63882875400}), ("CHANNEL_DESTROY", P.DOC_STYLE_DESTROY)]
    d = only(run(doc))
    assert (d.outcome, d.ring_seconds, d.dialled) == (Outcome.MISSED, 25, "02873019555")


# -- scenarios, both key styles --------------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_ring_group_answered_with_lose_race_on_the_others(style):
    sc = P.ring_group(1, style, ("101", "102", "103"), answer=1, a_cause="NORMAL_CLEARING")
    d = only(run(sc.events))
    assert (d.outcome, d.answered_by, d.agents_rung) == (Outcome.ANSWERED, "102", ("101", "102", "103"))
    assert (d.ring_seconds, d.talk_seconds) == (9, 61)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("cause", ["ORIGINATOR_CANCEL", "NO_ANSWER", "USER_BUSY", "CALL_REJECTED"])
def test_nobody_answers_is_missed_whatever_the_cause(style, cause):
    sc = P.ring_group(2, style, ("101",), answer=None, a_cause=cause)
    d = only(run(sc.events))
    assert (d.outcome, d.hangup_cause, d.ring_seconds) == (Outcome.MISSED, cause, 25)


@pytest.mark.parametrize("style", STYLES)
def test_fall_through_to_voicemail_is_missed_although_the_a_leg_answered(style):
    sc = P.ring_group(3, style, ("101", "102"), answer=None, a_cause="NO_ANSWER", voicemail=True)
    d = only(run(sc.events))
    assert (d.outcome, d.hangup_cause, d.ring_seconds) == (Outcome.MISSED, "NORMAL_CLEARING", 45)


@pytest.mark.parametrize("style", STYLES)
def test_ivr_answer_alone_is_missed(style):
    d = only(run(P.ivr_only(4, style).events))
    assert (d.outcome, d.agents_rung) == (Outcome.MISSED, ())


@pytest.mark.parametrize("style", STYLES)
def test_queue_caller_who_hangs_up_before_any_agent_answers_is_abandoned(style):
    d = only(run(P.queue_call(5, style, ("101", "102"), answer=None).events))
    assert (d.outcome, d.queue_id, d.agents_rung) == (Outcome.ABANDONED, P.QUEUE, ("101", "102"))
    assert d.ring_seconds == 36


@pytest.mark.parametrize("style", STYLES)
def test_queue_call_answered_by_the_second_agent_is_answered(style):
    d = only(run(P.queue_call(6, style, ("101", "102"), answer=1).events))
    assert (d.outcome, d.answered_by, d.queue_id) == (Outcome.ANSWERED, "102", P.QUEUE)
    assert (d.ring_seconds, d.talk_seconds) == (23, 90)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("answered", [True, False])
def test_desk_phone_call_to_a_customer_is_outbound(style, answered):
    d = only(run(P.desk_outbound(7, style, answered=answered).events))
    expected = Outcome.OUTBOUND_ANSWERED if answered else Outcome.OUTBOUND_UNANSWERED
    assert (d.outcome, d.customer_number, d.dialled) == (expected, "0912345678", None)
    assert d.call_id == "o7@acme.example.com"
    assert d.agents_rung == ("101",)
    assert d.talk_seconds == (52 if answered else 0)


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("answered", [True, False])
def test_click_to_call_rings_the_agent_then_the_customer(style, answered):
    d = only(run(P.click_to_call(8, style, answered=answered).events))
    expected = Outcome.OUTBOUND_ANSWERED if answered else Outcome.OUTBOUND_UNANSWERED
    assert (d.outcome, d.customer_number, d.call_id) == (expected, "0912345678", "c8-device")
    assert d.answered_by == ("101" if answered else None)


def test_click_to_call_the_agent_never_picks_up_decides_nothing():
    d = P.Leg(
        "c9-device",
        "outbound",
        "0912345678",
        callee="101",
        request="user_ag01@acme",
        ccv={"authorizing_type": "device", "username": "user_ag01"},
    )
    s = P.Script().create(d, P.T0).destroy(d, P.T0 + 30, "NO_ANSWER", 30)
    assert run(s.events) == []


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("answered", [True, False])
def test_internal_call_decides_nothing(style, answered):
    tracker = Tracker(grace_seconds=GRACE)
    assert run(P.internal(9, style, answered=answered).events, tracker=tracker) == []
    assert len(tracker) == 0 and tracker.stats()["internal_dropped"] == 1


def test_caller_with_an_extension_number_but_no_device_type_is_internal():
    a = P.Leg("x1", "inbound", "1001", request="102@h")
    assert run(P.Script().create(a, P.T0).destroy(a, P.T0 + 5, "ORIGINATOR_CANCEL", 5).events) == []
    b = P.Leg("x2", "inbound", "1001", request="0912345678@h")
    d = only(run(P.Script().create(b, P.T0).destroy(b, P.T0 + 5, "ORIGINATOR_CANCEL", 5).events))
    assert (d.outcome, d.customer_number) == (Outcome.OUTBOUND_UNANSWERED, "0912345678")


def test_withheld_caller_is_still_an_outside_call():
    a = P.Leg("x3", "inbound", "anonymous", request=f"{P.DID}@h", ccv={"authorizing_type": "resource"})
    d = only(run(P.Script().create(a, P.T0).destroy(a, P.T0 + 5, "ORIGINATOR_CANCEL", 5).events))
    assert (d.outcome, d.customer_number) == (Outcome.MISSED, "anonymous")


def test_lose_race_on_an_agent_leg_means_someone_answered_even_if_that_answer_was_lost():
    sc = P.ring_group(10, "kazoo", ("101", "102"), answer=0, a_cause="NORMAL_CLEARING")
    without_answers = [e for e in sc.events if e[0] != "CHANNEL_ANSWER"]
    for name, body in without_answers:  # and the answering leg's DESTROY says nothing of its own answer
        if name == "CHANNEL_DESTROY" and body["Call-ID"].startswith("b10-101"):
            body["Billing-Seconds"] = "0"
    d = only(run(without_answers))
    assert d.outcome is Outcome.ANSWERED and d.answered_by is None


def test_an_agent_leg_whose_answer_was_lost_is_named_by_its_billed_seconds():
    sc = P.ring_group(10, "kazoo", ("101", "102"), answer=0, a_cause="NORMAL_CLEARING")
    d = only(run([e for e in sc.events if e[0] != "CHANNEL_ANSWER"]))
    assert d.outcome is Outcome.ANSWERED and d.answered_by == "101" and d.talk_seconds == 61


# -- joining legs ----------------------------------------------------------------------------------------


def test_b_leg_create_before_the_a_leg_create_is_adopted():
    ev = P.copy_events(P.MISSED_7_2)
    reordered = [ev[1], ev[2], ev[0], *ev[3:]]
    d = only(run(reordered))
    assert d.agents_rung == ("101", "102") and d.call_id == "7c0d4e2b9a1f43c6b2d8@203.0.113.10"


def test_agent_legs_without_link_fields_join_by_caller_number():
    sc = P.ring_group(11, "kazoo", ("101", "102"), answer=1, a_cause="NORMAL_CLEARING", linked=False)
    d = only(run(sc.events))
    assert (d.outcome, d.answered_by, d.agents_rung) == (Outcome.ANSWERED, "102", ("101", "102"))


def test_fallback_join_does_not_take_a_leg_from_another_caller():
    sc = P.ring_group(12, "kazoo", ("101",), answer=0, a_cause="NORMAL_CLEARING", linked=False)
    other = []
    for name, body in sc.events:  # the agent legs present another caller's number
        if body["Call-Direction"] == "outbound":
            body = {**body, "Caller-ID-Number": "0911111111"}
        other.append((name, body))
    d = only(run(other))
    assert d.outcome is Outcome.MISSED and d.agents_rung == ()


def test_two_simultaneous_calls_stay_apart():
    one = P.ring_group(13, "kazoo", ("101",), answer=0, a_cause="NORMAL_CLEARING").events
    two = P.ring_group(14, "snake", ("102",), answer=None, a_cause="ORIGINATOR_CANCEL").events
    mixed = [e for pair in zip(one, two, strict=False) for e in pair] + one[len(two) :] + two[len(one) :]
    decisions = {d.call_id: d for d in run(mixed)}
    assert decisions["a13@203.0.113.10"].outcome is Outcome.ANSWERED
    assert decisions["a14@203.0.113.10"].outcome is Outcome.MISSED
    assert decisions["a14@203.0.113.10"].agents_rung == ("102",)


# -- order, duplicates, lost events ----------------------------------------------------------------------


def test_duplicates_are_ignored_and_counted():
    tracker = Tracker(grace_seconds=GRACE)
    events = [e for e in P.MISSED_7_2 for _ in range(3)]
    only(run(events, tracker=tracker))
    assert tracker.stats()["duplicates_ignored"] == 2 * len(P.MISSED_7_2)


def test_destroy_without_create_is_still_decided():
    d = only(run([P.MISSED_7_2[3]]))
    assert (d.outcome, d.ring_seconds, d.started_at) == (
        Outcome.MISSED,
        25,
        datetime(2024, 5, 14, 3, 10, 0, tzinfo=UTC),
    )  # start = end - duration


def test_b_leg_destroy_alone_never_crashes_and_expires_as_an_orphan():
    tracker = Tracker(grace_seconds=GRACE, orphan_seconds=60)
    tracker.feed(normalise(*P.ANSWERED_7_1[1]), 0.0)  # B-leg create points at an A-leg never seen
    tracker.feed(normalise(*P.ANSWERED_7_1[4]), 0.1)
    assert tracker.due(10) == [] and len(tracker) == 1
    assert tracker.due(61) == [] and len(tracker) == 0
    assert tracker.stats()["expired"] == 1


def test_answer_after_destroy_still_counts():
    ev = P.copy_events(P.ANSWERED_7_1)
    late_answer = [ev[0], ev[1], ev[4], ev[5], ev[2], ev[3]]  # B DESTROY, A DESTROY, then the ANSWERs
    assert only(run(late_answer)).outcome is Outcome.ANSWERED


def test_b_leg_destroy_after_the_decision_does_not_reopen_the_call():
    tracker = Tracker(grace_seconds=GRACE)
    ev = P.MISSED_7_2
    for name, body in ev[:4]:
        tracker.feed(normalise(name, body), 0.0)
    assert len(tracker.due(5.0)) == 1
    for name, body in [*ev[4:], ev[3], ev[0]]:  # stragglers and a duplicate A DESTROY
        tracker.feed(normalise(name, body), 6.0)
    assert tracker.due(100.0) == [] and len(tracker) == 0
    assert tracker.stats()["late_ignored"] == 4


def test_a_new_leg_pointing_at_a_decided_call_is_ignored():
    tracker = Tracker(grace_seconds=GRACE)
    for name, body in P.MISSED_7_2[:4]:
        tracker.feed(normalise(name, body), 0.0)
    assert len(tracker.due(5.0)) == 1
    ghost = P.Leg("ghost", "outbound", "0909123456", callee="103", other_leg="7c0d4e2b9a1f43c6b2d8@203.0.113.10")
    for name, body in P.Script().create(ghost, P.T0).destroy(ghost, P.T0 + 1, "NO_ANSWER", 1).events:
        tracker.feed(normalise(name, body), 6.0)
    assert tracker.due(100.0) == [] and len(tracker) == 0


def test_unknown_events_are_ignored():
    tracker = Tracker(grace_seconds=GRACE)
    tracker.feed(normalise("CHANNEL_HOLD", {"call_id": "x", "direction": "inbound"}), 0.0)
    assert len(tracker) == 0


# -- the grace window -----------------------------------------------------------------------------------


def test_agent_answer_arriving_within_grace_turns_missed_into_answered():
    ev = P.ANSWERED_7_1
    tracker = Tracker(grace_seconds=GRACE)
    for name, body in [ev[0], ev[1], ev[5]]:  # A-leg ends before the agent's ANSWER arrives
        tracker.feed(normalise(name, body), 10.0)
    assert tracker.due(11.9) == []
    tracker.feed(normalise(*ev[2]), 11.9)
    assert only(tracker.due(12.0)).outcome is Outcome.ANSWERED


def test_agent_answer_arriving_after_grace_is_ignored():
    ev = P.ANSWERED_7_1
    tracker = Tracker(grace_seconds=GRACE)
    for name, body in [ev[0], ev[1], ev[5]]:
        tracker.feed(normalise(name, body), 10.0)
    assert only(tracker.due(12.0)).outcome is Outcome.MISSED
    tracker.feed(normalise(*ev[2]), 12.5)
    assert tracker.due(20.0) == []
    assert tracker.stats()["late_ignored"] == 1


def test_nothing_is_decided_while_the_a_leg_is_up():
    tracker = Tracker(grace_seconds=GRACE)
    for name, body in P.MISSED_7_2[:3] + P.MISSED_7_2[4:]:  # every agent leg ended, the caller still waits
        tracker.feed(normalise(name, body), 0.0)
    assert tracker.due(3600.0) == [] and len(tracker) == 1


# -- expiry and memory -----------------------------------------------------------------------------------


def test_call_that_never_ends_expires_without_a_decision():
    tracker = Tracker(grace_seconds=GRACE, expire_seconds=4 * 3600)
    tracker.feed(normalise(*P.MISSED_7_2[0]), 0.0)
    assert tracker.due(4 * 3600 - 1) == [] and len(tracker) == 1
    assert tracker.due(4 * 3600 + 1) == [] and len(tracker) == 0
    assert tracker.stats()["expired"] == 1
    tracker.feed(normalise(*P.MISSED_7_2[3]), 4 * 3600 + 2)  # its DESTROY, hours late, raises nothing
    assert tracker.due(5 * 3600) == []


def test_hundred_thousand_calls_leave_nothing_behind_but_a_bounded_id_memory():
    tracker = Tracker(grace_seconds=GRACE, remember_max=30_000)
    now, decided = 0.0, 0
    for i in range(100_000):
        a, b = f"a{i}@203.0.113.10", f"b{i}-101"
        tracker.feed(Event(CREATE, a, "inbound", "0909123456", destination_number="02873019555"), now)
        tracker.feed(Event(CREATE, b, "outbound", "0909123456", destination_number="101", bridge_id=a), now)
        tracker.feed(Event(DESTROY, b, "outbound", hangup_cause="ORIGINATOR_CANCEL", duration=9), now)
        tracker.feed(Event(DESTROY, a, "inbound", hangup_cause="ORIGINATOR_CANCEL", duration=10), now)
        now += 0.01
        if i % 100 == 0:
            decided += len(tracker.due(now))
    decided += len(tracker.due(now + GRACE + 1))
    stats = tracker.stats()
    assert decided == 100_000 and stats["decided"] == 100_000
    assert len(tracker) == 0 and stats["tracked_ids"] == 0 and stats["pending_deadlines"] == 0
    assert stats["remembered_ids"] <= 30_000


def test_due_does_not_walk_every_open_call():
    tracker = Tracker(grace_seconds=GRACE, max_open=20_000)  # above the shipped cap: this is about due()
    for i in range(20_000):  # 20,000 calls ringing, none ended
        tracker.feed(
            normalise("CHANNEL_CREATE", {"call_id": f"a{i}", "direction": "inbound", "caller_id_number": "0909123456"}),
            0.0,
        )
    peeked = _CountingCalls(tracker._open)  # the calls in first-sighting order, watched as due() reads them
    tracker._open = peeked
    for k in range(2_000):
        assert tracker.due(1.0 + k * 0.001) == []
    assert peeked.looked_at <= 2_000  # at most the oldest call, once a pass, to see whether it expired
    assert len(tracker) == 20_000


class _CountingCalls(OrderedDict):
    """The tracker's open calls, counting how many of them are looked at."""

    looked_at = 0

    def values(self):
        for call in super().values():
            self.looked_at += 1
            yield call


def test_stats_count_what_happened():
    tracker = Tracker(grace_seconds=GRACE)
    run(P.MISSED_7_2 + P.MISSED_7_2[:1], tracker=tracker)
    stats = tracker.stats()
    assert stats["calls_open"] == 0 and stats["decided"] == 1 and stats["expired"] == 0
    assert stats["duplicates_ignored"] + stats["late_ignored"] == 1


def test_an_open_call_pointing_at_a_decided_one_is_still_decided():
    tracker = Tracker(grace_seconds=GRACE)
    run(P.MISSED_7_2, tracker=tracker)  # decided and closed
    consult = P.Leg("t1@h", "inbound", "0911111111", request=f"{P.DID}@h", ccv={"authorizing_type": "resource"})
    events = P.Script().create(consult, P.T0).events
    moved = P.Leg(
        "t1@h",
        "inbound",
        "0911111111",
        request=f"{P.DID}@h",
        other_leg="7c0d4e2b9a1f43c6b2d8@203.0.113.10",
        ccv={"authorizing_type": "resource"},
    )
    events += P.Script().destroy(moved, P.T0 + 9, "ORIGINATOR_CANCEL", 9).events
    d = only(run(events, tracker=tracker, start=100.0))
    assert (d.call_id, d.outcome) == ("t1@h", Outcome.MISSED)
