"""Renderers for /ring answers and App Home: readable lines, and Slack's block/character limits kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.antbuddy import Agent, AgentStatus, Dashboard, QueueSummary
from bot.slack.blocks import SECTION_LIMIT, packed_sections
from bot.slack.format import duration, message_link
from bot.slack.ids import ACTION_MORE, ACTION_PLAY_RECORDING
from bot.slack.render.answers import (
    history_row,
    render_agents,
    render_help,
    render_history,
    render_missed,
    render_routes,
)
from bot.slack.render.home import render_home
from bot.slack.text import say

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
HELP = [
    (name, say("help.queues_live" if name == "queues" else f"help.{name}"))
    for name in ("agents", "queues", "history", "missed", "call", "link", "routes", "route")
]
NOW = datetime(2024, 3, 12, 3, 0, tzinfo=UTC)  # 10:00 local
T0 = NOW.timestamp()


def texts(message):
    out = []
    for b in message["blocks"]:
        if b["type"] in ("section", "header"):
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out += [e["text"] for e in b["elements"]]
    return "\n".join(out)


def call(i=0, **kw):
    row = {
        "call_id": f"c{i}",
        "direction": "inbound",
        "outcome": "missed",
        "customer_number": "0987654321",
        "customer_key": "+84987654321",
        "started_at": T0 - 60 * i,
        "ring_seconds": 25,
        "talk_seconds": 0,
        "agents_rung": ["101"],
        "answered_by": None,
        "recording": None,
    }
    row.update(kw)
    return row


def test_help_lists_every_subcommand():
    text = texts(render_help(HELP))
    for sub in ("agents", "queues", "history", "missed", "call", "link", "route", "routes", "share"):
        assert sub in text


def test_agents_counts_on_one_line_then_each_agent_sorted_by_state():
    dash = Dashboard(
        agent_counts={"ready": 1, "connected": 1, "logged_out": 1},
        agents=(
            AgentStatus("a2", "binh", "Trần Thị Bình", "connected", NOW - timedelta(minutes=3), ("102",)),
            AgentStatus("a1", "an", "Nguyễn Văn An", "ready", NOW - timedelta(minutes=12), ()),
        ),
        queues=(),
    )
    agents = [Agent("a1", "an", "Nguyễn Văn An", ("101",)), Agent("a3", "hoa", "Võ Thị Hoa", ("106",))]
    msg = render_agents(dash, now=NOW, directory_agents=agents)
    lines = texts(msg).splitlines()
    assert "ready *1*" in lines[0] and "connected *1*" in lines[0]
    assert lines[1].endswith("Nguyễn Văn An (101) — ready for 12m")
    assert "Trần Thị Bình (102) — connected for 3m" in lines[2]
    assert "Võ Thị Hoa (106) — logged out" in lines[3]  # listed agent without a status is logged out


def test_history_row_reads_well():
    row = call(0, outcome="answered", answered_by="user_an101", talk_seconds=134, direction="inbound")
    line = history_row(row, tz=HCM, now=NOW)
    assert line == "`10:00` ↙ *0987 654 321* · user_an101 · :white_check_mark: answered 2m 14s"
    missed = history_row(call(0), tz=HCM, now=NOW, callback={"slack_user": "UAN", "at": T0 + 5})
    assert ":x: missed (rang 25 s)" in missed and "called back by <@UAN>" in missed
    out = history_row(
        call(0, direction="outbound", outcome="outbound_unanswered", started_at=T0 - 86400), tz=HCM, now=NOW
    )
    assert out.startswith("`yesterday 10:00` ↗")
    named = history_row(call(0, agents_rung=["101", "102"]), tz=HCM, now=NOW, agent_name={"101": "Nguyễn Văn An"}.get)
    assert "· Nguyễn Văn An, 102 ·" in named


def test_history_has_recording_buttons_and_more_within_50_blocks():
    rows = [call(i, recording="rec.mp3" if i % 2 else None) for i in range(20)]
    msg = render_history(rows, title="Calls", tz=HCM, now=NOW, more='{"o":20}')
    assert len(msg["blocks"]) <= 50
    buttons = [b["accessory"] for b in msg["blocks"] if "accessory" in b]
    assert len(buttons) == 10 and all(b["action_id"] == ACTION_PLAY_RECORDING for b in buttons)
    assert buttons[0]["value"] == "c1"
    assert msg["blocks"][-1]["elements"][0]["action_id"] == ACTION_MORE


def test_missed_links_to_the_alert_message_and_counts_repeats():
    alerts = [
        {
            "id": 1,
            "call_id": "c1",
            "customer_number": "0912345678",
            "outcome": "abandoned",
            "channel": "C1",
            "ts": "1700000000.000100",
            "created_at": T0 - 600,
            "repeat_count": 3,
            "status": "calling_back",
            "claimed_by": "UAN",
        }
    ]
    text = texts(render_missed(alerts, tz=HCM, now=NOW, calls={"c1": {"queue_id": "q1"}}, queue_names={"q1": "CSKH"}))
    assert "0912 345 678" in text and "×3" in text and "CSKH" in text and "<@UAN> is calling back" in text
    assert "<https://slack.com/archives/C1/p1700000000000100|open alert>" in text
    own = texts(render_missed(alerts, tz=HCM, now=NOW, workspace_url="https://acme.slack.com/"))
    assert "<https://acme.slack.com/archives/C1/p1700000000000100|open alert>" in own
    assert "No open missed calls" in texts(render_missed([], tz=HCM, now=NOW))


def test_routes_show_names_and_the_configured_default():
    routes = [{"key": "queue:q1", "channel": "C1", "set_by": "UADMIN"}, {"key": "did:+842873019555", "channel": "C2"}]
    text = texts(render_routes(routes, default_channel="C0ALERTS", queue_names={"q1": "CSKH"}))
    assert "queue *CSKH* → <#C1>" in text and "DID *028 7301 9555* → <#C2>" in text
    assert "*default* → <#C0ALERTS> (RINGBOT_ALERT_CHANNEL)" in text


def test_long_lists_are_packed_within_limits():
    blocks = packed_sections([f"line {i} " + "x" * 200 for i in range(2000)], max_blocks=10)
    assert len(blocks) == 10
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in blocks)
    assert "more" in blocks[-1]["text"]["text"]


def test_durations():
    assert [duration(s) for s in (5, 60, 134, 3900, 90000)] == ["5 s", "1m", "2m 14s", "1h 05m", "1d 1h"]
    assert [duration(s, precise=False) for s in (45, 754, 11100)] == ["45 s", "12m", "3h 05m"]
    assert message_link("C1", None) is None


def test_home_not_linked_and_antbuddy_failure_are_said():
    view = render_home(
        sip_user=None,
        alerts=[],
        open_total=0,
        calls={},
        dashboard=None,
        queue_error="AntBuddy is busy",
        queue_names={},
        tz=HCM,
        now=NOW,
    )
    text = texts(view)
    assert view["type"] == "home" and "not linked" in text and "/ring link" in text and "AntBuddy is busy" in text


def test_home_stays_within_100_blocks_with_many_alerts_and_queues():
    alerts = [
        {
            "id": i,
            "call_id": f"c{i}",
            "customer_number": "0987654321",
            "outcome": "missed",
            "channel": "C1",
            "ts": f"{1700000000 + i}.000100",
            "created_at": T0,
            "repeat_count": 1,
            "status": "open",
        }
        for i in range(200)
    ]
    dash = Dashboard({"ready": 1}, (), tuple(QueueSummary(f"q{i}", f"Q{i}") for i in range(60)))
    view = render_home(
        sip_user="user_an101",
        alerts=alerts,
        open_total=200,
        calls={},
        dashboard=dash,
        queue_error=None,
        queue_names={},
        tz=HCM,
        now=NOW,
    )
    assert len(view["blocks"]) <= 100
    assert "`user_an101`" in texts(view)
    assert len(json.dumps(view)) < 250_000
