"""Finding an outbox row's post in Slack by its metadata, against a stub Web API client."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError

from bot.outbox.recovery import HISTORY_PAGES, METADATA_EVENT, CannotVerify, PostFinder, message_metadata

ROW = {"id": 7, "alert_id": 3, "kind": "post", "channel": "C1", "thread_ts": None, "created_at": 1000.0}


def msg(ts: str, outbox_id: int | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"type": "message", "ts": ts, "text": "x"}
    if outbox_id is not None:
        m["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": outbox_id}}
    return m


class StubSlack:
    """conversations.history / .replies answering from fixed pages, and remembering what was asked."""

    def __init__(self, history: list[dict[str, Any]], replies: list[dict[str, Any]] | None = None) -> None:
        self.pages = {"history": history, "replies": replies or []}
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self.error: Exception | None = None

    async def _answer(self, method: str, kw: dict[str, Any]) -> dict[str, Any]:
        self.asked.append((method, kw))
        if self.error:
            raise self.error
        pages = self.pages[method]
        index = int(kw.get("cursor") or 0)
        return pages[index] if index < len(pages) else {"messages": []}

    async def conversations_history(self, **kw: Any) -> dict[str, Any]:
        return await self._answer("history", kw)

    async def conversations_replies(self, **kw: Any) -> dict[str, Any]:
        return await self._answer("replies", kw)


def page(*messages: dict[str, Any], next_page: int | None = None) -> dict[str, Any]:
    more = {"has_more": True, "response_metadata": {"next_cursor": str(next_page)}} if next_page else {}
    return {"messages": list(messages), **more}


def test_every_post_names_its_outbox_row_in_its_metadata():
    assert message_metadata(ROW) == {
        "event_type": "ringbot_alert",
        "event_payload": {"alert_id": 3, "outbox_id": 7, "kind": "post"},
    }
    assert message_metadata({**ROW, "alert_id": None, "kind": "summary"})["event_payload"] == {
        "alert_id": 0,
        "outbox_id": 7,
        "kind": "summary",
    }


async def test_a_post_is_found_by_its_outbox_id_from_a_minute_before_it_was_queued():
    slack = StubSlack([page(msg("1.1"), msg("1.2", outbox_id=6), msg("1.3", outbox_id=7))])
    assert await PostFinder(slack, call_timeout=1).find(ROW) == "1.3"
    (method, kw), *_ = slack.asked
    assert method == "history" and kw["oldest"] == "940.000000" and kw["include_all_metadata"] is True


async def test_a_post_slack_does_not_have_is_none():
    slack = StubSlack([page(msg("1.1"), msg("1.2", outbox_id=70))])
    assert await PostFinder(slack, call_timeout=1).find(ROW) is None


async def test_pages_are_followed_but_only_so_far():
    pages = [page(msg(f"{i}.0"), next_page=i + 1) for i in range(HISTORY_PAGES + 3)]
    pages[2] = page(msg("2.0", outbox_id=7), next_page=3)
    assert await PostFinder(StubSlack(pages), call_timeout=1).find(ROW) == "2.0"
    pages[2] = page(msg("2.0"), next_page=3)
    pages[HISTORY_PAGES + 1] = page(msg("late", outbox_id=7))
    slack = StubSlack(pages)
    assert await PostFinder(slack, call_timeout=1).find(ROW) is None
    assert len(slack.asked) == HISTORY_PAGES


async def test_a_thread_reply_is_looked_for_in_its_thread():
    slack = StubSlack([page(msg("1.1"))], replies=[page(msg("2.1", outbox_id=7))])
    assert await PostFinder(slack, call_timeout=1).find({**ROW, "kind": "reply", "thread_ts": "1.1"}) == "2.1"
    assert [m for m, _ in slack.asked] == ["history", "replies"]
    assert slack.asked[1][1]["ts"] == "1.1"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (SlackApiError("no", {"ok": False, "error": "missing_scope"}), "missing_scope"),
        (TimeoutError(), "TimeoutError"),
        (ConnectionResetError(), "ConnectionResetError"),
    ],
)
async def test_an_unreadable_channel_cannot_be_verified(error, reason):
    slack = StubSlack([])
    slack.error = error
    with pytest.raises(CannotVerify, match=reason):
        await PostFinder(slack, call_timeout=1).find(ROW)
