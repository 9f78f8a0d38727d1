"""The outbox worker: the one loop that posts, edits and uploads to Slack, paced, retried, and exactly once.

Rows come from bot/alerts/service.py (same transaction as the alert change). The loop takes the one most-due
thing (per channel the oldest post, per alert its pending edits, or a burst summary whose count is behind),
waits while Slack's limits say so, and hands it on:

- pacing.py    token buckets per channel, Retry-After pauses, retry backoff;
- sending.py   the Slack call for each kind of row, and `inflight` / `sent` / retry / dead after it;
- errors.py    what a failed call means: pause, retry, or dead letter with the fix;
- folding.py   a burst folded into one summary with the alerts in its thread;
- recovery.py  reading a channel back to find a post, after a crash or an ambiguous failure.

See docs/alerts.md.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.outbox.folding import Bursts
from bot.outbox.pacing import Pacer
from bot.outbox.recovery import POST_KINDS, CannotVerify, PostFinder
from bot.outbox.sending import (
    Blocked,
    ChannelLanguage,
    OutboxStats,
    PersonLanguage,
    Render,
    Sender,
    Taken,
    without_retries,
)
from bot.slack import i18n
from storage import OutboxKind

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.outbox.message import MessageKind
    from storage import AlertRow, OutboxRow, Store

log = logging.getLogger(__name__)

IDLE_MAX = 5.0  # re-check the table at least this often even without a wake()
BLOCKED_WAIT = 1.0  # seconds before a row that waits for its alert's post is looked at again
DB_WAIT = 0.5  # seconds between tries while the database refuses reads or writes
DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class _RowDue:
    """An outbox row (post, reply, summary, or an alert's pending edits) and when it may go."""

    ready_at: float
    order: int
    row: OutboxRow
    alert: AlertRow | None = None


@dataclass
class _RefreshDue:
    """A burst summary whose count is behind, and when it may be edited."""

    ready_at: float
    order: int
    channel: str
    ts: str


def _channel_default(channel_language: ChannelLanguage) -> PersonLanguage:
    """Without a way to ask for a person's language, a DM is written in the channels' default language."""

    async def language(_user: str) -> str:
        return channel_language("")

    return language


class Outbox:
    """One worker draining the outbox table into Slack."""

    def __init__(
        self,
        store: Store,
        client: AsyncWebClient,
        *,
        render: Render,
        kinds: Mapping[str, MessageKind] | None = None,
        channel_language: ChannelLanguage | None = None,
        person_language: PersonLanguage | None = None,
        on_call: Callable[[str, float, str], None] | None = None,
        rate_per_second: float = 1.0,
        burst: int = 3,
        fold_threshold: int = 5,
        max_attempts: int = 10,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        updates_per_minute: float = 50.0,
        update_rate_per_channel: float = 1.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 300.0,
        call_timeout: float = 15.0,
        fold_idle_seconds: float = 60.0,
        summary_refresh_seconds: float = 5.0,
        tz: ZoneInfo | None = None,
    ) -> None:
        self.store = store
        channel_language = channel_language or i18n.ChannelLanguages().of  # every channel in English
        self.client = without_retries(client)
        self.clock = clock
        self.sleep = sleep
        self._stats = OutboxStats()
        self._pacer = Pacer(
            clock,
            posts_per_second=rate_per_second,
            burst=burst,
            updates_per_second=update_rate_per_channel,
            updates_per_minute=updates_per_minute,
        )
        self._bursts = Bursts(
            store,
            clock,
            threshold=fold_threshold,
            idle_seconds=fold_idle_seconds,
            refresh_seconds=summary_refresh_seconds,
            tz=tz or DEFAULT_TZ,
        )
        self._finder = PostFinder(self.client, call_timeout=call_timeout)
        self._sender = Sender(
            store,
            self.client,
            render=render,
            kinds=kinds or {},
            channel_language=channel_language,
            person_language=person_language or _channel_default(channel_language),
            on_call=on_call,
            pacer=self._pacer,
            bursts=self._bursts,
            finder=self._finder,
            stats=self._stats,
            clock=clock,
            call_timeout=call_timeout,
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
        )
        self._wake_evt = asyncio.Event()
        self._stopping = False
        self._db_trouble = False  # the database refused us: logged once, and once when it takes writes again
        self._task: asyncio.Task[None] | None = None

    # -- control ----------------------------------------------------------------------------------
    @property
    def stats(self) -> OutboxStats:
        self._stats.pending = self.store.outbox_depth()
        return self._stats

    def refused(self) -> str | None:
        """What Slack answers every post with while it refuses them all (a bad token, scopes or URL), else None."""
        from bot.outbox.pacing import ALL

        return self._sender.trouble.get(ALL)

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next idle tick."""
        self._wake_evt.set()

    async def run(self) -> None:
        """Drain the outbox until stop(); one row (one Slack call) at a time."""
        self._task = asyncio.current_task()
        self._stopping = False
        log.info("outbox started depth=%s", self.store.outbox_depth())
        while not self._stopping:
            self._wake_evt.clear()
            try:
                delay = await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the worker must outlive anything (the database busy...)
                log.error("outbox step failed error=%s: %s; going on in 1 s", type(exc).__name__, exc)
                log.debug("outbox step failure", exc_info=True)
                delay = 1.0
            if delay > 0 and not self._stopping:
                await self._idle(delay)
        log.info("outbox stopped depth=%s", self.store.outbox_depth())

    async def drain(self, timeout: float = 60.0) -> int:
        """Send until nothing is pending (for `ringbot backfill`), pacing kept; returns Slack messages sent."""
        before = self._stats.messages_sent()
        deadline = time.monotonic() + timeout
        while self.store.outbox_depth() > 0 or self._bursts.stale:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("outbox drain timed out depth=%s", self.store.outbox_depth())
                break
            self._wake_evt.clear()
            delay = await self._step()
            if delay > 0:
                await self._idle(min(delay, remaining))
        return self._stats.messages_sent() - before

    async def stop(self, timeout: float = 5.0) -> None:
        """Let the in-flight Slack call finish (up to `timeout`), leave the rest pending."""
        self._stopping = True
        self._wake_evt.set()
        task = self._task
        if task is None or task.done() or task is asyncio.current_task():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping
                pass

    async def _idle(self, delay: float) -> None:
        waiter = asyncio.ensure_future(self._wake_evt.wait())
        sleeper = asyncio.ensure_future(self.sleep(min(delay, IDLE_MAX)))
        try:
            await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (waiter, sleeper):
                t.cancel()

    # -- recovery ---------------------------------------------------------------------------------
    async def recover(self) -> None:
        """At start: settle rows a crash left `inflight`. Posts Slack already has are marked sent, not reposted.
        Whatever Slack answers (or not), this returns: a row it cannot settle now waits as pending, and is
        looked up again before it is posted."""
        for row in self.store.inflight_outbox():
            try:
                await self._recover_row(row)
            except Exception as exc:  # noqa: BLE001 - start-up must go on: the row is looked at again later
                log.warning(
                    "outbox recover failed outbox_id=%s error=%s; kept for the worker", row["id"], type(exc).__name__
                )
                self.store.requeue_outbox(row["id"], next_at=0, error=row.get("error"))
        self._bursts.resume()

    async def _recover_row(self, row: OutboxRow) -> None:
        # Rows that may have posted a message: the alert kinds that post, a DM copy, and every kind rendered by
        # its MessageKind (an edit or an upload is not found, and is simply done again: the same edit twice
        # shows the same thing).
        if row["kind"] not in POST_KINDS and row["kind"] != OutboxKind.COPY and row["kind"] not in self._sender.kinds:
            self.store.requeue_outbox(row["id"], next_at=0, error=row.get("error"), count_attempt=False)
            return
        user = (row.get("body") or {}).get("user")
        if user and row["channel"] == user:  # its DM was never opened, so nothing was posted
            self.store.requeue_outbox(row["id"], next_at=0, error=row.get("error"), count_attempt=False)
            return
        try:
            ts = await self._finder.find(row)
        except CannotVerify as exc:
            if exc.transient:
                # Slack is failing now: keep the attempt, so the worker looks again before any post.
                log.warning(
                    "outbox recover cannot look in Slack yet outbox_id=%s channel=%s reason=%s; the worker looks "
                    "again before posting",
                    row["id"],
                    row["channel"],
                    exc,
                )
                self.store.requeue_outbox(row["id"], next_at=0, error=f"recovering: {exc}")
                return
            log.warning(
                "outbox recover cannot verify outbox_id=%s channel=%s reason=%s; re-posting "
                "(a duplicate is possible, a lost alert is not)",
                row["id"],
                row["channel"],
                exc,
            )
            ts = None
        if ts:
            self._sender.mark_posted(row, ts, row.get("thread_ts"))
            self._stats.recovered += 1
            log.info("outbox recovered outbox_id=%s channel=%s ts=%s", row["id"], row["channel"], ts)
        else:
            self.store.requeue_outbox(row["id"], next_at=0, error="recovered: not found in Slack", count_attempt=False)
            log.info("outbox requeued outbox_id=%s channel=%s (not in Slack)", row["id"], row["channel"])

    # -- scheduling -------------------------------------------------------------------------------
    def _candidates(self, now: float) -> list[_RowDue | _RefreshDue]:
        out: list[_RowDue | _RefreshDue] = []
        heads = {r["channel"]: r for r in self.store.outbox_post_heads(now)}
        for summary in self.store.pending_outbox(kind=OutboxKind.SUMMARY):
            heads[summary["channel"]] = summary  # a burst's summary goes before the alerts it folds
        for channel, row in heads.items():
            ready = max(row["next_at"] or 0, self._pacer.post_ready_at(channel, now))
            out.append(_RowDue(ready, row["id"], row))
        seen: set[int | None] = set()
        for row in self.store.pending_updates():
            if row["alert_id"] in seen:
                continue
            seen.add(row["alert_id"])
            alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
            if alert is None or not alert.get("ts"):
                if self._sender.never_posted(alert):
                    self._sender.dead(row, "the alert was never posted", log_level=logging.WARNING)
                continue  # waits for its post
            ready = max(row["next_at"] or 0, self._pacer.update_ready_at(row["channel"], now))
            out.append(_RowDue(ready, row["id"], row, alert))
        for channel, ts in sorted(self._bursts.stale):
            ready = max(self._pacer.update_ready_at(channel, now), self._bursts.refresh_due_at(channel, ts))
            out.append(_RefreshDue(ready, 1 << 62, channel, ts))
        return out

    async def _step(self) -> float:
        """Do the one most-due thing; return 0 after doing it, else how long nothing can happen."""
        if not self._sender.book_deferred():
            return DB_WAIT  # Slack answers still to record: no new Slack call before they are
        now = self.clock()
        try:
            candidates = self._candidates(now)
        except sqlite3.OperationalError as exc:
            return self._database_refused(exc)
        if not candidates:
            return IDLE_MAX
        best = min(candidates, key=lambda c: (c.ready_at, c.order))
        if best.ready_at > now:
            return max(0.001, best.ready_at - now)
        if isinstance(best, _RefreshDue):
            await self._sender.refresh_summary(best.channel, best.ts)
            return 0
        try:
            await self._sender.send(best.row, best.alert)
        except Blocked:
            self.store.requeue_outbox(
                best.row["id"], next_at=now + BLOCKED_WAIT, error="waiting for the alert's post"
            )  # not claimed, so no attempt to give back
        except Taken:
            log.debug("outbox row taken by another worker outbox_id=%s", best.row["id"])
        except asyncio.CancelledError:
            raise
        except sqlite3.OperationalError as exc:  # before the Slack call (claiming the row): nothing was sent
            return self._database_refused(exc)
        except Exception as exc:  # noqa: BLE001 - one row's failure stays with that row
            self._sender.broken(best.row, exc)
        if self._db_trouble:
            log.info("outbox writes to the database again")
            self._db_trouble = False
        return 0

    def _database_refused(self, exc: sqlite3.OperationalError) -> float:
        """The database refused a read or a claim (locked by another program, disk full): wait, log once."""
        if not self._db_trouble:
            log.warning("outbox waiting for the database (%s); rows kept, tried again every %.1f s", exc, DB_WAIT)
            self._db_trouble = True
        return DB_WAIT
