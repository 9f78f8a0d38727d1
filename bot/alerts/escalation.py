"""Escalation (#13): an alert nobody took gets, after the route's N minutes, a thread reply mentioning its target
(and the "unowned N min" badge); after M more minutes, optionally, a DM to the route's supervisors.

Each step is a persisted job (`escalate:<alert id>:<step>`, bot/ops/scheduled.py) that looks at the alert when it
runs: claimed, handled, resolved or held, it does nothing, and a step already done is never done twice (the step
is stored with the alert), so a restart neither loses nor repeats one. A step that ran late says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.calls.numbers import format_number, is_withheld
from bot.slack.blocks import escape
from bot.slack.render.ownership import escalation_dm, escalation_reply
from storage.rows import AlertStatus, OutboxKind

if TYPE_CHECKING:
    from bot.alerts.ownership import Ownership

log = logging.getLogger(__name__)

LATE_AFTER = 60.0  # seconds: a step this late (ringbot was down when it fell due) says it is late


class Escalation:
    """Runs the `escalate` jobs."""

    def __init__(self, ownership: Ownership, *, workspace_url: Callable[[], str | None] = lambda: None) -> None:
        self.ownership = ownership
        self.service = ownership.service
        self.store = ownership.store
        self.owners = ownership.owners
        self.workspace_url = workspace_url

    async def run(self, *, late: float = 0.0, alert_id: int, step: int = 1) -> str:
        """Do escalation `step` for the alert if it is still open, unowned and not yet escalated that far.
        Returns what happened: 'replied' | 'told_supervisors' | 'skipped'."""
        result = "skipped"
        with self.store.transaction():
            alert = self.store.get_alert(int(alert_id))
            state = self.owners.get(int(alert_id))
            if (
                alert is None
                or alert["status"] != AlertStatus.OPEN  # handled, resolved, or someone is calling back
                or state["owner"]
                or state["held"]
                or state["escalation_step"] >= step
            ):
                log.info("escalation skipped alert_id=%s step=%s", alert_id, step)
                return result
            rules = self.ownership.rules_for_alert(alert)
            now = self.service.clock()
            late_minutes = int(late // 60) if late > LATE_AFTER else 0
            if step == 1:
                text = escalation_reply(rules.escalate_to, rules.escalate_after, late_minutes=late_minutes)
                self.store.enqueue(OutboxKind.REPLY, alert["channel"], alert_id=alert["id"], body={"text": text})
                self.owners.set_escalation(alert["id"], 1, now)
                row = self.store.update_alert(alert["id"])  # bump the version: the badge appears
                self.service.redraw(row or alert)
                if rules.second_after and rules.supervisors and self.ownership.jobs is not None:
                    due = now - late + rules.second_after * 60  # M minutes after step 1 fell due
                    self.ownership.jobs.at(
                        "escalate", due, key=f"escalate:{alert['id']}:2", alert_id=alert["id"], step=2
                    )
                result = "replied"
            else:
                raw = str(alert.get("customer_number") or "")
                caller = escape(raw if is_withheld(raw) else format_number(raw) or raw, limit=120)
                minutes = rules.escalate_after + rules.second_after
                text, blocks = escalation_dm(alert, caller, minutes, workspace_url=self.workspace_url())
                for user in rules.supervisors:
                    body = {"user": user, "text": text, "blocks": blocks}
                    self.store.enqueue(OutboxKind.MESSAGE, user, alert_id=alert["id"], body=body)
                self.owners.set_escalation(alert["id"], 2, now)
                result = "told_supervisors"
            self.store.add_audit("escalate", result, alert_id=alert["id"], detail=f"step {step}")
        log.info("escalation alert_id=%s step=%s result=%s late_s=%.0f", alert_id, step, result, late)
        self.service.wake()
        return result
