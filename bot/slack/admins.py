"""Who may change routes, dial rules and other people's links: workspace admins/owners and RINGBOT_ADMINS. (How
admins hear of link and dial-rule changes is bot/outbox/notice.py: `Notices`, queued by the change itself.)"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.text import say

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0


class Admins:
    """Answers "is this person an admin?"; Slack's answer (users.info) is remembered for 5 minutes."""

    def __init__(
        self,
        configured: Collection[str],
        slack: AsyncWebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.configured = configured
        self.slack = slack
        self.clock = clock
        self._cache: dict[str, tuple[float, bool]] = {}

    async def is_admin(self, user_id: str) -> bool:
        """True for RINGBOT_ADMINS and Slack workspace admins/owners; a failed lookup means "not admin"."""
        if user_id in self.configured:
            return True
        now = self.clock()
        hit = self._cache.get(user_id)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        try:
            resp = await self.slack.users_info(user=user_id)
            user = resp.get("user") or {}
            admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        except Exception as exc:  # noqa: BLE001 - a failed lookup means "not admin", never a crash
            log.warning("admin check failed user=%s error=%s", user_id, type(exc).__name__)
            return False
        self._cache[user_id] = (now, admin)
        return admin

    def who(self) -> str:
        """Who can change a rule, for a sentence: the RINGBOT_ADMINS by mention, else "a workspace admin"."""
        if self.configured:
            return say("admins.named", admins=", ".join(f"<@{a}>" for a in self.configured))
        return say("admins.workspace")
