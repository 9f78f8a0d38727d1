"""Call back, Mark handled and `/ring call` through signed block_actions / slash commands, against the
AntBuddy simulator and the fake Slack: the clicking user's own device rings, the number comes from the
alert row, and every refusal is one clear ephemeral line."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.slack.ids import ACTION_CALLBACK, ACTION_HANDLED, ACTION_OPEN_LINK, ACTION_UNHANDLE
from tests.wire.conftest import bot_with_outbox
from tests.wire.link_support import (
    DEADLINE,
    eventually,
    link_via_modal,
    set_device,
    sim_clicks,
    texts,
    wait_reply,
)

AN, BINH = "U0AN", "U0BINH"
AN_SIP, AN_PW = "sip_an_201", "an-pw-201"
BINH_SIP, BINH_PW = "sip_binh_202", "binh-pw-202"


def make_alert(ring: Any, number: str = "0987654321", call_id: str = "call-1", **extra: Any) -> int:
    return ring.deps.store.create_alert(
        {
            "call_id": call_id,
            "customer_number": number,
            "customer_key": number,
            "outcome": "missed",
            "channel": "C0ALERTS",
            "ts": "1700000000.000100",
            **extra,
        }
    )


@pytest.fixture
def ring(ring_out: Any) -> Any:
    """With the outbox running: the alert's edits, DMs and the admins' notices are outbox rows."""
    return ring_out


@pytest.fixture
async def an(ring) -> Any:
    """U0AN linked (through the modal) to a registered, online device."""
    await set_device(ring, AN_SIP, AN_PW)
    await link_via_modal(ring, AN, AN_SIP, AN_PW)
    return ring


async def test_call_back_rings_the_clickers_device_then_the_alerts_number(an) -> None:
    ring = an
    alert_id = make_alert(ring, "0987 654 321")
    resp = await ring.action(ACTION_CALLBACK, str(alert_id), user=AN, message_ts="1700000000.000100")
    assert resp.status_code == 200
    text = await wait_reply(ring, 1)
    assert text == f"Calling you on `{AN_SIP}` now — pick up, then AntBuddy dials 0987 654 321."
    [click] = await sim_clicks(ring)
    assert (click["number"], click["sip_user"], click["ok"], click["password_ok"]) == ("0987654321", AN_SIP, True, True)
    alert = ring.deps.store.get_alert(alert_id)
    assert (alert["status"], alert["claimed_by"]) == ("calling_back", AN)
    # the outbox edits the alert's message to show who is calling back
    await ring.slack.wait_for(lambda: ring.slack.calls_to("chat.update"), DEADLINE)
    [edit] = ring.slack.calls_to("chat.update")
    assert (edit.body["channel"], edit.body["ts"]) == ("C0ALERTS", "1700000000.000100") and AN in str(edit.body)
    [audit] = ring.deps.store.audit(action="click_to_call")
    assert (audit["slack_user"], audit["sip_user"], audit["number"], audit["alert_id"], audit["result"]) == (
        AN,
        AN_SIP,
        "0987654321",
        alert_id,
        "ok",
    )


async def test_offline_device_gets_the_not_registered_message_and_no_claim(an) -> None:
    ring = an
    await set_device(ring, AN_SIP, AN_PW, online=False)
    alert_id = make_alert(ring)
    await ring.action(ACTION_CALLBACK, str(alert_id), user=AN)
    text = await wait_reply(ring, 1)
    assert text == (
        f"Your phone `{AN_SIP}` is not registered with AntBuddy, so it can't ring. Open your "
        "softphone/desk phone and check it's signed in, then try again."
    )
    assert ring.deps.store.get_alert(alert_id)["status"] == "open"
    assert ring.deps.store.audit(action="click_to_call")[0]["result"] == "offline"


async def test_unlinked_user_gets_a_button_that_opens_the_link_modal(ring) -> None:
    alert_id = make_alert(ring)
    await ring.action(ACTION_CALLBACK, str(alert_id), user=AN)
    await wait_reply(ring, 1)
    reply = ring.responses()[0]
    assert reply["response_type"] == "ephemeral"
    buttons = [e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == [ACTION_OPEN_LINK]
    assert await sim_clicks(ring) == []
    await ring.action(ACTION_OPEN_LINK, buttons[0]["value"], user=AN)
    await ring.slack.wait_for(lambda: ring.slack.calls_to("views.open"), 5)
    assert ring.slack.calls_to("views.open")[0].body["view"]["callback_id"] == "link_device"


async def test_a_double_click_dials_once(an) -> None:
    ring = an
    alert_id = make_alert(ring)
    await asyncio.gather(*(ring.action(ACTION_CALLBACK, str(alert_id), user=AN) for _ in range(2)))
    await wait_reply(ring, 2)
    assert len(await sim_clicks(ring)) == 1
    assert sum("Already calling" in t for t in texts(ring)) == 1
    assert sorted(r["result"] for r in ring.deps.store.audit(action="click_to_call")) == ["duplicate", "ok"]


async def test_more_than_five_dials_a_minute_are_rate_limited(an) -> None:
    ring = an
    ids = [make_alert(ring, f"09876543{i:02d}", call_id=f"call-{i}") for i in range(6)]
    for n, alert_id in enumerate(ids, start=1):
        await ring.action(ACTION_CALLBACK, str(alert_id), user=AN)
        await wait_reply(ring, n)
    assert "more than 5 calls in a minute" in texts(ring)[-1]
    assert len(await sim_clicks(ring)) == 5


async def test_anyone_may_call_back_any_alert_but_always_from_their_own_device(an) -> None:
    ring = an
    await set_device(ring, BINH_SIP, BINH_PW)
    await link_via_modal(ring, BINH, BINH_SIP, BINH_PW)
    alert_id = make_alert(ring, claimed_by=AN, status="calling_back")
    await ring.action(ACTION_CALLBACK, str(alert_id), user=BINH)
    assert BINH_SIP in await wait_reply(ring, 1)
    [click] = await sim_clicks(ring)
    assert click["sip_user"] == BINH_SIP and click["password_ok"]
    assert ring.deps.store.get_alert(alert_id)["claimed_by"] == BINH


@pytest.mark.parametrize("value", ["abc", "999999", "-1", "1 OR 1=1", "0987654321x", ""])
async def test_a_tampered_button_value_dials_nothing(an, value: str) -> None:
    ring = an
    make_alert(ring)
    await ring.action(ACTION_CALLBACK, value, user=AN)
    assert "no longer exists" in await wait_reply(ring, 1)
    assert await sim_clicks(ring) == []


async def test_an_alert_whose_number_cannot_be_dialled_says_so_and_dials_nothing(an) -> None:
    ring = an
    alert_id = make_alert(ring, "anonymous")
    await ring.action(ACTION_CALLBACK, str(alert_id), user=AN)
    assert "can't be dialled" in await wait_reply(ring, 1)
    assert await sim_clicks(ring) == []
    assert ring.deps.store.audit(action="click_to_call")[0]["result"] == "invalid_number"


async def test_a_slow_antbuddy_is_reported_without_blocking_the_ack(an) -> None:
    ring = an
    ring.deps.dialer.timeout = 0.3
    resp = await ring.http.post(f"{ring.sim.url}/_sim/faults", json={"count": 1, "delay": 1.5})
    assert resp.status_code == 200
    alert_id = make_alert(ring)
    loop = asyncio.get_running_loop()
    started = loop.time()
    ack = await ring.action(ACTION_CALLBACK, str(alert_id), user=AN)
    assert ack.status_code == 200 and loop.time() - started < 1.0
    assert "AntBuddy is not answering properly (no answer within 0.3 s)" in await wait_reply(ring, 1)
    assert ring.deps.store.audit(action="click_to_call")[0]["result"] == "antbuddy_down"


async def test_antbuddy_down_is_reported(an) -> None:
    ring = an
    await ring.http.post(f"{ring.sim.url}/_sim/faults", json={"count": 1, "status": 500})
    await ring.action(ACTION_CALLBACK, str(make_alert(ring)), user=AN)
    text = await wait_reply(ring, 1)
    assert "AntBuddy is not answering properly" in text and "HTTP 500" in text
    assert ring.deps.store.audit(action="click_to_call")[0]["result"] == "antbuddy_down"


# -- /ring call ---------------------------------------------------------------------------------------
async def test_ring_call_dials_any_number_from_your_own_device(an) -> None:
    ring = an
    await ring.command("call 0912 345 678", user=AN)
    assert "AntBuddy dials 0912 345 678" in await wait_reply(ring, 1)
    [click] = await sim_clicks(ring)
    assert (click["number"], click["sip_user"]) == ("0912345678", AN_SIP)
    assert ring.deps.store.audit(action="click_to_call")[0]["alert_id"] is None


@pytest.mark.parametrize("text", ["call", "call bob", "call 12", "call 0912345678;rm"])
async def test_ring_call_with_a_bad_number_gets_the_usage_line(an, text: str) -> None:
    ring = an
    await ring.command(text, user=AN)
    assert "Usage: `/ring call &lt;number&gt;`" in await wait_reply(ring, 1)
    assert await sim_clicks(ring) == []


async def test_ring_call_when_unlinked_offers_the_link_button(ring) -> None:
    await ring.command("call 0912345678", user=AN)
    await wait_reply(ring, 1)
    assert ring.responses()[0]["blocks"][-1]["elements"][0]["action_id"] == ACTION_OPEN_LINK


# -- Mark handled / Undo ------------------------------------------------------------------------------
async def test_mark_handled_then_undo_by_someone_else_is_refused_but_an_admin_may(ring) -> None:
    alert_id = make_alert(ring)
    await ring.action(ACTION_HANDLED, str(alert_id), user=AN)
    await eventually(lambda: ring.deps.store.get_alert(alert_id)["status"] == "handled", "handled")
    assert ring.deps.store.get_alert(alert_id)["handled_by"] == AN
    await ring.action(ACTION_UNHANDLE, str(alert_id), user=BINH)
    assert "admin" in await wait_reply(ring, 1)
    assert ring.deps.store.get_alert(alert_id)["status"] == "handled"
    await ring.action(ACTION_UNHANDLE, str(alert_id), user="UADMIN")
    await eventually(lambda: ring.deps.store.get_alert(alert_id)["status"] == "open", "reopened")


async def test_mark_handled_on_an_unknown_alert_says_it_is_gone(ring) -> None:
    await ring.action(ACTION_HANDLED, "424242", user=AN)
    assert "no longer exists" in await wait_reply(ring, 1)


# -- the dial policy: no toll fraud through Call back or /ring call -----------------------------------
ADMIN = "UADMIN"
WHO = "A ringbot admin (<@UADMIN>)"


async def test_call_back_on_a_premium_rate_number_is_refused_until_an_admin_allows_it(an) -> None:
    ring = an
    alert_id = make_alert(ring, "1900 1234")
    await ring.action(ACTION_CALLBACK, str(alert_id), user=AN)
    assert await wait_reply(ring, 1) == (
        "I won't dial 1900 1234: it's a premium-rate number (the call is charged at a high rate). "
        f"{WHO} can allow it with `/ring dial allow +8419001234`."
    )
    assert await sim_clicks(ring) == []
    assert ring.deps.store.get_alert(alert_id)["status"] == "open"
    [refused] = ring.deps.store.audit(action="click_to_call")
    assert (refused["result"], refused["detail"], refused["alert_id"]) == ("refused", "premium_rate VN", alert_id)

    await ring.command("dial allow +8419001234", user=AN)  # not an admin
    assert "Only admins" in await wait_reply(ring, 2)
    assert ring.deps.store.audit(action="dial_rule")[0]["result"] == "refused"

    await ring.command("dial allow +8419001234", user=ADMIN)
    assert await wait_reply(ring, 3) == "Call back may now dial numbers starting `+8419001234`."
    await ring.action(ACTION_CALLBACK, str(alert_id), user=AN)
    assert "AntBuddy dials 1900 1234" in await wait_reply(ring, 4)
    [click] = await sim_clicks(ring)
    assert (click["number"], click["sip_user"]) == ("19001234", AN_SIP)


async def test_ring_call_to_a_foreign_number_is_refused_until_an_admin_allows_the_country(an) -> None:
    ring = an
    await ring.command("call +44 20 7946 0958", user=AN)
    assert await wait_reply(ring, 1) == (
        "I won't dial +44 20 7946 0958: it's a number abroad (United Kingdom), and Call back doesn't dial there. "
        f"{WHO} can allow it with `/ring dial allow GB`."
    )
    assert await sim_clicks(ring) == []
    assert ring.deps.store.audit(action="click_to_call")[0]["detail"] == "foreign GB"

    await ring.command("dial allow gb", user=ADMIN)
    assert await wait_reply(ring, 2) == "Call back may now dial numbers in United Kingdom (`GB`)."
    await ring.command("call +44 20 7946 0958", user=AN)
    assert "AntBuddy dials +44 20 7946 0958" in await wait_reply(ring, 3)
    [click] = await sim_clicks(ring)
    assert click["number"] == "+442079460958"
    await ring.command("call +44 901 234 5678", user=AN)  # allowing a country never allows its premium rate
    assert "premium-rate" in await wait_reply(ring, 4)


async def test_a_foreign_number_refused_for_an_unlinked_person_says_why_not_link_first(ring) -> None:
    alert_id = make_alert(ring, "+882 123 456 789")
    await ring.action(ACTION_CALLBACK, str(alert_id), user=BINH)
    text = await wait_reply(ring, 1)
    assert "international service number" in text and "/ring dial allow +882123456789" in text
    assert "blocks" not in ring.responses()[0]  # no "Link my phone" button: linking would not help


async def test_national_numbers_and_internal_extensions_still_ring_and_emergency_numbers_never_do(an) -> None:
    ring = an
    await ring.command("call 0987 654 321", user=AN)
    await ring.command("call 1001", user=AN)
    await ring.command("call 113", user=AN)
    await wait_reply(ring, 3)
    assert "emergency number" in " ".join(texts(ring))
    assert sorted(c["number"] for c in await sim_clicks(ring)) == ["0987654321", "1001"]


async def test_an_admin_narrows_the_default_and_lifts_it_again(tmp_path, fake_slack, simulator) -> None:
    # RINGBOT_ADMIN_CHANNEL: changes are announced there
    async with bot_with_outbox(tmp_path, fake_slack, simulator, RINGBOT_ADMIN_CHANNEL="C0ADMINS") as ring:
        await set_device(ring, AN_SIP, AN_PW)
        await link_via_modal(ring, AN, AN_SIP, AN_PW)
        await _narrow_and_lift(ring)


async def _narrow_and_lift(ring: Any) -> None:
    await ring.command("dial deny 098", user=ADMIN)
    assert await wait_reply(ring, 1) == "Call back won't dial numbers starting `098` any more."
    await ring.command("call 0987654321", user=AN)
    assert await wait_reply(ring, 2) == (
        f"I won't dial 0987 654 321: numbers starting `098` are blocked. {WHO} can lift that with"
        " `/ring dial remove 098`."
    )
    await ring.command("dial", user=AN)  # anyone may read the rules
    listing = await wait_reply(ring, 3)
    assert "Vietnam (VN)" in listing and "*Blocked:* `098` (<@UADMIN>)" in listing
    await ring.command("dial remove 098", user=ADMIN)
    assert "default applies again" in await wait_reply(ring, 4)
    await ring.command("call 0987654321", user=AN)
    assert "AntBuddy dials" in await wait_reply(ring, 5)

    def announced() -> list[str]:  # the link made above was announced there too
        return [p.body["text"] for p in ring.slack.posts("C0ADMINS") if ":telephone_receiver:" in p.body["text"]]

    await ring.slack.wait_for(lambda: len(announced()) >= 2, 5)
    assert announced() == [
        ":telephone_receiver: <@UADMIN>: Call back won't dial numbers starting `098` any more.",
        ":telephone_receiver: <@UADMIN>: Removed the rule for numbers starting `098`; the default applies again.",
    ]
    assert [r["detail"] for r in reversed(ring.deps.store.audit(action="dial_rule"))] == ["deny 098", "remove 098"]


@pytest.mark.parametrize("text", ["dial allow", "dial open +44", "dial allow <!channel>", "dial allow UK"])
async def test_a_bad_dial_rule_gets_the_usage_line_and_changes_nothing(ring, text: str) -> None:
    await ring.command(text, user=ADMIN)
    reply = await wait_reply(ring, 1)
    assert "Usage: `/ring dial`" in reply and "<!channel>" not in reply
    assert ring.deps.store.dial_rules() == []
