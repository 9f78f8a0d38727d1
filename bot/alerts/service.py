"""Alert lifecycle: a decided call becomes a new alert, a repeat, a resolution or just a record; buttons change it.

Every change and the outbox rows that carry it to Slack are written in ONE transaction, so a crash
leaves either both or neither; the outbox (bot/outbox/) does the talking to Slack. What a raised call leads to
(posted, held, short, DM copy, escalation) is decided by bot/alerts/policy.py; this module gathers its facts and
carries out its answer. A person's change goes through `Store.write_or_hold` (held while the database refuses).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.alerts.ownership import Ownership, escalation_key
from bot.alerts.policy import REPEAT_WINDOW, Action, Facts, plan_for, sole_agent
from bot.alerts.redraw import redraw
from bot.alerts.rules import RouteRules
from bot.calls.classify import CallDecision, Outcome, call_direction, raises_alert, resolves_alert
from bot.calls.numbers import is_withheld, number_key
from bot.slack.render.alert import render_alert
from storage import NotSaved, OwnershipStore, Saved
from storage.jobs import JobTable
from storage.rows import AlertStatus, OutboxKind

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.antbuddy import HistoryRecord, QueueStat
    from bot.slack.blocks import Block
    from storage import Store
    from storage.rows import AlertChanges, AlertRow, CallChanges, JSONObject

log = logging.getLogger(__name__)

DAY = 24 * 3600
_RESOLVING = tuple(o.value for o in Outcome if resolves_alert(o))


class AlertError(Exception):
    """Base for lifecycle refusals; str() is one sentence for the person who clicked."""


class AlertNotFound(AlertError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return "That alert no longer exists."


class NotAllowed(AlertError):
    """The user may not do this to the alert (undo someone else's 'handled' without being an admin)."""


class AlertService:
    """Turns CallDecisions into alerts + outbox rows, and applies the button actions to alerts."""

    def __init__(
        self,
        store: Store,
        *,
        default_channel: str,
        clock: Callable[[], float] = time.time,
        wake: Callable[[], None] = lambda: None,
        tz: ZoneInfo | None = None,
        queue_name: Callable[[str], str | None] = lambda _id: None,
    ) -> None:
        self.store = store
        self.default_channel = default_channel
        self.clock = clock
        self.wake = wake
        self.tz = tz or ZoneInfo("Asia/Ho_Chi_Minh")
        self.owners = OwnershipStore(store)
        self.rules = RouteRules(store, queue_name=queue_name)  # routes may name a queue instead of giving its id
        self.jobs = JobTable(store)
        # Who owns an alert: I'll take it, Release, Reassign (bot/alerts/ownership.py).
        self.ownership = Ownership(store, clock=clock, wake=wake)

    # -- decisions --------------------------------------------------------------------------------
    def handle_decision(self, decision: CallDecision) -> str:
        """Store the call once and act on it: 'new' | 'repeat' | 'resolved' | 'recorded' | 'duplicate', or
        'held' (after hours: stored, not posted, in the next digest) | 'short' (a short hang-up: counted only)."""
        outcome = Outcome(decision.outcome)
        call = self.call_row(decision)
        key = str(call["customer_key"])
        started_at = decision.started_at.timestamp()
        result = "recorded"
        with self.store.transaction():
            if not self.store.insert_call(call):
                return "duplicate"
            if decision.queue_callback_for:
                result = self._queue_called_back(decision)
            if result != "recorded":
                pass  # the queue's callback answered (or tried) its own alert; nothing else to do
            elif raises_alert(outcome):
                result = self._raise_alert(decision, call, key, started_at)
            elif resolves_alert(outcome) and key:
                result = self._resolve_for(decision, key, started_at)
        if result != "recorded":
            log.info(
                "alert %s call_id=%s outcome=%s source=%s", result, decision.call_id, outcome.value, decision.source
            )
            self.wake()
        return result

    def call_row(self, decision: CallDecision) -> dict[str, object]:
        """The `calls` row of a decided call."""
        outcome = Outcome(decision.outcome)
        # A withheld caller (anonymous, private, no caller id) has no key: two such calls are not the same person,
        # so each is its own alert, never a repeat, and no answered call resolves it by number.
        key = "" if is_withheld(decision.customer_number) else number_key(decision.customer_number)
        return {
            "call_id": decision.call_id,
            "direction": call_direction(outcome),
            "outcome": outcome.value,
            "customer_number": decision.customer_number,
            "customer_key": key,
            "dialled": decision.dialled,
            "queue_id": decision.queue_id,
            "started_at": decision.started_at.timestamp(),
            "ended_at": decision.ended_at.timestamp(),
            "ring_seconds": int(decision.ring_seconds or 0),
            "talk_seconds": int(decision.talk_seconds or 0),
            "hangup_cause": decision.hangup_cause,
            "agents_rung": list(decision.agents_rung),
            "answered_by": decision.answered_by,
            "source": decision.source,
            "in_history": decision.source == "history",
            "decided_at": self.clock(),
        }

    def record_only(self, decision: CallDecision) -> bool:
        """Store a call from before ringbot's records start, for the figures only: it raises, repeats and resolves
        nothing (its moment has passed; `ringbot backfill` alerts on old calls). False when already stored."""
        with self.store.transaction():
            return self.store.insert_call(self.call_row(decision))

    def _raise_alert(self, decision: CallDecision, call: Mapping[str, object], key: str, started_at: float) -> str:
        existing = self.store.open_alert_for(key) if key else None
        if existing:
            alert = _updated(
                existing["id"],
                self.store.update_alert(
                    existing["id"],
                    repeat_count=existing["repeat_count"] + 1,
                    last_call_id=decision.call_id,
                    last_call_at=started_at,
                ),
            )
            if redraw(self.store, alert):  # a held (after-hours) alert has no message: the digest counts the attempts
                # Only the call is named: the reply is worded when it is sent, in the channel's language then.
                self.store.enqueue(
                    OutboxKind.REPLY, alert["channel"], alert_id=alert["id"], body={"call_id": decision.call_id}
                )
            return "repeat"
        channel = (
            self.store.route_for(
                queue_id=decision.queue_id,
                did_key=number_key(decision.dialled) or None,
                queue_name=self.rules.queue_name(decision.queue_id) if decision.queue_id else None,
            )
            or self.default_channel
        )
        rules = self.rules.for_call(decision.queue_id, decision.dialled)
        now = self.clock()
        local_now = datetime.fromtimestamp(now, self.tz)
        plan = plan_for(decision, rules, local_now, self._facts(decision, key))
        if plan.digest_at is not None:  # held or short: the channel's overnight digest lists it
            when = plan.digest_at.timestamp()
            self.jobs.at(
                "overnight_digest",
                when,
                key=f"digest:{channel}:{int(when)}",
                channel=channel,
                min_ring=rules.min_ring_seconds,
            )
        if plan.action is Action.SHORT:
            self.owners.add_short_hangup(call, channel)
            log.info(
                "short hang-up counted call_id=%s ring_s=%s channel=%s", decision.call_id, call["ring_seconds"], channel
            )
            return "short"
        alert_id = self.store.create_alert(
            {
                "call_id": decision.call_id,
                "customer_number": decision.customer_number,
                "customer_key": key,
                "outcome": call["outcome"],
                "channel": channel,
                "last_call_at": started_at,
            }
        )
        if plan.action is Action.HOLD:
            self.owners.hold(alert_id, "after_hours")
            result = "held"
        else:
            self.store.enqueue(OutboxKind.POST, channel, alert_id=alert_id)
            if plan.copy_to:
                self.owners.add_copy(alert_id, plan.copy_to)
                self.store.enqueue(OutboxKind.COPY, plan.copy_to, alert_id=alert_id, body={"user": plan.copy_to})
            if plan.escalate_at is not None:
                # Counted from the clock itself: a datetime keeps microseconds only, and N minutes means N minutes.
                due = now + (plan.escalate_at - local_now).total_seconds()
                self.jobs.at("escalate", due, key=escalation_key(alert_id, 1), alert_id=alert_id, step=1)
            result = "new"
        if key:
            # History read late (backfill, a reconciliation after an outage) may bring the miss after the answered
            # call that settles it: resolve it as the live path would have, when that call came in.
            later = self.store.calls(customer_key=key, since=started_at + 0.001, outcomes=_RESOLVING, limit=1)
            if later:
                self._resolve(self._alert_row(alert_id), later[0]["call_id"], later[0], reason="later_call")
        return result

    def _facts(self, decision: CallDecision, key: str) -> Facts:
        """What the policy needs from the database: did this number call in the day before, who was rung."""
        started = decision.started_at.timestamp()
        called = bool(key) and self.owners.earlier_calls_from(key, before=started, since=started - REPEAT_WINDOW) > 0
        agent = sole_agent(decision)
        return Facts(called_recently=called, person_rung=self.store.slack_user_for_sip(agent) if agent else None)

    def _queue_called_back(self, decision: CallDecision) -> str:
        """The queue's own call back to a caller who asked for one (docs/call-model.md, queue callbacks): when it
        connected, the caller's alert is resolved; when the agent did not pick up, the alert says the queue is on
        it (ACDc tries again). 'resolved' | 'updated' | 'recorded' (no open alert for that call)."""
        original = str(decision.queue_callback_for)
        alert = self.store.alert_for_call(original)
        if alert is None or alert["status"] == AlertStatus.RESOLVED:
            return "recorded"
        if Outcome(decision.outcome) is Outcome.OUTBOUND_ANSWERED:
            self._resolve(
                alert,
                decision.call_id,
                {
                    "direction": "queue_callback",
                    "talk_seconds": decision.talk_seconds,
                    "answered_by": decision.answered_by,
                },
                reason="queue_callback",
            )
            return "resolved"
        call = self.store.get_call(original)
        if call is not None:
            detail = dict(call.get("detail") or {})
            detail["queue_callback"] = {
                "tried_at": decision.started_at.timestamp(),
                "agents": list(decision.agents_rung),
                "number": decision.customer_number,
            }
            self.store.update_call(original, detail=detail)
        self.store.update_alert(alert["id"])  # bump the version: the rendered content changed
        redraw(self.store, alert)
        return "updated"

    def _alert_row(self, alert_id: int) -> AlertRow:
        return _updated(alert_id, self.store.get_alert(alert_id))

    def _resolve_for(self, decision: CallDecision, key: str, started_at: float) -> str:
        alert = self.store.open_alert_for(key)
        if not alert:
            return "recorded"
        first = self.store.get_call(alert["call_id"])
        first_at = (first["started_at"] if first else None) or alert["created_at"] or 0
        if first_at >= started_at:
            return "recorded"  # an answered call from before the miss says nothing about it
        self._resolve(
            alert,
            decision.call_id,
            {
                "direction": call_direction(decision.outcome),
                "talk_seconds": decision.talk_seconds,
                "answered_by": decision.answered_by,
            },
        )
        return "resolved"

    def _resolve(self, alert: AlertRow, call_id: str, call: Mapping[str, object], *, reason: str | None = None) -> None:
        """Mark the alert resolved by the answered call `call_id` (`call`: its direction, talk and agent)."""
        agent = call.get("answered_by")
        agent = str(agent) if agent else None
        direction = str(call.get("direction") or "inbound")
        talk = call.get("talk_seconds")
        detail: JSONObject = {
            "direction": direction,
            "talk_seconds": int(talk) if isinstance(talk, (int, float)) else 0,
            "call_id": call_id,
            "agent": agent,
            "slack_user": self.store.slack_user_for_sip(agent) if agent else None,
        }
        if reason:
            detail["reason"] = reason
        if not detail["slack_user"] and direction == "outbound" and alert.get("claimed_by"):
            # The person who clicked Call back is who reached the customer on an outbound call.
            detail["slack_user"] = alert["claimed_by"]
        self.store.update_alert(
            alert["id"],
            status=AlertStatus.RESOLVED,
            resolved_at=self.clock(),
            resolved_by=agent,
            resolved_detail=detail,
        )
        redraw(self.store, alert)
        if reason:
            self.store.add_audit(
                "resolved", reason, number=alert.get("customer_number"), alert_id=alert["id"], detail=call_id
            )

    def resolve_from_history(self, call_id: str, decision: CallDecision) -> bool:
        """History says the call the stream decided missed was answered (the stream lost the agent's answer):
        resolve the alert that call raised, with the reason in the audit. True when an alert was resolved."""
        if not resolves_alert(Outcome(decision.outcome)):
            return False
        called_back = decision.queue_callback_for is not None
        reason = "queue_callback" if called_back else "history_success"
        with self.store.transaction():
            call = self.store.get_call(call_id)
            if call is None or not raises_alert(Outcome(call["outcome"])):
                return False
            alert = self.store.alert_for_call(call_id)
            if alert is None or alert["call_id"] != call_id or alert["status"] == AlertStatus.RESOLVED:
                return False
            if not called_back:  # a queue callback is a call of its own: this one stays abandoned
                self.store.update_call(
                    call_id,
                    outcome=Outcome.ANSWERED.value,
                    answered_by=decision.answered_by,
                    talk_seconds=int(decision.talk_seconds or 0),
                )
            self._resolve(
                alert,
                call_id,
                {
                    "direction": "queue_callback" if called_back else "inbound",
                    "talk_seconds": decision.talk_seconds,
                    "answered_by": decision.answered_by,
                },
                reason=reason,
            )
        log.info("alert resolved call_id=%s reason=%s", call_id, reason)
        self.wake()
        return True

    # -- buttons: people's changes, each written with its audit row or held while the database refuses ------
    def _get(self, alert_id: int) -> AlertRow:
        alert = self.store.get_alert(int(alert_id))
        if alert is None:
            raise AlertNotFound(alert_id)
        return alert

    def _save(self, change: Callable[[Store], object], *, what: str) -> Saved:
        saved = self.store.write_or_hold(change, what=what)
        if saved is Saved.NOW:
            self.wake()
        return saved

    def claim(self, alert_id: int, user_id: str) -> Saved:
        """Someone clicked Call back: show '@them is calling back…' (a handled/resolved alert keeps its status),
        and give them the alert if nobody owns it."""
        alert = self._get(alert_id)
        fields: AlertChanges = {"claimed_by": user_id, "claimed_at": self.clock()}
        if alert["status"] in (AlertStatus.OPEN, AlertStatus.CALLING_BACK):
            fields["status"] = AlertStatus.CALLING_BACK

        def change(store: Store) -> None:
            # The claim's own edit below draws the owner too: one edit, not two.
            self.ownership.own_if_unowned(store, alert, user_id, reason="call_back", draw=False)
            row = _updated(alert["id"], store.update_alert(alert["id"], **fields))
            redraw(store, row)  # the dial itself is in the audit trail (bot/callback/dialer.py)

        log.info("alert claimed alert_id=%s user=%s", alert["id"], user_id)
        return self._save(change, what=f"claim alert {alert['id']}")

    def mark_handled(self, alert_id: int, user_id: str) -> Saved:
        """'Handled by @them'; a resolved alert stays resolved (the facts win over the button)."""
        alert = self._get(alert_id)
        if alert["status"] in (AlertStatus.RESOLVED, AlertStatus.HANDLED):
            return Saved.NOW  # nothing to change

        def change(store: Store) -> None:
            row = _updated(
                alert["id"],
                store.update_alert(
                    alert["id"], status=AlertStatus.HANDLED, handled_by=user_id, handled_at=self.clock()
                ),
            )
            redraw(store, row)
            store.add_audit(
                "handled", "ok", slack_user=user_id, number=alert.get("customer_number"), alert_id=alert["id"]
            )

        log.info("alert handled alert_id=%s user=%s", alert["id"], user_id)
        return self._save(change, what=f"handled alert {alert['id']}")

    def undo_handled(self, alert_id: int, user_id: str, *, is_admin: bool) -> Saved:
        """Reopen a handled alert; only whoever marked it, or an admin (NotAllowed otherwise)."""
        alert = self._get(alert_id)
        if alert["status"] != AlertStatus.HANDLED:
            return Saved.NOW  # nothing to change
        if alert.get("handled_by") != user_id and not is_admin:
            with suppress(NotSaved):  # the refusal is the answer, whether or not its audit line can be written
                self.store.write_or_hold(
                    lambda s: s.add_audit("unhandled", "refused", slack_user=user_id, alert_id=alert["id"]),
                    what="unhandled refused",
                )
            raise NotAllowed("Only the person who marked it handled, or an admin, can undo that.")
        status = AlertStatus.CALLING_BACK if alert.get("claimed_by") else AlertStatus.OPEN

        def change(store: Store) -> None:
            row = _updated(
                alert["id"], store.update_alert(alert["id"], status=status, handled_by=None, handled_at=None)
            )
            redraw(store, row)
            store.add_audit("unhandled", "ok", slack_user=user_id, alert_id=alert["id"])

        log.info("alert unhandled alert_id=%s user=%s admin=%s", alert["id"], user_id, is_admin)
        return self._save(change, what=f"unhandled alert {alert['id']}")

    # -- history ----------------------------------------------------------------------------------
    def enrich_from_history(self, call_id: str, record: HistoryRecord, *, notify: bool = True) -> bool:
        """Add what history knows (queue wait, misses, end reason, recording) to a stored call.

        Returns True when something an alert shows changed (then, with `notify`, its message is updated)."""
        call = self.store.get_call(call_id)
        if call is None:
            return False
        detail = dict(call.get("detail") or {})
        before = _visible(call, detail)
        qs = _abandoned_or_first(record)
        if qs is not None:
            detail["queue_stat"] = {
                "queue_id": qs.queue_id,
                "status": qs.status,
                "wait_time": qs.wait_time,
                "talk_time": qs.talk_time,
                "end_call_reason": qs.end_call_reason,
                "hung_up_by": qs.hung_up_by,
                "username": qs.username,
                "misses": [dict(m) for m in qs.misses],
                "is_callback": qs.is_callback,
            }
        detail["history"] = {
            "call_id": record.call_id,
            "status_detail": record.status_detail,
            "duration_seconds": record.duration_seconds,
            "billing_seconds": record.billing_seconds,
        }
        fields: CallChanges = {"detail": detail, "in_history": 1}
        if record.recording and not call.get("recording"):
            fields["recording"] = record.recording
        if qs is not None and qs.queue_id and not call.get("queue_id"):
            fields["queue_id"] = qs.queue_id
        after = _visible({**call, **fields}, detail)
        changed = before != after
        with self.store.transaction():
            self.store.update_call(call_id, **fields)
            alert = self.store.alert_for_call(call_id) if (changed and notify) else None
            if alert is not None and alert["call_id"] == call_id:
                # Only the alert's own first call is drawn on it; a repeat's detail is not shown.
                self.store.update_alert(alert["id"])  # bump the version: the rendered content changed
                redraw(self.store, alert)
            else:
                alert = None
        if alert is not None:
            self.wake()
        return changed

    # -- rendering for the outbox -----------------------------------------------------------------
    def renderer(
        self,
        *,
        queue_name: Callable[[str], str | None] = lambda _id: None,
        agent_name: Callable[[str], str | None] | None = None,
    ) -> Callable[[AlertRow], tuple[str, list[Block]]]:
        """`render(alert_row)` for the Outbox: fetches the call and the 24 h count, then renders (pure part)."""
        return AlertRenderer(self.store, tz=self.tz, clock=self.clock, queue_name=queue_name, agent_name=agent_name)


@dataclass
class AlertRenderer:
    """Gathers what render_alert needs from the Store at send time (so updates show the current state)."""

    store: Store
    tz: ZoneInfo
    clock: Callable[[], float]
    queue_name: Callable[[str], str | None]
    agent_name: Callable[[str], str | None] | None = None

    def __call__(self, alert: AlertRow) -> tuple[str, list[Block]]:
        call = self.store.get_call(alert["call_id"])
        now = self.clock()
        row: dict[str, object] = dict(alert)
        owned = OwnershipStore(self.store).get(alert["id"])  # the owner and the escalation, drawn on the alert
        row.update({k: owned[k] for k in ("owner", "owned_at", "escalation_step", "escalated_at")})
        customer_key = alert.get("customer_key")
        if customer_key:
            row["calls_24h"] = self.store.count_calls_from(customer_key, now - DAY)
        queue_id = call.get("queue_id") if call else None
        name = None
        if queue_id:
            try:
                name = self.queue_name(queue_id)
            except Exception:  # noqa: BLE001 - a name lookup must never stop an alert
                log.warning("queue name lookup failed queue_id=%s", queue_id, exc_info=True)
        return render_alert(row, call, queue_name=name, tz=self.tz, now=now, agent_name=self.agent_name)


def _updated(alert_id: int, row: AlertRow | None) -> AlertRow:
    """The row `update_alert` returned; None means the alert was deleted under us."""
    if row is None:
        raise AlertNotFound(alert_id)
    return row


def _abandoned_or_first(record: HistoryRecord) -> QueueStat | None:
    stats = list(record.queue_stats or ())
    for qs in stats:
        if (qs.status or "").lower() == "abandoned" or qs.is_callback:
            return qs
    return stats[0] if stats else None


def _visible(call: Mapping[str, object], detail: JSONObject) -> tuple[object, ...]:
    qs = detail.get("queue_stat") or {}
    misses = tuple(
        sorted(str(m.get("username") or m.get("agent_id")) for m in qs.get("misses") or [] if isinstance(m, dict))
    )
    return (call.get("queue_id"), qs.get("wait_time"), qs.get("end_call_reason"), misses, bool(qs.get("is_callback")))
