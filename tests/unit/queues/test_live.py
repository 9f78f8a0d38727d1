"""Who waits in a queue, from the stream's legs; the dashboard corrects it (pure)."""

from __future__ import annotations

from bot.calls.events import ANSWER, CREATE, DESTROY, Event
from bot.queues.live import DashboardWaiter, LiveQueues


def a_leg(name: str, leg: str, queue: str | None = "q1") -> Event:
    return Event(name, leg, direction="inbound", caller_number="0987654321", queue_id=queue)


def agent_answer(member: str) -> Event:
    return Event(ANSWER, f"agent-{member}", direction="outbound", member_call_id=member, agent_id="ag1")


def test_a_caller_waits_from_queue_entry_until_an_agent_answers_or_they_hang_up() -> None:
    live = LiveQueues()
    assert live.feed(a_leg(CREATE, "a1", queue=None), 0.0) is None  # not queued yet
    assert live.feed(a_leg(ANSWER, "a1"), 1.0) == "q1"
    assert live.feed(a_leg(ANSWER, "a2"), 2.0) == "q1"
    [(first, waited), (second, _)] = live.waiting("q1", 11.0)
    assert first.call_id == "a1" and waited == 10.0 and second.call_id == "a2"
    assert live.feed(agent_answer("a1"), 12.0) == "q1"  # served
    assert live.feed(a_leg(DESTROY, "a2"), 13.0) == "q1"  # gave up
    assert live.waiting("q1", 14.0) == []
    assert live.abandon_rate("q1", 14.0) == (1, 2)
    assert live.abandon_rate("q1", 14.0 + 901) == (0, 0)  # out of the 15-minute window
    assert live.feed(a_leg(DESTROY, "a1"), 20.0) is None  # an answered caller's hang-up is no abandon


def test_the_dashboard_wins_only_after_disagreeing_for_a_while() -> None:
    live = LiveQueues(disagree_after=30)
    live.feed(a_leg(ANSWER, "a1"), 0.0)  # the stream lost a1's end; the dashboard has b7 instead
    theirs = [DashboardWaiter("b7", "0912345678", 40)]
    assert live.reconcile("q1", theirs, 10.0) is False
    assert [w.call_id for w, _ in live.waiting("q1", 20.0)] == ["a1"]
    assert live.reconcile("q1", theirs, 45.0) is True
    [(w, waited)] = live.waiting("q1", 45.0)
    assert w.call_id == "b7" and waited == 40 and live.disagreements == 1
    assert live.reconcile("q1", theirs, 50.0) is False  # agreeing now
