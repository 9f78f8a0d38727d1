"""What happens to a raised call (pure): posted now, held for the overnight digest, or counted as a short hang-up;
copied to the DM of the person rung or not; escalated when. Decided once, here; bot/alerts/service.py gathers
the facts and carries out the answer in its one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.alerts.hours import is_open, next_opening
from bot.calls.classify import Outcome

if TYPE_CHECKING:
    from bot.alerts.route_settings import RouteSettings
    from bot.calls.classify import CallDecision

DIGEST_HOUR = 8  # a route open around the clock gets its short hang-ups in a digest at 08:00
REPEAT_WINDOW = 24 * 3600  # a caller who called within this window is never a "short hang-up": they alert
_SHORT_OUTCOMES = (Outcome.MISSED, Outcome.ABANDONED)


class Action(StrEnum):
    POST = "post"  # the alert goes to its channel now
    HOLD = "hold"  # after hours: stored, not posted; the overnight digest lists it at opening
    SHORT = "short"  # the caller gave up before the route's min-ring: counted, listed in the digest, no alert


@dataclass(frozen=True)
class Facts:
    """What the policy needs to know beyond the call and the route: read from the database by the service."""

    called_recently: bool  # this number called within REPEAT_WINDOW before this call (a repeat always alerts)
    person_rung: str | None  # the Slack user behind the one person's number or extension rung, if linked


@dataclass(frozen=True)
class Plan:
    """The answer for one raised call."""

    action: Action
    digest_at: datetime | None = None  # HOLD and SHORT: when the channel's overnight digest goes
    copy_to: str | None = None  # the Slack user whose DM gets a copy of the alert
    escalate_at: datetime | None = None  # when nobody owning it is escalated (step 1); None: never


def sole_agent(call: CallDecision) -> str | None:
    """The one agent rung by a call to a person's number or extension (not a queue, not a ring group)."""
    agents = {a for a in call.agents_rung if a}
    if call.queue_id or len(agents) != 1:
        return None
    return next(iter(agents))


def is_short(call: CallDecision, rules: RouteSettings, *, called_recently: bool) -> bool:
    """The caller gave up before the route's min-ring seconds, and has not called in the last 24 h."""
    if not rules.min_ring_seconds or Outcome(call.outcome) not in _SHORT_OUTCOMES:
        return False
    return int(call.ring_seconds or 0) < rules.min_ring_seconds and not called_recently


def digest_time(rules: RouteSettings, now: datetime) -> datetime:
    """When the channel's next overnight digest goes: the next opening, or 08:00 for a route always open."""
    opening = next_opening(rules.week, rules.holiday_dates, now)
    if opening is not None:
        return opening
    at = now.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    return at if at > now else at + timedelta(days=1)


def plan_for(call: CallDecision, rules: RouteSettings, now: datetime, facts: Facts) -> Plan:
    """What to do with a call that raises an alert (and is not a repeat of an open one), at local time `now`."""
    if is_short(call, rules, called_recently=facts.called_recently):
        return Plan(Action.SHORT, digest_at=digest_time(rules, now))
    if not rules.urgent and not is_open(rules.week, rules.holiday_dates, now):
        return Plan(Action.HOLD, digest_at=digest_time(rules, now))
    copy_to = facts.person_rung if sole_agent(call) else None
    escalate_at = now + timedelta(minutes=rules.escalate_after) if rules.escalate_after else None
    return Plan(Action.POST, copy_to=copy_to, escalate_at=escalate_at)
