"""The daily digest: at RINGBOT_DIGEST_AT the persisted `digest` job queues, for each alert channel, one outbox row
naming the day (never the words), in the same transaction that records the day as queued for that channel: queued
exactly once, and never lost to a Slack outage or a restart. bot/queues/queue_messages.py works out the figures and
the words when the row is sent, in the channel's language, and says so when that is more than an hour late; then
the chart (or, without matplotlib or the `files:write` scope, text bars)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot.antbuddy.directory import Directory
from bot.queues import figures as fig
from bot.queues.chart import charts_available
from bot.slack.render.digest import Period
from storage import Store
from storage.queues import QueueStore
from storage.rows import OutboxKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChartMode:
    """What the digest will draw: `image` (matplotlib + files:write) or `bars`, and why (doctor shows it)."""

    mode: str
    reason: str


def chart_mode(scopes: set[str] | None) -> ChartMode:
    """`scopes`: the bot token's granted scopes (None: not known yet, assume the manifest's)."""
    if not charts_available():
        return ChartMode("bars", "matplotlib is not installed (pip install 'ringbot[charts]')")
    if scopes is not None and "files:write" not in scopes:
        return ChartMode("bars", "the Slack app lacks the files:write scope (reinstall it from app_manifest.yml)")
    return ChartMode("image", "matplotlib and files:write")


def day_bounds(day: str, tz: tzinfo) -> tuple[float, float]:
    """[midnight, next midnight) of `day` (YYYY-MM-DD) in `tz`, as unix seconds. ValueError on a malformed day."""
    midnight = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=tz)
    return midnight.timestamp(), (midnight + timedelta(days=1)).timestamp()


def build_period(
    qstore: QueueStore,
    since: float,
    until: float,
    *,
    title: str,
    tz: tzinfo,
    sla: int,
    names: dict[str, str],
    queue_ids: set[str] | None = None,
) -> Period:
    """A period's figures from ringbot's own call records (`queue_ids`: only these queues), added up by SQLite: a
    month of a busy center is a few thousand rows to Python, not every call."""
    counts = qstore.period_counts(since, until, sla=sla, queue_ids=queue_ids)
    per = fig.counted_by_queue(counts.outcomes)
    queues = sorted(
        ((names.get(q, q), f) for q, f in per.items() if q is not None), key=lambda p: (-p[1].offered, p[0])
    )
    return Period(
        title=title,
        queues=queues,
        overall=fig.counted_total(counts.outcomes),
        hours=fig.counted_hourly(counts.slots, tz),
        callbacks=len(counts.callbacks),
        callback_median=fig.median(counts.callbacks),
        repeat=counts.repeat,
    )


class DailyDigest:
    """The `digest` job (bot/ops/scheduled.py runs it, `late` seconds after it fell due)."""

    def __init__(
        self,
        store: Store,
        directory: Directory,
        *,
        default_channel: str,
        tz: tzinfo,
        wake: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.qstore = QueueStore(store)
        self.directory = directory
        self.default_channel = default_channel
        self.tz = tz
        self.wake_outbox = wake
        self.clock = clock

    def channels(self, queue_ids: list[str]) -> dict[str, set[str]]:
        """channel -> the queues whose alerts go there (the default channel takes the unrouted ones)."""
        out: dict[str, set[str]] = {self.default_channel: set()}
        names = self.directory.queue_names()
        for q in queue_ids:
            channel = self.store.route_for(queue_id=q, did_key=None, queue_name=names.get(q)) or self.default_channel
            out.setdefault(channel, set()).add(q)
        return out

    async def job(self, *, late: float = 0.0, **_: Any) -> None:
        """The persisted `digest` job."""
        self.queue_day(late=late)

    def queue_day(self, *, late: float = 0.0) -> int:
        """Queue the digest of the day the job fell due on to every alert channel that has not had it; how many
        were queued. A database that refuses the write raises, and the job is tried again (nothing half done)."""
        due_at = self.clock() - late  # a digest that fell due while ringbot was down is still that day's
        day = datetime.fromtimestamp(due_at, self.tz).strftime("%Y-%m-%d")
        queued = self._queue(day, due_at, once=True)
        if queued:
            log.info("daily digest queued day=%s channels=%s late_s=%.0f", day, ",".join(queued), late)
            self.wake_outbox()
        return len(queued)

    def queue_now(self, day: str) -> list[str]:
        """`ringbot digest --post`: the digest of `day` (YYYY-MM-DD) to every alert channel now, asked for, so sent
        even when the day's own digest went already (and the day's own still goes at RINGBOT_DIGEST_AT); the
        channels. ValueError on a malformed day."""
        day_bounds(day, self.tz)
        queued = self._queue(day, self.clock(), once=False)
        log.info("digest queued on demand day=%s channels=%s", day, ",".join(queued))
        self.wake_outbox()
        return queued

    def _queue(self, day: str, due_at: float, *, once: bool) -> list[str]:
        """One DAILY_DIGEST row per alert channel, in one transaction; `once`: only to channels that have not had
        the day's digest, and recorded as had."""
        since, until = day_bounds(day, self.tz)
        seen = self.qstore.queues_called(since, until)
        routed = self.channels(sorted(seen | set(self.directory.queue_names())))
        queued: list[str] = []
        with self.store.transaction():
            for channel, queue_ids in routed.items():
                if once and not self.qstore.mark_digest(day, channel):
                    continue  # already queued (a second run, a restart): never twice
                only = None if channel == self.default_channel else sorted(queue_ids)
                body = {"day": day, "due_at": due_at, "queue_ids": only}
                self.store.enqueue(OutboxKind.DAILY_DIGEST, channel, body=body)
                queued.append(channel)
        return queued
