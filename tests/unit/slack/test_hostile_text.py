"""Hostile text is inert everywhere Slack renders: every message kind is rendered with hostile values in every
field we did not write (caller numbers, queue, agent and SIP user names, hangup causes, AntBuddy's states,
typed arguments, forged button values), and the whole payload is walked, the `text` fallback included
(what counts as live: tests/support/hostile.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.antbuddy import Agent, AgentStatus, Dashboard, QueueSummary
from bot.callback.dialer import DialKind, DialResult
from bot.slack.blocks import escape, one_line, packed_sections, section
from bot.slack.format import channel_mention, mention
from bot.slack.i18n import speaking
from bot.slack.render.alert import (
    caller_text,
    render_alert,
    render_alert_plain,
    render_burst_summary,
    render_repeat_reply,
)
from bot.slack.render.answers import (
    render_agents,
    render_help,
    render_history,
    render_missed,
    render_routes,
)
from bot.slack.render.home import render_home
from bot.slack.render.link import LinkForm, field_errors, link_modal, me_text, not_linked_blocks
from bot.slack.render.ownership import (
    escalation_dm,
    escalation_reply,
    reassign_modal,
    render_mine,
    render_overnight_digest,
    render_short_hangups,
)
from bot.slack.text import say
from handlers.answers import history_title
from handlers.args import UsageError, parse_history, parse_number, parse_period, parse_route
from handlers.replies import dial_message
from tests.support.hostile import BROADCAST, HOSTILE, PIECES, VALUES, live_sequences, rendered_texts
from tests.unit.slack.hostile_queues import queue_cases

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 7, 5, tzinfo=UTC)
T0 = NOW.timestamp()


# -- the checker itself can fail ------------------------------------------------------------------------------
@pytest.mark.parametrize("piece", [p for p in PIECES if p != ":rotating_light:"])
def test_the_checker_flags_every_hostile_piece_left_as_it_came(piece: str) -> None:
    assert live_sequences({"text": f"from {piece} ok"}), piece


def test_the_checker_passes_our_own_sequences() -> None:
    ours = (
        ":red_circle: *Missed call* from *0987 654 321* `+84987654321` <@U0AN> <#C0CALLS> &amp; "
        "<https://slack.com/archives/C0CALLS/p1700000000000100|open alert>"
    )
    assert live_sequences({"type": "section", "text": {"type": "mrkdwn", "text": ours}}) == []


# -- the fixtures: every field we did not write holds `bad` ------------------------------------------------------
def alert(bad: str, **kw: Any) -> dict[str, Any]:
    row = {
        "id": 7,
        "call_id": "c1",
        "customer_number": bad,
        "customer_key": bad,
        "outcome": "missed",
        "channel": "C0CALLS",
        "ts": "1700000000.000100",
        "status": "open",
        "repeat_count": 3,
        "version": 1,
        "last_call_at": T0,
        "created_at": T0,
        "calls_24h": 4,
        "resolved_detail": {},
    }
    return row | kw


def call(bad: str, **kw: Any) -> dict[str, Any]:
    row = {
        "call_id": "c1",
        "direction": "inbound",
        "outcome": "missed",
        "customer_number": bad,
        "customer_key": bad,
        "dialled": bad,
        "queue_id": bad,
        "started_at": T0,
        "ring_seconds": 25,
        "talk_seconds": 0,
        "hangup_cause": bad,
        "agents_rung": [bad, "an"],
        "answered_by": None,
        "recording": "rec-1.mp3",
        "detail": {"queue_stat": {"end_call_reason": bad, "wait_time": 47, "misses": [{"username": bad}]}},
    }
    return row | kw


def dashboard(bad: str) -> Dashboard:
    return Dashboard(
        agent_counts={bad: 1, "ready": 2},
        agents=(
            AgentStatus("a1", bad, bad, bad, NOW - timedelta(minutes=12), (bad,)),
            AgentStatus("a2", "binh", None, "ready", None, ()),
        ),
        queues=(QueueSummary("q1", bad, offered=3), QueueSummary(bad, None), QueueSummary(None, None)),
    )


@dataclass(frozen=True)
class Link:
    sip_user: str
    linked_at: float | None
    linked_by: str | None
    linked_by_someone_else: bool


def usage_error(parse: Callable[[], object]) -> str:
    with pytest.raises(UsageError) as caught:
        parse()
    return caught.value.message()


def cases(bad: str) -> dict[str, Callable[[], Any]]:
    """Every message kind ringbot renders, named, each with `bad` in every untrusted field."""
    names = {"q1": bad, bad: bad}
    named = {"an": bad}.get
    render = {
        f"alert_{status}_{outcome}": (
            lambda status=status, outcome=outcome, kw=kw: render_alert(
                alert(bad, status=status, outcome=outcome, **kw),
                call(bad, outcome=outcome),
                queue_name=bad if outcome == "abandoned" else None,
                tz=TZ,
                now=T0,
                agent_name=named,
            )
        )
        for outcome in ("missed", "abandoned")
        for status, kw in {
            "open": {},
            "calling_back": {"claimed_by": bad},
            "handled": {"handled_by": bad},
            "resolved_inbound": {"resolved_detail": {"direction": "inbound", "agent": "an", "talk_seconds": 9}},
            "resolved_outbound": {"resolved_detail": {"direction": "outbound", "agent": bad, "talk_seconds": 9}},
            "resolved_by_slack_user": {"resolved_detail": {"direction": "inbound", "slack_user": bad}},
        }.items()
    }
    render |= queue_cases(bad, TZ, T0)  # the queue health kinds (tests/unit/slack/hostile_queues.py)
    return render | {
        "alert_abandoned_queue_id_only": lambda: render_alert(
            alert(bad, outcome="abandoned"), call(bad), queue_name=None, tz=TZ, now=T0
        ),
        "alert_without_its_call": lambda: render_alert(alert(bad), None, queue_name=bad, tz=TZ, now=T0),
        "alert_withheld": lambda: render_alert(
            alert("anonymous"), call("anonymous", dialled=bad), queue_name=bad, tz=TZ, now=T0
        ),
        "alert_plain_after_a_render_failure": lambda: render_alert_plain(alert(bad)),
        "burst_summary": lambda: render_burst_summary(12, T0, T0 + 60, TZ),
        "repeat_reply": lambda: render_repeat_reply(call(bad, started_at=T0 + 240), TZ),
        "help": lambda: render_help([("agents", say("help.agents")), ("call", say("help.call"))]),
        "agents": lambda: render_agents(
            dashboard(bad), now=NOW, directory_agents=[Agent("a9", bad, bad, (bad,)), Agent("a2", "binh", None, ())]
        ),
        "history": lambda: render_history(
            [
                call(bad, outcome="answered", answered_by=bad),
                call(bad, call_id="c2", outcome=bad, agents_rung=[bad, bad, bad, bad, bad]),
                call(bad, call_id="c3"),
            ],
            title=history_title({"p": "7d", "k": bad, "m": True}),
            tz=TZ,
            now=NOW,
            callbacks={bad: {"slack_user": bad, "at": T0 + 1}},
            more='{"q":{},"o":20}',
            agent_name=named,
        ),
        "history_title_of_a_person": lambda: history_title({"p": "today", "w": bad, "a": bad}),
        "history_title_forged": lambda: history_title({"p": bad, "t": bad, "k": bad}),
        "history_title_of_an_old_button": lambda: history_title({"t": bad}),
        "missed": lambda: render_missed(
            [
                alert(bad, id=1, outcome=bad, status="calling_back", claimed_by=bad),
                alert(bad, id=2, call_id="c2", channel=bad, ts=bad),
            ],
            tz=TZ,
            now=NOW,
            calls={"c1": call(bad), "c2": call(bad, call_id="c2", queue_id=None)},
            queue_names=names,
        ),
        "routes": lambda: render_routes(
            [
                {"key": f"queue:{bad}", "channel": bad, "set_by": bad},
                {"key": "queue:q1", "channel": "C1", "set_by": "UADMIN"},
                {"key": f"did:{bad}", "channel": "C2"},
                {"key": bad, "channel": bad},
            ],
            default_channel=bad,
            queue_names=names,
        ),
        "home": lambda: render_home(
            sip_user=bad,
            alerts=[alert(bad)],
            open_total=1,
            calls={"c1": call(bad)},
            dashboard=dashboard(bad),
            queue_error=None,
            queue_names=names,
            tz=TZ,
            now=NOW,
        ),
        "link_modal_for_someone": lambda: link_modal(LinkForm(bad, bad), for_self=False, sip_user=bad),
        "not_linked": lambda: not_linked_blocks(bad),
        "me": lambda: me_text(Link(bad, T0, bad, True), TZ, now=T0),
        "link_field_errors": lambda: field_errors(bad, bad),
        "mention_and_channel": lambda: f"{mention(bad)} {channel_mention(bad)}",
        "usage_history_word": lambda: usage_error(lambda: parse_history(["7d", bad.split()[0] or "x"])),
        "usage_history_person": lambda: usage_error(lambda: parse_history(["@" + bad])),
        "usage_history_period": lambda: usage_error(lambda: parse_period("999d")),
        "usage_route_channel": lambda: usage_error(lambda: parse_route(["CSKH", bad])),
        "usage_call_number": lambda: usage_error(lambda: parse_number(bad)),
        # -- ownership, escalation, overnight digest, /ring mine, the reassign picker
        "alert_owned": lambda: render_alert(
            alert(bad, owner=bad, owned_at=T0), call(bad), queue_name=bad, tz=TZ, now=T0
        ),
        "alert_unowned_badge": lambda: render_alert(
            alert(bad, escalation_step=1, escalated_at=T0 + 900), call(bad), queue_name=bad, tz=TZ, now=T0
        ),
        # A target is a validated id (route_settings.py); anything else is dropped, so only our mention is left.
        "escalation_reply": lambda: escalation_reply([bad, "U0LEAD"], 15, late_minutes=3),
        "escalation_dm": lambda: escalation_dm(alert(bad, channel=bad, ts=bad), escape(bad), 30, workspace_url=bad),
        "overnight_digest": lambda: render_overnight_digest(
            [{"alert": alert(bad), "calls": 2, "last_at": T0, "call": call(bad), "status": "open"}],
            [{"call_id": bad, "customer_number": bad, "started_at": T0, "ring_seconds": 1}],
            tz=TZ,
            now=T0,
            min_ring_seconds=5,
            caller_text=caller_text,
        ),
        "mine": lambda: render_mine([alert(bad, owner=bad)], tz=TZ, now=T0, caller_text=caller_text, workspace_url=bad),
        "short_hangups": lambda: render_short_hangups(
            [{"customer_number": bad, "started_at": T0, "ring_seconds": 2}], tz=TZ, caller_text=caller_text
        ),
        "reassign_modal": lambda: reassign_modal(7, escape(bad), None),
        "home_owned": lambda: render_home(
            owned=[alert(bad, owner=bad)],
            sip_user=bad,
            alerts=[],
            open_total=0,
            calls={},
            dashboard=None,
            queue_error=None,
            queue_names=names,
            tz=TZ,
            now=NOW,
        ),
    }


def test_every_renderer_is_covered() -> None:
    """A renderer added to bot/slack/render/ without a hostile case here fails this test."""
    import bot.slack.render.alert as alert_module
    import bot.slack.render.answers as answers_module
    import bot.slack.render.digest as digest_module
    import bot.slack.render.home as home_module
    import bot.slack.render.link as link_module
    import bot.slack.render.ownership as ownership_module
    import bot.slack.render.queues as queues_module

    modules = (alert_module, answers_module, home_module, link_module, queues_module, digest_module, ownership_module)
    source = "\n".join(Path(m.__file__).read_text(encoding="utf-8") for m in modules if m.__file__)
    public = set(re.findall(r"^def ((?:render|link_modal|me_text|not_linked)\w*)\(", source, re.MULTILINE))
    assert len(public) >= 12, public
    in_cases = Path(__file__).read_text(encoding="utf-8").split("def cases", 1)[1]
    in_cases += (Path(__file__).parent / "hostile_queues.py").read_text(encoding="utf-8")
    assert {name for name in public if f"{name}(" not in in_cases} == set()


@pytest.mark.parametrize("lang", ["en", "vi"])  # the Vietnamese sentences carry the same escaped fields
@pytest.mark.parametrize("value", VALUES, ids=["hostile", "long", "urgent", "here", "surrogate"])
@pytest.mark.parametrize("case", sorted(cases("x")))
def test_hostile_values_render_inert(case: str, value: str, lang: str) -> None:
    with speaking(lang):
        payload = cases(value)[case]()
    assert live_sequences(payload) == []
    json.dumps(payload, ensure_ascii=False).encode("utf-8")  # a lone surrogate would not encode


@pytest.mark.parametrize(
    "case", ["alert_open_missed", "alert_handled_abandoned", "repeat_reply", "agents", "missed", "home", "me"]
)
def test_the_hostile_value_is_still_shown_as_words(case: str) -> None:
    """Inert, not hidden: the person still reads what the caller id or AntBuddy said."""
    shown = " ".join(text for _, text in rendered_texts(cases(HOSTILE)[case]()))
    assert "boldx" in shown.lower() and "click here" in shown


# -- dial answers (handlers/replies.py) --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [k for k in DialKind if k is not DialKind.RATE_LIMITED])  # that one: numbers only
def test_dial_answers_are_inert(kind: DialKind) -> None:
    result = DialResult(kind, number=HOSTILE, sip_user=HOSTILE, detail=HOSTILE)
    assert live_sequences(dial_message(result, max_per_minute=3)) == []


# -- the escaping function ---------------------------------------------------------------------------------
def test_escape_makes_slacks_three_characters_entities_once() -> None:
    assert escape("a & b <!here> c > d") == "a &amp; b &lt;!here&gt; c &gt; d"
    assert escape("&lt;") == "&amp;lt;"  # already-escaped text is shown as typed, not decoded


def test_markers_become_lookalikes_only_where_they_could_format() -> None:
    assert escape("*URGENT*") == "\u2217URGENT\u2217"
    assert escape("_a_ ~b~") == "\u02cda\u02cd \u223cb\u223c"
    assert escape("an_nguyen 2*3 user.name") == "an_nguyen 2*3 user.name"  # between letters Slack ignores them
    assert escape("a`b") == "a\u02cbb"


def test_in_a_code_span_only_a_backtick_is_replaced() -> None:
    assert escape("*x*_y_`z`", code=True) == "*x*_y_\u02cbz\u02cb"


def test_a_value_is_one_line_without_bidi_overrides() -> None:
    assert escape("a\nb\r\n\tc\u2028d") == "a b c d"
    assert escape("\u202eevil\u202c") == "evil"
    assert one_line("x\ud800y") == "x\ufffdy"


def test_broadcast_words_get_a_word_joiner() -> None:
    assert escape("@here @Channel @everyone @hero") == "@\u2060here @\u2060Channel @\u2060everyone @hero"


def test_a_limit_cuts_the_value_before_it_is_escaped() -> None:
    assert escape("<" * 10, limit=4) == "&lt;&lt;&lt;…"


def test_a_clipped_section_never_ends_in_half_an_entity_or_half_a_mention() -> None:
    text = section("x" * 2995 + "&amp;&amp;")["text"]["text"]
    assert text.endswith("x…") and len(text) <= 3000
    text = section("x" * 2990 + " <@U0AN1234>")["text"]["text"]
    assert "<" not in text
    line = packed_sections(["y" * 2958 + "&amp;"], max_blocks=2)[0]["text"]["text"]
    assert not re.search(r"&(?!amp;)", line)


def test_mrkdwn_blocks_turn_nothing_else_into_links() -> None:
    assert section("x")["text"]["verbatim"] is True


@given(st.text(max_size=300))
def test_escape_leaves_no_control_sequence_for_any_text(value: str) -> None:
    for code in (False, True):
        text = escape(value, code=code)
        assert not re.search(r"[<>\n\r\u202a-\u202e\u2066-\u2069\ud800-\udfff`]|&(?!amp;|lt;|gt;)", text)
        assert not BROADCAST.search(text)


# -- a SIP user is never markup ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sip_user", ["<!here>", "a`b", "an@realm", "*x*<y>", "tab\tname"])
def test_the_link_dialog_refuses_a_sip_user_that_is_not_one(sip_user: str) -> None:
    assert "sip_user" in field_errors(sip_user, "secret")


@pytest.mark.parametrize("sip_user", ["an.nguyen", "user_an101", "1001", "a-b+c", "USER_AN101"])
def test_the_link_dialog_takes_the_sip_users_pbxs_hand_out(sip_user: str) -> None:
    assert field_errors(sip_user, "secret") == {}
