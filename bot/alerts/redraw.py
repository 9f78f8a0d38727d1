"""Queue the edit of an alert's message, and of its copies in people's DMs, to the alert's state when sent.

Its own module so that the alert service, ownership changes and escalation all call it without importing each
other."""

from __future__ import annotations

from collections.abc import Mapping

from storage import OwnershipStore, Store
from storage.rows import OutboxKind


def redraw(store: Store, alert: Mapping[str, object]) -> bool:
    """Inside the caller's transaction. False for an alert held after hours: it has no message, the overnight
    digest lists it."""
    alert_id = int(str(alert["id"]))
    owners = OwnershipStore(store)
    if owners.get(alert_id)["held"]:
        return False
    store.enqueue(OutboxKind.UPDATE, str(alert["channel"]), alert_id=alert_id)
    for copy in owners.copies(alert_id):
        store.enqueue(OutboxKind.COPY, copy["user"], alert_id=alert_id, body={"user": copy["user"]})
    return True
