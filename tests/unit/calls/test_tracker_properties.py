"""Tracker properties over orderings: any permutation, duplicates and lost CREATEs give the in-order answer."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.calls.classify import CallDecision
from bot.calls.events import ANSWER, BRIDGE, CREATE, DESTROY, Event, normalise
from bot.calls.tracker import Tracker
from tests.support import payloads as P

GRACE = 2.0
EXTS = sorted(P.AGENTS)


@st.composite
def scenarios(draw, n: int) -> P.Scenario:
    style = draw(st.sampled_from(["kazoo", "snake"]))
    kind = draw(st.sampled_from(["ring_group", "missed", "voicemail", "ivr", "queue", "desk", "click", "internal"]))
    exts = tuple(draw(st.lists(st.sampled_from(EXTS), min_size=1, max_size=4, unique=True)))
    if kind == "ring_group":
        return P.ring_group(n, style, exts, answer=draw(st.integers(0, len(exts) - 1)), a_cause="NORMAL_CLEARING")
    if kind == "missed":
        cause = draw(st.sampled_from(["ORIGINATOR_CANCEL", "NO_ANSWER", "USER_BUSY", "CALL_REJECTED"]))
        return P.ring_group(n, style, exts, answer=None, a_cause=cause)
    if kind == "voicemail":
        return P.ring_group(n, style, exts, answer=None, a_cause="NO_ANSWER", voicemail=True)
    if kind == "ivr":
        return P.ivr_only(n, style)
    if kind == "queue":
        return P.queue_call(n, style, exts, answer=draw(st.none() | st.integers(0, len(exts) - 1)))
    answered = draw(st.booleans())
    if kind == "desk":
        return P.desk_outbound(n, style, answered=answered)
    if kind == "click":
        return P.click_to_call(n, style, answered=answered)
    return P.internal(n, style, answered=answered)


@st.composite
def mangled(draw) -> tuple[list[P.Scenario], list[P.Payload]]:
    """1-3 concurrent calls; their events shuffled together, some repeated, some CREATEs lost."""
    count = draw(st.integers(1, 3))
    calls = [draw(scenarios(n)) for n in range(count)]
    events = [e for sc in calls for e in sc.events]
    kept = [e for e in events if not (e[0] == CREATE and draw(st.booleans()))]
    extra = draw(st.lists(st.sampled_from(kept), max_size=6))
    return calls, draw(st.permutations(kept + extra))


def decide(events: list[P.Payload], step: float = 0.001) -> list[CallDecision]:
    tracker = Tracker(grace_seconds=GRACE)
    now = 0.0
    out: list[CallDecision] = []
    for name, body in events:
        tracker.feed(normalise(name, body), now)
        out.extend(tracker.due(now))
        now += step
    out.extend(tracker.due(now + GRACE + 0.01))
    assert len(tracker) == 0
    return out


def facts(d: CallDecision) -> tuple:
    return (
        d.call_id,
        d.outcome,
        d.customer_number,
        d.dialled,
        d.queue_id,
        d.answered_by,
        d.agents_rung,
        d.ring_seconds,
        d.talk_seconds,
        d.started_at,
        d.hangup_cause,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_any_order_duplicates_and_lost_creates_give_the_in_order_decision(case):
    calls, shuffled = case
    in_order = {d.call_id: d for d in decide([e for sc in calls for e in sc.events])}
    for sc in calls:  # the in-order feed is right to begin with
        if sc.outcome is None:
            assert sc.call_id not in in_order
        else:
            d = in_order[sc.call_id]
            assert (d.outcome, d.customer_number) == (sc.outcome, sc.customer)
            assert d.answered_by == sc.answered_by
    out = decide(shuffled)
    assert Counter(d.call_id for d in out) == Counter(list(in_order))  # each call decided exactly once
    assert {d.call_id: facts(d) for d in out} == {k: facts(d) for k, d in in_order.items()}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled(), st.lists(st.floats(0, 5), min_size=1, max_size=40), st.data())
def test_a_call_is_decided_at_most_once_whatever_the_delays(case, gaps, data):
    calls, shuffled = case
    tracker = Tracker(grace_seconds=GRACE)
    now = 0.0
    out: list[CallDecision] = []
    for i, (name, body) in enumerate(shuffled):
        tracker.feed(normalise(name, body), now)
        now += gaps[i % len(gaps)]
        if data.draw(st.booleans()):
            out.extend(tracker.due(now))
    out.extend(tracker.due(now + 5 * 3600))
    assert max(Counter(d.call_id for d in out).values(), default=0) <= 1
    inbound = {sc.call_id for sc in calls if sc.kind not in ("desk_outbound", "click_to_call", "internal")}
    assert inbound <= {d.call_id for d in out}  # an outside caller is never silently lost
    assert len(tracker) == 0 and tracker.stats()["tracked_ids"] == 0


ids = st.sampled_from(["a", "b", "c", "d", "e"])


@st.composite
def random_events(draw) -> Event:
    return Event(
        name=draw(st.sampled_from([CREATE, ANSWER, DESTROY, BRIDGE, "CHANNEL_HOLD"])),
        leg_id=draw(ids),
        direction=draw(st.sampled_from(["inbound", "outbound", None])),
        caller_number=draw(st.sampled_from(["0909123456", "101", "user_ag01", None])),
        destination_number=draw(st.sampled_from(["02873019555", "102", "0912345678", None])),
        other_leg_id=draw(st.none() | ids),
        bridge_id=draw(st.none() | ids),
        member_call_id=draw(st.none() | ids),
        queue_id=draw(st.sampled_from([None, P.QUEUE])),
        authorizing_type=draw(st.sampled_from([None, "device", "resource"])),
        hangup_cause=draw(st.sampled_from([None, "LOSE_RACE", "NO_ANSWER", "NORMAL_CLEARING"])),
        duration=draw(st.none() | st.integers(0, 100)),
        billing_seconds=draw(st.none() | st.integers(0, 100)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(random_events(), st.floats(0, 3)), max_size=30))
def test_arbitrary_legs_and_links_never_crash_and_always_drain(steps):
    tracker = Tracker(grace_seconds=GRACE, orphan_seconds=60, expire_seconds=600)
    now = 0.0
    seen: Counter[str] = Counter()
    for event, gap in steps:
        tracker.feed(event, now)
        seen.update(d.call_id for d in tracker.due(now))
        now += gap
    seen.update(d.call_id for d in tracker.due(now + 601))
    assert max(seen.values(), default=0) <= 1
    assert len(tracker) == 0 and tracker.stats()["tracked_ids"] == 0
