"""Linking a SIP device through real signed Slack requests: `/ring link` opens the modal, its submission
stores an encrypted password, `/ring me|unlink`, admins for other people, and no key means no linking."""

from __future__ import annotations

import pytest

from bot.callback.vault import Vault
from bot.slack.ids import ACTION_OPEN_LINK, VIEW_LINK
from bot.slack.render.link import BLOCK_PASSWORD, BLOCK_SIP_USER, LinkForm
from bot.slack.text import say
from tests.wire.conftest import bot_with_outbox
from tests.wire.link_support import (
    ACTION_TRIGGER,
    DEADLINE,
    SLASH_TRIGGER,
    dms,
    link_values,
    link_via_modal,
    wait_reply,
)


@pytest.fixture
def ring(ring_out):
    """With the outbox running: confirmations and the admins' notices are outbox rows (bot/outbox/notice.py)."""
    return ring_out


async def test_ring_link_opens_the_modal_with_the_commands_trigger_id(ring) -> None:
    resp = await ring.command("link")
    assert resp.status_code == 200
    await ring.slack.wait_for(lambda: ring.slack.calls_to("views.open"), DEADLINE)
    [call] = ring.slack.calls_to("views.open")
    assert call.body["trigger_id"] == SLASH_TRIGGER
    view = call.body["view"]
    assert view["callback_id"] == VIEW_LINK
    assert LinkForm.load(view["private_metadata"], "x").target == "U0AGENT"
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert inputs[BLOCK_PASSWORD]["element"]["type"] == "plain_text_input"
    assert "encrypted" in inputs[BLOCK_PASSWORD]["hint"]["text"]


async def test_submitting_the_modal_stores_an_encrypted_password_and_confirms_by_dm(ring) -> None:
    await link_via_modal(ring, "U0AGENT", "user_an101", "pw-101-secret")
    row = ring.deps.store.get_link("U0AGENT")
    assert row["sip_password_enc"] != "pw-101-secret" and "pw-101-secret" not in row["sip_password_enc"]
    link = ring.deps.links.get("U0AGENT")
    assert link is not None and ring.deps.links.password(link) == "pw-101-secret"
    assert row["linked_by"] == "U0AGENT"
    [audit] = ring.deps.store.audit(action="link")
    assert (audit["slack_user"], audit["sip_user"], audit["result"]) == ("U0AGENT", "user_an101", "ok")
    await ring.slack.wait_for(lambda: dms(ring, "U0AGENT"), DEADLINE)
    [dm] = dms(ring, "U0AGENT")
    assert "user_an101" in dm.body["text"] and "pw-101-secret" not in dm.body["text"]


@pytest.mark.parametrize(
    ("sip_user", "password", "bad_block"),
    [
        ("", "pw", BLOCK_SIP_USER),
        ("an 101", "pw", BLOCK_SIP_USER),
        ("x" * 65, "pw", BLOCK_SIP_USER),
        ("an101", "", BLOCK_PASSWORD),
        ("an101", "p" * 129, BLOCK_PASSWORD),
    ],
)
async def test_bad_fields_come_back_as_modal_errors_and_nothing_is_stored(ring, sip_user, password, bad_block) -> None:
    resp = await ring.view(VIEW_LINK, link_values(sip_user, password), private_metadata=LinkForm("U0AGENT").dump())
    assert resp.status_code == 200
    body = resp.json()
    assert body["response_action"] == "errors" and bad_block in body["errors"]
    assert ring.deps.store.get_link("U0AGENT") is None


async def test_without_a_secret_key_linking_is_refused_with_how_to_make_one(ring) -> None:
    ring.deps.links.vault = Vault("")
    await ring.command("link")
    text = await wait_reply(ring, 1)
    assert "RINGBOT_SECRET_KEY" in text and "Fernet.generate_key()" in text
    assert ring.slack.calls_to("views.open") == []
    resp = await ring.view(VIEW_LINK, link_values("an101", "pw"), private_metadata=LinkForm("U0AGENT").dump())
    assert resp.json()["response_action"] == "errors"
    assert ring.deps.store.get_link("U0AGENT") is None


async def test_the_link_button_opens_the_modal_with_the_actions_trigger_id(ring) -> None:
    await ring.action(ACTION_OPEN_LINK, "")
    await ring.slack.wait_for(lambda: ring.slack.calls_to("views.open"), DEADLINE)
    [call] = ring.slack.calls_to("views.open")
    assert call.body["trigger_id"] == ACTION_TRIGGER


async def test_the_modal_shows_the_current_sip_user_but_never_the_password(ring) -> None:
    await link_via_modal(ring, "U0AGENT", "user_an101", "pw-101-secret")
    await ring.command("link")
    await ring.slack.wait_for(lambda: ring.slack.calls_to("views.open"), DEADLINE)
    body = str(ring.slack.calls_to("views.open")[0].body)
    assert "user_an101" in body and "pw-101-secret" not in body


# -- someone else's link: admins only -----------------------------------------------------------------
async def test_only_admins_may_open_the_link_modal_for_someone_else(ring) -> None:
    await ring.command("link <@UBINH|binh>", user="U0AGENT")
    assert "admins" in await wait_reply(ring, 1)
    await ring.action(ACTION_OPEN_LINK, "UBINH", user="U0AGENT")  # a tampered button value
    assert "admins" in await wait_reply(ring, 2)
    assert ring.slack.calls_to("views.open") == []
    await ring.command("link <@UBINH|binh>", user="UADMIN")
    await ring.slack.wait_for(lambda: ring.slack.calls_to("views.open"), DEADLINE)
    view = ring.slack.calls_to("views.open")[0].body["view"]
    assert LinkForm.load(view["private_metadata"], "x").target == "UBINH"


async def test_an_admin_links_someone_else_and_both_are_told(ring) -> None:
    await link_via_modal(ring, "UADMIN", "user_binh102", "pw-102", target="UBINH")
    row = ring.deps.store.get_link("UBINH")
    assert row["linked_by"] == "UADMIN" and ring.deps.store.get_link("UADMIN") is None
    await ring.slack.wait_for(lambda: dms(ring, "UBINH") and dms(ring, "UADMIN"), DEADLINE)
    assert "<@UADMIN>" in dms(ring, "UBINH")[0].body["text"]


async def test_a_forged_submission_for_someone_else_by_a_non_admin_is_refused(ring) -> None:
    resp = await ring.view(
        VIEW_LINK, link_values("evil", "pw"), user="U0AGENT", private_metadata=LinkForm("UBINH").dump()
    )
    assert resp.json()["response_action"] == "errors"
    assert ring.deps.store.get_link("UBINH") is None
    [refused] = ring.deps.store.audit(action="link")
    assert (refused["slack_user"], refused["result"], refused["detail"]) == ("UBINH", "refused", "by=U0AGENT not_admin")


# -- /ring me and /ring unlink ------------------------------------------------------------------------
async def test_ring_me_shows_the_sip_user_and_who_linked_it_never_the_password(ring) -> None:
    await ring.command("me")
    assert "/ring link" in await wait_reply(ring, 1)
    await link_via_modal(ring, "UADMIN", "user_an101", "pw-101-secret", target="U0AGENT")
    await ring.command("me")
    text = await wait_reply(ring, 2)
    assert "user_an101" in text and "<@UADMIN>" in text and "pw-101" not in text


async def test_ring_unlink_removes_your_own_link_and_audits_it(ring) -> None:
    await link_via_modal(ring, "U0AGENT", "user_an101", "pw-101")
    await ring.command("unlink")
    assert "user_an101" in await wait_reply(ring, 1)
    assert ring.deps.store.get_link("U0AGENT") is None
    assert ring.deps.store.audit(action="unlink")[0]["sip_user"] == "user_an101"
    await ring.command("unlink")
    assert "no phone linked" in await wait_reply(ring, 2)


async def test_unlinking_someone_else_needs_an_admin(ring) -> None:
    await link_via_modal(ring, "UADMIN", "user_binh102", "pw-102", target="UBINH")
    await ring.command("unlink <@UBINH>", user="U0AGENT")
    assert "admins" in await wait_reply(ring, 1)
    assert ring.deps.store.get_link("UBINH") is not None
    await ring.command("unlink <@UBINH>", user="UADMIN")
    assert "<@UBINH>" in await wait_reply(ring, 2)
    assert ring.deps.store.get_link("UBINH") is None


# -- one Slack person per SIP user; admins hear of every link and unlink -------------------------------
async def test_linking_a_sip_user_someone_else_has_is_refused_without_an_admin(ring) -> None:
    await link_via_modal(ring, "U0AN", "user_an101", "pw-101-secret")
    resp = await ring.view(
        VIEW_LINK, link_values("USER_AN101", "guessed"), user="U0EVE", private_metadata=LinkForm("U0EVE").dump()
    )
    body = resp.json()
    assert body["response_action"] == "errors"
    assert "already linked to another person" in body["errors"][BLOCK_SIP_USER]
    assert ring.deps.store.get_link("U0EVE") is None
    link = ring.deps.links.get("U0AN")
    assert link is not None and ring.deps.links.password(link) == "pw-101-secret"
    refused = ring.deps.store.audit(action="link", slack_user="U0EVE")
    assert [(r["result"], r["sip_user"], r["detail"]) for r in refused] == [
        ("refused", "USER_AN101", "by=U0EVE linked_to=U0AN")
    ]
    await ring.slack.wait_for(lambda: any("tried to link" in p.body["text"] for p in dms(ring, "UADMIN")))
    assert any(
        p.body["text"]
        == ":warning: <@U0EVE> tried to link SIP device `USER_AN101`, but it is linked to <@U0AN>; refused."
        " Only an admin can move it (`/ring link @user`)."
        for p in dms(ring, "UADMIN")
    )


async def test_an_admin_moves_a_sip_user_to_someone_else_and_the_previous_owner_is_told(ring) -> None:
    await link_via_modal(ring, "U0AN", "user_an101", "pw-101")
    await link_via_modal(ring, "UADMIN", "user_an101", "pw-new", target="UBINH")
    assert ring.deps.store.get_link("U0AN") is None
    assert ring.deps.store.link_owner("user_an101") == "UBINH"
    await ring.slack.wait_for(lambda: any("moved" in p.body["text"] for p in dms(ring, "U0AN")), DEADLINE)
    [moved] = [p.body["text"] for p in dms(ring, "U0AN") if "moved" in p.body["text"]]
    assert moved.startswith("<@UADMIN> moved SIP device `user_an101` to <@UBINH>")
    [unlinked] = ring.deps.store.audit(action="unlink")
    assert (unlinked["slack_user"], unlinked["detail"]) == ("U0AN", "by=UADMIN moved_to=UBINH")


async def test_every_link_and_unlink_is_announced_to_the_admins_and_audited(ring) -> None:
    await link_via_modal(ring, "U0AGENT", "user_an101", "pw-101")
    await ring.command("unlink")
    await wait_reply(ring, 1)
    await ring.slack.wait_for(lambda: len(dms(ring, "UADMIN")) >= 2, DEADLINE)
    assert [p.body["text"] for p in dms(ring, "UADMIN")] == [
        ":link: <@U0AGENT> linked their Slack account to SIP device `user_an101`.",
        ":link: <@U0AGENT> unlinked SIP device `user_an101`.",
    ]
    assert [r["action"] for r in reversed(ring.deps.store.audit())] == ["link", "unlink"]


async def test_with_an_admin_channel_announcements_go_there_and_an_unlinked_person_is_told(
    tmp_path, fake_slack, simulator
) -> None:
    async with bot_with_outbox(tmp_path, fake_slack, simulator, RINGBOT_ADMIN_CHANNEL="C0ADMINS") as ring:
        await _admin_channel_announcements(ring)


async def _admin_channel_announcements(ring) -> None:
    await link_via_modal(ring, "UADMIN", "user_binh102", "pw-102", target="UBINH")
    await ring.command("unlink <@UBINH>", user="UADMIN")
    await wait_reply(ring, 1)
    await ring.slack.wait_for(lambda: len(ring.slack.posts("C0ADMINS")) >= 2, DEADLINE)
    assert [p.body["text"] for p in ring.slack.posts("C0ADMINS")] == [
        ":link: <@UADMIN> linked <@UBINH> to SIP device `user_binh102`.",
        ":link: <@UADMIN> unlinked SIP device `user_binh102` from <@UBINH>.",
    ]
    await ring.slack.wait_for(lambda: any("unlinked" in p.body["text"] for p in dms(ring, "UBINH")), DEADLINE)


@pytest.mark.parametrize("sip_user", ["<!channel>", "an*101*", "an`101", "<@U0BOSS>", "an&101"])
async def test_a_sip_user_with_markup_is_refused_in_the_dialog(ring, sip_user: str) -> None:
    resp = await ring.view(VIEW_LINK, link_values(sip_user, "pw"), private_metadata=LinkForm("U0AGENT").dump())
    assert resp.json()["errors"] == {BLOCK_SIP_USER: say("link.err_chars")}
    assert ring.deps.store.get_link("U0AGENT") is None


@pytest.mark.parametrize("target", ["<!channel>", "UADMIN> <!here", "u0agent"])
async def test_a_forged_target_that_is_not_a_user_id_is_refused_and_never_announced(ring, target: str) -> None:
    await link_via_modal(ring, "U0AN", "user_an101", "pw-101")
    resp = await ring.view(VIEW_LINK, link_values("user_an101", "pw"), private_metadata=LinkForm(target).dump())
    assert resp.json()["response_action"] == "errors"
    assert ring.deps.store.link_owner("user_an101") == "U0AN"
    assert [r["result"] for r in ring.deps.store.audit(action="link")] == ["ok"]
    await ring.slack.wait_for(lambda: len(dms(ring, "UADMIN")) >= 1, DEADLINE)
    assert all("<!" not in p.body["text"] for p in ring.slack.posts())


async def test_an_admin_who_reads_vietnamese_is_told_in_vietnamese(ring) -> None:
    ring.slack.locales["UADMIN"] = "vi-VN"  # no admin channel: each of RINGBOT_ADMINS in a DM, in their language
    await link_via_modal(ring, "U0AGENT", "user_an101", "pw-101")
    await ring.slack.wait_for(lambda: dms(ring, "UADMIN"), DEADLINE)
    assert [p.body["text"] for p in dms(ring, "UADMIN")] == [
        ":link: <@U0AGENT> đã liên kết tài khoản Slack của mình với thiết bị SIP `user_an101`."
    ]
