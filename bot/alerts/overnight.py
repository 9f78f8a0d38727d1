"""The overnight digest (#13): at opening time, one message per channel lists the missed calls held while it was
closed (folded by customer: attempts, last time, voicemail, resolved ones marked, a Call back button each) and the
short hang-ups that were counted instead of alerted. A persisted job (`digest:<channel>:<time>`) sends it; what
it listed is marked, so a second run (a restart, a duplicate job) lists nothing twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.slack.render.alert import caller_text
from bot.slack.render.ownership import render_digest
from storage.rows import OutboxKind

if TYPE_CHECKING:
    from bot.alerts.ownership import Ownership
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

    def __init__(self, ownership: Ownership) -> None:
        self.ownership = ownership
        self.service = ownership.service
        self.store = ownership.store
        self.owners = ownership.owners

    async def run(self, *, late: float = 0.0, channel: str, min_ring: int = 0) -> int:
        """Post `channel`'s digest of what is waiting; how many calls it listed (0: nothing posted)."""
        now = self.service.clock()
        with self.store.transaction():
            held = self.owners.held_alerts(channel)
            shorts = self.owners.short_hangups(channel=channel, pending=True)
            if not held and not shorts:
                return 0
            customers = fold_by_customer(held)
            for c in customers:
                c["call"] = self.store.get_call(c["alert"]["call_id"])
                c["status"] = c["alert"]["status"]
            text, blocks = render_digest(
                customers,
                shorts,
                tz=self.service.tz,
                now=now,
                min_ring_seconds=min_ring,
                caller_text=caller_text,
            )
            self.store.enqueue(OutboxKind.MESSAGE, channel, body={"text": text, "blocks": blocks, "digest": True})
            self.owners.mark_digested([a["id"] for a in held], now)
            self.owners.mark_short_digested([s["call_id"] for s in shorts], now)
        count = sum(int(c["calls"]) for c in customers) + len(shorts)
        log.info(
            "overnight digest channel=%s customers=%s short=%s late_s=%.0f", channel, len(customers), len(shorts), late
        )
        self.service.wake()
        return count
