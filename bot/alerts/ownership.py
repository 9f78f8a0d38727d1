"""Every missed call gets an owner: "I'll take it", Release, an admin's reassignment, a Call back that takes an
unowned alert.

A person's change goes through `Store.write_or_hold`: the owner, the alert's redraw, the audit row and the
escalation jobs it cancels are written in one transaction, or held in memory while the database refuses writes
(and the person is told so). State lives in the database (storage/ownership.py), never in memory, so a restart
changes nothing. What happens when an alert is raised (held, short, DM copy, escalation) is decided by
bot/alerts/policy.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING

from bot.alerts.redraw import redraw
from bot.calls.numbers import format_number, is_withheld
from bot.slack.blocks import escape
from bot.slack.format import channel_mention, mention
from storage import NotSaved, OwnershipStore, Saved, Store
from storage.jobs import JobTable
from storage.rows import AlertStatus, OutboxKind

if TYPE_CHECKING:
    from storage.rows import AlertRow

log = logging.getLogger(__name__)

_OPEN = (AlertStatus.OPEN, AlertStatus.CALLING_BACK)
ESCALATION_STEPS = (1, 2)


def escalation_key(alert_id: int, step: int) -> str:
    """The scheduled job of an alert's escalation step (bot/alerts/escalation.py runs it)."""
    return f"escalate:{alert_id}:{step}"


class Refused(Exception):
    """An ownership change that is not allowed; `key` and `fields` are the sentence for the clicker."""

    def __init__(self, key: str, **fields: object) -> None:
        super().__init__(key)
        self.key = key
        self.fields = fields


class Ownership:
    """Owner changes over the store; `wake` tells the outbox there is something to send."""

    def __init__(
        self, store: Store, *, clock: Callable[[], float] = time.time, wake: Callable[[], None] = lambda: None
    ) -> None:
        self.store = store
        self.owners = OwnershipStore(store)
        self.clock = clock
        self.wake = wake

    # -- inside a transaction -------------------------------------------------------------------------
    def set_owner(
        self,
        store: Store,
        alert: AlertRow,
        owner: str | None,
        *,
        by: str,
        action: str,
        detail: str | None = None,
        draw: bool = True,
    ) -> None:
        """Write the owner with its audit row, inside the caller's transaction. `draw=False` when the caller's
        own change redraws the alert (one edit, not two). An owned alert no longer escalates."""
        owners = OwnershipStore(store)
        owners.set_owner(alert["id"], owner, self.clock())
        if draw:
            row = store.update_alert(alert["id"])  # bump the version: the rendered content changed
            redraw(store, row or alert)
        store.add_audit(
            action, "ok", slack_user=by, number=alert.get("customer_number"), alert_id=alert["id"], detail=detail
        )
        if owner:
            jobs = JobTable(store)
            for step in ESCALATION_STEPS:
                jobs.cancel(escalation_key(alert["id"], step))

    def own_if_unowned(self, store: Store, alert: AlertRow, user: str, *, reason: str, draw: bool = True) -> bool:
        """Give the alert to `user` when nobody owns it (a Call back), inside the caller's transaction."""
        if OwnershipStore(store).get(alert["id"])["owner"] or alert["status"] not in _OPEN:
            return False
        self.set_owner(store, alert, user, by=user, action="own", detail=reason, draw=draw)
        return True

    # -- people's changes -----------------------------------------------------------------------------
    def take(self, alert_id: int, user: str) -> Saved:
        """'I'll take it'. Someone else's alert stays theirs (Refused); taking your own again changes nothing."""
        alert = self._open_alert(alert_id)
        owner = self.owners.get(alert["id"])["owner"]
        if owner == user:
            return Saved.NOW
        if owner:
            raise Refused("own.already_owned", user=owner)
        return self._save(alert, user, by=user, action="own", detail="take")

    def release(self, alert_id: int, user: str, *, is_admin: bool) -> Saved:
        """Give it back: the owner, or an admin."""
        alert = self._open_alert(alert_id)
        owner = self.owners.get(alert["id"])["owner"]
        if not owner:
            raise Refused("own.not_owned")
        if owner != user and not is_admin:
            self._refused("release", alert, user)
            raise Refused("own.not_owner", user=owner)
        return self._save(alert, None, by=user, action="release", detail=owner)

    def reassign(self, alert_id: int, to: str, *, by: str, is_admin: bool) -> Saved:
        """An admin gives the alert to `to`, who is told in their DM (in their language)."""
        alert = self._open_alert(alert_id)
        if not is_admin:
            self._refused("reassign", alert, by, detail=to)
            raise Refused("own.admin_only")
        notice = None if to == by else given_notice(alert, to, by=by)
        return self._save(alert, to, by=by, action="reassign", detail=to, notice=notice)

    # -- helpers --------------------------------------------------------------------------------------
    def _open_alert(self, alert_id: int) -> AlertRow:
        alert = self.store.get_alert(int(alert_id))
        if alert is None:
            raise Refused("own.gone")
        if alert["status"] not in _OPEN:
            raise Refused("own.closed")
        return alert

    def _save(
        self,
        alert: AlertRow,
        owner: str | None,
        *,
        by: str,
        action: str,
        detail: str | None,
        notice: dict[str, object] | None = None,
    ) -> Saved:
        def change(store: Store) -> None:
            self.set_owner(store, alert, owner, by=by, action=action, detail=detail)
            if notice is not None and owner:
                store.enqueue(OutboxKind.NOTICE, owner, alert_id=alert["id"], body=notice)

        saved = self.store.write_or_hold(change, what=f"{action} alert {alert['id']}")
        if saved is Saved.NOW:
            self.wake()
        log.info("alert %s alert_id=%s by=%s owner=%s saved=%s", action, alert["id"], by, owner, saved.value)
        return saved

    def _refused(self, action: str, alert: AlertRow, user: str, *, detail: str | None = None) -> None:
        """The refusal goes in the audit trail too; the person hears the refusal whether or not it could be
        written now (a database that cannot take even a held change loses this one line, not their answer)."""
        with suppress(NotSaved):
            self.store.write_or_hold(
                lambda s: s.add_audit(action, "refused", slack_user=user, alert_id=alert["id"], detail=detail),
                what=f"{action} refused",
            )


def given_notice(alert: AlertRow, to: str, *, by: str) -> dict[str, object]:
    """The NOTICE body that tells `to` an admin gave them the alert: a catalog key and escaped fields, rendered
    in `to`'s language when it is sent."""
    raw = str(alert.get("customer_number") or "")
    number = escape(raw if is_withheld(raw) else format_number(raw) or raw, limit=120)
    return {
        "user": to,
        "key": "own.given_to_you",
        "fields": {"by": mention(by), "number": number, "channel": channel_mention(alert.get("channel"))},
    }
