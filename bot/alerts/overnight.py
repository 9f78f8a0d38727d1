"""The overnight digest: at opening time, one message per channel lists the missed calls held while it was closed
(folded by customer: attempts, last time, voicemail, resolved ones marked, a Call back button each) and the short
hang-ups that were counted instead of alerted. A scheduled job (`digest:<channel>:<time>`, storage/jobs.py)
writes an OVERNIGHT_DIGEST outbox row naming what it lists; the words are chosen when it is sent
(bot/alerts/messages.py), in the channel's language. What it listed is marked, so a second run (a restart, a
duplicate job) lists nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from storage import OwnershipStore, Store
from storage.rows import OutboxKind

if TYPE_CHECKING:
    from storage.rows import AlertRow

log = logging.getLogger(__name__)


def fold_by_customer(alerts: list[AlertRow]) -> list[dict[str, Any]]:
    """One entry per customer (a withheld caller is each its own), newest alert on top, in first-call order."""
    folded: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        key = alert.get("customer_key") or f"alert:{alert['id']}"
        entry = folded.setdefault(key, {"alert": alert, "calls": 0, "last_at": None})
        entry["calls"] += int(alert.get("repeat_count") or 1)
        last = alert.get("last_call_at") or alert.get("created_at")
        if entry["last_at"] is None or (last or 0) >= entry["last_at"]:
            entry["alert"], entry["last_at"] = alert, last
    return list(folded.values())


class Overnight:
    """Runs the `overnight_digest` jobs."""

    def __init__(
        self, store: Store, *, clock: Callable[[], float] = time.time, wake: Callable[[], None] = lambda: None
    ) -> None:
        self.store = store
        self.owners = OwnershipStore(store)
        self.clock = clock
        self.wake = wake

    async def run(self, *, late: float = 0.0, channel: str, min_ring: int = 0) -> int:
        """Queue `channel`'s digest of what is waiting; how many calls it lists (0: nothing queued)."""
        now = self.clock()
        with self.store.transaction():
            held = self.owners.held_alerts(channel)
            shorts = self.owners.short_hangups(channel=channel, pending=True)
            if not held and not shorts:
                return 0
            body = {
                "alert_ids": [a["id"] for a in held],
                "short_ids": [s["call_id"] for s in shorts],
                "min_ring": min_ring,
                "due_at": now - max(0.0, late),
            }
            self.store.enqueue(OutboxKind.OVERNIGHT_DIGEST, channel, body=body)
            self.owners.mark_digested([a["id"] for a in held], now)
            self.owners.mark_short_digested([s["call_id"] for s in shorts], now)
        count = sum(int(a.get("repeat_count") or 1) for a in held) + len(shorts)
        log.info("overnight digest channel=%s alerts=%s short=%s late_s=%.0f", channel, len(held), len(shorts), late)
        self.wake()
        return count
