"""Who may change routes, dial rules and other people's links (workspace admins/owners and RINGBOT_ADMINS), and
how admins hear about link and dial-rule changes (RINGBOT_ADMIN_CHANNEL, else a DM to each of RINGBOT_ADMINS)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.text import say

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0
ANNOUNCE_TIMEOUT = 10.0  # one chat.postMessage


class Admins:
    """Answers "is this person an admin?"; Slack's answer (users.info) is remembered for 5 minutes."""

    def __init__(
        self,
        configured: Collection[str],
        slack: AsyncWebClient,
        *,
        channel: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.configured = configured
        self.slack = slack
        self.channel = channel  # RINGBOT_ADMIN_CHANNEL
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

    async def announce(self, text: str, *, actor: str) -> None:
        """Tell the admins (the admin channel, else a DM to each RINGBOT_ADMINS but the one who acted). Workspace
        admins cannot be listed without another scope: with neither setting, the audit trail is all there is."""
        targets = [self.channel] if self.channel else [a for a in self.configured if a != actor]
        for target in targets:
            try:
                async with asyncio.timeout(ANNOUNCE_TIMEOUT):
                    await self.slack.chat_postMessage(channel=target, text=text)
            except Exception as exc:  # noqa: BLE001 - the change is made and audited; a lost notice must not crash
                log.warning("admin announcement failed channel=%s error=%s", target, type(exc).__name__)
