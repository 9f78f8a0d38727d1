"""Burst folding: when a channel has more alerts waiting than it can take at once, one summary message goes
first and the alerts follow in its thread, paced as usual, while the summary's count is edited to keep up.

A channel's current burst (its `Fold`) is kept in the store's meta table under `outbox_fold:<channel>`, so
a restart goes on using the same thread. See docs/alerts.md, "Pacing and bursts".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.slack.render.alert import render_burst_summary
from storage import OutboxKind, OutboxStatus

if TYPE_CHECKING:
    from bot.slack.blocks import Block
    from storage import OutboxRow, Store

log = logging.getLogger(__name__)

META_PREFIX = "outbox_fold:"
RESUME_WINDOW = 3600.0  # seconds: after a restart, a summary younger than this gets its count checked


@dataclass
class Fold:
    """One channel's burst."""

    ts: str | None  # the summary message, once Slack has it
    outbox_id: int | None  # the summary's outbox row
    upto_id: int  # alert posts with an outbox id up to this one belong in the summary's thread
    last_at: float  # when the burst last grew or posted (clock seconds)

    @classmethod
    def from_json(cls, raw: str | None) -> Fold | None:
        """The stored fold, or None when there is none (or it cannot be read: the next burst starts afresh)."""
        try:
            data = json.loads(raw) if raw else None
            if not isinstance(data, dict) or not data:
                return None
            return cls(
                ts=data.get("ts") or None,
                outbox_id=data.get("outbox_id"),
                upto_id=int(data.get("upto_id") or 0),
                last_at=float(data.get("last_at") or 0),
            )
        except (ValueError, TypeError):
            return None

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class Bursts:
    """Decides which alerts fold under a summary, and keeps track of what each summary last said."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        *,
        threshold: int,
        idle_seconds: float,
        refresh_seconds: float,
        tz: ZoneInfo,
    ) -> None:
        self.store = store
        self.clock = clock
        self.threshold = threshold  # more posts than this waiting in one channel start a fold
        self.idle_seconds = idle_seconds  # a burst that grows again within this keeps its thread
        self.refresh_seconds = refresh_seconds  # at most one edit of a summary this often
        self.tz = tz
        self.stale: set[tuple[str, str]] = set()  # (channel, ts) of summaries whose count may be behind
        self._shown: dict[tuple[str, str], tuple[float, str]] = {}  # (channel, ts) -> (when, text)

    # -- the stored fold --------------------------------------------------------------------------
    def load(self, channel: str) -> Fold | None:
        return Fold.from_json(self.store.get_meta(META_PREFIX + channel))

    def save(self, channel: str, fold: Fold) -> None:
        self.store.set_meta(META_PREFIX + channel, fold.to_json())

    def channels(self) -> list[str]:
        """Channels with a stored fold."""
        return [key.split(":", 1)[1] for key in self.store.meta_keys(META_PREFIX)]

    # -- which thread an alert goes in ------------------------------------------------------------
    def thread_for(self, row: OutboxRow) -> str | None:
        """The summary ts to post this alert under; None to post it plainly; '' when the burst's summary has yet
        to go (it goes first, the alert waits).

        One burst has at most one summary, whatever Slack answers: while its summary waits (a retry, a channel
        held), no other is queued; when its summary was given up on, its alerts are posted plainly."""
        channel = row["channel"]
        fold = self.load(channel)
        now = self.clock()
        if fold and fold.ts and row["id"] <= fold.upto_id:
            return fold.ts
        if fold and not fold.ts:
            status = self.store.outbox_status(fold.outbox_id) if fold.outbox_id is not None else None
            if status in (OutboxStatus.PENDING, OutboxStatus.INFLIGHT):
                return ""
            if row["id"] <= fold.upto_id or now - fold.last_at < self.idle_seconds:
                return None  # this burst's summary is dead or gone: its alerts go out plainly
        count, newest = self.store.pending_posts_in(channel)
        if count <= self.threshold:
            return None
        upto = newest or 0
        if fold and fold.ts and now - fold.last_at < self.idle_seconds:
            fold.upto_id = upto
            self.save(channel, fold)  # the burst goes on: keep using the same thread
            return fold.ts
        with self.store.transaction():
            sid = self.store.enqueue(OutboxKind.SUMMARY, channel, body={"upto_id": upto, "count": count})
            self.save(channel, Fold(ts=None, outbox_id=sid, upto_id=upto, last_at=now))
        log.info("outbox burst fold channel=%s pending=%s summary_outbox_id=%s", channel, count, sid)
        return ""

    def widen(self, channel: str, upto: int) -> int:
        """While a burst is still queueing, the summary covers every post already waiting behind it."""
        _count, newest = self.store.pending_posts_in(channel)
        if newest and newest > upto:
            fold = self.load(channel)
            if fold is not None:
                fold.upto_id = newest
                self.save(channel, fold)
            return newest
        return upto

    # -- what happened in Slack -------------------------------------------------------------------
    def summary_posted(self, row: OutboxRow, ts: str) -> None:
        """The summary row is in Slack: its thread is open for the alerts (call inside the row's transaction)."""
        fold = self.load(row["channel"])
        if fold and fold.outbox_id == row["id"]:
            fold.ts = ts
            fold.last_at = self.clock()
            self.save(row["channel"], fold)

    def alert_posted_in(self, channel: str, thread_ts: str) -> None:
        """An alert went into a summary's thread: the summary's count is behind, and the burst is still live."""
        self.stale.add((channel, thread_ts))
        fold = self.load(channel)
        if fold:
            fold.last_at = self.clock()
            self.save(channel, fold)

    def resume(self) -> None:
        """After a restart: a crash may have left a recent summary's count behind."""
        for channel in self.channels():
            fold = self.load(channel)
            if fold and fold.ts and self.clock() - fold.last_at < RESUME_WINDOW:
                self.stale.add((channel, fold.ts))

    # -- the summary's text -----------------------------------------------------------------------
    def first_summary(self, channel: str, upto: int) -> tuple[str, list[Block]]:
        """The summary as first posted: it counts every post already queued, not only the first few."""
        return self._render(channel, None, self.widen(channel, upto))

    def current_summary(self, channel: str, ts: str) -> tuple[str, list[Block]]:
        """The summary at `ts` as it should read now."""
        fold = self.load(channel)
        upto = fold.upto_id if fold and fold.ts == ts else 0
        if upto:
            upto = self.widen(channel, upto)
        return self._render(channel, ts, upto)

    def _render(self, channel: str, ts: str | None, upto: int) -> tuple[str, list[Block]]:
        stats = self.store.fold_stats(channel, ts, upto)
        try:
            return render_burst_summary(stats["count"], stats["first_at"], stats["last_at"], self.tz)
        except (OverflowError, ValueError, OSError) as exc:
            # A call time no calendar can show (year 9999...) must not hold the channel: the count without times.
            log.warning("burst summary without times channel=%s error=%s: %s", channel, type(exc).__name__, exc)
            return render_burst_summary(stats["count"], None, None, self.tz)

    def shown(self, channel: str, ts: str, text: str, at: float) -> None:
        """Slack shows `text` in the summary at `ts` since clock time `at`."""
        self._shown[(channel, ts)] = (at, text)

    def postpone(self, channel: str, ts: str, at: float) -> None:
        """An edit of the summary at `ts` failed at `at`: the next try waits `refresh_seconds`, like any edit."""
        self._shown[(channel, ts)] = (at, self._shown.get((channel, ts), (0.0, ""))[1])

    def says_already(self, channel: str, ts: str, text: str) -> bool:
        """Editing would change nothing."""
        return self._shown.get((channel, ts), (0.0, ""))[1] == text

    def refresh_due_at(self, channel: str, ts: str) -> float:
        """Edits of a summary are spaced out: they share Slack's Tier-3 budget with every alert's own edits."""
        return self._shown.get((channel, ts), (0.0, ""))[0] + self.refresh_seconds
