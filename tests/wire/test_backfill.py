"""`ringbot backfill --since`: calls that only AntBuddy's history knows (the stream never saw them) become one
Slack alert each, posted over real HTTP to the fake Slack; running it again posts nothing twice."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import run_backfill
from bot.devtools.fakeslack import FakeSlack
from tests.conftest import make_settings

DAY = 86400
HISTORY_ONLY = (  # (scenario, caller, days ago): the stream was down, history has them
    ("missed_cancel", "0987654321", 3),
    ("queue_abandoned", "0909123456", 2),
    ("missed_busy", "0356789012", 1),
    ("answered", "0912345678", 2),  # answered: never an alert
)


async def history_only_calls(sim: Any, calls=HISTORY_ONLY) -> dict[str, str]:
    """Place calls straight into the simulator's history, backdated; returns A-leg call id -> scenario."""
    now = time.time()
    placed = {}
    async with httpx.AsyncClient(timeout=10) as http:
        for scenario, caller, days in calls:
            r = await http.post(
                f"{sim.url}/_sim/calls",
                json={
                    "scenario": scenario,
                    "caller": caller,
                    "stream": False,
                    "wait": True,
                    "speed": 0,
                    "start": now - days * DAY,
                },
            )
            assert r.status_code == 200, r.text
            placed[r.json()["call_id"]] = scenario
    return placed


def since_days_ago(days: int) -> datetime:
    d = datetime.now() - timedelta(days=days)
    return datetime(d.year, d.month, d.day)


def alert_posts(slack: FakeSlack) -> list[dict]:
    """Top-level alert posts accepted by Slack (thread replies and summaries excluded)."""
    out = []
    for c in slack.posts():
        meta = c.body.get("metadata") or {}
        if meta.get("event_type") == "ringbot_alert" and not c.body.get("thread_ts"):
            out.append(c.body)
    return out


@pytest.fixture
def settings(tmp_path: Path, simulator, fake_slack: FakeSlack):
    return make_settings(
        tmp_path,
        ANTBUDDY_API_URL=simulator.url,
        ANTBUDDY_WS_URL=simulator.url,
        SLACK_API_URL=fake_slack.url,
        RINGBOT_CHANNEL_POSTS_PER_SECOND="50",
    )


async def test_history_only_missed_calls_are_posted_once_each(settings, simulator, fake_slack: FakeSlack) -> None:
    await history_only_calls(simulator)
    out: list[str] = []
    assert await run_backfill(settings, since_days_ago(5), out=out.append) == 0
    posts = alert_posts(fake_slack)
    texts = sorted(p["text"] for p in posts)
    assert len(posts) == 3, texts
    assert any(t.startswith("Missed call from 0987 654 321") for t in texts)
    assert any(t.startswith("Abandoned in queue CSKH from 0909 123 456") for t in texts)
    assert any(t.startswith("Missed call from 0356 789 012") for t in texts)
    assert not any("0912 345 678" in t for t in texts), "an answered call was alerted"
    assert {p["channel"] for p in posts} == {"C0ALERTS"}
    assert "0 still pending" in out[-1]


async def test_a_second_backfill_posts_nothing_again(settings, simulator, fake_slack: FakeSlack) -> None:
    await history_only_calls(simulator)
    assert await run_backfill(settings, since_days_ago(5), out=lambda _: None) == 0
    first = [p["metadata"]["event_payload"]["alert_id"] for p in alert_posts(fake_slack)]
    assert len(first) == 3
    out: list[str] = []
    assert await run_backfill(settings, since_days_ago(5), out=out.append) == 0
    assert [p["metadata"]["event_payload"]["alert_id"] for p in alert_posts(fake_slack)] == first
    assert "0 new alert(s), 4 already known" in out[0]  # a sentence, not a dataclass repr
    assert len(fake_slack.posts()) == 3


async def test_backfill_only_reaches_back_to_since(settings, simulator, fake_slack: FakeSlack) -> None:
    await history_only_calls(simulator, (("missed_cancel", "0987654321", 6), ("missed_busy", "0356789012", 1)))
    assert await run_backfill(settings, since_days_ago(3), out=lambda _: None) == 0
    texts = [p["text"] for p in alert_posts(fake_slack)]
    assert len(texts) == 1 and "0356 789 012" in texts[0]
    # reaching further back later raises the older one, still without repeating the newer one
    assert await run_backfill(settings, since_days_ago(8), out=lambda _: None) == 0
    texts = [p["text"] for p in alert_posts(fake_slack)]
    assert len(texts) == 2 and "0987 654 321" in texts[1]


async def test_backfill_spans_more_than_one_31_day_history_window(settings, simulator, fake_slack) -> None:
    await history_only_calls(simulator, (("missed_cancel", "0987654321", 40), ("missed_busy", "0356789012", 2)))
    assert await run_backfill(settings, since_days_ago(45), out=lambda _: None) == 0
    assert len(alert_posts(fake_slack)) == 2


async def test_a_second_backfill_does_not_edit_alerts_it_raised(settings, simulator, fake_slack) -> None:
    await history_only_calls(simulator, (("queue_abandoned", "0909123456", 2),))
    assert await run_backfill(settings, since_days_ago(5), out=lambda _: None) == 0
    assert await run_backfill(settings, since_days_ago(5), out=lambda _: None) == 0
    assert [c.method for c in fake_slack.calls if c.method.startswith("chat.")] == ["chat.postMessage"]


async def test_backfill_leaves_posting_to_a_running_bot(settings, simulator, fake_slack: FakeSlack) -> None:
    """Two outboxes on one database could post a row twice: while `ringbot run` is alive, backfill only queues."""
    from bot.app import HEARTBEAT_KEY
    from storage import Store

    store = Store.open(settings.db_path)
    store.set_meta(HEARTBEAT_KEY, f"{time.time():.3f}")
    store.close()
    await history_only_calls(simulator)
    out: list[str] = []
    assert await run_backfill(settings, since_days_ago(5), out=out.append) == 0
    assert alert_posts(fake_slack) == []
    assert "ringbot run is running on this database" in out[-1]
    store = Store.open(settings.db_path)
    try:
        assert store.outbox_depth() == 3  # queued for the running bot
    finally:
        store.close()
