"""Routes and route settings as people change them (`/ring route …`): named by the one resolver
(bot/alerts/routes.py: `route_target`), validated, written with their audit row in one transaction through
`Store.write_or_hold` (a busy or full database holds the change, it is not lost); a non-admin's attempt is
refused and audited here too. Listeners parse, call, and say the result."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.alerts.route_settings import RouteSettings, apply_setting, stored_or_default
from bot.alerts.routes import RouteTarget, UnknownQueue, route_target
from bot.antbuddy.models import Queue
from storage import NotSaved, OwnershipStore, RouteRow, Saved, Store

log = logging.getLogger(__name__)


class QueueList(Protocol):
    """AntBuddy's queues (bot/antbuddy/directory.py: Directory, a short-lived cache)."""

    async def queues(self) -> list[Queue]: ...


class NotAdmin(Exception):
    """Only admins change routes; the attempt was audited as refused."""


@dataclass(frozen=True)
class RouteChange:
    """What `set_route` / `remove_route` did: the target, whether a route was there before, and Saved."""

    target: RouteTarget
    saved: Saved
    existed: bool  # a route was stored for the target before this change (read when it was asked for)


@dataclass(frozen=True)
class SettingsChange:
    target: RouteTarget
    settings: RouteSettings  # as they are after the change
    saved: Saved


class Routing:
    """The one door for route changes. AntBuddy's queue list is asked only when a target may be a queue."""

    def __init__(self, store: Store, directory: QueueList) -> None:
        self._store = store
        self._owners = OwnershipStore(store)
        self._directory = directory

    async def target(self, typed: str) -> RouteTarget:
        """What `typed` names (raises bot.alerts.routes.TargetError, which says why in words; an AntBuddy error
        when its queue list is needed and cannot be had)."""
        try:
            return route_target(typed, {})  # default and DIDs need no AntBuddy
        except UnknownQueue:
            pass
        queues = {q.queue_id: q.name or q.queue_id for q in await self._directory.queues() if q.queue_id}
        return route_target(typed, queues)

    # -- reads ----------------------------------------------------------------------------------
    def routes(self) -> list[RouteRow]:
        """Every stored route, by key."""
        return self._store.routes()

    def settings(self, target: RouteTarget) -> RouteSettings:
        """The settings stored for exactly this target (defaults when none, or when they no longer validate)."""
        return stored_or_default(self._owners, target.key)

    # -- changes --------------------------------------------------------------------------------
    async def set_route(self, typed: str, channel: str, *, by: str, admin: bool) -> RouteChange:
        """Send the target's alerts to `channel`. Raises NotAdmin, TargetError, NotSaved."""
        self._admin_only(admin, "route", by, f"{typed} -> {channel}")
        target = await self.target(typed)
        existed = self._exists(target.key)

        def change(store: Store) -> None:
            store.set_route(target.key, channel, by=by)
            store.add_audit("route", "ok", slack_user=by, detail=f"{target.key} -> {channel}")

        saved = self._store.write_or_hold(change, what=f"route {target.key}")
        log.info("route set key=%s channel=%s by=%s saved=%s", target.key, channel, by, saved)
        return RouteChange(target, saved, existed)

    async def remove_route(self, typed: str, *, by: str, admin: bool) -> RouteChange:
        """Drop the target's route (its alerts follow the next rule). Raises NotAdmin, TargetError, NotSaved."""
        self._admin_only(admin, "route", by, f"{typed} -> off")
        target = await self.target(typed)
        existed = self._exists(target.key)

        def change(store: Store) -> None:
            removed = store.delete_route(target.key)
            store.add_audit("route", "ok" if removed else "noop", slack_user=by, detail=f"{target.key} -> off")

        saved = self._store.write_or_hold(change, what=f"route {target.key} off")
        log.info("route removed key=%s by=%s existed=%s saved=%s", target.key, by, existed, saved)
        return RouteChange(target, saved, existed)

    async def change_setting(self, typed: str, word: str, values: list[str], *, by: str, admin: bool) -> SettingsChange:
        """One setting of a route (`escalate 4`, `hours mon-fri 08:00-17:30`, …) changed, the rest kept.
        Raises TargetError, NotAdmin, SettingsSyntax / SettingsError (nothing written), NotSaved."""
        target = await self.target(typed)
        self._admin_only(admin, "route_settings", by, f"{target.key} {word}")
        changed = apply_setting(self.settings(target), word, values)
        data = changed.to_json()

        def change(store: Store) -> None:
            OwnershipStore(store).set_route_settings(target.key, data, by=by)
            store.add_audit("route_settings", "ok", slack_user=by, detail=f"{target.key} {word}")

        saved = self._store.write_or_hold(change, what=f"route settings {target.key} {word}")
        log.info("route settings key=%s word=%s by=%s saved=%s", target.key, word, by, saved)
        return SettingsChange(target, changed, saved)

    # -- helpers --------------------------------------------------------------------------------
    def _exists(self, key: str) -> bool:
        return any(r["key"] == key for r in self._store.routes())

    def _admin_only(self, admin: bool, action: str, by: str, detail: str) -> None:
        """Refuse a non-admin, with an audit row (held like any change while the database refuses writes)."""
        if admin:
            return

        def refused(store: Store) -> None:
            store.add_audit(action, "refused", slack_user=by, detail=detail)

        try:
            self._store.write_or_hold(refused, what=f"{action} refused")
        except NotSaved as exc:  # the refusal stands; only its audit row could not be kept
            log.warning("refusal not audited action=%s by=%s state=%s", action, by, exc.state)
        raise NotAdmin(by)
