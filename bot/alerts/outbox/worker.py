"""The outbox worker: the one place that talks to Slack for alerts, paced, retried, and exactly once.

Rows come from bot/alerts/service.py (same transaction as the alert change). One worker takes them in id
order per channel. A post is marked `inflight` (committed) before the HTTP call and `sent`, with the
Slack ts, after; every post carries message metadata naming its outbox row, so `recover()` can tell
after a crash whether Slack already has it (see docs/alerts.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.slack.render.alert import render_burst_summary

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient

    from storage import Store

log = logging.getLogger(__name__)

METADATA_EVENT = "ringbot_alert"
POST_KINDS = ("post", "reply", "summary")
ALL = "*"  # pause key: every lane of every channel
UPDATES = "updates"  # pause key: chat.update (Tier 3, limited per workspace, not per channel)
IDLE_MAX = 5.0  # re-check the table at least this often even without a wake()
HISTORY_PAGES = 5  # pages of conversations.history read when verifying a post (bounded)
PERSISTENT_429 = 3  # consecutive 429s before every channel pauses
# Slack `error` codes worth retrying; anything else on a 2xx/4xx is permanent (dead letter).
TRANSIENT_ERRORS = frozenset(
    {
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "ratelimited",
        "rate_limited",
        "team_added_to_org",
    }
)
CHANNEL_FIXES = {
    "channel_not_found": "check the channel id, and invite @ringbot to the channel (private channels need it)",
    "not_in_channel": "invite @ringbot to the channel, or add the chat:write.public scope",
    "is_archived": "unarchive the channel or route alerts elsewhere (/ring route)",
    "missing_scope": "add chat:write (and chat:write.public) to the app and reinstall it",
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "token_revoked": "reinstall the app and update SLACK_BOT_TOKEN",
    "account_inactive": "reinstall the app and update SLACK_BOT_TOKEN",
}


def _without_retries(client: AsyncWebClient) -> AsyncWebClient:
    """The same client minus slack_sdk's retry handlers: the outbox owns retries. An SDK retry after a
    connection reset could post twice (Slack may already have it), and a 429 slept inside the SDK would
    stall every channel instead of pausing one."""
    if not getattr(client, "retry_handlers", None):
        return client
    from slack_sdk.web.async_client import AsyncWebClient

    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        session=client.session,
        headers=dict(client.headers or {}),
        logger=client._logger,
        retry_handlers=[],
    )


class _CannotVerify(Exception):
    """conversations.history could not be read (scope, channel): we cannot tell whether a post landed."""


class _Blocked(Exception):
    """The row needs something not there yet (the alert's ts)."""


@dataclass
class OutboxStats:
    posted: int = 0
    updated: int = 0
    replies: int = 0
    summaries: int = 0
    failed: int = 0  # dead letters
    retried: int = 0  # transient failures put back for later
    rate_limited: int = 0  # 429s
    recovered: int = 0  # inflight rows found already in Slack by recover()
    coalesced: int = 0  # update rows answered by another row's chat.update
    pending: int = 0
    latencies: deque = field(default_factory=lambda: deque(maxlen=2000), repr=False)

    def latency(self, q: float) -> float | None:
        """Quantile `q` (0..1) of recent Slack call durations, in seconds."""
        if not self.latencies:
            return None
        data = sorted(self.latencies)
        return data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))]


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, float(burst), float(burst), now

    def _fill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = max(self.at, now)

    def ready_at(self, now: float) -> float:
        self._fill(now)
        return now if self.tokens >= 1 else now + (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._fill(now)
        self.tokens -= 1


@dataclass
class _Candidate:
    ready_at: float
    order: int
    lane: str  # "post" | "update" | "summary_refresh"
    row: dict[str, Any] | None = None
    alert: dict[str, Any] | None = None
    fold: tuple[str, str] | None = None  # (channel, ts) for a summary refresh


class Outbox:
    """One worker draining the outbox table into Slack."""

    def __init__(
        self,
        store: Store,
        client: AsyncWebClient,
        *,
        render: Callable[[dict[str, Any]], tuple[str, list[dict[str, Any]]]],
        rate_per_second: float = 1.0,
        burst: int = 3,
        fold_threshold: int = 5,
        max_attempts: int = 10,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
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
        self.client = _without_retries(client)
        self.render = render
        self.rate = rate_per_second
        self.burst = burst
        self.fold_threshold = fold_threshold
        self.max_attempts = max_attempts
        self.clock = clock
        self.sleep = sleep
        self.update_rate_per_channel = update_rate_per_channel
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.call_timeout = call_timeout
        self.fold_idle_seconds = fold_idle_seconds
        self.summary_refresh_seconds = summary_refresh_seconds
        self.tz = tz or ZoneInfo("Asia/Ho_Chi_Minh")
        self._stats = OutboxStats()
        # Optional hook (kind, seconds, result) for every Slack call: the app feeds /metrics from it.
        self.on_call: Callable[[str, float, str], None] | None = None
        self._post_buckets: dict[str, TokenBucket] = {}
        self._update_buckets: dict[str, TokenBucket] = {}
        self._global_updates = TokenBucket(
            updates_per_minute / 60.0, max(1.0, min(5.0, updates_per_minute / 10)), clock()
        )
        self._paused: dict[str, float] = {}
        self._consecutive_429 = 0
        self._dirty_folds: set[tuple[str, str]] = set()
        self._summary_sent: dict[tuple[str, str], tuple[float, str]] = {}  # (channel, ts) -> (when, text)
        self._wake_evt = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None

    # -- control ----------------------------------------------------------------------------------
    @property
    def stats(self) -> OutboxStats:
        self._stats.pending = self.store.outbox_depth()
        return self._stats

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
            except Exception:  # noqa: BLE001 - the worker must outlive any one bad row
                log.exception("outbox step failed")
                delay = 1.0
            if delay > 0 and not self._stopping:
                await self._idle(delay)
        log.info("outbox stopped depth=%s", self.store.outbox_depth())

    async def drain(self, timeout: float = 60.0) -> int:
        """Send until nothing is pending (for `ringbot backfill`), pacing kept; returns Slack messages sent."""

        def sent() -> int:
            st = self._stats
            return st.posted + st.updated + st.replies + st.summaries

        before = sent()
        deadline = time.monotonic() + timeout
        while self.store.outbox_depth() > 0 or self._dirty_folds:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("outbox drain timed out depth=%s", self.store.outbox_depth())
                break
            self._wake_evt.clear()
            delay = await self._step()
            if delay > 0:
                await self._idle(min(delay, remaining))
        return sent() - before

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
        """At start: settle rows a crash left `inflight`. Posts Slack already has are marked sent, not reposted."""
        for row in self.store.inflight_outbox():
            if row["kind"] not in POST_KINDS:
                self.store.requeue_outbox(row["id"], next_at=0, error=row.get("error"), count_attempt=False)
                continue
            try:
                ts = await self._find_posted(row)
            except _CannotVerify as exc:
                log.warning(
                    "outbox recover cannot verify outbox_id=%s channel=%s reason=%s; re-posting "
                    "(a duplicate is possible, a lost alert is not)",
                    row["id"],
                    row["channel"],
                    exc,
                )
                ts = None
            if ts:
                self._mark_posted(row, ts, row.get("thread_ts"))
                self._stats.recovered += 1
                log.info("outbox recovered outbox_id=%s channel=%s ts=%s", row["id"], row["channel"], ts)
            else:
                self.store.requeue_outbox(
                    row["id"], next_at=0, error="recovered: not found in Slack", count_attempt=False
                )
                log.info("outbox requeued outbox_id=%s channel=%s (not in Slack)", row["id"], row["channel"])
        for channel in self._fold_keys():  # a crash may have left a recent summary's count behind
            fold = self._load_fold(channel)
            if fold and fold.get("ts") and self.clock() - float(fold.get("last_at") or 0) < 3600:
                self._dirty_folds.add((channel, fold["ts"]))

    async def _find_posted(self, row: dict[str, Any]) -> str | None:
        """The ts of the message carrying this row's metadata, if Slack has it."""
        oldest = f"{(row.get('created_at') or 0) - 60:.6f}"
        found = await self._scan(row, channel=row["channel"], oldest=oldest)
        if found is None and row.get("thread_ts"):  # thread replies are not in conversations.history
            found = await self._scan(row, channel=row["channel"], ts=row["thread_ts"], oldest=oldest)
        return found

    async def _scan(self, row: dict[str, Any], **kw: Any) -> str | None:
        cursor = None
        for _ in range(HISTORY_PAGES):
            args = dict(kw, include_all_metadata=True, limit=200)
            if cursor:
                args["cursor"] = cursor
            try:
                if "ts" in args:
                    call = self.client.conversations_replies(**args)
                else:
                    call = self.client.conversations_history(**args)
                resp = await asyncio.wait_for(call, self.call_timeout)
            except SlackApiError as exc:
                raise _CannotVerify(exc.response.get("error") or exc.response.status_code) from None
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                raise _CannotVerify(type(exc).__name__) from None
            for msg in resp.get("messages") or []:
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == METADATA_EVENT and str(payload.get("outbox_id")) == str(row["id"]):
                    return msg.get("ts")
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return None
        return None

    # -- scheduling -------------------------------------------------------------------------------
    def _post_bucket(self, channel: str) -> TokenBucket:
        if channel not in self._post_buckets:
            self._post_buckets[channel] = TokenBucket(self.rate, self.burst, self.clock())
        return self._post_buckets[channel]

    def _update_bucket(self, channel: str) -> TokenBucket:
        if channel not in self._update_buckets:
            self._update_buckets[channel] = TokenBucket(self.update_rate_per_channel, 1, self.clock())
        return self._update_buckets[channel]

    def _pause_of(self, *keys: str) -> float:
        return max([self._paused.get(k, 0.0) for k in (ALL, *keys)])

    def _candidates(self, now: float) -> list[_Candidate]:
        out: list[_Candidate] = []
        heads = {r["channel"]: r for r in self.store.outbox_post_heads()}
        for summary in self.store.pending_outbox(kind="summary"):
            heads[summary["channel"]] = summary  # a burst's summary goes before the alerts it folds
        for channel, row in heads.items():
            ready = max(
                row["next_at"] or 0, self._pause_of(f"post:{channel}"), self._post_bucket(channel).ready_at(now)
            )
            out.append(_Candidate(ready, row["id"], "post", row))
        seen: set[int] = set()
        for row in self.store.pending_updates():
            if row["alert_id"] in seen:
                continue
            seen.add(row["alert_id"])
            alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
            if alert is None or not alert.get("ts"):
                if self._unpostable(alert):
                    self._dead(row, "the alert was never posted", log_level=logging.WARNING)
                continue  # waits for its post
            ready = max(
                row["next_at"] or 0,
                self._pause_of(UPDATES),
                self._update_bucket(row["channel"]).ready_at(now),
                self._global_updates.ready_at(now),
            )
            out.append(_Candidate(ready, row["id"], "update", row, alert))
        for channel, ts in sorted(self._dirty_folds):
            # A summary's count is edited at most every few seconds: edits share Slack's Tier-3 budget with
            # every alert's own updates.
            ready = max(
                self._pause_of(UPDATES),
                self._update_bucket(channel).ready_at(now),
                self._global_updates.ready_at(now),
                self._summary_sent.get((channel, ts), (0.0, ""))[0] + self.summary_refresh_seconds,
            )
            out.append(_Candidate(ready, 1 << 62, "summary_refresh", fold=(channel, ts)))
        return out

    def _unpostable(self, alert: dict[str, Any] | None) -> bool:
        if alert is None:
            return True
        post = self.store.outbox_post_for_alert(alert["id"])
        return post is None or post["status"] in ("dead", "sent")

    async def _step(self) -> float:
        """Do the one most-due thing; return 0 after doing it, else how long nothing can happen."""
        now = self.clock()
        candidates = self._candidates(now)
        if not candidates:
            return IDLE_MAX
        best = min(candidates, key=lambda c: (c.ready_at, c.order))
        if best.ready_at > now:
            return max(0.001, best.ready_at - now)
        if best.lane == "summary_refresh":
            assert best.fold is not None
            await self._refresh_summary(*best.fold)
            return 0
        assert best.row is not None
        try:
            await self._process(best)
        except _Blocked:
            self.store.requeue_outbox(
                best.row["id"], next_at=now + 1.0, error="waiting for the alert's post", count_attempt=False
            )
        return 0

    async def _process(self, cand: _Candidate) -> None:
        row = cand.row
        assert row is not None
        kind = row["kind"]
        if kind == "post":
            await self._send_post(row)
        elif kind == "reply":
            await self._send_reply(row)
        elif kind == "summary":
            await self._send_summary(row)
        elif kind == "update":
            await self._send_update(row, cand.alert or self.store.get_alert(row["alert_id"]))
        else:
            self._dead(row, f"unknown outbox kind {kind!r}")

    # -- the four kinds ---------------------------------------------------------------------------
    def _metadata(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_type": METADATA_EVENT,
            "event_payload": {
                "alert_id": row.get("alert_id") or 0,
                "outbox_id": row["id"],
                "kind": row.get("kind", "post"),
            },
        }

    def _render(self, alert: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        try:
            return self.render(alert)
        except Exception:  # noqa: BLE001 - a rendering bug must not lose the alert: post it plainly
            log.exception("alert render failed alert_id=%s; posting plain text", alert.get("id"))
            return f"{str(alert.get('outcome', 'missed')).capitalize()} call from {alert.get('customer_number')}", []

    async def _send_post(self, row: dict[str, Any]) -> None:
        alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
        if alert is None:
            self._dead(row, "alert row is missing")
            return
        if alert.get("ts"):  # already in Slack (recovered by another path): never twice
            self.store.mark_outbox(row["id"], "sent", ts=alert["ts"], sent_at=self.clock())
            return
        thread_ts = self._fold_thread(row)
        if thread_ts == "":
            return  # a summary was queued; it goes first
        if row["attempts"] > 0 and await self._already_posted(row):
            return
        text, blocks = self._render(alert)
        args: dict[str, Any] = {
            "channel": row["channel"],
            "text": text,
            "blocks": blocks,
            "metadata": self._metadata(row),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if thread_ts:
            args["thread_ts"] = thread_ts
        resp = await self._call(row, "post", lambda: self.client.chat_postMessage(**args), thread_ts=thread_ts)
        if resp is None:
            return
        self._mark_posted(row, resp["ts"], thread_ts)
        self._stats.posted += 1
        if thread_ts:
            self._dirty_folds.add((row["channel"], thread_ts))
            fold = self._load_fold(row["channel"])
            if fold:
                fold["last_at"] = self.clock()
                self._save_fold(row["channel"], fold)

    async def _send_reply(self, row: dict[str, Any]) -> None:
        alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
        thread_ts = row.get("thread_ts") or (alert or {}).get("thread_ts") or (alert or {}).get("ts")
        if not thread_ts:
            if self._unpostable(alert):
                self._dead(row, "the alert was never posted")
                return
            raise _Blocked()
        if row["attempts"] > 0 and await self._already_posted(row):
            return
        body = row.get("body") or {}
        args = {
            "channel": row["channel"],
            "thread_ts": thread_ts,
            "text": body.get("text") or "",
            "metadata": self._metadata(row),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        resp = await self._call(row, "post", lambda: self.client.chat_postMessage(**args), thread_ts=thread_ts)
        if resp is None:
            return
        self.store.mark_outbox(row["id"], "sent", ts=resp["ts"], sent_at=self.clock(), thread_ts=thread_ts)
        self._stats.replies += 1

    def _widen_fold(self, channel: str, upto: int) -> int:
        """While a burst is still queueing, the summary covers every post already waiting behind it."""
        _count, newest = self.store.pending_posts_in(channel)
        if newest and newest > upto:
            fold = self._load_fold(channel)
            if fold is not None:
                fold["upto_id"] = newest
                self._save_fold(channel, fold)
            return newest
        return upto

    async def _send_summary(self, row: dict[str, Any]) -> None:
        channel = row["channel"]
        body = row.get("body") or {}
        upto = int(body.get("upto_id") or 0)
        if row["attempts"] > 0 and await self._already_posted(row):
            return
        upto = self._widen_fold(channel, upto)
        stats = self.store.fold_stats(channel, None, upto)
        text, blocks = render_burst_summary(stats["count"], stats["first_at"], stats["last_at"], self.tz)
        args = {"channel": channel, "text": text, "blocks": blocks, "metadata": self._metadata(row)}
        resp = await self._call(row, "post", lambda: self.client.chat_postMessage(**args))
        if resp is None:
            return
        self._mark_posted(row, resp["ts"], None)
        self._summary_sent[(channel, resp["ts"])] = (self.clock(), text)
        self._stats.summaries += 1

    async def _send_update(self, row: dict[str, Any], alert: dict[str, Any] | None) -> None:
        if alert is None or not alert.get("ts"):
            raise _Blocked()
        ids = self.store.pending_update_ids(alert["id"]) or [row["id"]]
        text, blocks = self._render(alert)  # the alert's state NOW: every pending update is answered at once
        args = {"channel": alert["channel"], "ts": alert["ts"], "text": text, "blocks": blocks}
        resp = await self._call(row, "update", lambda: self.client.chat_update(**args))
        if resp is None:
            return
        now = self.clock()
        with self.store.transaction():
            for rid in ids:
                self.store.mark_outbox(rid, "sent", ts=alert["ts"], sent_at=now)
        self._stats.updated += 1
        self._stats.coalesced += len(ids) - 1

    async def _refresh_summary(self, channel: str, ts: str) -> None:
        self._dirty_folds.discard((channel, ts))
        fold = self._load_fold(channel)
        upto = int(fold.get("upto_id") or 0) if fold and fold.get("ts") == ts else 0
        if upto:
            upto = self._widen_fold(channel, upto)
        stats = self.store.fold_stats(channel, ts, upto)
        text, blocks = render_burst_summary(stats["count"], stats["first_at"], stats["last_at"], self.tz)
        now = self.clock()
        if self._summary_sent.get((channel, ts), (0.0, ""))[1] == text:
            return  # nothing new to say: no edit
        self._update_bucket(channel).take(now)
        self._global_updates.take(now)
        try:
            await asyncio.wait_for(
                self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks), self.call_timeout
            )
            self._summary_sent[(channel, ts)] = (now, text)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                self._rate_limited(UPDATES, exc)
                self._dirty_folds.add((channel, ts))
            else:
                log.warning(
                    "burst summary update failed channel=%s ts=%s error=%s", channel, ts, exc.response.get("error")
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("burst summary update failed channel=%s ts=%s error=%s", channel, ts, type(exc).__name__)
            self._dirty_folds.add((channel, ts))

    # -- burst folding ----------------------------------------------------------------------------
    def _fold_thread(self, row: dict[str, Any]) -> str | None:
        """The summary ts to post this alert under; None to post it plainly; '' when a summary was just queued."""
        channel = row["channel"]
        fold = self._load_fold(channel)
        if fold and fold.get("ts") and row["id"] <= int(fold.get("upto_id") or 0):
            return fold["ts"]
        count, newest = self.store.pending_posts_in(channel)
        if count <= self.fold_threshold:
            return None
        now = self.clock()
        if fold and fold.get("ts") and now - float(fold.get("last_at") or 0) < self.fold_idle_seconds:
            fold["upto_id"] = newest
            self._save_fold(channel, fold)  # the burst goes on: keep using the same thread
            return fold["ts"]
        with self.store.transaction():
            sid = self.store.enqueue("summary", channel, body={"upto_id": newest, "count": count})
            self._save_fold(channel, {"ts": None, "outbox_id": sid, "upto_id": newest, "last_at": now})
        log.info("outbox burst fold channel=%s pending=%s summary_outbox_id=%s", channel, count, sid)
        return ""

    @staticmethod
    def _fold_key(channel: str) -> str:
        return f"outbox_fold:{channel}"

    def _fold_keys(self) -> list[str]:
        return [key.split(":", 1)[1] for key in self.store.meta_keys("outbox_fold:")]

    def _load_fold(self, channel: str) -> dict[str, Any] | None:
        raw = self.store.get_meta(self._fold_key(channel))
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def _save_fold(self, channel: str, fold: dict[str, Any]) -> None:
        self.store.set_meta(self._fold_key(channel), json.dumps(fold))

    # -- Slack calls and their failures -----------------------------------------------------------
    def _mark_posted(self, row: dict[str, Any], ts: str, thread_ts: str | None) -> None:
        with self.store.transaction():
            self.store.mark_outbox(row["id"], "sent", ts=ts, sent_at=self.clock())
            if row["kind"] == "post" and row.get("alert_id") is not None:
                self.store.set_alert_message(row["alert_id"], ts=ts, thread_ts=thread_ts)
            if row["kind"] == "summary":
                fold = self._load_fold(row["channel"])
                if fold and fold.get("outbox_id") == row["id"]:
                    fold["ts"] = ts
                    fold["last_at"] = self.clock()
                    self._save_fold(row["channel"], fold)

    async def _already_posted(self, row: dict[str, Any]) -> bool:
        """After an ambiguous failure (timeout, 5xx) Slack may have the post: look before posting again."""
        try:
            ts = await self._find_posted(row)
        except _CannotVerify as exc:
            log.warning(
                "outbox cannot verify outbox_id=%s channel=%s reason=%s; re-posting", row["id"], row["channel"], exc
            )
            return False
        if ts:
            self._mark_posted(row, ts, row.get("thread_ts"))
            log.info("outbox post was already in Slack outbox_id=%s ts=%s", row["id"], ts)
            return True
        return False

    async def _call(
        self, row: dict[str, Any], lane: str, send: Callable[[], Awaitable[Any]], *, thread_ts: str | None = None
    ) -> Any:
        """One Slack call for `row`, paced and bookkept; the response, or None when it failed (row rescheduled)."""
        now = self.clock()
        if lane == "post":
            self._post_bucket(row["channel"]).take(now)
        else:
            self._update_bucket(row["channel"]).take(now)
            self._global_updates.take(now)
        self.store.mark_outbox(row["id"], "inflight", **({"thread_ts": thread_ts} if thread_ts else {}))
        attempts = int(row.get("attempts") or 0) + 1
        started = time.monotonic()
        try:
            resp = await asyncio.wait_for(send(), self.call_timeout)
        except SlackApiError as exc:
            self._observe(row, started, "error")
            self._failed(row, lane, attempts, exc)
            return None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self._observe(row, started, "network")
            self._transient(row, attempts, f"network: {type(exc).__name__}: {exc}"[:300])
            return None
        self._observe(row, started, "ok")
        self._consecutive_429 = 0
        return resp

    def _observe(self, row: dict[str, Any], started: float, result: str) -> None:
        seconds = time.monotonic() - started
        self._stats.latencies.append(seconds)
        if self.on_call is not None:
            self.on_call(str(row.get("kind")), seconds, result)

    def _failed(self, row: dict[str, Any], lane: str, attempts: int, exc: SlackApiError) -> None:
        status = exc.response.status_code
        error = str(exc.response.get("error") or f"http_{status}")
        if status == 429 or error in ("ratelimited", "rate_limited"):
            key = f"post:{row['channel']}" if lane == "post" else UPDATES
            until = self._rate_limited(key, exc)
            self.store.requeue_outbox(row["id"], next_at=until, error=f"ratelimited: {error}", count_attempt=False)
            return
        if status >= 500 or error in TRANSIENT_ERRORS:
            self._transient(row, attempts, f"slack {status}: {error}")
            return
        fix = CHANNEL_FIXES.get(error)
        self._dead(row, f"slack refused: {error}" + (f" (fix: {fix})" if fix else ""))

    def _rate_limited(self, key: str, exc: SlackApiError) -> float:
        headers = {str(k).lower(): v for k, v in (exc.response.headers or {}).items()}
        try:
            retry_after = max(0.0, float(headers.get("retry-after", 1)))
        except (TypeError, ValueError):
            retry_after = 1.0
        now = self.clock()
        until = now + retry_after
        self._consecutive_429 += 1
        self._stats.rate_limited += 1
        self._paused[key] = max(self._paused.get(key, 0.0), until)
        if self._consecutive_429 >= PERSISTENT_429:
            self._paused[ALL] = max(self._paused.get(ALL, 0.0), until)
        log.warning("slack rate limited key=%s retry_after=%s consecutive=%s", key, retry_after, self._consecutive_429)
        return until

    def _transient(self, row: dict[str, Any], attempts: int, error: str) -> None:
        """5xx, timeouts, network: Slack will come back, so the row is never given up on (an outage of hours
        must not lose an alert); after `max_attempts` it is retried every `backoff_cap` seconds."""
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (min(attempts, 30) - 1)) * random.uniform(0.5, 1.0)
        self.store.requeue_outbox(row["id"], next_at=self.clock() + delay, error=error)
        self._stats.retried += 1
        level = logging.WARNING if attempts < self.max_attempts else logging.ERROR
        log.log(
            level,
            "outbox retry outbox_id=%s kind=%s channel=%s attempt=%s in=%.2fs error=%s",
            row["id"],
            row["kind"],
            row["channel"],
            attempts,
            delay,
            error,
        )

    def _dead(self, row: dict[str, Any], error: str, *, log_level: int = logging.ERROR) -> None:
        self.store.mark_outbox(row["id"], "dead", error=error[:1000])
        self._stats.failed += 1
        log.log(
            log_level,
            "outbox dead letter outbox_id=%s kind=%s alert_id=%s channel=%s error=%s",
            row["id"],
            row["kind"],
            row.get("alert_id"),
            row["channel"],
            error,
        )
