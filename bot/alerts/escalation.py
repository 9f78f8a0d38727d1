"""Escalation: an alert nobody took gets, after the route's N minutes, a thread reply mentioning its target (and
the "unowned N min" badge); after M more minutes, optionally, a DM to each of the route's supervisors.

Each step is a scheduled job (`escalate:<alert id>:<step>`, storage/jobs.py) that looks at the alert when it runs:
claimed, handled, resolved or held, it does nothing, and a step already done is never done twice (the step is
stored with the alert), so a restart neither loses nor repeats one. The job writes what to say (an ESCALATION or
ESCALATION_DM outbox row); the words are chosen when it is sent (bot/alerts/messages.py), in the reader's language.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.alerts.ownership import escalation_key
from bot.alerts.redraw import redraw
from bot.alerts.rules import RouteRules
from storage import OwnershipStore, Store
from storage.jobs import JobTable
from storage.rows import AlertStatus, OutboxKind

log = logging.getLogger(__name__)


class Escalation:
    """Runs the `escalate` jobs."""

    def __init__(
        self,
        store: Store,
        *,
        rules: RouteRules,
        clock: Callable[[], float] = time.time,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.owners = OwnershipStore(store)
        self.jobs = JobTable(store)
        self.rules = rules
        self.clock = clock
        self.wake = wake

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
            rules = self.rules.for_alert(alert)
            now = self.clock()
            due_at = now - max(0.0, late)  # when the step fell due: the message says how late it comes
            if step == 1:
                self.store.enqueue(
                    OutboxKind.ESCALATION, alert["channel"], alert_id=alert["id"], body={"step": 1, "due_at": due_at}
                )
                self.owners.set_escalation(alert["id"], 1, now)
                row = self.store.update_alert(alert["id"])  # bump the version: the badge appears
                redraw(self.store, row or alert)
                if rules.second_after and rules.supervisors:
                    self.jobs.at(
                        "escalate",
                        due_at + rules.second_after * 60,  # M minutes after step 1 fell due
                        key=escalation_key(alert["id"], 2),
                        alert_id=alert["id"],
                        step=2,
                    )
                result = "replied"
            else:
                minutes = rules.escalate_after + rules.second_after
                for user in rules.supervisors:
                    body: dict[str, object] = {"user": user, "minutes": minutes, "due_at": due_at}
                    self.store.enqueue(OutboxKind.ESCALATION_DM, user, alert_id=alert["id"], body=body)
                self.owners.set_escalation(alert["id"], 2, now)
                result = "told_supervisors"
            self.store.add_audit("escalate", result, alert_id=alert["id"], detail=f"step {step}")
        log.info("escalation alert_id=%s step=%s result=%s late_s=%.0f", alert_id, step, result, late)
        self.wake()
        return result
