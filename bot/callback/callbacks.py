"""Call back on an alert, as one use case: the alert's number (never the button's), the dial from the clicker's
own device, and the alert marked "calling back" by them, with an audit row for every attempt. No Slack here: the
listener turns the result into words."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.antbuddy import InvalidNumber, validate_number
from bot.callback.dialer import Dialer, DialResult
from storage import NotSaved, Saved, Store

log = logging.getLogger(__name__)


class Claims(Protocol):
    """What Call back needs of the alert service (bot/alerts/ sits beside bot/callback/, never imported)."""

    def claim(self, alert_id: int, user_id: str) -> Saved: ...


class CallBackKind(StrEnum):
    GONE = "gone"  # no such alert: nothing to call back
    BAD_NUMBER = "bad_number"  # the alert's number cannot be dialled (withheld, garbled)
    DIALLED = "dialled"  # the dial was tried: `dial` says how it went


class Claim(StrEnum):
    """What became of marking the alert "calling back" once the phone rang."""

    NONE = "none"  # not tried: the dial did not go through
    NOW = "now"
    LATER = "later"  # the database refuses writes for now: it applies as soon as it can
    NOT_SAVED = "not_saved"  # the database refuses writes and too many changes wait: the alert stays as it was
    GONE = "gone"  # the alert went between the dial and the claim


@dataclass(frozen=True)
class CallBackResult:
    kind: CallBackKind
    number: str = ""  # the alert's number as stored (for BAD_NUMBER)
    dial: DialResult | None = None
    claim: Claim = Claim.NONE


class CallBack:
    """Call back, from an alert id and the clicker: reads, checks, dials, claims."""

    def __init__(self, store: Store, dialer: Dialer, claims: Claims) -> None:
        self.store = store
        self.dialer = dialer
        self.claims = claims

    async def from_alert(self, alert_id: int, user_id: str) -> CallBackResult:
        """Never raises for an expected outcome (a gone alert, a bad number, a refused or failed dial, a database
        that refuses writes)."""
        alert = self.store.get_alert(alert_id)
        if alert is None:
            log.info("call back refused user=%s reason=unknown_alert", user_id)
            return CallBackResult(CallBackKind.GONE)
        number = alert.get("customer_number") or ""
        try:
            validate_number(number)
        except InvalidNumber:
            self._audit_bad_number(user_id, number, alert_id)
            return CallBackResult(CallBackKind.BAD_NUMBER, number)
        dial = await self.dialer.call(user_id, number, alert_id=alert_id)
        claim = self._claim(alert_id, user_id) if dial.ok else Claim.NONE
        return CallBackResult(CallBackKind.DIALLED, number, dial, claim)

    def _claim(self, alert_id: int, user_id: str) -> Claim:
        """The phone is ringing whatever happens here: a claim the database cannot take is said, not raised."""
        try:
            saved = self.claims.claim(alert_id, user_id)
        except NotSaved as exc:
            log.warning("claim not saved alert_id=%s user=%s state=%s", alert_id, user_id, exc.state)
            return Claim.NOT_SAVED
        except KeyError:  # the alert service's AlertNotFound (a KeyError): removed since it was read
            return Claim.GONE
        return Claim.LATER if saved is Saved.LATER else Claim.NOW

    def _audit_bad_number(self, user_id: str, number: str, alert_id: int) -> None:
        try:
            self.store.write_or_hold(
                lambda store: store.add_audit(
                    "click_to_call", "invalid_number", slack_user=user_id, number=number[:30] or None, alert_id=alert_id
                ),
                what="call back audit",
            )
        except NotSaved as exc:
            log.warning("call back not audited user=%s state=%s", user_id, exc.state)
