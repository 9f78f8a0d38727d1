"""The alert side's own messages, worded when the outbox sends them (bot/outbox/message.py: MessageKind), in
their reader's language: the reply under an alert when the caller calls again, the escalation reply, the
supervisor's DM, and the overnight digest. Each reads the alert, its calls and the route's rules as they are
NOW, so a message that waited through a Slack outage says what is true when it arrives, and says it is late.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from bot.alerts.overnight import fold_by_customer
from bot.alerts.rules import RouteRules
from bot.outbox.message import Gone, MessageKind, Outgoing, Wait
from bot.slack.render.alert import caller_text, render_repeat_reply
from bot.slack.render.ownership import LATE_AFTER, escalation_dm, escalation_reply, render_overnight_digest
from storage import AlertRow, OutboxRow, OwnershipStore, Store
from storage.rows import AlertStatus, OutboxKind, OutboxStatus


def _late_minutes(now: float, due_at: object) -> int:
    """Whole minutes a message comes after it fell due; 0 unless it is more than LATE_AFTER late."""
    if not isinstance(due_at, (int, float)) or isinstance(due_at, bool):
        return 0
    late = now - float(due_at)
    return int(late // 60) if late > LATE_AFTER else 0


class _InThread:
    """A reply under an alert's message: waits for the message, gives up when it will never be there."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def alert(self, row: OutboxRow) -> AlertRow:
        alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
        if alert is None:
            raise Gone("the alert was removed")
        return alert

    def thread_of(self, row: OutboxRow, alert: AlertRow) -> str:
        thread_ts = row.get("thread_ts") or alert.get("thread_ts") or alert.get("ts")
        if thread_ts:
            return str(thread_ts)
        post = self.store.outbox_post_for_alert(alert["id"])
        if post is None or post["status"] in (OutboxStatus.DEAD, OutboxStatus.SENT):
            raise Gone("the alert was never posted")  # held after hours, or its post was given up
        raise Wait()

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        """Nothing follows a reply."""

    def subject(self, row: OutboxRow) -> str | None:
        return None  # every reply is its own message


class RepeatReply(_InThread):
    """REPLY (body `call_id`): 'Called again at 14:09 (rang 12 s, …)' under the open alert."""

    def __init__(self, store: Store, *, tz: ZoneInfo) -> None:
        super().__init__(store)
        self.tz = tz

    async def render(self, row: OutboxRow) -> Outgoing:
        alert = self.alert(row)
        thread_ts = self.thread_of(row, alert)
        body = row.get("body") or {}
        call_id = body.get("call_id")
        call = self.store.get_call(str(call_id)) if call_id else None
        if call is not None:
            return Outgoing(render_repeat_reply(call, self.tz), thread_ts=thread_ts)
        if body.get("text"):  # a row written before replies were worded when sent
            return Outgoing(str(body["text"]), thread_ts=thread_ts)
        raise Gone("the repeat call was removed")


class EscalationReply(_InThread):
    """ESCALATION (body `step`, `due_at`): the thread reply mentioning the route's escalation target, while the
    alert is still open and unowned."""

    def __init__(self, store: Store, *, rules: RouteRules, clock: Callable[[], float]) -> None:
        super().__init__(store)
        self.owners = OwnershipStore(store)
        self.rules = rules
        self.clock = clock

    async def render(self, row: OutboxRow) -> Outgoing:
        alert = self.alert(row)
        if alert["status"] != AlertStatus.OPEN or self.owners.get(alert["id"])["owner"]:
            raise Gone("someone took the alert, or it was closed, before the reminder could be sent")
        thread_ts = self.thread_of(row, alert)
        rules = self.rules.for_alert(alert)
        late = _late_minutes(self.clock(), (row.get("body") or {}).get("due_at"))
        return Outgoing(
            escalation_reply(rules.escalate_to, rules.escalate_after, late_minutes=late), thread_ts=thread_ts
        )


class EscalationDM:
    """ESCALATION_DM (body `user`, `minutes`, `due_at`): a supervisor told of an alert nobody took, in their DM."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float],
        workspace_url: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.store = store
        self.owners = OwnershipStore(store)
        self.clock = clock
        self.workspace_url = workspace_url

    async def render(self, row: OutboxRow) -> Outgoing:
        alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
        if alert is None:
            raise Gone("the alert was removed")
        if alert["status"] != AlertStatus.OPEN or self.owners.get(alert["id"])["owner"]:
            raise Gone("someone took the alert, or it was closed, before the supervisor could be told")
        body = row.get("body") or {}
        minutes = body.get("minutes")
        text, blocks = escalation_dm(
            alert,
            caller_text(str(alert.get("customer_number") or "")),
            int(minutes) if isinstance(minutes, int) else 0,
            workspace_url=self.workspace_url(),
            late_minutes=_late_minutes(self.clock(), body.get("due_at")),
        )
        return Outgoing(text, blocks)

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        """Nothing follows the DM."""

    def subject(self, row: OutboxRow) -> str | None:
        return None


class OvernightDigest:
    """OVERNIGHT_DIGEST (body `alert_ids`, `short_ids`, `min_ring`, `due_at`): what came in while the channel was
    closed, each customer's state as it is now."""

    def __init__(self, store: Store, *, tz: ZoneInfo, clock: Callable[[], float]) -> None:
        self.store = store
        self.owners = OwnershipStore(store)
        self.tz = tz
        self.clock = clock

    async def render(self, row: OutboxRow) -> Outgoing:
        body = row.get("body") or {}
        alerts = [
            alert
            for alert_id in body.get("alert_ids") or []
            if isinstance(alert_id, int) and (alert := self.store.get_alert(alert_id)) is not None
        ]
        shorts = self.owners.short_hangups_by_id(str(c) for c in body.get("short_ids") or [])
        if not alerts and not shorts:
            raise Gone("nothing the digest listed is left")
        customers = fold_by_customer(alerts)
        for c in customers:
            c["call"] = self.store.get_call(c["alert"]["call_id"])
            c["status"] = c["alert"]["status"]
        min_ring = body.get("min_ring")
        due_at = body.get("due_at")
        text, blocks = render_overnight_digest(
            customers,
            shorts,
            tz=self.tz,
            now=self.clock(),
            min_ring_seconds=int(min_ring) if isinstance(min_ring, int) else 0,
            caller_text=caller_text,
            due_at=float(due_at) if isinstance(due_at, (int, float)) else None,
        )
        return Outgoing(text, blocks)

    def sent(self, row: OutboxRow, *, channel: str, ts: str) -> None:
        """Nothing follows the digest: what it lists was marked when it was queued."""

    def subject(self, row: OutboxRow) -> str | None:
        return None


def alert_messages(
    store: Store,
    *,
    tz: ZoneInfo,
    rules: RouteRules,
    clock: Callable[[], float] = time.time,
    workspace_url: Callable[[], str | None] = lambda: None,
) -> dict[OutboxKind, MessageKind]:
    """The alert side's kinds, for the composition root to hand to the Outbox."""
    return {
        OutboxKind.REPLY: RepeatReply(store, tz=tz),
        OutboxKind.ESCALATION: EscalationReply(store, rules=rules, clock=clock),
        OutboxKind.ESCALATION_DM: EscalationDM(store, clock=clock, workspace_url=workspace_url),
        OutboxKind.OVERNIGHT_DIGEST: OvernightDigest(store, tz=tz, clock=clock),
    }
