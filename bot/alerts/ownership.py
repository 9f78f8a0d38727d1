"""Every missed call gets an owner (#13): "I'll take it", Release, an admin's reassignment, a Call back that takes
an unowned alert; and what decides, when an alert is raised, whether it is posted now, held for the overnight
digest (after hours) or only counted (a short hang-up), and whether it also goes to the DM of the person rung.

State lives in the database (storage/ownership.py), never in memory, so a restart changes nothing; every change
is in the audit trail. Escalation and the digest are scheduled jobs (escalation.py, overnight.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.alerts.hours import is_open, next_opening
from bot.alerts.route_settings import RouteSettings, route_keys, settings_for
from bot.calls.classify import Outcome
from bot.calls.numbers import number_key
from storage.rows import AlertStatus, OutboxKind

if TYPE_CHECKING:
    from bot.alerts.service import AlertService
    from bot.calls.classify import CallDecision
    from storage.rows import AlertRow

log = logging.getLogger(__name__)

DIGEST_HOUR = 8  # a route open around the clock gets its short hang-ups in a digest at 08:00
REPEAT_WINDOW = 24 * 3600  # a caller who called within this window is never a "short hang-up": they alert
_OPEN = (AlertStatus.OPEN, AlertStatus.CALLING_BACK)


class Scheduler(Protocol):
    """What ownership needs of bot/ops/scheduled.py's Jobs (which lives above bot/alerts/)."""

    def at(self, kind: str, when: float, *, key: str, **args: Any) -> None: ...

    def cancel(self, key: str) -> bool: ...


class Refused(Exception):
    """An ownership change that is not allowed; `key` and `fields` are the sentence for the clicker."""

    def __init__(self, key: str, **fields: object) -> None:
        super().__init__(key)
        self.key = key
        self.fields = fields


class Ownership:
    """Owner changes and the raise-time decisions, over the AlertService's store, clock and outbox."""

    def __init__(self, service: AlertService) -> None:
        self.service = service
        self.store = service.store
        self.owners = service.owners
        self.jobs: Scheduler | None = None  # set by bot/app.py once the scheduler runs; None: nothing scheduled

    # -- rules for a call -------------------------------------------------------------------------
    def rules_for(self, decision: CallDecision) -> RouteSettings:
        return self.rules(decision.queue_id, decision.dialled)

    def rules(self, queue_id: str | None, dialled: str | None) -> RouteSettings:
        name = None
        if queue_id:
            try:
                name = self.service.queue_name(queue_id)
            except Exception:  # noqa: BLE001 - a name lookup must never stop an alert
                name = None
        keys = route_keys(queue_id=queue_id, queue_name=name, did_key=number_key(dialled) or None)
        return settings_for(self.owners, keys)[1]

    def rules_for_alert(self, alert: Mapping[str, Any]) -> RouteSettings:
        call = self.store.get_call(str(alert["call_id"]))
        return self.rules(call.get("queue_id") if call else None, call.get("dialled") if call else None)

    def local_now(self) -> datetime:
        return datetime.fromtimestamp(self.service.clock(), self.service.tz)

    # -- short hang-ups ---------------------------------------------------------------------------
    def is_short(self, decision: CallDecision, key: str, rules: RouteSettings) -> bool:
        """The caller gave up before the route's min_ring_seconds, and has not called in the last 24 h (a repeat
        call always alerts)."""
        if not rules.min_ring_seconds or decision.outcome not in (Outcome.MISSED, Outcome.ABANDONED):
            return False
        if int(decision.ring_seconds or 0) >= rules.min_ring_seconds:
            return False
        started = decision.started_at.timestamp()
        return not (key and self.owners.earlier_calls_from(key, before=started, since=started - REPEAT_WINDOW))

    def record_short(self, call: Mapping[str, object], channel: str, rules: RouteSettings) -> None:
        self.owners.add_short_hangup(call, channel)
        log.info(
            "short hang-up counted call_id=%s ring_s=%s channel=%s", call["call_id"], call["ring_seconds"], channel
        )
        self._schedule_digest(channel, rules)

    # -- business hours ---------------------------------------------------------------------------
    def hold_if_closed(self, alert_id: int, channel: str, rules: RouteSettings) -> bool:
        """Outside the route's hours (and not urgent): recorded, not posted; the digest lists it at opening."""
        if rules.urgent or is_open(rules.week, rules.holiday_dates, self.local_now()):
            return False
        self.owners.hold(alert_id, "after_hours")
        log.info("alert held after hours alert_id=%s channel=%s", alert_id, channel)
        self._schedule_digest(channel, rules)
        return True

    def digest_time(self, rules: RouteSettings) -> datetime:
        """When the channel's next digest goes out: the next opening, or 08:00 for a route always open."""
        now = self.local_now()
        opening = next_opening(rules.week, rules.holiday_dates, now)
        if opening is not None:
            return opening
        at = now.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
        return at if at > now else at + timedelta(days=1)

    def _schedule_digest(self, channel: str, rules: RouteSettings) -> None:
        if self.jobs is None:
            return  # no scheduler here (a one-shot command): the next digest for the channel lists it
        when = self.digest_time(rules).timestamp()
        self.jobs.at(
            "overnight_digest",
            when,
            key=f"digest:{channel}:{int(when)}",
            channel=channel,
            min_ring=rules.min_ring_seconds,
        )

    # -- once posted: the DM copy and the escalation clock ------------------------------------------
    def on_posted(self, alert_id: int, decision: CallDecision, rules: RouteSettings) -> None:
        user = self.person_rung(decision)
        if user:
            self.owners.add_copy(alert_id, user)
            self.store.enqueue(OutboxKind.COPY, user, alert_id=alert_id, body={"user": user})
        if rules.escalate_after and self.jobs is not None:
            due = self.service.clock() + rules.escalate_after * 60
            self.jobs.at("escalate", due, key=f"escalate:{alert_id}:1", alert_id=alert_id, step=1)

    def person_rung(self, decision: CallDecision) -> str | None:
        """The Slack user behind a call to one person's number or extension (not a queue, not a ring group)."""
        agents = {a for a in decision.agents_rung if a}
        if decision.queue_id or len(agents) != 1:
            return None
        return self.store.slack_user_for_sip(next(iter(agents)))

    # -- owner changes ----------------------------------------------------------------------------
    def _open_alert(self, alert_id: int) -> AlertRow:
        alert = self.store.get_alert(int(alert_id))
        if alert is None:
            raise Refused("own.gone")
        if alert["status"] not in _OPEN:
            raise Refused("own.closed")
        return alert

    def _set(
        self,
        alert: AlertRow,
        owner: str | None,
        *,
        by: str,
        action: str,
        detail: str | None = None,
        redraw: bool = True,
    ) -> None:
        now = self.service.clock()
        with self.store.transaction():
            self.owners.set_owner(alert["id"], owner, now)
            if redraw:  # else the caller's own change redraws the alert (one edit, not two)
                row = self.store.update_alert(alert["id"])  # bump the version: the rendered content changed
                self.service.redraw(row or alert)
            self.store.add_audit(
                action, "ok", slack_user=by, number=alert.get("customer_number"), alert_id=alert["id"], detail=detail
            )
        if owner and self.jobs is not None:
            for step in (1, 2):
                self.jobs.cancel(f"escalate:{alert['id']}:{step}")
        self.service.wake()
        log.info("alert %s alert_id=%s by=%s owner=%s", action, alert["id"], by, owner)

    def own_if_unowned(self, alert: AlertRow, user: str, *, reason: str, redraw: bool = True) -> bool:
        """Give the alert to `user` when nobody owns it (a Call back); True when it did."""
        if self.owners.get(alert["id"])["owner"] or alert["status"] not in _OPEN:
            return False
        self._set(alert, user, by=user, action="own", detail=reason, redraw=redraw)
        return True

    def take(self, alert_id: int, user: str) -> None:
        """'I'll take it'. Someone else's alert stays theirs (Refused); taking your own again changes nothing."""
        alert = self._open_alert(alert_id)
        owner = self.owners.get(alert["id"])["owner"]
        if owner == user:
            return
        if owner:
            raise Refused("own.already_owned", user=owner)
        self._set(alert, user, by=user, action="own", detail="take")

    def release(self, alert_id: int, user: str, *, is_admin: bool) -> None:
        """Give it back: the owner, or an admin."""
        alert = self._open_alert(alert_id)
        owner = self.owners.get(alert["id"])["owner"]
        if not owner:
            raise Refused("own.not_owned")
        if owner != user and not is_admin:
            self.store.add_audit("release", "refused", slack_user=user, alert_id=alert["id"])
            raise Refused("own.not_owner", user=owner)
        self._set(alert, None, by=user, action="release", detail=owner)

    def reassign(self, alert_id: int, to: str, *, by: str, is_admin: bool) -> AlertRow:
        """An admin gives the alert to `to`."""
        alert = self._open_alert(alert_id)
        if not is_admin:
            self.store.add_audit("reassign", "refused", slack_user=by, alert_id=alert["id"], detail=to)
            raise Refused("own.admin_only")
        self._set(alert, to, by=by, action="reassign", detail=to)
        return alert
