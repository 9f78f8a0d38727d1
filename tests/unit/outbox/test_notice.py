"""NOTICE rows: one catalog sentence, worded when sent in the language being spoken (the reader's), with sentences
inside sentences worded the same way; a row we did not write is Gone, never a crash of the sender."""

from __future__ import annotations

from typing import Any

import pytest

from bot.outbox.message import Gone
from bot.outbox.notice import Notice, NoticeKind, Notices, notice_kinds
from bot.slack.i18n import speaking
from storage import OutboxKind


def row(body: dict[str, Any]) -> Any:
    return {
        "id": 1,
        "alert_id": None,
        "kind": OutboxKind.NOTICE,
        "channel": "C0ADMINS",
        "thread_ts": None,
        "body": body,
    }


async def say_row(body: dict[str, Any], lang: str) -> str:
    with speaking(lang):
        return (await NoticeKind().render(row(body))).text


async def test_a_notice_is_worded_in_the_readers_language() -> None:
    body = Notice("link.announce_self", {"user": "UAN", "sip_user": "sip-an"}).as_json()
    assert await say_row(body, "en") == ":link: <@UAN> linked their Slack account to SIP device `sip-an`."
    assert await say_row(body, "vi") == ":link: <@UAN> đã liên kết tài khoản Slack của mình với thiết bị SIP `sip-an`."


async def test_a_sentence_inside_a_notice_is_worded_in_the_same_language() -> None:
    change = Notice("dial.allowed_now", {"what": Notice("dial.what_prefix", {"rule": "+4420"})})
    body = Notice("dial.announce", {"by": "UADMIN", "change": change}).as_json()
    english = await say_row(body, "en")
    vietnamese = await say_row(body, "vi")
    assert english == ":telephone_receiver: <@UADMIN>: Call back may now dial numbers starting `+4420`."
    assert vietnamese.startswith(":telephone_receiver: <@UADMIN>: ") and "`+4420`" in vietnamese
    assert vietnamese != english


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"key": "no.such.key", "fields": {}},
        {"key": "link.announce_self", "fields": {"user": "UAN"}},  # a field missing
        {"key": "link.announce_self", "fields": {"user": ["UAN"], "sip_user": "x"}},  # not text
        {"key": "link.announce_self", "fields": "UAN"},
    ],
)
async def test_a_row_we_did_not_write_is_gone_not_a_crash(body: dict[str, Any]) -> None:
    with pytest.raises(Gone):
        await NoticeKind().render(row(body))


def test_a_notice_with_a_key_the_catalog_lacks_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="no catalog sentence"):
        Notice("link.announce_selff")


def test_every_notice_is_its_own_message_and_the_kind_is_registered_as_notice() -> None:
    kinds = notice_kinds()
    assert set(kinds) == {OutboxKind.NOTICE}
    assert kinds[OutboxKind.NOTICE].subject(row({})) is None


class Recorder:
    """The one Store method Notices uses, recorded."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, dict[str, Any]]] = []

    def enqueue(self, kind: str, channel: str, *, body: dict[str, Any]) -> int:
        self.rows.append((kind, channel, body))
        return len(self.rows)


def test_admins_hear_in_the_admin_channel_else_each_in_a_dm_but_the_one_who_acted() -> None:
    notice = Notice("link.announce_self", {"user": "UAN", "sip_user": "sip-an"})
    to_channel, to_each = Recorder(), Recorder()
    assert Notices("C0ADMINS", ["UBOSS"]).announce(to_channel, notice, actor="UBOSS") == 1
    assert [(c, "user" in b) for _, c, b in to_channel.rows] == [("C0ADMINS", False)]
    assert Notices("", ["UBOSS", "UAN"]).announce(to_each, notice, actor="UAN") == 1
    assert [(c, b["user"]) for _, c, b in to_each.rows] == [("UBOSS", "UBOSS")]
    assert Notices().announce(Recorder(), notice, actor="UAN") == 0
