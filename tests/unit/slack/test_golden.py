"""Golden files: every Block Kit renderer's output for fixed data, compared exactly with
tests/unit/slack/golden/<case>.json.

A change of wording or layout shows up here as a diff to review. After an intended change, rewrite the
files and read the diff before committing:

    UPDATE_GOLDEN=1 python -m pytest -q tests/unit/slack/test_golden.py

Every case is rendered in English (golden/<case>.json) and in Vietnamese (golden/vi/<case>.json).

The clock (T0) and the time zone (Asia/Ho_Chi_Minh) are fixed, so the files do not depend on when or
where the tests run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.antbuddy import Agent, AgentStatus, Dashboard, QueueSummary
from bot.queues.figures import Figures, Hour
from bot.queues.health import Breach, Level
from bot.slack.format import day_and_time
from bot.slack.i18n import speaking
from bot.slack.render.alert import caller_text, render_alert, render_burst_summary, render_repeat_reply
from bot.slack.render.answers import (
    render_agents,
    render_help,
    render_history,
    render_missed,
    render_routes,
)
from bot.slack.render.digest import OpenAlert, Period, render_daily_digest, render_stats
from bot.slack.render.home import render_home
from bot.slack.render.link import LinkForm, link_modal, not_linked_blocks
from bot.slack.render.ownership import (
    escalation_dm,
    escalation_reply,
    reassign_modal,
    render_mine,
    render_overnight_digest,
)
from bot.slack.render.queues import (
    AlertView,
    MemberView,
    QueueView,
    Totals,
    render_queue_alert,
    render_queue_list,
    render_watches,
)
from bot.slack.text import say

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 7, 5, tzinfo=UTC)  # 14:05, Tue 24 Nov in Ho Chi Minh City
T0 = NOW.timestamp()
NAMES = {"q-cskh": "CSKH", "q-sales": "Kinh doanh"}
AGENTS = {"an": "Nguyễn Văn An", "binh": "Trần Thị Bình"}.get


def alert(**kw: Any) -> dict[str, Any]:
    row = {
        "id": 7,
        "call_id": "c1",
        "customer_number": "+84987654321",
        "customer_key": "+84987654321",
        "outcome": "missed",
        "channel": "C0CALLS",
        "ts": "1700000000.000100",
        "status": "open",
        "repeat_count": 1,
        "version": 1,
        "last_call_at": T0,
        "created_at": T0,
        "resolved_detail": {},
    }
    return row | kw


def call(**kw: Any) -> dict[str, Any]:
    row = {
        "call_id": "c1",
        "direction": "inbound",
        "outcome": "missed",
        "customer_number": "+84987654321",
        "customer_key": "+84987654321",
        "dialled": "02873019555",
        "queue_id": None,
        "started_at": T0,
        "ring_seconds": 25,
        "talk_seconds": 0,
        "hangup_cause": "ORIGINATOR_CANCEL",
        "agents_rung": ["an", "binh"],
        "answered_by": None,
        "recording": None,
        "detail": {},
    }
    return row | kw


DASHBOARD = Dashboard(
    agent_counts={"ready": 1, "connected": 1},
    agents=(
        AgentStatus("a1", "an", "Nguyễn Văn An", "ready", NOW - timedelta(minutes=12), ("101",)),
        AgentStatus("a2", "binh", "Trần Thị Bình", "connected", NOW - timedelta(seconds=200), ()),
    ),
    queues=(
        QueueSummary("q-cskh", "CSKH", offered=12, handled=10, abandoned=2, waiting_now=1, avg_waiting=6,
                     max_waiting=95, avg_talking=180),
        QueueSummary(None, None, offered=20, handled=17, abandoned=3, avg_waiting=9, max_waiting=95, avg_talking=150),
    ),
)  # fmt: skip


def help_lines() -> list[tuple[str, str]]:
    """Said when rendered, so in the language of the case; `queues` with the line `/ring help` shows for it."""
    names = ("agents", "queues", "history", "missed", "call", "link", "routes", "route")
    return [(n, say("help.queues_live" if n == "queues" else f"help.{n}")) for n in names]


CASES: dict[str, Callable[[], object]] = {
    # -- alerts --------------------------------------------------------------------------------------
    "alert_missed": lambda: render_alert(alert(calls_24h=1), call(), queue_name=None, tz=TZ, now=T0),
    "alert_abandoned_in_queue": lambda: render_alert(
        alert(outcome="abandoned"),
        call(
            outcome="abandoned",
            queue_id="q-cskh",
            detail={"queue_stat": {"end_call_reason": "member_hangup", "wait_time": 47}},
        ),
        queue_name="CSKH",
        tz=TZ,
        now=T0,
        agent_name=AGENTS,
    ),  # fmt: skip
    "alert_callback_queued": lambda: render_alert(
        alert(outcome="abandoned", version=2),
        call(
            outcome="abandoned",
            queue_id="q-cskh",
            detail={"queue_stat": {"status": "waiting", "is_callback": True, "wait_time": 52}},
        ),
        queue_name="CSKH",
        tz=TZ,
        now=T0,
        agent_name=AGENTS,
    ),  # fmt: skip
    "alert_callback_tried": lambda: render_alert(
        alert(outcome="abandoned", version=3),
        call(
            outcome="abandoned",
            queue_id="q-cskh",
            detail={
                "queue_stat": {"status": "waiting", "is_callback": True, "wait_time": 52},
                "queue_callback": {"tried_at": T0 + 300, "agents": ["101"], "number": "0987654321"},
            },
        ),
        queue_name="CSKH",
        tz=TZ,
        now=T0,
    ),  # fmt: skip
    "alert_resolved_by_queue_callback": lambda: render_alert(
        alert(
            outcome="abandoned",
            status="resolved",
            resolved_detail={"direction": "queue_callback", "agent": "an", "talk_seconds": 64},
        ),
        call(outcome="abandoned", queue_id="q-cskh", detail={"queue_stat": {"is_callback": True}}),
        queue_name="CSKH",
        tz=TZ,
        now=T0,
        agent_name=AGENTS,
    ),  # fmt: skip
    "alert_repeat": lambda: render_alert(
        alert(repeat_count=3, last_call_at=T0 + 240, calls_24h=4), call(), queue_name=None, tz=TZ, now=T0
    ),
    "alert_calling_back": lambda: render_alert(
        alert(status="calling_back", claimed_by="U0AN", version=2), call(), queue_name=None, tz=TZ, now=T0
    ),
    "alert_handled": lambda: render_alert(
        alert(status="handled", handled_by="U0BINH", version=3), call(), queue_name=None, tz=TZ, now=T0
    ),
    "alert_resolved_inbound": lambda: render_alert(
        alert(status="resolved", resolved_detail={"direction": "inbound", "agent": "an", "talk_seconds": 134}),
        call(),
        queue_name=None,
        tz=TZ,
        now=T0,
        agent_name=AGENTS,
    ),  # fmt: skip
    "alert_resolved_outbound_no_agent": lambda: render_alert(
        alert(status="resolved", resolved_detail={"direction": "outbound", "talk_seconds": 30}),
        call(),
        queue_name=None,
        tz=TZ,
        now=T0,
    ),  # fmt: skip
    "alert_withheld_caller": lambda: render_alert(
        alert(customer_number="anonymous", customer_key=""),
        call(customer_number="anonymous", customer_key=""),
        queue_name=None,
        tz=TZ,
        now=T0,
    ),
    "alert_without_its_call": lambda: render_alert(alert(), None, queue_name=None, tz=TZ, now=T0),
    "burst_summary": lambda: render_burst_summary(12, T0, T0 + 240, TZ),
    "burst_summary_one": lambda: render_burst_summary(1, T0, None, TZ),
    "repeat_reply": lambda: render_repeat_reply(
        call(started_at=T0 + 240, ring_seconds=12, hangup_cause="NO_ANSWER"), TZ
    ),
    # -- /ring answers --------------------------------------------------------------------------------
    "help": lambda: render_help(help_lines()),
    "agents": lambda: render_agents(
        DASHBOARD,
        now=NOW,
        directory_agents=[Agent("a1", "an", "Nguyễn Văn An", ("101",)), Agent("a3", "hoa", "Võ Thị Hoa", ("106",))],
    ),  # fmt: skip
    "history": lambda: render_history(
        [
            call(call_id="c1", outcome="answered", answered_by="an", talk_seconds=134, recording="rec-1.mp3"),
            call(call_id="c2", started_at=T0 - 86400, agents_rung=["an", "binh", "101", "102", "103"]),
            call(call_id="c3", direction="outbound", outcome="outbound_unanswered", started_at=T0 - 600),
            call(call_id="c4", outcome="abandoned", ring_seconds=47, started_at=T0 - 900),
        ],
        title=say(
            "commands.history_title",
            who=say("commands.history_with", number="0987 654 321"),
            period=say("commands.period.days", days=7),
            missed="",
        ),
        tz=TZ,
        now=NOW,
        callbacks={"+84987654321": {"slack_user": "U0AN", "at": T0}},
        more='{"q":{},"o":20}',
        offset=20,
        agent_name=AGENTS,
    ),  # fmt: skip
    "history_empty": lambda: render_history(
        [], title=say("commands.history_title", who="", period=say("commands.period.today"), missed=""), tz=TZ, now=NOW
    ),
    "missed": lambda: render_missed(
        [
            alert(id=1, call_id="c1", outcome="abandoned", repeat_count=3, status="calling_back", claimed_by="U0AN"),
            alert(id=2, call_id="c2", customer_number="0912345678", ts=None, created_at=T0 - 86400),
        ],
        tz=TZ,
        now=NOW,
        calls={"c1": call(queue_id="q-cskh"), "c2": call(call_id="c2")},
        queue_names=NAMES,
        total=2,
    ),  # fmt: skip
    "missed_none": lambda: render_missed([], tz=TZ, now=NOW),
    "routes": lambda: render_routes(
        [{"key": "queue:q-cskh", "channel": "C1", "set_by": "UADMIN"}, {"key": "did:+842873019555", "channel": "C2"}],
        default_channel="C0ALERTS",
        queue_names=NAMES,
    ),  # fmt: skip
    "routes_stored_default": lambda: render_routes(
        [{"key": "default", "channel": "C9", "set_by": "UADMIN"}], default_channel="C0ALERTS", queue_names=NAMES
    ),
    # -- App Home and linking ------------------------------------------------------------------------
    "home": lambda: render_home(
        sip_user="user_an101",
        alerts=[alert()],
        open_total=1,
        calls={"c1": call()},
        dashboard=DASHBOARD,
        queue_error=None,
        queue_names=NAMES,
        tz=TZ,
        now=NOW,
    ),  # fmt: skip
    "home_not_linked_antbuddy_down": lambda: render_home(
        sip_user=None,
        alerts=[],
        open_total=0,
        calls={},
        dashboard=None,
        queue_error=say("antbuddy.rate_limited"),
        queue_names={},
        tz=TZ,
        now=NOW,
    ),  # fmt: skip
    "link_modal": lambda: link_modal(LinkForm("U0AN", "C0CALLS"), for_self=True),
    "link_modal_other_relink": lambda: link_modal(LinkForm("U0BINH"), for_self=False, sip_user="sip_binh_202"),
    "not_linked": lambda: not_linked_blocks(),
}

# -- ownership, escalation, overnight digest ----------------------------------------------------------------
CASES.update(
    {
        "alert_owned": lambda: render_alert(
            alert(owner="U0AN", owned_at=T0 + 120), call(), queue_name=None, tz=TZ, now=T0 + 300
        ),
        "alert_unowned_escalated": lambda: render_alert(
            alert(escalation_step=1, escalated_at=T0 + 900), call(), queue_name=None, tz=TZ, now=T0 + 900
        ),
        "escalation_reply": lambda: escalation_reply(["S0LEADS", "U0BINH"], 15),
        "escalation_reply_here_late": lambda: escalation_reply([], 15, late_minutes=42),
        "escalation_dm": lambda: escalation_dm(alert(), "0987 654 321", 30, workspace_url="https://acme.slack.com/"),
        "escalation_dm_late": lambda: escalation_dm(alert(ts=None), "0987 654 321", 30, late_minutes=7),
        "overnight_digest_late": lambda: render_overnight_digest(
            [{"alert": alert(), "calls": 1, "last_at": T0 - 3600 * 9, "call": call(), "status": "open"}],
            [],
            tz=TZ,
            now=T0,
            min_ring_seconds=0,
            caller_text=caller_text,
            due_at=T0 - 3 * 3600 - 20 * 60,
        ),
        "overnight_digest": lambda: render_overnight_digest(
            [
                {"alert": alert(repeat_count=3), "calls": 3, "last_at": T0 - 3600, "call": call(), "status": "open"},
                {
                    "alert": alert(id=8, customer_number="+84901111222", customer_key="+84901111222"),
                    "calls": 1,
                    "last_at": T0 - 7200,
                    "call": call(hangup_cause="VOICEMAIL_LEFT"),
                    "status": "resolved",
                },
            ],
            [{"call_id": "s1", "customer_number": "+84912000111", "started_at": T0 - 5000, "ring_seconds": 1}],
            tz=TZ,
            now=T0,
            min_ring_seconds=5,
            caller_text=caller_text,
        ),
        "mine": lambda: render_mine(
            [alert(owner="U0AN", owned_at=T0)], tz=TZ, now=T0, caller_text=caller_text, workspace_url=None
        ),
        "home_owned": lambda: render_home(
            owned=[alert(owner="U0AN", owned_at=T0)],
            sip_user="user_an101",
            alerts=[alert(owner="U0AN", owned_at=T0)],
            open_total=1,
            calls={"c1": call()},
            dashboard=DASHBOARD,
            queue_error=None,
            queue_names=NAMES,
            tz=TZ,
            now=NOW,
        ),
        "reassign_modal": lambda: reassign_modal(7, "0987 654 321", "U0AN"),
    }
)


# -- queue health: queue alerts, /ring queues|watches|stats, the daily digest ---------------------------------
OPEN_BREACH = Breach("q-cskh", Level.CRITICAL, T0 - 300, 5, 95.0, ("waiting", "wait"), reopened=1)
WARNING = Breach("q-cskh", Level.WARNING, T0 - 60, 3, 40.0, ("waiting",))
RECOVERED = Breach("q-cskh", Level.WARNING, T0 - 600, 6, 150.0, ("waiting",), recovered_at=T0)
DAY = [Hour(h, 2 * (h % 5), h % 2, 1 if h == 9 else 0, h % 5) for h in range(24)]
CSKH_TODAY = Figures(12, 9, 2, 1, 7, [4, 8, 15, 95, 30, 2, 5, 12, 20, 9, 6, 14])


def period(title: str) -> Period:
    return Period(
        title,
        [("CSKH", CSKH_TODAY), ("Kinh doanh", Figures(3, 3, 0, 0, 3, [2, 4, 6]))],
        Figures(15, 12, 2, 1, 10, [4, 8, 15, 95, 30, 2, 5, 12, 20, 9, 6, 14, 2, 4, 6]),
        DAY,
        callbacks=2,
        callback_median=310.0,
        repeat=[("0987 654 321", 3)],
    )


def queue_views() -> list[QueueView]:
    members = [MemberView("Nguyễn Văn An", "ready"), MemberView("Trần Thị Bình", "paused"), MemberView("Hoa", None)]
    return [
        QueueView("q-cskh", "CSKH", members, [("0987 654 321", 95.0), (None, 12.0)], CSKH_TODAY),
        QueueView("q-sales", "Kinh doanh", [], []),
    ]


WATCHES = [
    {"queue_id": "q-cskh", "queue_name": "CSKH", "thresholds": "waiting>=3 wait>=90s"},
    {"queue_id": "q-sales", "queue_name": "Kinh doanh", "thresholds": "abandon>=30% noready"},
]

CASES.update(
    {
        "queue_alert_warning": lambda: render_queue_alert(
            WARNING, AlertView("CSKH", 3, 40.0, 0, "waiting>=3 wait>=90s"), 7, TZ
        ),
        "queue_alert_critical_owned": lambda: render_queue_alert(
            OPEN_BREACH, AlertView("CSKH", 5, 95.0, None, "waiting>=3 wait>=90s", owner="U0SUPER"), 7, TZ
        ),
        "queue_alert_recovered": lambda: render_queue_alert(
            RECOVERED, AlertView("CSKH", 0, 0.0, 2, "waiting>=3", owner="U0SUPER"), 7, TZ
        ),
        "queue_list": lambda: render_queue_list(queue_views(), 20),
        "queue_list_one": lambda: render_queue_list(queue_views()[:1], 20, detail=True),
        "queue_list_antbuddy_down": lambda: render_queue_list(
            [QueueView("q-cskh", "CSKH", [], [], CSKH_TODAY)], 20, error=say("antbuddy.slow", seconds="5")
        ),
        "queue_list_antbuddy_totals": lambda: render_queue_list(
            [QueueView("q-cskh", "CSKH", [], [], CSKH_TODAY, Totals(41, 33, 8, 12.4, 95.0))],
            20,
            antbuddy_all=Totals(52, 40, 12, 14.0, 130.0),
            note=say("records.from", time=day_and_time(T0 - 3600, TZ)),
        ),
        "watches": lambda: render_watches(WATCHES, {"q-cskh": "C0CSKH", "q-sales": "C0ALERTS"}, {"q-cskh"}),
        "watches_none": lambda: render_watches([], {}, set()),
        "stats": lambda: render_stats(
            period(say("stats.title", period=say("stats.period.7d"), queue="")), empty_label=say("stats.period.7d")
        ),
        "stats_nothing": lambda: render_stats(
            Period(say("stats.title", period=say("stats.period.yesterday"), queue=""), [], Figures(), DAY),
            empty_label=say("stats.period.yesterday"),
        ),
        "stats_records_start": lambda: render_stats(
            period(say("stats.title", period=say("stats.period.7d"), queue="")),
            empty_label=say("stats.period.7d"),
            note=say("records.from", time=day_and_time(T0 - 3600, TZ)),
        ),
        "daily_digest_bars": lambda: render_daily_digest(
            period(say("digest.title", day="2026-11-24")), [OpenAlert("CSKH", T0 - 300, "U0SUPER")], TZ, bars=True
        ),
        "daily_digest_late_with_chart": lambda: render_daily_digest(
            period(say("digest.title", day="2026-11-23")), [], TZ, bars=False, late_since=T0 - 20 * 3600
        ),
    }
)


LANGUAGE_DIRS = {"en": GOLDEN, "vi": GOLDEN / "vi"}


@pytest.mark.parametrize("lang", sorted(LANGUAGE_DIRS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_renderer_matches_its_golden_file(case: str, lang: str) -> None:
    with speaking(lang):
        got = json.dumps(CASES[case](), ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    path = LANGUAGE_DIRS[lang] / f"{case}.json"
    path.parent.mkdir(exist_ok=True)
    if UPDATE:
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"no golden file for {case}: run with UPDATE_GOLDEN=1 (see this module's docstring)"
    assert got == path.read_text(encoding="utf-8"), f"{case} changed: review, then UPDATE_GOLDEN=1"


@pytest.mark.parametrize("lang", sorted(LANGUAGE_DIRS))
def test_every_golden_file_has_a_case(lang: str) -> None:
    assert {p.stem for p in LANGUAGE_DIRS[lang].glob("*.json")} == set(CASES)
