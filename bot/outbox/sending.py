"""Sending one outbox row to Slack: the four kinds (post, reply, summary, update), each call paced and timed out,
and what happens after: `sent` with the message's ts, or a pause, a retry with backoff, or a dead letter.

A row is committed `inflight` before its HTTP call and `sent` after it; a retry after an ambiguous failure
first looks in the channel (recovery.py), so a post that Slack already took is not sent again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import sqlite3
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.outbox.errors import (
    NETWORK_ERRORS,
    Failure,
    Verdict,
    classify,
    error_code,
    network_failure,
    retry_after,
    unexpected_failure,
)
from bot.outbox.folding import Bursts
from bot.outbox.message import Gone, MessageKind, Wait
from bot.outbox.pacing import ALL, GIVE_UP_SECONDS, HOLD_SECONDS, UPDATES, Pacer, post_lane, retry_delay
from bot.outbox.recovery import CannotVerify, PostFinder, message_metadata
from bot.slack.blocks import Block
from bot.slack.i18n import speaking
from bot.slack.render.alert import render_alert_plain
from storage import AlertRow, OutboxChanges, OutboxKind, OutboxRow, OutboxStatus, OwnershipStore
from storage.store import GIVEN_UP

if TYPE_CHECKING:
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from storage import Store

log = logging.getLogger(__name__)

# An alert row -> (fallback text, Block Kit blocks).
Render = Callable[[AlertRow], tuple[str, list[Block]]]
Lane = Literal["post", "update"]
# A channel id -> the language its messages are written in; a Slack user id -> the language that person reads.
ChannelLanguage = Callable[[str], str]
PersonLanguage = Callable[[str], Awaitable[str]]


def without_retries(client: AsyncWebClient) -> AsyncWebClient:
    """The same client minus slack_sdk's retry handlers: the outbox owns retries. An SDK retry after a
    connection reset could post twice (Slack may already have it), and a 429 slept inside the SDK would
    stall every channel instead of pausing one."""
    if not getattr(client, "retry_handlers", None):
        return client
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


def _upload_ts(resp: Any) -> str:
    """The ts of the message files.uploadV2 shared the file in, when Slack says (it may not, at once)."""
    for f in resp.get("files") or []:
        shares = (f.get("shares") or {}) if isinstance(f, dict) else {}
        for where in (shares.get("public") or {}, shares.get("private") or {}):
            for places in where.values():
                for place in places or []:
                    if isinstance(place, dict) and place.get("ts"):
                        return str(place["ts"])
    return ""


class Blocked(Exception):
    """The row needs something not there yet (the alert's ts): it is tried again a little later."""


class Taken(Exception):
    """The row was no longer pending when it was claimed: another worker sends it (or has sent it)."""


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
    held: int = 0  # tries answered with a channel or token problem (the row waits for the fix)
    messages: int = 0  # rows of the kinds rendered by their MessageKind (digests, queue alerts, notices...)
    pending: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=2000), repr=False)

    def latency(self, q: float) -> float | None:
        """Quantile `q` (0..1) of recent Slack call durations, in seconds."""
        if not self.latencies:
            return None
        data = sorted(self.latencies)
        return data[min(len(data) - 1, max(0, math.ceil(q * len(data)) - 1))]

    def messages_sent(self) -> int:
        return self.posted + self.updated + self.replies + self.summaries + self.messages


class Sender:
    """Turns one outbox row into one Slack call and books the outcome in the store."""

    def __init__(
        self,
        store: Store,
        client: AsyncWebClient,
        *,
        render: Render,
        kinds: Mapping[str, MessageKind],
        channel_language: ChannelLanguage,
        person_language: PersonLanguage,
        pacer: Pacer,
        bursts: Bursts,
        finder: PostFinder,
        stats: OutboxStats,
        clock: Callable[[], float],
        call_timeout: float,
        max_attempts: int,
        backoff_base: float,
        backoff_cap: float,
        on_call: Callable[[str, float, str], None] | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.render = render
        self.kinds = dict(kinds)
        self.channel_language = channel_language
        self.person_language = person_language
        self.pacer = pacer
        self.bursts = bursts
        self.finder = finder
        self.stats = stats
        self.clock = clock
        self.call_timeout = call_timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        # Optional hook (kind, seconds, result) for every Slack call: the app feeds /metrics from it.
        self.on_call = on_call
        # What is wrong, per lane (a channel, or ALL for the workspace): logged when it changes, not per row.
        self.trouble: dict[str, str] = {}
        self.unbooked: list[Callable[[], None]] = []  # records of Slack answers the database could not take yet
        self.trouble_since: dict[str, float] = {}
        # Lanes (a channel, ALL) and people whose rows were given up, and why: logged once each, not per row.
        self.given_up: dict[str, str] = {}

    async def send(self, row: OutboxRow, alert: AlertRow | None) -> None:
        """Send `row`; `alert` is its alert when the caller has already read it. Raises Blocked.

        Rendered in its reader's language: the channel's (RINGBOT_LANGUAGE, or the channel's own), or for a
        message in a person's DM (body `user`) that person's."""
        kind = self.kinds.get(str(row["kind"]))
        if kind is not None:
            await self._message_of(row, kind)
            return
        user = str((row.get("body") or {}).get("user") or "")
        lang = await self.person_language(user) if user else self.channel_language(row["channel"])
        with speaking(lang):
            await self._send(row, alert)

    async def _send(self, row: OutboxRow, alert: AlertRow | None) -> None:
        kind: str = row["kind"]  # a plain string: a database may hold a kind this version does not know
        if kind == OutboxKind.POST:
            await self._post(row)
        elif kind == OutboxKind.REPLY:
            await self._reply(row)
        elif kind == OutboxKind.SUMMARY:
            await self._summary(row)
        elif kind == OutboxKind.UPDATE:
            alert_id = row["alert_id"]
            await self._update(row, alert or (self.store.get_alert(alert_id) if alert_id is not None else None))
        elif kind == OutboxKind.MESSAGE:
            await self._message(row)
        elif kind == OutboxKind.COPY:
            await self._copy(row)
        else:
            self.dead(row, f"unknown outbox kind {kind!r}")

    def never_posted(self, alert: AlertRow | None) -> bool:
        """Waiting for this alert's message is pointless: the alert or its post row is gone, or the post is
        over (dead, or sent without a ts reaching the alert)."""
        if alert is None:
            return True
        post = self.store.outbox_post_for_alert(alert["id"])
        return post is None or post["status"] in (OutboxStatus.DEAD, OutboxStatus.SENT)

    # -- the four kinds ---------------------------------------------------------------------------
    def _render(self, alert: AlertRow) -> tuple[str, list[Block]]:
        try:
            return self.render(alert)
        except Exception as exc:  # noqa: BLE001 - a rendering bug must not lose the alert: post it plainly
            log.error(
                "alert render failed alert_id=%s error=%s: %s; posting plain text",
                alert.get("id"),
                type(exc).__name__,
                exc,
            )
            log.debug("alert render failure alert_id=%s", alert.get("id"), exc_info=True)
            return render_alert_plain(alert), []

    async def _post(self, row: OutboxRow) -> None:
        alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
        if alert is None:
            self.dead(row, "alert row is missing")
            return
        if alert.get("ts"):  # already in Slack (recovered by another path): never twice
            self.store.mark_outbox(row["id"], OutboxStatus.SENT, ts=alert["ts"], sent_at=self.clock())
            return
        thread_ts = self.bursts.thread_for(row)
        if thread_ts == "":
            return  # a summary was queued; it goes first
        if row["attempts"] > 0 and await self._already_posted(row):
            return
        text, blocks = self._render(alert)
        resp = await self._call(
            row,
            "post",
            lambda: self.client.chat_postMessage(
                channel=row["channel"],
                text=text,
                blocks=blocks,
                metadata=message_metadata(row),
                unfurl_links=False,
                unfurl_media=False,
                thread_ts=thread_ts,
            ),
            thread_ts=thread_ts,
        )
        if resp is None:
            return
        self.mark_posted(row, resp["ts"], thread_ts)
        self.stats.posted += 1
        if thread_ts:
            self.bursts.alert_posted_in(row["channel"], thread_ts)

    async def _reply(self, row: OutboxRow) -> None:
        alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
        thread_ts = row.get("thread_ts")
        if not thread_ts and alert is not None:
            thread_ts = alert.get("thread_ts") or alert.get("ts")
        if not thread_ts:
            if self.never_posted(alert):
                self.dead(row, "the alert was never posted")
                return
            raise Blocked()
        if row["attempts"] > 0 and await self._already_posted(row):
            return
        body = row.get("body") or {}
        resp = await self._call(
            row,
            "post",
            lambda: self.client.chat_postMessage(
                channel=row["channel"],
                thread_ts=thread_ts,
                text=body.get("text") or "",
                metadata=message_metadata(row),
                unfurl_links=False,
                unfurl_media=False,
            ),
            thread_ts=thread_ts,
        )
        if resp is None:
            return
        sent: OutboxChanges = {"ts": resp["ts"], "sent_at": self.clock(), "thread_ts": thread_ts}
        self._book(lambda: self.store.mark_outbox(row["id"], OutboxStatus.SENT, **sent))
        self.stats.replies += 1

    async def _summary(self, row: OutboxRow) -> None:
        channel = row["channel"]
        body = row.get("body") or {}
        upto = int(body.get("upto_id") or 0)
        if row["attempts"] > 0 and await self._already_posted(row):
            return
        text, blocks = self.bursts.first_summary(channel, upto)
        resp = await self._call(
            row,
            "post",
            lambda: self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, metadata=message_metadata(row)
            ),
        )
        if resp is None:
            return
        self.mark_posted(row, resp["ts"], None)
        self.bursts.shown(channel, resp["ts"], text, self.clock())
        self.stats.summaries += 1

    async def _update(self, row: OutboxRow, alert: AlertRow | None) -> None:
        ts = alert.get("ts") if alert is not None else None
        if alert is None or not ts:
            raise Blocked()
        channel = alert["channel"]
        ids = self.store.pending_update_ids(alert["id"]) or [row["id"]]
        text, blocks = self._render(alert)  # the alert's state NOW: every pending update is answered at once
        resp = await self._call(
            row, "update", lambda: self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        )
        if resp is None:
            return
        now = self.clock()

        def book() -> None:
            with self.store.transaction():
                for rid in ids:
                    self.store.mark_outbox(rid, OutboxStatus.SENT, ts=ts, sent_at=now)

        self._book(book)
        self.stats.updated += 1
        self.stats.coalesced += len(ids) - 1

    async def refresh_summary(self, channel: str, ts: str) -> None:
        """Edit a burst summary to its current count (not a row: a lost edit is redone, never dead-lettered)."""
        self.bursts.stale.discard((channel, ts))
        with speaking(self.channel_language(channel)):
            text, blocks = self.bursts.current_summary(channel, ts)
        now = self.clock()
        if self.bursts.says_already(channel, ts, text):
            return  # nothing new to say: no edit
        self.pacer.take_update(channel, now)
        try:
            async with asyncio.timeout(self.call_timeout):  # not wait_for: on 3.11 it can swallow a cancel
                await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            self.bursts.shown(channel, ts, text, now)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                self._rate_limited(UPDATES, retry_after(exc.response.headers))
                self.bursts.stale.add((channel, ts))
            else:
                failure = classify(exc.response.status_code, error_code(exc.response), exc.response.headers)
                message = f"burst summary update failed channel={channel} ts={ts} error={failure.error}"
                self._trouble(channel, failure.error, message, logging.WARNING)
                self.bursts.postpone(channel, ts, now)
        except Exception as exc:  # noqa: BLE001 - network, or an answer slack_sdk could not read: redone later
            self._trouble(
                channel,
                "retry",
                f"burst summary update failed channel={channel} ts={ts} error={type(exc).__name__}",
                logging.WARNING,
            )
            self.bursts.stale.add((channel, ts))
            self.bursts.postpone(channel, ts, now)

    # -- the alert's DM copy, and rows written before messages were worded when sent ----------------------
    async def _open_dm(self, row: OutboxRow, user: str) -> str | None:
        """The DM channel with `user`, opened before the row's own call so that a refusal here (no `im:write`
        scope, a deactivated user) costs this row only: it is a dead letter, and no other post waits for a fix.
        None when the row was given up; Blocked (tried again soon) when Slack could not be asked now."""
        try:
            async with asyncio.timeout(self.call_timeout):
                resp = await self.client.conversations_open(users=user)
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                raise Blocked() from None
            code = error_code(exc.response)
            fix = (
                "add the im:write scope and reinstall the app"
                if code == "missing_scope"
                else "none needed if the person left; otherwise check their Slack account"
            )
            error = f"{GIVEN_UP}cannot open the DM with {user}: {code} (fix: {fix})"
            first = self.given_up.get(f"dm:{user}") != error
            self.given_up[f"dm:{user}"] = error
            self.dead(row, error, log_level=logging.WARNING if first else logging.DEBUG)
            return None
        except Exception:  # noqa: BLE001 - network or timeout: the row waits and is tried again
            raise Blocked() from None
        return str((resp.get("channel") or {}).get("id") or user)

    async def _message(self, row: OutboxRow) -> None:
        """A message that is not an alert: body `text`, optional `blocks`, `thread_ts`, and `user` for a DM."""
        body = row.get("body") or {}
        user = body.get("user")
        channel = await self._open_dm(row, str(user)) if user else row["channel"]
        if channel is None:
            return

        async def send() -> AsyncSlackResponse:
            return await self.client.chat_postMessage(
                channel=channel,
                text=str(body.get("text") or ""),
                blocks=body.get("blocks") or None,
                thread_ts=body.get("thread_ts") or None,
                metadata=message_metadata(row),
                unfurl_links=False,
                unfurl_media=False,
            )

        resp = await self._call(row, "post", send)
        if resp is None:
            return
        sent: OutboxChanges = {"ts": resp["ts"], "sent_at": self.clock()}
        self._book(lambda: self.store.mark_outbox(row["id"], OutboxStatus.SENT, **sent))
        self.stats.replies += 1

    async def _copy(self, row: OutboxRow) -> None:
        """The alert in the DM of the person rung (body `user`), in that person's language: posted once, then
        edited to the alert's state NOW, so both places always show the same thing."""
        alert = self.store.get_alert(row["alert_id"]) if row["alert_id"] is not None else None
        user = str((row.get("body") or {}).get("user") or "")
        owners = OwnershipStore(self.store)
        copy = owners.get_copy(alert["id"], user) if alert is not None and user else None
        if alert is None or copy is None:
            self.dead(row, "the alert or its copy is gone")
            return
        text, blocks = self._render(alert)
        channel, ts = copy.get("channel"), copy.get("ts")
        if not (channel and ts):
            # First post: into the DM, with the row moved there first, so a crash after Slack took the post is
            # found again by its metadata (recovery.py) rather than posted twice.
            dm = row["channel"] if row["channel"] != user else await self._open_dm(row, user)
            if dm is None:
                return
            if dm != row["channel"]:
                self.store.set_outbox_channel(row["id"], dm)
                row = {**row, "channel": dm}
            if row["attempts"] > 0 and await self._already_posted(row):
                return

        async def send() -> AsyncSlackResponse:
            if channel and ts:
                return await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            return await self.client.chat_postMessage(
                channel=row["channel"], text=text, blocks=blocks, metadata=message_metadata(row), unfurl_links=False
            )

        resp = await self._call(row, "post", send)
        if resp is None:
            return
        self.mark_copied(row, str(resp.get("ts") or ts), channel=str(resp.get("channel") or row["channel"]))
        self.stats.updated += 1

    def mark_copied(self, row: OutboxRow, ts: str, *, channel: str) -> None:
        """The DM copy is in Slack at (`channel`, `ts`): the row is sent and the copy knows its message."""
        now = self.clock()
        alert_id = row.get("alert_id")
        user = str((row.get("body") or {}).get("user") or "")
        owners = OwnershipStore(self.store)

        def book() -> None:
            with self.store.transaction():
                self.store.mark_outbox(row["id"], OutboxStatus.SENT, ts=ts, sent_at=now)
                copy = owners.get_copy(int(alert_id), user) if alert_id is not None and user else None
                if copy is not None and not copy.get("ts"):
                    owners.set_copy_message(int(alert_id), user, channel=channel, ts=ts)  # type: ignore[arg-type]

        self._book(book)

    # -- the kinds rendered by their MessageKind (bot/outbox/message.py) -----------------------------
    async def _message_of(self, row: OutboxRow, kind: MessageKind) -> None:
        """Render the row now, in its reader's language, and send it: a post, an edit or an upload.
        A DM (body `user`) is opened first and the row moved to the DM's channel before anything is posted, so a
        crash after the post is found again by its metadata there, like any other."""
        body = row.get("body") or {}
        user = str(body.get("user") or "")
        if user and row["channel"] == user:
            dm = await self._open_dm(row, user)
            if dm is None:
                return
            if dm != user:
                self.store.set_outbox_channel(row["id"], dm)
                row = {**row, "channel": dm}
        lang = await self.person_language(user) if user else self.channel_language(row["channel"])
        try:
            with speaking(lang):
                out = await kind.render(row)
        except Wait:
            raise Blocked() from None
        except Gone as exc:
            self.dead(row, f"nothing left to send: {exc}", log_level=logging.INFO)
            return
        subject = kind.subject(row)
        same = [row["id"]]
        if subject is not None:  # every pending row of the same message is answered by this one send
            same += [
                r["id"]
                for r in self.store.pending_outbox(kind=str(row["kind"]))
                if r["id"] != row["id"] and kind.subject(r) == subject
            ]
        if out.upload is None and out.edit_ts is None and row["attempts"] > 0 and await self._already_posted(row):
            return
        channel = row["channel"]
        if out.upload is not None:
            upload = out.upload
            resp = await self._call(
                row,
                "post",
                lambda: self.client.files_upload_v2(
                    channel=channel,
                    file=upload.content,
                    filename=upload.filename,
                    title=upload.title,
                    thread_ts=out.thread_ts,
                ),
                upload=True,
            )
            ts = _upload_ts(resp) if resp is not None else ""
        elif out.edit_ts is not None:
            edit_ts = out.edit_ts
            resp = await self._call(
                row,
                "update",
                lambda: self.client.chat_update(channel=channel, ts=edit_ts, text=out.text, blocks=out.blocks),
            )
            ts = edit_ts
        else:
            resp = await self._call(
                row,
                "post",
                lambda: self.client.chat_postMessage(
                    channel=channel,
                    text=out.text,
                    blocks=out.blocks or None,
                    thread_ts=out.thread_ts,
                    metadata=message_metadata(row),
                    unfurl_links=False,
                    unfurl_media=False,
                ),
                thread_ts=out.thread_ts,
            )
            ts = str(resp["ts"]) if resp is not None else ""
        if resp is None:
            return
        self.book_message(row, kind, ts=ts, also=same[1:])
        self.stats.messages += 1

    def book_message(self, row: OutboxRow, kind: MessageKind, *, ts: str, also: list[int] | None = None) -> None:
        """The row's message is in Slack at `ts`: the row (and the rows it answered) is sent, and its kind
        records what follows, in one transaction."""
        now = self.clock()

        def book() -> None:
            with self.store.transaction():
                for rid in [row["id"], *(also or [])]:
                    self.store.mark_outbox(rid, OutboxStatus.SENT, ts=ts or None, sent_at=now)
                kind.sent(row, channel=row["channel"], ts=ts)

        self._book(book)

    # -- bookkeeping ------------------------------------------------------------------------------
    def mark_posted(self, row: OutboxRow, ts: str, thread_ts: str | None) -> None:
        """The row's message is in Slack at `ts`: the row is sent and the alert (or burst) knows its message."""
        kind = self.kinds.get(str(row["kind"]))
        if kind is not None:
            self.book_message(row, kind, ts=ts)
            return
        if row["kind"] == OutboxKind.COPY:
            self.mark_copied(row, ts, channel=row["channel"])
            return
        sent_at = self.clock()

        def book() -> None:
            with self.store.transaction():
                self.store.mark_outbox(row["id"], OutboxStatus.SENT, ts=ts, sent_at=sent_at)
                alert_id = row.get("alert_id")
                if row["kind"] == OutboxKind.POST and alert_id is not None:
                    self.store.set_alert_message(alert_id, ts=ts, thread_ts=thread_ts)
                if row["kind"] == OutboxKind.SUMMARY:
                    self.bursts.summary_posted(row, ts)

        self._book(book)

    def _book(self, write: Callable[[], None]) -> None:
        """Record what Slack did. While the database refuses writes (another program holds its lock, the disk is
        full), the record waits in memory, in order, and the worker writes it before it makes any other Slack
        call (`book_deferred`): what Slack already has is never sent again, and never forgotten."""
        if not self.unbooked:
            try:
                write()
                return
            except sqlite3.OperationalError as exc:
                log.warning("outbox cannot record a Slack answer yet (%s): kept in memory, written when it can", exc)
        self.unbooked.append(write)

    def book_deferred(self) -> bool:
        """Write the records the database refused, oldest first; True when none is left waiting."""
        while self.unbooked:
            try:
                self.unbooked[0]()
            except sqlite3.OperationalError:
                return False
            self.unbooked.pop(0)
            if not self.unbooked:
                log.info("outbox recorded the Slack answers it kept while the database refused writes")
        return True

    async def _already_posted(self, row: OutboxRow) -> bool:
        """After an ambiguous failure (timeout, 5xx, a crash) Slack may have the post: look before posting again.
        When the channel cannot be read for now (Slack failing), the row waits: posting blind could post twice."""
        try:
            ts = await self.finder.find(row)
        except CannotVerify as exc:
            if exc.transient:
                self.pacer.failed(row["channel"])
                self._retry(row, int(row.get("attempts") or 0), f"cannot look in the channel yet: {exc}")
                return True
            log.warning(
                "outbox cannot verify outbox_id=%s channel=%s reason=%s; re-posting", row["id"], row["channel"], exc
            )
            return False
        if ts:
            self.mark_posted(row, ts, row.get("thread_ts"))
            log.info("outbox post was already in Slack outbox_id=%s ts=%s", row["id"], ts)
            return True
        return False

    async def _call(
        self,
        row: OutboxRow,
        lane: Lane,
        send: Callable[[], Awaitable[AsyncSlackResponse]],
        *,
        thread_ts: str | None = None,
        upload: bool = False,
    ) -> AsyncSlackResponse | None:
        """One Slack call for `row`, paced and bookkept; the response, or None when it failed (row rescheduled).
        Raises Taken when another worker claimed the row first. `upload`: a files.uploadV2, whose scope
        (files:write) is not the one every post needs."""
        if not self.store.claim_outbox(row["id"], thread_ts=thread_ts):
            raise Taken()
        now = self.clock()
        if lane == "post":
            self.pacer.take_post(row["channel"], now)
        else:
            self.pacer.take_update(row["channel"], now)
        attempts = int(row.get("attempts") or 0) + 1
        started = time.monotonic()
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancel that arrives as the answer
            # does, and the killed worker would go on posting.
            async with asyncio.timeout(self.call_timeout):
                resp = await send()
        except SlackApiError as exc:
            self._observe(row, started, "error")
            failure = classify(exc.response.status_code, error_code(exc.response), exc.response.headers)
            if upload and error_code(exc.response) == "missing_scope":
                self.upload_refused(row, failure.error)  # the row's own problem: no other post waits for it
            else:
                self.failed(row, lane, attempts, failure)
            return None
        except NETWORK_ERRORS as exc:
            self._observe(row, started, "network")
            self.failed(row, lane, attempts, network_failure(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - an answer nobody could read must not leave the row inflight
            self._observe(row, started, "error")
            self.failed(row, lane, attempts, unexpected_failure(exc))
            return None
        self._observe(row, started, "ok")
        self.pacer.succeeded(row["channel"])
        self._cleared(row["channel"])
        return resp

    def _observe(self, row: OutboxRow, started: float, result: str) -> None:
        seconds = time.monotonic() - started
        self.stats.latencies.append(seconds)
        if self.on_call is not None:
            self.on_call(str(row.get("kind")), seconds, result)

    def upload_refused(self, row: OutboxRow, error: str) -> None:
        """Slack refuses uploads for good (no files:write): the row goes back at once with Slack's words, for its
        kind to send what it can without a file (the digest's text bars). Posts go on everywhere meanwhile."""
        self._book(lambda: self.store.requeue_outbox(row["id"], next_at=self.clock(), error=error, count_attempt=False))
        self._trouble(
            row["channel"], error, f"outbox upload refused channel={row['channel']} error={error}", logging.WARNING
        )

    def failed(self, row: OutboxRow, lane: Lane, attempts: int, failure: Failure) -> None:
        """Book a failed call: the row goes back to pending (or dead), and the lane pauses when the cause is the
        lane's, not the row's."""
        channel = row["channel"]
        if failure.verdict is Verdict.RATE_LIMITED:
            key = post_lane(channel) if lane == "post" else UPDATES
            until = self._rate_limited(key, failure.retry_after)
            self._book(
                lambda: self.store.requeue_outbox(row["id"], next_at=until, error=failure.error, count_attempt=False)
            )
        elif failure.verdict is Verdict.RETRY:
            if lane == "post":
                self.pacer.failed(channel)
            self._retry(row, attempts, failure.error)
        elif failure.verdict in (Verdict.HOLD_CHANNEL, Verdict.HOLD_ALL):
            key = ALL if failure.verdict is Verdict.HOLD_ALL else post_lane(channel)
            held_until = self.pacer.hold(key, HOLD_SECONDS)
            # Not the row's fault: its attempt is given back, and it goes as soon as the problem is fixed.
            self._book(
                lambda: self.store.requeue_outbox(
                    row["id"], next_at=held_until, error=failure.error, count_attempt=False
                )
            )
            self.stats.held += 1
            self._give_up_old(None if key == ALL else channel, failure.error)
            self._trouble(
                ALL if key == ALL else channel,
                failure.error,
                f"outbox holding {'every channel' if key == ALL else 'channel=' + channel} "
                f"(rows kept, tried again every {HOLD_SECONDS:.0f} s) error={failure.error}",
                logging.ERROR,
            )
        else:
            self.dead(row, failure.error)

    def _give_up_old(self, channel: str | None, error: str) -> None:
        """Rows held for longer than GIVE_UP_SECONDS in `channel` (None: every channel, held for the workspace)
        are given up with the reason and the fix; logged once per channel, however many rows and tries."""
        requeue = "ringbot requeue" + (f" --channel {channel}" if channel else "")
        why = f"held for a day: {error}; after the fix, `{requeue}` sends them"
        try:
            count = self.store.give_up_outbox(why, created_before=self.clock() - GIVE_UP_SECONDS, channel=channel)
        except sqlite3.OperationalError:
            return  # the next try, HOLD_SECONDS later, gives them up
        if not count:
            return
        key = channel or ALL
        first = key not in self.given_up
        self.given_up[key] = why
        log.log(
            logging.ERROR if first else logging.DEBUG,
            "outbox gave up rows=%s %s: %s",
            count,
            "in every channel" if channel is None else f"channel={channel}",
            why,
        )

    def _rate_limited(self, key: str, seconds: float) -> float:
        self.stats.rate_limited += 1
        return self.pacer.rate_limited(key, seconds)

    def _trouble(self, key: str, error: str, message: str, level: int) -> None:
        """Log `message` when lane `key` starts failing or fails differently; the same failure again is DEBUG."""
        if self.trouble.get(key) != error:
            self.trouble[key] = error
            self.trouble_since.setdefault(key, self.clock())
            log.log(level, "%s", message)
        else:
            log.debug("%s", message)

    def _cleared(self, channel: str) -> None:
        for key in (channel, ALL):
            self.given_up.pop(key, None)
            if key in self.trouble:
                error = self.trouble.pop(key)
                since = self.trouble_since.pop(key, self.clock())
                log.info(
                    "outbox slack answers again %s after %.0f s (was: %s)",
                    "every channel" if key == ALL else f"channel={key}",
                    self.clock() - since,
                    error,
                )

    def _retry(self, row: OutboxRow, attempts: int, error: str) -> None:
        """5xx, timeouts, network: Slack will come back, so the row is never given up on (an outage of hours
        must not lose an alert); after `max_attempts` it is retried every `backoff_cap` seconds. Logged when the
        channel starts failing, and once more when this row has failed `max_attempts` times."""
        delay = retry_delay(
            max(attempts, 1), base=self.backoff_base, cap=self.backoff_cap, jitter=random.uniform(0.5, 1.0)
        )
        next_at = self.clock() + delay
        self._book(lambda: self.store.requeue_outbox(row["id"], next_at=next_at, error=error))
        self.stats.retried += 1
        message = (
            f"outbox retry outbox_id={row['id']} kind={row['kind']} channel={row['channel']} attempt={attempts} "
            f"in={delay:.2f}s error={error}"
        )
        if attempts == self.max_attempts:
            log.error("%s (still failing after %s attempts; kept, never dropped)", message, attempts)
        else:
            self._trouble(row["channel"], "retry", message, logging.WARNING)

    def broken(self, row: OutboxRow, exc: Exception) -> None:
        """Something in our own code failed on this row (not Slack): the row backs off alone, so it holds no
        other row, and is dead-lettered after `max_attempts` (the rest of the channel goes on meanwhile)."""
        attempts = int(row.get("attempts") or 0) + 1
        error = f"internal: {type(exc).__name__}: {exc}"[:300]
        log.debug("outbox row failed outbox_id=%s", row["id"], exc_info=exc)
        if attempts >= self.max_attempts:
            self.dead(row, error)
            return
        delay = retry_delay(attempts, base=self.backoff_base, cap=self.backoff_cap, jitter=random.uniform(0.5, 1.0))
        next_at = self.clock() + delay
        self._book(lambda: self.store.requeue_outbox_after_error(row["id"], next_at=next_at, error=error))
        log.error(
            "outbox row failed outbox_id=%s kind=%s channel=%s attempt=%s in=%.2fs error=%s",
            row["id"],
            row["kind"],
            row["channel"],
            attempts,
            delay,
            error,
        )

    def dead(self, row: OutboxRow, error: str, *, log_level: int = logging.ERROR) -> None:
        """Give up on the row: Slack refused it for a reason a retry cannot change. The log names the fix."""
        self._book(lambda: self.store.mark_outbox(row["id"], OutboxStatus.DEAD, error=error[:1000]))
        self.stats.failed += 1
        log.log(
            log_level,
            "outbox dead letter outbox_id=%s kind=%s alert_id=%s channel=%s error=%s",
            row["id"],
            row["kind"],
            row.get("alert_id"),
            row["channel"],
            error,
        )
