"""Who reads what, over the wire: a person whose Slack locale is Vietnamese (the fake Slack's users.info, asked
with include_locale) gets `/ring help`, `/ring missed`, App Home and a Call back answer in Vietnamese, while the
channel alert the outbox posts stays in the channel's language (RINGBOT_LANGUAGE, English by default);
`/ring lang` overrides the locale, and Vietnamese sub-command names and periods work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.calls.classify import CallDecision, Outcome
from bot.outbox import Outbox
from bot.slack.i18n import ChannelLanguages, speaking
from bot.slack.ids import ACTION_CALLBACK
from bot.slack.people import Languages
from tests.wire.link_support import link_via_modal, set_device, wait_reply
from tests.wire.test_commands import ask, body_text
from tests.wire.test_home import open_home, view_text

AN, BINH = "U0AN", "U0BINH"  # An's Slack is in Vietnamese, Bình's in English
AN_SIP, AN_PW = "sip_an_201", "an-pw-201"


def decision(n: int) -> CallDecision:
    at = datetime.now(UTC) - timedelta(minutes=2)
    return CallDecision(
        call_id=f"call-vi-{n}",
        outcome=Outcome.MISSED,
        customer_number="0987654321",
        dialled="02873019555",
        queue_id=None,
        started_at=at,
        ended_at=at + timedelta(seconds=20),
        ring_seconds=20,
        talk_seconds=0,
        hangup_cause="ORIGINATOR_CANCEL",
        agents_rung=("an",),
    )


@pytest.fixture
def ring(bot_http: Any) -> Any:
    bot_http.slack.locales[AN] = "vi-VN"
    bot_http.slack.locales[BINH] = "en-US"
    return bot_http


async def post_alert(ring: Any, *, started_in: str = "en", channels: ChannelLanguages | None = None) -> dict[str, Any]:
    """Raise one missed-call alert and let the outbox post it to the channel; the post's body. The outbox task
    starts inside `speaking(started_in)`: what it writes must not depend on that."""
    outbox = Outbox(
        ring.deps.store,
        ring.deps.slack,
        render=ring.deps.alerts.renderer(),
        channel_language=(channels or ring.deps.channel_languages).of,
    )
    with speaking(started_in):
        task = asyncio.create_task(outbox.run())
    try:
        assert ring.deps.alerts.handle_decision(decision(1)) == "new"
        outbox.wake()
        await ring.slack.wait_for(lambda: len(ring.slack.posts()) >= 1, 5.0)
    finally:
        await outbox.stop(2.0)
        await asyncio.gather(task, return_exceptions=True)
    [post] = ring.slack.posts()
    return post.body


async def test_a_vietnamese_user_reads_vietnamese_and_the_channel_alert_stays_english(ring) -> None:
    alert = await post_alert(ring, started_in="vi")
    assert alert["text"].startswith("Missed call from 0987 654 321")  # the channel's language: English
    assert "Cuộc gọi" not in str(alert["blocks"])

    help_text = body_text(await ask(ring, "help", user=AN))
    assert "tổng đài của bạn ngay trong Slack" in help_text
    assert "`/ring missed` (`nhỡ`)" in help_text

    missed = body_text(await ask(ring, "missed", user=AN))
    assert "Cuộc gọi nhỡ chưa xử lý: 1" in missed
    assert "mở cảnh báo" in missed

    home = view_text(await open_home(ring, AN))
    assert "Cuộc gọi nhỡ chưa xử lý" in home and "Hàng đợi lúc này" in home

    await set_device(ring, AN_SIP, AN_PW)
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    before = len(ring.responses())
    alert_id = ring.deps.store.open_alerts(limit=1)[0]["id"]
    await ring.action(ACTION_CALLBACK, str(alert_id), user=AN)
    text = await wait_reply(ring, before + 1)
    assert text == f"Đang gọi vào máy `{AN_SIP}` của bạn — bạn nhấc máy, AntBuddy sẽ quay số 0987 654 321."

    # the same answers to an English-locale colleague, at the same time, stay English
    assert "your call center in Slack" in body_text(await ask(ring, "help", user=BINH))
    assert "Open missed calls: 1" in body_text(await ask(ring, "missed", user=BINH))


async def test_users_info_is_asked_with_include_locale_and_remembered(ring) -> None:
    await ask(ring, "help", user=AN)
    await ask(ring, "agents", user=AN)
    lookups = [c for c in ring.slack.calls_to("users.info") if c.body.get("user") == AN]
    assert len(lookups) == 1
    assert str(lookups[0].body.get("include_locale")).lower() in ("true", "1")


async def test_ring_lang_overrides_the_slack_locale_and_auto_goes_back(ring) -> None:
    assert (await ask(ring, "lang en", user=AN))["text"] == "From now on I answer you in English."
    assert "your call center in Slack" in body_text(await ask(ring, "help", user=AN))
    answer = await ask(ring, "lang", user=AN)
    assert answer["text"].startswith("I answer you in English (your choice).")
    assert (await ask(ring, "ngôn-ngữ auto", user=AN))["text"] == (
        "Từ giờ tôi trả lời bạn theo ngôn ngữ Slack của bạn (hiện là tiếng Việt)."
    )
    assert (await ask(ring, "lang vi", user=BINH))["text"] == "Từ giờ tôi sẽ trả lời bạn bằng tiếng Việt."
    assert "tổng đài của bạn" in body_text(await ask(ring, "help", user=BINH))
    assert (await ask(ring, "lang klingon", user=BINH))["text"].startswith("Cách dùng: `/ring lang vi|en|auto`")


async def test_a_language_choice_is_stored_with_its_audit_row_and_outlives_a_restart(ring) -> None:
    await ask(ring, "lang en", user=AN)
    await ask(ring, "lang auto", user=BINH)
    audit = ring.deps.store.audit(action="lang")
    assert [(a["slack_user"], a["result"], a["detail"]) for a in audit] == [(BINH, "ok", "auto"), (AN, "ok", "en")]
    restarted = Languages(ring.deps.store, ring.deps.slack)  # a new process: nothing remembered in memory
    assert restarted.chosen(AN) == "en" and restarted.chosen(BINH) is None


async def test_vietnamese_subcommand_names_and_periods(ring) -> None:
    assert "Không còn cuộc gọi nhỡ nào" in body_text(await ask(ring, "nhỡ", user=AN))
    assert "Không còn cuộc gọi nhỡ nào" in body_text(await ask(ring, "nho", user=AN))  # typed without diacritics
    assert "Cuộc gọi — hôm nay" in body_text(await ask(ring, "lịch-sử hôm nay", user=AN))
    assert "Cuộc gọi — 7 ngày qua" in body_text(await ask(ring, "lịch-sử 7 ngày", user=AN))
    assert "Hàng đợi" in body_text(await ask(ring, "hàng-đợi", user=AN))
    shared = await ask(ring, "nhỡ chia-sẻ", user=AN)
    assert shared["response_type"] == "in_channel"
    unknown = await ask(ring, "chuối", user=AN)
    assert (
        unknown["text"]
        == "Tôi không biết lệnh `/ring chuối`. Gõ `/ring help` (hoặc `/ring trợ-giúp`) để xem danh sách."
    )


async def test_a_channel_set_to_vietnamese_gets_vietnamese_alerts_and_people_keep_theirs(ring) -> None:
    vietnamese = ChannelLanguages("en", {"C0ALERTS": "vi"})  # RINGBOT_CHANNEL_LANGUAGES=C0ALERTS=vi
    alert = await post_alert(ring, started_in="en", channels=vietnamese)
    assert alert["channel"] == "C0ALERTS"
    assert alert["text"].startswith("Cuộc gọi nhỡ từ 0987 654 321")
    assert "Gọi lại" in str(alert["blocks"])
    assert "Open missed calls: 1" in body_text(await ask(ring, "missed", user=BINH))


async def test_a_dm_to_someone_else_is_in_their_language(ring_out) -> None:
    """An English-speaking admin links An's phone: the admin's confirmation is English, An's DM Vietnamese (both
    outbox rows, worded when sent in their reader's language)."""
    ring = ring_out
    ring.slack.locales[AN] = "vi-VN"
    ring.slack.locales["UADMIN"] = "en-US"
    await set_device(ring, AN_SIP, AN_PW)
    await link_via_modal(ring, "UADMIN", AN_SIP, AN_PW, target=AN)

    def dm(user: str) -> list[str]:
        return [p.body.get("text", "") for p in ring.slack.posts("D" + user[1:])]  # the fake Slack's DM with U…

    await ring.slack.wait_for(lambda: dm(AN) and dm("UADMIN"), 5.0)
    assert dm("UADMIN")[0] == f"Linked <@{AN}> to SIP device `{AN_SIP}`."
    assert dm(AN)[0].startswith(f"<@UADMIN> đã liên kết tài khoản Slack của bạn với thiết bị SIP `{AN_SIP}`")
