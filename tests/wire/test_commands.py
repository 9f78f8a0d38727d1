"""`/ring` through real signed HTTP into the bot, answers read from the fake Slack's response_url log, AntBuddy
played by the simulator (faults injected through its control API)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from bot.devtools.fakeslack import slash_command_body
from bot.devtools.simulator.directory import QUEUES
from bot.slack.ids import ACTION_HISTORY, ACTION_MORE, ACTION_PLAY_RECORDING
from tests.support.waiting import eventually

DEADLINE = 5.0
ACK_BUDGET = 1.0  # generous for CI; bench/ack.py measures the real figure (target < 100 ms)
CSKH = QUEUES[0].queue_id


def body_text(body: dict[str, Any]) -> str:
    """The fallback text and every section/context text of a response body."""
    parts = [body.get("text") or ""]
    for b in body.get("blocks") or []:
        if b.get("type") in ("section", "header"):
            parts.append(b["text"]["text"])
        elif b.get("type") == "context":
            parts += [e.get("text", "") for e in b["elements"]]
    return "\n".join(parts)


async def ask(ring: Any, text: str, *, user: str = "U0AGENT", timeout: float = DEADLINE) -> dict[str, Any]:
    """Send `/ring <text>`; check the ack was an empty 200; return the next response_url body."""
    before = len(ring.responses())
    resp = await ring.command(text, user=user)
    assert resp.status_code == 200, resp.text
    await eventually(lambda: len(ring.responses()) > before, f"an answer to /ring {text}", timeout)
    return ring.responses()[before]


async def click(ring: Any, action_id: str, value: str, *, user: str = "U0AGENT") -> dict[str, Any]:
    before = len(ring.responses())
    resp = await ring.action(action_id, value, user=user)
    assert resp.status_code == 200, resp.text
    await eventually(lambda: len(ring.responses()) > before, f"an answer to {action_id}")
    return ring.responses()[before]


def add_call(store: Any, call_id: str, *, minutes_ago: float = 1, **kw: Any) -> None:
    row = {
        "call_id": call_id,
        "direction": "inbound",
        "outcome": "missed",
        "customer_number": "0987654321",
        "customer_key": "+84987654321",
        "dialled": "02873019555",
        "queue_id": None,
        "started_at": time.time() - 60 * minutes_ago,
        "ring_seconds": 20,
        "talk_seconds": 0,
    }
    row.update(kw)
    assert store.insert_call(row)


async def sim_faults(ring: Any, **body: Any) -> None:
    resp = await ring.http.post(f"{ring.sim.url}/_sim/faults", json=body)
    assert resp.status_code == 200, resp.text


# -- help, unknown, usage --------------------------------------------------------------------------
async def test_ring_alone_lists_the_subcommands_ephemerally(bot_http):
    body = await ask(bot_http, "")
    assert body["response_type"] == "ephemeral"
    text = body_text(body)
    for sub in ("agents", "queues", "history", "missed", "call &lt;number&gt;", "routes"):
        assert sub in text


async def test_unknown_subcommand_gets_a_one_line_hint(bot_http):
    body = await ask(bot_http, "frobnicate")
    assert body["response_type"] == "ephemeral"
    assert body["text"] == "I don't know `/ring frobnicate`. Try `/ring help` for the list."


@pytest.mark.parametrize(
    "text,expected",
    [
        ("history banana", "Usage: `/ring history"),
        ("history 90d", "out of range"),
        ("history @an", "@ menu"),
        ("agents now", "Usage: `/ring agents"),
        ("route CSKH", "Usage: `/ring route"),
    ],
)
async def test_bad_arguments_get_the_usage_line_never_a_traceback(bot_http, text, expected):
    body = await ask(bot_http, text)
    assert body["response_type"] == "ephemeral"
    assert expected in body["text"]
    assert "Traceback" not in body["text"] and "Error" not in body["text"]


# -- signatures ----------------------------------------------------------------------------------------
async def test_forged_signature_is_refused_with_401(bot_http):
    body = slash_command_body("agents", response_url=bot_http.slack.response_url("forged"))
    resp = await bot_http.post(body, secret="not-the-signing-secret")
    assert resp.status_code == 401
    await asyncio.sleep(0.2)  # a window in which a wrongly served command would have answered
    assert bot_http.responses() == []


async def test_replay_older_than_five_minutes_is_refused_with_401(bot_http):
    resp = await bot_http.command("agents", timestamp=int(time.time()) - 6 * 60)
    assert resp.status_code == 401


# -- agents, queues --------------------------------------------------------------------------------
async def test_agents_shows_counts_then_each_agent_with_extension_and_time_in_state(bot_http):
    text = body_text(await ask(bot_http, "agents"))
    assert "ready *2*" in text
    assert "Nguyễn Văn An (101) — ready for " in text
    assert "Võ Thị Hoa (106) — logged out" in text  # not in the dashboard's list: logged out
    assert text.index("Nguyễn Văn An") < text.index("Lê Văn Cường") < text.index("Võ Thị Hoa")  # by state


async def test_queues_share_posts_in_channel_with_live_and_own_figures_by_name(bot_http):
    add_call(bot_http.deps.store, "q-1", queue_id=CSKH, outcome="abandoned", ring_seconds=40)
    add_call(bot_http.deps.store, "q-2", queue_id=CSKH, outcome="answered", ring_seconds=10, talk_seconds=90)
    body = await ask(bot_http, "queues share")
    assert body["response_type"] == "in_channel"
    text = body_text(body)
    # every queue AntBuddy lists, with its members and today's figures from ringbot's own records
    assert "*CSKH* — 0 waiting now" in text and "Today: 2 offered · 1 answered · 1 abandoned · 0 missed" in text
    assert "answer rate 50%" in text and "service level 50% (≤ 20 s)" in text and "wait avg 25 s / max 40 s" in text
    assert "*Kinh doanh* — 0 waiting now" in text and "*Kỹ thuật* — 0 waiting now" in text


# -- AntBuddy slow or down: a fast ack and a clear line ---------------------------------------------------
async def test_antbuddy_answering_500_gives_a_clear_line_and_the_ack_stays_fast(bot_http):
    await sim_faults(bot_http, count=-1, status=500)
    started = time.monotonic()
    resp = await bot_http.command("agents")
    ack_seconds = time.monotonic() - started
    assert resp.status_code == 200 and ack_seconds < ACK_BUDGET
    await eventually(lambda: bot_http.responses(), "the failure line", timeout=8)
    body = bot_http.responses()[0]
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("AntBuddy ")  # "...answered HTTP 500" or "...did not answer within"
    assert "try again" in body["text"]


async def test_antbuddy_taking_10_s_gives_the_slow_line_and_the_ack_stays_fast(bot_http):
    bot_http.deps.directory.timeout = 1.0  # the production 5 s, shortened to keep the suite quick
    await sim_faults(bot_http, count=1, delay=10)
    started = time.monotonic()
    resp = await bot_http.command("queues")
    assert resp.status_code == 200 and time.monotonic() - started < ACK_BUDGET
    await eventually(lambda: bot_http.responses(), "the slow line", timeout=4)
    text = body_text(bot_http.responses()[0])
    assert "AntBuddy did not answer within 1 s; try again in a moment." in text
    await bot_http.deps.directory.aclose()  # let the simulator stop without waiting out its 10 s


# -- history, recordings, More ------------------------------------------------------------------------
async def test_history_of_one_caller_in_any_spelling_newest_first_with_recording_button(bot_http):
    store = bot_http.deps.store
    add_call(
        store,
        "h-old",
        minutes_ago=30,
        outcome="answered",
        answered_by="user_an101",
        talk_seconds=134,
        recording="rec-h-old.mp3",
    )
    add_call(store, "h-new", minutes_ago=5)
    add_call(store, "other", minutes_ago=3, customer_number="0912345678", customer_key="+84912345678")
    for spelling in ("0987 654 321", "+84987654321"):
        body = await ask(bot_http, f"history {spelling}")
        text = body_text(body)
        assert "0912 345 678" not in text
        assert text.index(":x: missed (rang 20 s)") < text.index("user_an101 · :white_check_mark: answered 2m 14s")
        buttons = [b["accessory"] for b in body["blocks"] if "accessory" in b]
        assert [(b["action_id"], b["value"]) for b in buttons] == [(ACTION_PLAY_RECORDING, "h-old")]


async def test_history_shows_who_called_back_a_missed_caller(bot_http):
    store = bot_http.deps.store
    add_call(store, "cb-1", minutes_ago=10)
    store.add_audit("click_to_call", "ok", slack_user="UAN", sip_user="user_an101", number="0987654321")
    text = body_text(await ask(bot_http, "history 0987654321 missed"))
    assert "called back by <@UAN>" in text and "missed only" in text


async def test_play_recording_fetches_the_signed_url_only_when_clicked(bot_http):
    bot_http.sim.recordings.add("rec-1.mp3")
    add_call(bot_http.deps.store, "rec-call", recording="rec-1.mp3")
    before = bot_http.sim.rest_requests
    await ask(bot_http, "history 0987654321")
    assert bot_http.sim.rest_requests == before  # listing history costs AntBuddy nothing
    body = await click(bot_http, ACTION_PLAY_RECORDING, "rec-call")
    assert body["response_type"] == "ephemeral" and body["replace_original"] is False
    assert "▶ Play the recording" in body["text"] and "Expires=" in body["text"]


async def test_history_pages_with_more(bot_http):
    for i in range(25):
        add_call(bot_http.deps.store, f"p-{i:02d}", minutes_ago=i + 1)
    first = await ask(bot_http, "history 24h")
    more = first["blocks"][-1]["elements"][0]
    assert more["action_id"] == ACTION_MORE and json.loads(more["value"])["o"] == 20
    assert len(first["blocks"]) == 22  # title + 20 rows + More
    second = await click(bot_http, ACTION_MORE, more["value"])
    assert "(from #21)" in body_text(second)
    assert len([b for b in second["blocks"] if b["type"] == "section"]) == 1 + 5
    assert second["blocks"][-1]["type"] != "actions"  # last page: no More


async def test_history_of_a_person_uses_their_linked_sip_user(bot_http):
    store = bot_http.deps.store
    store.save_link("UAN", "user_an101", "encrypted-not-a-password")
    add_call(store, "an-1", outcome="answered", answered_by="user_an101", talk_seconds=30)
    add_call(
        store,
        "binh-1",
        outcome="answered",
        answered_by="user_binh102",
        talk_seconds=30,
        customer_number="0912345678",
        customer_key="+84912345678",
    )
    text = body_text(await ask(bot_http, "history <@UAN|an> today"))
    assert "0987 654 321" in text and "0912 345 678" not in text
    unlinked = await ask(bot_http, "history <@UNOBODY>")
    assert "has not linked a SIP phone" in unlinked["text"]


async def test_history_button_on_an_alert_shows_that_callers_calls(bot_http):
    store = bot_http.deps.store
    add_call(store, "al-1")
    alert_id = store.create_alert(
        {
            "call_id": "al-1",
            "customer_number": "0987654321",
            "customer_key": "+84987654321",
            "outcome": "missed",
            "channel": "C0ALERTS",
        }
    )
    body = await click(bot_http, ACTION_HISTORY, str(alert_id))
    assert body["replace_original"] is False and "0987 654 321" in body_text(body)
    assert "no longer exists" in (await click(bot_http, ACTION_HISTORY, "999999"))["text"]


# -- missed ---------------------------------------------------------------------------------------------
async def test_missed_lists_open_alerts_oldest_first_with_links(bot_http):
    store = bot_http.deps.store
    add_call(store, "m-1", queue_id=CSKH, outcome="abandoned")
    add_call(store, "m-2", customer_number="0912345678", customer_key="+84912345678")
    a1 = store.create_alert(
        {
            "call_id": "m-1",
            "customer_number": "0987654321",
            "customer_key": "+84987654321",
            "outcome": "abandoned",
            "channel": "C0ALERTS",
            "ts": "1700000000.000100",
        }
    )
    store.create_alert(
        {
            "call_id": "m-2",
            "customer_number": "0912345678",
            "customer_key": "+84912345678",
            "outcome": "missed",
            "channel": "C0ALERTS",
        }
    )
    store.update_alert(a1, created_at=time.time() - 600)
    await ask(bot_http, "queues")  # the queue names are now known
    text = body_text(await ask(bot_http, "missed"))
    assert "Open missed calls: 2" in text
    assert text.index("0987 654 321") < text.index("0912 345 678")
    assert "CSKH" in text and "<https://slack.com/archives/C0ALERTS/p1700000000000100|open alert>" in text


# -- routes -----------------------------------------------------------------------------------------------
async def test_route_by_a_non_admin_is_refused_and_audited(bot_http):
    body = await ask(bot_http, "route CSKH <#C0CSKH01|cskh>", user="U0AGENT")
    assert "Only admins" in body["text"]
    assert bot_http.deps.store.routes() == []
    assert bot_http.deps.store.audit(action="route")[0]["result"] == "refused"


async def test_route_by_an_admin_is_stored_audited_and_listed(bot_http):
    store = bot_http.deps.store
    body = await ask(bot_http, "route cskh <#C0CSKH01|cskh>", user="UADMIN")
    assert body["text"] == "Alerts for queue CSKH now go to <#C0CSKH01>."
    assert store.route_for(queue_id=CSKH, did_key=None) == "C0CSKH01"
    await ask(bot_http, "route 028 7301 9555 C0HOTLINE", user="UADMIN")
    assert store.route_for(queue_id=None, did_key="+842873019555") == "C0HOTLINE"
    audit = store.audit(action="route")
    assert [a["result"] for a in audit] == ["ok", "ok"] and audit[0]["slack_user"] == "UADMIN"
    text = body_text(await ask(bot_http, "routes"))
    assert "queue *CSKH* → <#C0CSKH01>" in text and "DID *028 7301 9555* → <#C0HOTLINE>" in text
    assert "*default* → <#C0ALERTS> (RINGBOT_ALERT_CHANNEL)" in text


async def test_route_off_removes_it_and_alerts_fall_back(bot_http):
    store = bot_http.deps.store
    await ask(bot_http, "route CSKH <#C0CSKH01|cskh>", user="UADMIN")
    body = await ask(bot_http, "route CSKH off", user="UADMIN")
    assert body["text"].startswith("Alerts for queue CSKH follow the next rule again")
    assert store.route_for(queue_id=CSKH, did_key=None) is None
    body = await ask(bot_http, "route CSKH off", user="UADMIN")
    assert "nothing changed" in body["text"]
    assert [a["result"] for a in store.audit(action="route")] == ["noop", "ok", "ok"]


async def test_route_to_an_unknown_queue_names_the_real_ones(bot_http):
    body = await ask(bot_http, "route Sales <#C0SALES1>", user="UADMIN")
    assert "no queue called `Sales`" in body["text"] and "`Kinh doanh`" in body["text"]
    assert bot_http.deps.store.routes() == []


async def test_a_route_and_its_settings_name_targets_by_the_same_rules(bot_http):
    for text in ("route Sales <#C0SALES1>", "route Sales escalate 4", "route Sales settings"):
        body = await ask(bot_http, text, user="UADMIN")
        assert "no queue called `Sales`" in body["text"] and "`Kinh doanh`" in body["text"], text
    for text in ("route 12 <#C0HOT0001>", "route 12 escalate 4"):
        body = await ask(bot_http, text, user="UADMIN")
        assert "`12` is not a phone number I can route by" in body["text"], text
    body = await ask(bot_http, "route KINH DOANH escalate 4", user="UADMIN")
    assert body["text"].startswith("Saved for queue Kinh doanh.")
    body = await ask(bot_http, "route (028) 7301-9555 settings", user="U0AGENT")
    assert body["text"].startswith("*calls to 028 7301 9555*")
    assert bot_http.deps.store.routes() == []


# -- delegated sub-commands --------------------------------------------------------------------------------
async def test_me_is_answered_by_the_callback_piece(bot_http):
    body = await ask(bot_http, "me")
    assert "not available yet" not in body["text"]
