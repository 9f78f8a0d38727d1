"""Click-to-call policy: dial only destinations the dial policy allows (bot/callback/policy.py: no toll fraud),
from the clicking user's own device, once per double click, within a rate limit, with an audit row for every
attempt. No Slack here; handlers turn a DialResult into words. The
device and its password come from bot/callback/links.py."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.antbuddy import (
    AntBuddyError,
    ApiError,
    AuthError,
    DeviceOffline,
    InvalidNumber,
    RateLimited,
    Unavailable,
    validate_number,
)
from bot.callback.links import Links
from bot.callback.policy import Refused, check_destination
from bot.callback.rules import DialRules
from bot.callback.vault import VaultError, VaultUnavailable
from storage import NotSaved, Store

log = logging.getLogger(__name__)

AUDIT_ACTION = "click_to_call"
RATE_WINDOW = 60.0


class DialKind(StrEnum):
    OK = "ok"
    NOT_LINKED = "not_linked"
    OFFLINE = "offline"  # AntBuddy 400: the user's SIP device is not registered
    INVALID_NUMBER = "invalid_number"
    REFUSED = "refused"  # the dial policy refuses the destination (premium-rate, foreign...): `refusal` says why
    DUPLICATE = "duplicate"  # same user + same alert/number within the double-click window: not dialled
    RATE_LIMITED = "rate_limited"  # this user dialled more than max_per_minute
    ANTBUDDY_DOWN = "antbuddy_down"  # unreachable, or no answer in time (the call may still go through)
    ANTBUDDY_BUSY = "antbuddy_busy"  # AntBuddy's own rate limit (503/429)
    RELINK = "relink"  # the stored password cannot be decrypted (key changed): link again
    ERROR = "error"  # anything else (AuthError, ApiError...); detail says which


@dataclass(frozen=True)
class DialResult:
    kind: DialKind
    number: str = ""  # as dialled (validate_number's cleaned form) or as given when invalid
    sip_user: str = ""
    alert_id: int | None = None
    detail: str = ""  # one sentence safe to show (never a secret)
    retry_after: float = 0.0  # for RATE_LIMITED: seconds until the next dial is allowed
    refusal: Refused | None = None  # for REFUSED

    @property
    def ok(self) -> bool:
        return self.kind is DialKind.OK


class ClickToCall(Protocol):
    async def click_to_call(self, number: str, *, sip_user: str, sip_password: str) -> None: ...


class Dialer:
    """One per process: it remembers recent dials (in memory) for double-click and rate-limit checks."""

    def __init__(
        self,
        antbuddy: ClickToCall,
        store: Store,
        links: Links,
        *,
        rules: DialRules | None = None,
        on_dial: Callable[[str, str], None] = lambda number, sip_user: None,
        clock: Callable[[], float] = time.time,
        double_click_seconds: float = 10.0,
        max_per_minute: int = 5,
        timeout: float = 8.0,
    ) -> None:
        self.antbuddy = antbuddy
        self.store = store
        self.links = links
        self.rules = rules or DialRules(store)  # RINGBOT_COUNTRY's ordinary numbers and extensions only
        self.clock = clock
        self.double_click_seconds = double_click_seconds
        self.max_per_minute = max_per_minute
        self.timeout = timeout
        self._recent: dict[tuple[str, str], float] = {}  # (user, alert:<id> | number:<n>) -> started at
        self._dials: dict[str, deque[float]] = {}  # user -> times of dials sent to AntBuddy
        # Told (number, sip_user) just before each dial is sent, so the stream knows the legs it is about to see
        # are ours (the composition root hands in Pipeline.expect_own_call; docs/call-model.md).
        self.on_dial = on_dial

    async def call(self, user_id: str, number: str, *, alert_id: int | None = None) -> DialResult:
        """Ring `user_id`'s linked device, then `number`. Never raises for an expected outcome."""
        result = await self._call(user_id, number, alert_id)
        try:  # a database that refuses writes holds the row until it can; the dial happened either way
            self.store.write_or_hold(
                lambda store: store.add_audit(
                    AUDIT_ACTION,
                    result.kind.value,
                    slack_user=user_id,
                    sip_user=result.sip_user or None,
                    number=result.number or None,
                    alert_id=alert_id,
                    detail=result.detail or None,
                ),
                what="click_to_call audit",
            )
        except NotSaved as exc:
            log.warning("click_to_call not audited user=%s state=%s", user_id, exc.state)
        log.info(
            "click_to_call user=%s sip_user=%s alert=%s result=%s",
            user_id,
            result.sip_user or "-",
            alert_id if alert_id is not None else "-",
            result.kind.value,
        )
        return result

    async def _call(self, user_id: str, number: str, alert_id: int | None) -> DialResult:
        try:
            cleaned = validate_number(number)
        except InvalidNumber as exc:
            return DialResult(DialKind.INVALID_NUMBER, (number or "")[:30], alert_id=alert_id, detail=str(exc))
        # Before anything about the person: a refused number is refused for everyone, linked or not.
        destination = check_destination(cleaned, self.rules.policy())
        if isinstance(destination, Refused):
            detail = f"{destination.reason.value} {destination.rule or destination.region}".strip()  # audit: why
            return DialResult(DialKind.REFUSED, cleaned, alert_id=alert_id, detail=detail, refusal=destination)
        link = self.links.get(user_id)
        if link is None:
            return DialResult(DialKind.NOT_LINKED, cleaned, alert_id=alert_id)
        sip_user = link.sip_user
        now = self.clock()
        keys = self._keys(user_id, cleaned, alert_id)
        if self._is_duplicate(keys, now):
            return DialResult(DialKind.DUPLICATE, cleaned, sip_user, alert_id)
        wait = self._rate_wait(user_id, now)
        if wait > 0:
            return DialResult(DialKind.RATE_LIMITED, cleaned, sip_user, alert_id, retry_after=wait)
        try:
            password = self.links.password(link)
        except VaultUnavailable as exc:
            return DialResult(DialKind.RELINK, cleaned, sip_user, alert_id, detail=str(exc).split(". ")[0])
        except VaultError as exc:
            return DialResult(DialKind.RELINK, cleaned, sip_user, alert_id, detail=str(exc))
        # Remember the dial before awaiting, so a second click arriving meanwhile is a duplicate.
        for key in keys:
            self._recent[key] = now
        self._dials.setdefault(user_id, deque()).append(now)
        result = await self._dial(cleaned, sip_user, password, alert_id)
        if result.kind not in (DialKind.OK, DialKind.ANTBUDDY_DOWN):
            for key in keys:  # it surely did not ring: let the user retry at once after fixing it
                self._recent.pop(key, None)
        return result

    async def _dial(self, number: str, sip_user: str, password: str, alert_id: int | None) -> DialResult:
        def res(kind: DialKind, detail: str = "") -> DialResult:
            return DialResult(kind, number, sip_user, alert_id, detail=detail)

        self.on_dial(number, sip_user)  # before the request: the legs can arrive before AntBuddy's reply
        try:
            async with asyncio.timeout(self.timeout):
                await self.antbuddy.click_to_call(number, sip_user=sip_user, sip_password=password)
        except DeviceOffline:
            return res(DialKind.OFFLINE)
        except InvalidNumber as exc:
            return res(DialKind.INVALID_NUMBER, str(exc))
        except TimeoutError:
            return res(DialKind.ANTBUDDY_DOWN, f"no answer within {self.timeout:g} s")
        except Unavailable as exc:
            return res(DialKind.ANTBUDDY_DOWN, str(exc))
        except RateLimited as exc:
            return res(DialKind.ANTBUDDY_BUSY, str(exc))
        except ApiError as exc:
            down = exc.status is not None and exc.status >= 500
            return res(DialKind.ANTBUDDY_DOWN if down else DialKind.ERROR, str(exc))
        except (AuthError, AntBuddyError) as exc:  # their str() is one sentence, never a secret
            return res(DialKind.ERROR, str(exc))
        except Exception as exc:  # noqa: BLE001 - one clear sentence for the person, the type for the log
            log.warning("click_to_call failed sip_user=%s error=%s", sip_user, type(exc).__name__)
            return res(DialKind.ERROR, type(exc).__name__)
        return res(DialKind.OK)

    # -- policy -----------------------------------------------------------------------------------
    @staticmethod
    def _keys(user_id: str, number: str, alert_id: int | None) -> list[tuple[str, str]]:
        keys = [(user_id, f"number:{number}")]
        if alert_id is not None:
            keys.append((user_id, f"alert:{alert_id}"))
        return keys

    def _is_duplicate(self, keys: list[tuple[str, str]], now: float) -> bool:
        horizon = now - self.double_click_seconds
        for key, at in list(self._recent.items()):  # prune: the dict stays as small as the window
            if at < horizon:
                del self._recent[key]
        return any(key in self._recent for key in keys)

    def _rate_wait(self, user_id: str, now: float) -> float:
        """0 when the user may dial now, else seconds until the oldest dial leaves the window."""
        times = self._dials.get(user_id)
        if not times:
            return 0.0
        while times and times[0] <= now - RATE_WINDOW:
            times.popleft()
        if not times:
            del self._dials[user_id]
            return 0.0
        if len(times) < self.max_per_minute:
            return 0.0
        return max(0.1, times[0] + RATE_WINDOW - now)
