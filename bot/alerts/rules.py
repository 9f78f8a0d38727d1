"""The route settings in force for a call or an alert, read now (an admin's change applies to what comes next,
and to an escalation or a digest rendered after it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot.alerts.route_settings import RouteSettings, route_keys, settings_for
from bot.calls.numbers import number_key
from storage import OwnershipStore, Store


class RouteRules:
    """Looks up the RouteSettings of the most specific route of a call (queue, queue name, DID, default)."""

    def __init__(self, store: Store, *, queue_name: Callable[[str], str | None] = lambda _id: None) -> None:
        self.store = store
        self.owners = OwnershipStore(store)
        self.queue_name = queue_name  # routes may name a queue instead of giving its id

    def for_call(self, queue_id: str | None, dialled: str | None) -> RouteSettings:
        name = None
        if queue_id:
            try:
                name = self.queue_name(queue_id)
            except Exception:  # noqa: BLE001 - a name lookup must never stop an alert
                name = None
        keys = route_keys(queue_id=queue_id, queue_name=name, did_key=number_key(dialled) or None)
        return settings_for(self.owners, keys)[1]

    def for_alert(self, alert: Mapping[str, Any]) -> RouteSettings:
        call = self.store.get_call(str(alert["call_id"]))
        return self.for_call(call.get("queue_id") if call else None, call.get("dialled") if call else None)
