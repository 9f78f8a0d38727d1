"""What a listener says when the database refuses: one plain sentence in the reader's language, never "Something
went wrong" and a traceback; and what became of a change (saved now, or as soon as the database can be written)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import pytest

from bot.changes import NotSaved, Saved
from bot.slack.i18n import speaking
from bot.slack.text import say
from handlers.replies import answer, saved


class Respond:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, **kw: Any) -> None:
        self.sent.append(kw)


@pytest.mark.parametrize(
    ("exc", "words"),
    [
        (NotSaved("full"), "Not saved: the database cannot be written (the disk is full). Try again in a minute."),
        (NotSaved("busy"), "Not saved: the database cannot be written (another program holds its lock)."),
        (sqlite3.OperationalError("database or disk is full"), "the database cannot be used right now (the disk is"),
        (sqlite3.OperationalError("disk I/O error"), "right now (it reported an error), so nothing changed"),
    ],
)
async def test_a_database_that_refuses_is_answered_in_words_without_a_traceback(
    exc: Exception, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    respond = Respond()

    async def work() -> None:
        raise exc

    assert await answer(respond, work, timeout=5) == "database"
    [message] = respond.sent
    assert words in message["text"] and message["response_type"] == "ephemeral"
    assert say("error.internal") not in message["text"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_the_sentence_is_in_the_readers_language() -> None:
    respond = Respond()

    async def work() -> None:
        raise NotSaved("full")

    with speaking("vi"):
        await answer(respond, work, timeout=5)
    assert (
        respond.sent[0]["text"]
        == "Chưa lưu: không ghi được vào cơ sở dữ liệu (ổ đĩa đã đầy). Bạn thử lại sau một phút."
    )


def test_a_change_held_for_the_database_is_told_so() -> None:
    assert saved(Saved.NOW, "done", "later") == "done"
    assert saved(Saved.LATER, "done", "later") == "later"
