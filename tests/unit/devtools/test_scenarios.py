"""The simulator's scenario engine builds realistic, linkable Kazoo legs and the document's history records."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from bot.calls.events import normalise
from bot.calls.tracker import Tracker
from bot.devtools.simulator.directory import Directory
from bot.devtools.simulator.scenarios import (
    ANSWER,
    CREATE,
    DESTROY,
    GREGORIAN_OFFSET,
    SCENARIOS,
    CallOptions,
    CallPlan,
    ScenarioError,
    build_call,
    random_call,
)

DIR = Directory(account_id="acc-1", domain="demo.antbuddy.local")
START = 1_715_652_900.0

EXPECTED_STATUS = {
    "answered": "SUCCESS",
    "missed_ringout": "IVR",
    "missed_cancel": "CANCELLED",
    "missed_busy": "BUSY",
    "missed_voicemail": "IVR",
    "ringgroup_answered": "SUCCESS",
    "ringgroup_missed": "CANCELLED",
    "queue_answered": "SUCCESS",
    "queue_abandoned": "IVR",
    "queue_callback": "IVR",
    "outbound_answered": "SUCCESS",
    "outbound_unanswered": "CANCELLED",
    "internal": "CANCELLED",
    "click_to_call": "SUCCESS",
}


def plan(scenario: str, seed: int = 1, style: str = "kazoo", **opts: Any) -> CallPlan:
    return build_call(scenario, CallOptions(**opts), DIR, style=style, rng=random.Random(seed), now=START)


def by_leg(p: CallPlan) -> dict[str, list[tuple[str, dict]]]:
    legs: dict[str, list[tuple[str, dict]]] = {}
    for _, name, payload in p.events:
        legs.setdefault(payload["Call-ID"], []).append((name, payload))
    return legs


def link_of(payload: dict) -> str | None:
    """How the bot joins a leg to its A-leg (docs/call-model.md): Member-Call-ID, Other-Leg-Call-ID, Bridge-ID."""
    ccv = payload.get("Custom-Channel-Vars", {})
    return ccv.get("Member-Call-ID") or payload.get("Other-Leg-Call-ID") or ccv.get("Bridge-ID")


def test_every_scenario_has_a_status_for_the_table() -> None:
    assert set(EXPECTED_STATUS) == set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_leg_is_created_first_destroyed_once_and_linked_to_the_a_leg(scenario: str) -> None:
    p = plan(scenario)
    legs = by_leg(p)
    assert list(legs) == p.leg_ids[:1] + [leg for leg in legs if leg != p.call_id]
    assert set(legs) == set(p.leg_ids) and len(p.leg_ids) >= 2
    for leg_id, events in legs.items():
        names = [n for n, _ in events]
        assert names[0] == CREATE and names[-1] == DESTROY and names.count(DESTROY) == 1, (leg_id, names)
        if leg_id != p.call_id:
            linked_to, linked = {p.call_id}, events
            if scenario == "queue_callback":
                # The call-back leg is originated on its own (no link at CREATE), then bridged to the agent leg,
                # which names the original call.
                linked_to, linked = set(p.leg_ids), [(n, pl) for n, pl in events if n != CREATE or "Member" in str(pl)]
            assert all(link_of(pl) in linked_to for _, pl in linked), f"{scenario}: {leg_id} not linked"
            assert events[0][1]["Call-Direction"] == "outbound"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_history_status_detail_matches_the_scenario(scenario: str) -> None:
    rec = plan(scenario).record
    assert rec["status_detail"] == EXPECTED_STATUS[scenario]
    assert (rec["recording"] != "") == (EXPECTED_STATUS[scenario] == "SUCCESS")
    assert rec["unix_timestamp"] == int(START)
    assert set(rec) >= {
        "caller",
        "callee",
        "class",
        "did_number",
        "direction",
        "status_detail",
        "duration_seconds",
        "unix_timestamp",
        "billing_seconds",
        "recording",
        "queue_stat",
        "call_id",
    }


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_destroy_durations_are_strings_and_timestamps_gregorian(scenario: str) -> None:
    for _, name, payload in plan(scenario).events:
        assert START + GREGORIAN_OFFSET <= payload["Timestamp"] < START + GREGORIAN_OFFSET + 3600
        if name == DESTROY:
            for key in ("Duration-Seconds", "Billing-Seconds", "Ringing-Seconds"):
                assert isinstance(payload[key], str) and payload[key].isdigit()
            assert payload["Hangup-Cause"]


def test_inbound_a_leg_is_the_carrier_leg_with_only_account_id_at_create() -> None:
    p = plan("missed_cancel", caller="0912345678", did="02873019556")
    _, name, a = p.events[0]
    assert name == CREATE and a["Call-ID"] == p.call_id
    assert a["Call-Direction"] == "inbound" and a["Caller-ID-Number"] == "0912345678"
    assert a["Request"].startswith("02873019556@")
    assert a["Custom-Channel-Vars"] == {"Account-ID": "acc-1"}
    assert "Other-Leg-Call-ID" not in a
    a_destroy = by_leg(p)[p.call_id][-1][1]
    assert a_destroy["Hangup-Cause"] == "ORIGINATOR_CANCEL" and a_destroy["Billing-Seconds"] == "0"
    assert p.record["caller"] == {"number": "0912345678", "type": "realnumber"}
    assert p.record["did_number"] == "02873019556" and p.record["direction"] == "to_ab"


def test_ringgroup_answered_one_agent_answers_the_others_lose_race() -> None:
    p = plan("ringgroup_answered")
    b_legs = {leg: ev for leg, ev in by_leg(p).items() if leg != p.call_id}
    assert len(b_legs) == 3
    answered = [leg for leg, ev in b_legs.items() if any(n == ANSWER for n, _ in ev)]
    assert len(answered) == 1
    causes = sorted(ev[-1][1]["Hangup-Cause"] for ev in b_legs.values())
    assert causes == ["LOSE_RACE", "LOSE_RACE", "NORMAL_CLEARING"]
    a_answer = next(pl for n, pl in by_leg(p)[p.call_id] if n == ANSWER)
    assert a_answer["Other-Leg-Call-ID"] == answered[0]


def test_queue_answers_the_caller_at_once_and_marks_later_a_leg_events_with_the_queue() -> None:
    p = plan("queue_abandoned", queue_id="Kinh doanh", wait_seconds=40, ring_seconds=12)
    q = DIR.queue("Kinh doanh")
    events = [(n, pl["Call-ID"]) for _, n, pl in p.events]
    assert events[1] == (ANSWER, p.call_id)  # hold music, before any agent leg exists
    a_destroy = by_leg(p)[p.call_id][-1][1]
    assert a_destroy["Custom-Channel-Vars"]["Queue-ID"] == q.queue_id
    assert a_destroy["Hangup-Cause"] == "NORMAL_CLEARING"
    assert int(a_destroy["Billing-Seconds"]) == 40
    agent_legs = [leg for leg in p.leg_ids if leg != p.call_id]
    for leg in agent_legs:
        ccv = by_leg(p)[leg][0][1]["Custom-Channel-Vars"]
        assert ccv["Member-Call-ID"] == p.call_id and ccv["Agent-ID"] in {a.agent_id for a in DIR.queue_agents(q)}
    assert p.queue_id == q.queue_id and p.queue_exit is not None


def test_queue_abandoned_history_has_an_abandoned_queue_stat_with_the_misses() -> None:
    p = plan("queue_abandoned", wait_seconds=45, ring_seconds=15, agents=["101", "102"])
    [stat] = p.record["queue_stat"]
    assert stat["status"] == "abandoned" and stat["end_call_reason"] == "member_hangup"
    assert stat["call_id"] == p.call_id and stat["wait_time"] == 45
    assert [m["agent_id"] for m in stat["misses"]] == [DIR.agent("101").agent_id, DIR.agent("102").agent_id]
    assert all(m["reason"] == "NO_ANSWER" for m in stat["misses"])


def test_queue_answered_history_has_a_processed_queue_stat_with_the_agent() -> None:
    p = plan("queue_answered", wait_seconds=9, talk_seconds=100)
    [stat] = p.record["queue_stat"]
    agent = DIR.agent("101")
    assert stat["status"] == "processed" and stat["agent_id"] == agent.agent_id
    assert stat["username"] == agent.username and stat["wait_time"] == 9 and stat["talk_time"] == 100
    assert p.record["callee"] == {"number": agent.sip_user, "type": "user", "username": agent.username}


@pytest.mark.parametrize("scenario", ["answered", "missed_cancel", "outbound_answered", "internal"])
def test_calls_without_a_queue_have_an_empty_queue_stat(scenario: str) -> None:
    assert plan(scenario).record["queue_stat"] == []


def test_outbound_a_leg_is_the_agents_device_dialling_the_customer() -> None:
    p = plan("outbound_answered", agents=["103"], number="0356789012")
    a = by_leg(p)[p.call_id][0][1]
    assert a["Call-Direction"] == "inbound" and a["Caller-ID-Number"] == "103"
    assert a["Custom-Channel-Vars"]["Authorizing-Type"] == "device"
    assert a["Custom-Channel-Vars"]["Username"] == "user_cuong103"
    b = by_leg(p)[p.leg_ids[1]]
    assert b[0][1]["Callee-ID-Number"] == "0356789012" and any(n == ANSWER for n, _ in b)
    assert p.record["direction"] == "from_ab" and p.record["did_number"] is None


def test_internal_call_is_one_one_between_two_devices() -> None:
    p = plan("internal", agents=["104", "105"])
    a = by_leg(p)[p.call_id][0][1]
    assert a["Custom-Channel-Vars"]["Authorizing-Type"] == "device" and a["Caller-ID-Number"] == "104"
    assert p.record["class"] == "one_one"
    assert p.record["callee"]["username"] == "hoangminhduc"


def test_click_to_call_has_no_inbound_leg_and_rings_the_device_first() -> None:
    p = plan("click_to_call", agents=["user_an101"], number="0909123456")
    first = p.events[0][2]
    assert first["Call-Direction"] == "outbound" and first["Custom-Channel-Vars"]["Username"] == "user_an101"
    assert all(pl["Call-Direction"] == "outbound" for _, _, pl in p.events)
    unreached = plan("click_to_call", agents=["101"], number="0909123456", reachable=False)
    assert unreached.record["status_detail"] == "UNSUCCESS"
    assert not any(n == ANSWER and pl["Call-ID"] != unreached.call_id for _, n, pl in unreached.events)


def test_missed_voicemail_answers_the_a_leg_without_any_agent_answer() -> None:
    p = plan("missed_voicemail")
    answers = [pl["Call-ID"] for _, n, pl in p.events if n == ANSWER]
    assert answers == [p.call_id]
    assert int(by_leg(p)[p.call_id][-1][1]["Billing-Seconds"]) > 0


def test_shuffle_delivers_b_leg_destroys_after_the_a_legs_and_an_answer_after_its_destroy() -> None:
    p = plan("answered", shuffle=True)
    order = [(n, pl["Call-ID"]) for _, n, pl in p.events]
    a_destroy = order.index((DESTROY, p.call_id))
    b = p.leg_ids[1]
    assert order.index((DESTROY, b)) > a_destroy
    assert order.index((ANSWER, b)) > order.index((DESTROY, b))
    delays = [d for d, _, _ in p.events]
    assert delays == sorted(delays)


def test_duplicate_resends_the_a_leg_create_and_destroy() -> None:
    p = plan("missed_busy", duplicate=True)
    counts = Counter((n, pl["Call-ID"]) for _, n, pl in p.events)
    assert counts[(CREATE, p.call_id)] == 2 and counts[(DESTROY, p.call_id)] == 2
    assert counts[(CREATE, p.leg_ids[1])] == 1


def test_speed_scales_real_delays_but_not_the_payload_durations() -> None:
    slow, fast = plan("answered", speed=1.0, talk_seconds=60), plan("answered", speed=0.01, talk_seconds=60)
    assert slow.duration == pytest.approx(fast.duration * 100)
    durations = [by_leg(p)[p.call_id][-1][1]["Duration-Seconds"] for p in (slow, fast)]
    assert durations[0] == durations[1]
    assert plan("answered", speed=0).duration == 0


def test_snake_style_uses_the_documents_keys_and_keeps_linking_fields() -> None:
    p = plan("queue_answered", style="snake")
    for _, name, payload in p.events:
        assert {"call_id", "caller_id_number", "destination_number", "direction", "Timestamp"} <= set(payload)
        assert not any("-" in k for k in payload) and not any("-" in k for k in payload["custom_channel_vars"])
        if name == DESTROY:
            assert isinstance(payload["duration"], int) and payload["hangup_cause"]
    agent_leg = next(pl for _, _, pl in p.events if pl["call_id"] != p.call_id)
    assert agent_leg["custom_channel_vars"]["member_call_id"] == p.call_id
    a_create = p.events[0][2]
    assert a_create["destination_number"] == DIR.dids[0] and a_create["direction"] == "inbound"


def test_unknown_scenario_agent_or_queue_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ScenarioError, match="unknown scenario"):
        plan("nope")
    with pytest.raises(ScenarioError, match="999"):
        plan("answered", agents=["999"])
    with pytest.raises(ScenarioError, match="queue"):
        plan("queue_answered", queue_id="no-such-queue")


def test_random_calls_follow_the_mix_and_callers_repeat() -> None:
    rng = random.Random(42)
    draws = [random_call(rng, DIR) for _ in range(2000)]
    kinds = Counter(
        "answered"
        if s in ("answered", "ringgroup_answered", "queue_answered")
        else "abandoned"
        if s == "queue_abandoned"
        else "outbound"
        if s.startswith("outbound")
        else "missed"
        for s, _ in draws
    )
    assert kinds["answered"] / 2000 == pytest.approx(0.60, abs=0.05)
    assert kinds["missed"] / 2000 == pytest.approx(0.20, abs=0.04)
    assert kinds["abandoned"] / 2000 == pytest.approx(0.10, abs=0.03)
    assert kinds["outbound"] / 2000 == pytest.approx(0.10, abs=0.03)
    callers = Counter(o.caller for _, o in draws)
    assert callers["0987654321"] > 100  # a small pool of repeat callers
    for scenario, opts in draws[:50]:
        build_call(scenario, opts, DIR, rng=rng, now=START)  # every random call is playable


def test_call_options_from_json_rejects_bad_types() -> None:
    assert CallOptions.from_json({"ring_seconds": "12", "scenario": "x"}).ring_seconds == 12
    with pytest.raises(ScenarioError):
        CallOptions.from_json({"ring_seconds": "soon"})
    with pytest.raises(ScenarioError):
        CallOptions.from_json({"agents": "101"})


@pytest.mark.parametrize("scenario, outcome", [("queue_abandoned", "abandoned"), ("queue_answered", "answered")])
def test_kazoo_3_queue_agent_legs_name_no_member_call_id_and_still_reach_the_decision(
    scenario: str, outcome: str
) -> None:
    p = build_call(scenario, CallOptions(agents=["101", "102"]), DIR, rng=random.Random(3), now=START, kazoo_version=3)
    agent_events = [pl for leg, evs in by_leg(p).items() if leg != p.call_id for _, pl in evs]
    assert agent_events and not any("Member-Call-ID" in pl["Custom-Channel-Vars"] for pl in agent_events)
    assert all(pl["Custom-Channel-Vars"]["Agent-ID"] for pl in agent_events)
    four = build_call(scenario, CallOptions(agents=["101", "102"]), DIR, rng=random.Random(3), now=START)
    assert all(
        "Member-Call-ID" in pl["Custom-Channel-Vars"]
        for leg, evs in by_leg(four).items()
        if leg != four.call_id
        for _, pl in evs
    )
    tracker = Tracker(grace_seconds=2.0)
    for i, (_, name, payload) in enumerate(p.events):
        tracker.feed(normalise(name, payload), i * 0.001)
    (decision,) = tracker.due(10.0)
    assert decision.call_id == p.call_id and decision.outcome.value == outcome
    assert decision.agents_rung and decision.queue_id == p.queue_id


@pytest.mark.parametrize("style", ["kazoo", "snake"])
@pytest.mark.parametrize("reachable", [True, False])
def test_queue_callback_hangs_up_the_caller_then_rings_an_agent_and_dials_them_back(
    style: str, reachable: bool
) -> None:
    p = plan("queue_callback", style=style, caller="0912345678", callback_after=40, reachable=reachable)
    assert p.early_record is not None
    early_at, early = p.early_record
    (waiting,) = early["queue_stat"]
    assert waiting["status"] == "waiting" and waiting["is_callback"] is True
    assert waiting["caller_id_name"].startswith("CB:")
    (final,) = p.record["queue_stat"]
    assert final["is_callback"] is True and final["status"] == ("processed" if reachable else "waiting")

    tracker = Tracker(grace_seconds=0)
    decided = []
    for at, name, payload in p.events:
        tracker.feed(normalise(name, payload), at)
        decided += tracker.due(at)
    decided += tracker.due(10**6)
    original, back = decided
    assert original.call_id == p.call_id and original.outcome == "abandoned" and original.queue_callback_for is None
    # The caller's call is decided before the queue calls back: the early record is written in between.
    a_end = max(
        at for at, name, pl in p.events if name == DESTROY and (pl.get("Call-ID") or pl.get("call_id")) == p.call_id
    )
    assert (
        a_end <= early_at < min(at for at, _, pl in p.events if (pl.get("Call-ID") or pl.get("call_id")) != p.call_id)
    )
    assert back.queue_callback_for == p.call_id and back.customer_number == "0912345678"
    assert back.outcome == ("outbound_answered" if reachable else "outbound_unanswered")
    assert (back.answered_by == "101") == reachable


def test_random_callers_are_numbers_that_exist_so_call_back_may_dial_them() -> None:
    import phonenumbers

    from bot.devtools.simulator.directory import random_mobile

    rng = random.Random(3)
    numbers = [random_mobile(rng) for _ in range(300)] + [random_call(rng, DIR)[1].caller or "" for _ in range(100)]
    for number in numbers:
        parsed = phonenumbers.parse(number, "VN")
        assert phonenumbers.is_valid_number(parsed), number
        assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE, number
