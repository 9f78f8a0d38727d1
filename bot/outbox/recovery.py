"""Finding an outbox row's message in Slack, so that a post is never sent twice after a crash or a timeout.

Every post carries message metadata naming its outbox row. When we cannot tell whether Slack took a post
(the process died while it was `inflight`, or the call timed out), the channel is read back
(`conversations.history`, or `conversations.replies` for a thread reply) and the metadata is looked for.
See docs/alerts.md, "Exactly once".
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from slack_sdk.errors import SlackApiError

from bot.outbox.errors import error_code
from storage import OutboxKind

if TYPE_CHECKING:
    from slack_sdk.web.async_client import AsyncWebClient
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from storage import OutboxRow

METADATA_EVENT = "ringbot_alert"
POST_KINDS = (OutboxKind.POST, OutboxKind.REPLY, OutboxKind.SUMMARY)  # these create a message; an update edits one
HISTORY_PAGES = 5  # pages of history read when looking for a post (bounded: a busy channel is not read whole)
PAGE_SIZE = 200
LOOK_BACK = 60.0  # seconds before the row was queued where the search starts (clock skew)


# Answers to a read of the channel that will not change by waiting: the post is sent blind (with a warning).
NEVER_READABLE = frozenset({"missing_scope", "not_in_channel"})


class CannotVerify(Exception):
    """The channel could not be read (scope, channel, network): we cannot tell whether a post landed.
    `transient`: it may be readable later (Slack failing), so the row should wait rather than be posted blind."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.transient = transient


def message_metadata(row: OutboxRow) -> dict[str, object]:
    """The metadata every post carries, naming its outbox row."""
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {
            "alert_id": row.get("alert_id") or 0,
            "outbox_id": row["id"],
            "kind": row.get("kind", "post"),
        },
    }


class PostFinder:
    """Reads a channel back to find the message an outbox row posted."""

    def __init__(self, client: AsyncWebClient, *, call_timeout: float) -> None:
        self.client = client
        self.call_timeout = call_timeout

    async def find(self, row: OutboxRow) -> str | None:
        """The ts of the message carrying this row's metadata, or None when Slack does not have it.

        Raises CannotVerify when the channel cannot be read."""
        oldest = f"{(row.get('created_at') or 0) - LOOK_BACK:.6f}"
        found = await self._scan(row, channel=row["channel"], oldest=oldest)
        if found is None and row.get("thread_ts"):  # thread replies are not in conversations.history
            found = await self._scan(row, channel=row["channel"], oldest=oldest, thread_ts=row["thread_ts"])
        return found

    async def _scan(self, row: OutboxRow, *, channel: str, oldest: str, thread_ts: str | None = None) -> str | None:
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            resp = await self._page(channel=channel, oldest=oldest, thread_ts=thread_ts, cursor=cursor)
            for msg in resp.get("messages") or []:
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == METADATA_EVENT and str(payload.get("outbox_id")) == str(row["id"]):
                    ts = msg.get("ts")
                    return ts if isinstance(ts, str) else None
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not resp.get("has_more") or not cursor:
                return None
        return None

    async def _page(
        self, *, channel: str, oldest: str, thread_ts: str | None, cursor: str | None
    ) -> AsyncSlackResponse:
        try:
            if thread_ts:
                call = self.client.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    oldest=oldest,
                    include_all_metadata=True,
                    limit=PAGE_SIZE,
                    cursor=cursor,
                )
            else:
                call = self.client.conversations_history(
                    channel=channel, oldest=oldest, include_all_metadata=True, limit=PAGE_SIZE, cursor=cursor
                )
            async with asyncio.timeout(self.call_timeout):  # not wait_for: on 3.11 it can swallow a cancel
                return await call
        except SlackApiError as exc:
            code = error_code(exc.response)
            status = getattr(exc.response, "status_code", 0)
            raise CannotVerify(code or f"http_{status}", transient=code not in NEVER_READABLE) from None
        except Exception as exc:  # noqa: BLE001 - network, or an answer slack_sdk could not read: try again later
            raise CannotVerify(type(exc).__name__, transient=True) from None
