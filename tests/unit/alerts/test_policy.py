"""The raise-time policy on its own (pure): post, hold or count as short; the DM copy; when to escalate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.alerts.hours import is_open
from bot.alerts.policy import Action, Facts, Plan, digest_time, plan_for, sole_agent
from bot.alerts.route_settings import RouteSettings
from bot.calls.classify import CallDecision, Outcome

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday, 10:00 local
MONDAY_02 = MONDAY_10.replace(hour=2)
OFFICE = {"mon-fri": "08:00-17:30"}
NOBODY = Facts(called_recently=False, person_rung=None)


def call(
    *, ring: int = 25, outcome: Outcome = Outcome.MISSED, queue: str | None = None, agents=("an",)
) -> CallDecision:
    at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    return CallDecision(
        call_id="c1",
        outcome=outcome,
        customer_number="0987654321",
        dialled="201",
        queue_id=queue,
        started_at=at,
        ended_at=at + timedelta(seconds=ring),
        ring_seconds=ring,
        talk_seconds=0,
        hangup_cause="ORIGINATOR_CANCEL",
        agents_rung=tuple(agents),
    )


def test_an_open_route_posts_now_and_escalates_after_its_minutes() -> None:
    plan = plan_for(call(), RouteSettings(escalate_after=15, hours=OFFICE), MONDAY_10, NOBODY)
    assert plan == Plan(Action.POST, escalate_at=MONDAY_10 + timedelta(minutes=15))


def test_escalation_off_means_never() -> None:
    assert plan_for(call(), RouteSettings(escalate_after=0), MONDAY_10, NOBODY).escalate_at is None


def test_after_hours_the_call_is_held_for_the_digest_at_opening_and_nobody_is_pinged() -> None:
    facts = Facts(called_recently=False, person_rung="U0AN")
    plan = plan_for(call(), RouteSettings(hours=OFFICE), MONDAY_02, facts)
    assert plan == Plan(Action.HOLD, digest_at=MONDAY_10.replace(hour=8))


def test_an_urgent_route_posts_after_hours() -> None:
    plan = plan_for(call(), RouteSettings(hours=OFFICE, urgent=True), MONDAY_02, NOBODY)
    assert plan.action is Action.POST


def test_a_holiday_is_closed_all_day() -> None:
    rules = RouteSettings(hours=OFFICE, holidays=("2026-11-23",))
    plan = plan_for(call(), rules, MONDAY_10, NOBODY)
    assert plan.action is Action.HOLD and plan.digest_at == MONDAY_10.replace(day=24, hour=8)


def test_a_quick_hang_up_is_short_unless_the_number_called_in_the_last_day() -> None:
    rules = RouteSettings(min_ring_seconds=5)
    assert plan_for(call(ring=2), rules, MONDAY_10, NOBODY) == Plan(
        Action.SHORT, digest_at=MONDAY_10.replace(day=24, hour=8)
    )
    again = Facts(called_recently=True, person_rung=None)
    assert plan_for(call(ring=2), rules, MONDAY_10, again).action is Action.POST
    assert plan_for(call(ring=5), rules, MONDAY_10, NOBODY).action is Action.POST  # rang long enough


def test_a_short_hang_up_after_hours_is_counted_not_held() -> None:
    plan = plan_for(call(ring=1), RouteSettings(hours=OFFICE, min_ring_seconds=5), MONDAY_02, NOBODY)
    assert plan.action is Action.SHORT and plan.digest_at == MONDAY_10.replace(hour=8)


def test_the_dm_copy_goes_to_the_one_person_rung_and_never_for_a_queue_or_a_ring_group() -> None:
    an = Facts(called_recently=False, person_rung="U0AN")
    assert plan_for(call(), RouteSettings(), MONDAY_10, an).copy_to == "U0AN"
    assert plan_for(call(queue="q1"), RouteSettings(), MONDAY_10, an).copy_to is None
    assert plan_for(call(agents=("an", "binh")), RouteSettings(), MONDAY_10, an).copy_to is None
    assert plan_for(call(), RouteSettings(), MONDAY_10, NOBODY).copy_to is None  # not linked to anyone


def test_sole_agent_is_the_one_agent_of_a_direct_call() -> None:
    assert sole_agent(call(agents=("an", "an", ""))) == "an"
    assert sole_agent(call(agents=())) is None
    assert sole_agent(call(queue="q1")) is None


def test_a_route_open_around_the_clock_gets_its_digest_at_eight() -> None:
    assert digest_time(RouteSettings(), MONDAY_02) == MONDAY_10.replace(hour=8)
    assert digest_time(RouteSettings(), MONDAY_10) == MONDAY_10.replace(day=24, hour=8)


hours = st.sampled_from([{}, OFFICE, {"mon-sun": "00:00-24:00"}, {"sat": "08:00-12:00"}, {"mon-fri": "22:00-23:00"}])
settings = st.builds(
    RouteSettings,
    escalate_after=st.integers(0, 120),
    hours=hours,
    urgent=st.booleans(),
    min_ring_seconds=st.integers(0, 30),
)
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=TZ)
)


@given(
    rules=settings,
    now=moments,
    ring=st.integers(0, 60),
    outcome=st.sampled_from([Outcome.MISSED, Outcome.ABANDONED]),
    recent=st.booleans(),
    person=st.sampled_from([None, "U0AN"]),
    agents=st.sampled_from([("an",), ("an", "binh"), ()]),
)
def test_every_plan_is_one_coherent_answer(rules, now, ring, outcome, recent, person, agents) -> None:
    c = call(ring=ring, outcome=outcome, agents=agents)
    plan = plan_for(c, rules, now, Facts(called_recently=recent, person_rung=person))
    short = bool(rules.min_ring_seconds) and ring < rules.min_ring_seconds and not recent
    assert (plan.action is Action.SHORT) == short
    if plan.action is Action.POST:
        assert rules.urgent or is_open(rules.week, rules.holiday_dates, now)
        assert plan.digest_at is None
        assert (plan.escalate_at is None) == (rules.escalate_after == 0)
        assert plan.escalate_at is None or plan.escalate_at > now
        assert plan.copy_to == (person if len(set(agents)) == 1 else None)
    else:  # held or short: nobody is pinged, nothing escalates, the digest goes later
        assert plan.action is Action.SHORT or not is_open(rules.week, rules.holiday_dates, now)
        assert plan.copy_to is None and plan.escalate_at is None
        assert plan.digest_at is not None and plan.digest_at > now
