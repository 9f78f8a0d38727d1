"""Who may change routes and other people's links: workspace admins/owners and RINGBOT_ADMINS."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

_CACHE_SECONDS = 300.0
_cache: dict[str, tuple[float, bool]] = {}


async def is_admin(deps: Any, client: Any, user_id: str) -> bool:
    """True for RINGBOT_ADMINS and Slack workspace admins/owners (users.info, cached 5 minutes)."""
    if user_id in deps.settings.admins:
        return True
    now = time.monotonic()
    hit = _cache.get(user_id)
    if hit and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    try:
        resp = await client.users_info(user=user_id)
        user = resp.get("user") or {}
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
    except Exception as exc:  # noqa: BLE001 - a failed lookup means "not admin", never a crash
        log.warning("admin check failed user=%s error=%s", user_id, type(exc).__name__)
        return False
    _cache[user_id] = (now, admin)
    return admin


def forget_cache() -> None:
    _cache.clear()
