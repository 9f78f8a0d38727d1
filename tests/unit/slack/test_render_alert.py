"""Snapshot-style tests of the alert renderer: exact key lines, buttons by state, Block Kit limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.slack.format import duration
from bot.slack.ids import (
    ACTION_CALLBACK,
    ACTION_HANDLED,
    ACTION_HISTORY,
    ACTION_REASSIGN,
    ACTION_TAKE,
    ACTION_UNHANDLE,
)
from bot.slack.render.alert import (
    describe_cause,
    render_alert,
    render_burst_summary,
    render_repeat_reply,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 11, 24, 7, 5, tzinfo=UTC).timestamp()  # 14:05 Tue 24 Nov in Hanoi


def make_alert(**kw):
    alert = {
        "id": 7,
        "call_id": "c1",
        "customer_number": "+84987654321",
        "customer_key": "+84987654321",
        "outcome": "missed",
        "channel": "C0CALLS",
        "status": "open",
        "repeat_count": 1,
        "version": 1,
        "last_call_at": T0,
        "created_at": T0,
        "resolved_detail": {},
    }
    alert.update(kw)
    return alert


def make_call(**kw):
    call = {
        "call_id": "c1",
        "direction": "inbound",
        "outcome": "missed",
        "customer_number": "+84987654321",
        "dialled": "02873019555",
        "queue_id": None,
        "started_at": T0,
        "ring_seconds": 25,
        "hangup_cause": "ORIGINATOR_CANCEL",
        "agents_rung": ["an", "binh"],
        "detail": {},
    }
    call.update(kw)
    return call


def validate(blocks):
    """Every block parses as a slack_sdk model and passes its client-side limit checks."""
    assert len(blocks) <= 50
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()
        assert block.to_dict()["type"] == raw["type"]


def texts(blocks):
    out = []
    for b in blocks:
        if b["type"] == "section":
            out.append(b["text"]["text"])
        elif b["type"] == "context":
            out.extend(e["text"] for e in b["elements"])
    return out


def buttons(blocks):
    actions = [b for b in blocks if b["type"] == "actions"]
    assert len(actions) == 1
    return [(e["action_id"], e["text"]["text"], e["value"], e.get("style")) for e in actions[0]["elements"]]


def test_missed_call_renders_number_both_ways_dialled_duration_time_cause_and_agents():
    text, blocks = render_alert(make_alert(calls_24h=1), make_call(), queue_name=None, tz=TZ, now=T0)
    validate(blocks)
    assert text == "Missed call from 0987 654 321 to 028 7301 9555"
    assert blocks[0] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": ":red_circle: *Missed call* from *0987 654 321*  `+84987654321`",
            "verbatim": True,
        },
    }
    assert blocks[1]["text"]["text"] == (
        "*Dialled:* 028 7301 9555\n"
        "*When:* 14:05, Tue 24 Nov, rang 25 s\n"
        "*Why:* caller hung up before anyone answered\n"
        "*Agents rung:* an, binh"
    )
    assert texts(blocks)[2] == "1 call from this number in the last 24 h"
    assert buttons(blocks) == [
        (ACTION_CALLBACK, "Call back", "7", "primary"),
        (ACTION_TAKE, "I'll take it", "7", None),
        (ACTION_HANDLED, "Mark handled", "7", None),
        (ACTION_HISTORY, "History", "7", None),
        (ACTION_REASSIGN, "Reassign", "7", None),
    ]


def test_abandoned_call_names_the_queue_and_says_waited_and_why_from_history():
    call = make_call(
        outcome="abandoned",
        queue_id="q_cskh_01",
        ring_seconds=30,
        hangup_cause="NORMAL_CLEARING",
        agents_rung=[],
        detail={
            "queue_stat": {
                "wait_time": 47,
                "end_call_reason": "member_timeout",
                "misses": [{"agent_id": "a1"}, {"agent_id": "a2"}],
            }
        },
    )
    text, blocks = render_alert(
        make_alert(outcome="abandoned"),
        call,
        queue_name="CSKH",
        tz=TZ,
        now=T0,
        agent_name={"a1": "an", "a2": "binh"}.get,
    )
    validate(blocks)
    assert blocks[0]["text"]["text"].startswith(":red_circle: *Abandoned in queue CSKH* from")
    lines = blocks[1]["text"]["text"].split("\n")
    assert "*When:* 14:05, Tue 24 Nov, waited 47 s" in lines
    assert "*Why:* queue timed out" in lines
    assert "*Agents rung:* an, binh" in lines
    assert "q_cskh_01" not in json.dumps(blocks)  # the name, never the id, when the name is known
    assert text.startswith("Abandoned in queue CSKH from 0987 654 321")


def test_abandoned_call_with_unknown_queue_name_falls_back_to_queue_id():
    call = make_call(outcome="abandoned", queue_id="q9", hangup_cause="NORMAL_CLEARING")
    _, blocks = render_alert(make_alert(outcome="abandoned"), call, queue_name=None, tz=TZ, now=T0)
    assert "*Abandoned in queue queue q9*" in blocks[0]["text"]["text"]
    assert "*Why:* caller hung up while waiting" in blocks[1]["text"]["text"]


def test_repeat_and_24h_count_share_the_context_line():
    alert = make_alert(repeat_count=4, last_call_at=T0 + 240, calls_24h=5)
    _, blocks = render_alert(alert, make_call(), queue_name=None, tz=TZ, now=T0)
    assert texts(blocks)[2] == "5 calls from this number in the last 24 h · Called again ×3, last at 14:09"


def test_calling_back_state_mentions_the_slack_user():
    alert = make_alert(status="calling_back", claimed_by="U0AN", version=2)
    text, blocks = render_alert(alert, make_call(), queue_name=None, tz=TZ, now=T0)
    validate(blocks)
    assert ":telephone_receiver: <@U0AN> is calling back…" in texts(blocks)
    assert [b[0] for b in buttons(blocks)] == [
        ACTION_CALLBACK,
        ACTION_TAKE,
        ACTION_HANDLED,
        ACTION_HISTORY,
        ACTION_REASSIGN,
    ]
    assert "<@U0AN> is calling back…" in text


def test_handled_state_offers_undo_instead_of_mark_handled():
    alert = make_alert(status="handled", handled_by="U0AN")
    _, blocks = render_alert(alert, make_call(), queue_name=None, tz=TZ, now=T0)
    validate(blocks)
    assert ":ballot_box_with_check: Handled by <@U0AN>" in texts(blocks)
    assert [b[:2] for b in buttons(blocks)] == [
        (ACTION_CALLBACK, "Call back"),
        (ACTION_UNHANDLE, "Undo"),
        (ACTION_HISTORY, "History"),
    ]


@pytest.mark.parametrize(
    "detail, line",
    [
        (
            {"direction": "outbound", "talk_seconds": 134, "agent": "an", "slack_user": "U0AN"},
            ":white_check_mark: Resolved: customer reached by <@U0AN> (2m 14s)",
        ),
        (
            {"direction": "inbound", "talk_seconds": 65, "agent": "an"},
            ":white_check_mark: Resolved: customer called back and reached an (1m 05s)",
        ),
        ({"direction": "outbound", "talk_seconds": 30}, ":white_check_mark: Resolved: customer reached (30 s)"),
    ],
)
def test_resolved_state_says_how_and_keeps_only_history_button(detail, line):
    alert = make_alert(status="resolved", resolved_detail=detail, resolved_by=detail.get("agent"))
    _, blocks = render_alert(alert, make_call(), queue_name=None, tz=TZ, now=T0)
    validate(blocks)
    assert line in texts(blocks)
    assert buttons(blocks) == [(ACTION_HISTORY, "History", "7", None)]


def test_block_id_changes_with_the_alert_version():
    _, v1 = render_alert(make_alert(version=1), make_call(), queue_name=None, tz=TZ, now=T0)
    _, v2 = render_alert(make_alert(version=2), make_call(), queue_name=None, tz=TZ, now=T0)
    assert v1[-1]["block_id"] != v2[-1]["block_id"]


@pytest.mark.parametrize(
    "cause, outcome, words",
    [
        ("ORIGINATOR_CANCEL", "missed", "caller hung up before anyone answered"),
        ("NO_ANSWER", "missed", "nobody answered"),
        ("USER_BUSY", "missed", "line busy"),
        ("CALL_REJECTED", "missed", "declined"),
        ("NORMAL_CLEARING", "abandoned", "caller hung up while waiting"),
        ("member_timeout", "abandoned", "queue timed out"),
        ("member_exit", "abandoned", "caller left the queue"),
        ("CANCELLED", "missed", "caller hung up before anyone answered"),
        ("SOME_NEW_CAUSE", "missed", "some new cause"),
    ],
)
def test_hangup_causes_in_plain_words(cause, outcome, words):
    assert describe_cause(cause, outcome=outcome) == words


def test_durations_read_naturally():
    assert [duration(s) for s in (0, 25, 60, 134, 3720)] == ["0 s", "25 s", "1m", "2m 14s", "1h 02m"]


def test_an_extension_and_an_unknown_caller_still_render():
    call = make_call(dialled="101", customer_number="", agents_rung=[])
    text, blocks = render_alert(make_alert(customer_number=""), call, queue_name=None, tz=TZ, now=T0)
    validate(blocks)
    assert "*Dialled:* ext. 101" in blocks[1]["text"]["text"]
    assert "an unknown number" in text


def test_alert_without_its_call_row_still_renders():
    _, blocks = render_alert(make_alert(), None, queue_name=None, tz=TZ, now=T0)
    validate(blocks)


def test_many_agents_and_long_names_stay_within_block_kit_limits():
    call = make_call(agents_rung=[f"agent-{i}-" + "x" * 500 for i in range(40)], hangup_cause="Z" * 5000)
    _, blocks = render_alert(make_alert(calls_24h=999, repeat_count=500), call, queue_name="Q" * 4000, tz=TZ, now=T0)
    validate(blocks)
    assert all(len(t) <= 3000 for t in texts(blocks))
    assert "+32 more" in blocks[1]["text"]["text"]


@settings(max_examples=60, deadline=None)
@given(
    number=st.text(max_size=40),
    dialled=st.one_of(st.none(), st.text(max_size=30)),
    cause=st.one_of(st.none(), st.text(max_size=60)),
    status=st.sampled_from(["open", "calling_back", "handled", "resolved"]),
    ring=st.integers(min_value=0, max_value=10**6),
)
def test_any_input_renders_valid_blocks(number, dialled, cause, status, ring):
    alert = make_alert(
        customer_number=number,
        status=status,
        claimed_by="U1",
        handled_by="U2",
        resolved_detail={"direction": "inbound", "talk_seconds": ring},
    )
    call = make_call(customer_number=number, dialled=dialled, hangup_cause=cause, ring_seconds=ring)
    text, blocks = render_alert(alert, call, queue_name=None, tz=TZ, now=T0)
    assert text
    validate(blocks)


def test_burst_summary_counts_and_spans_the_burst():
    text, blocks = render_burst_summary(12, T0, T0 + 240, TZ)
    validate(blocks)
    assert text == "12 missed calls between 14:05 and 14:09"
    assert blocks[0]["text"]["text"] == (
        ":rotating_light: *12 missed calls* between 14:05 and 14:09; each one is in this thread."
    )


def test_repeat_reply_says_when_and_how_long():
    reply = render_repeat_reply(make_call(started_at=T0 + 240, ring_seconds=12, hangup_cause="NO_ANSWER"), TZ)
    assert reply == "Called again at 14:09 (rang 12 s, nobody answered)"
