"""A fresh install started at 15:00 local time, while AntBuddy's history already holds 41 of today's queue calls: the
real `ringbot` process reads today's history on start, so `/ring stats today` and `/ring queues` count all 41 (and
AntBuddy's own totals beside them agree), and none of those old calls is posted as an alert."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.devtools.fakeslack import FakeSlack, sign, slash_command_body
from tests.conftest import APP_SECRET, SIGNING_SECRET
from tests.e2e.procs import RingbotProcess, ringbot_env

pytestmark = pytest.mark.slow


def zone_at_three_pm(now: float) -> str:
    """An IANA zone whose local time is 15:xx now (Etc/GMT-N is UTC+N), so the test reads like the story at any
    hour it runs."""
    offset = max(-12, min(14, 15 - datetime.fromtimestamp(now, UTC).hour))
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


@pytest.fixture
async def afternoon_simulator() -> AsyncIterator[Any]:
    """The simulator, its day in the same zone as ringbot's."""
    from bot.devtools.simulator.server import Simulator

    zone = zone_at_three_pm(time.time())
    sim = Simulator(app_id="test-app", app_secret=APP_SECRET, account_id="test-account",
                    domain="demo.antbuddy.local", email="admin@demo.vn", seed=22, tz=ZoneInfo(zone))  # fmt: skip
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def ask(proc: RingbotProcess, fake: FakeSlack, text: str, hook: str) -> str:
    body = slash_command_body(text, response_url=fake.response_url(hook))
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(proc.url + "/slack/events", content=body, headers=sign(SIGNING_SECRET, body))
    assert r.status_code == 200
    assert await fake.wait_for(lambda: any(c.hook == hook for c in fake.calls), 15), proc.logs()[-3000:]
    return str([c.body for c in fake.calls if c.hook == hook][-1])


async def test_a_fresh_install_at_three_pm_counts_the_41_calls_already_in_todays_history(
    tmp_path, afternoon_simulator, fake_slack: FakeSlack
) -> None:
    sim = afternoon_simulator
    zone = ZoneInfo(zone_at_three_pm(time.time()))
    now = time.time()
    local = datetime.fromtimestamp(now, zone)
    assert local.hour == 15 or zone.key in ("Etc/GMT+12", "Etc/GMT-14")
    eight = local.replace(hour=8, minute=0, second=0, microsecond=0).timestamp()
    async with httpx.AsyncClient(timeout=10) as http:
        seeded = await http.post(sim.url + "/_sim/history", json={"calls": 41, "since": eight, "until": now - 1800})
    assert seeded.status_code == 200 and seeded.json()["count"] == 41
    abandoned = sum(c["scenario"] == "queue_abandoned" for c in seeded.json()["calls"])

    proc = RingbotProcess(ringbot_env(tmp_path, sim.url, fake_slack.url, RINGBOT_TIMEZONE=zone.key), tmp_path)
    proc.start()
    try:
        await proc.wait_healthy()
        stats = await ask(proc, fake_slack, "stats today", "stats")
        assert f"*All queues*: 41 offered · {41 - abandoned} answered · {abandoned} abandoned" in stats, stats
        assert "records start" not in stats
        queues = await ask(proc, fake_slack, "queues", "queues")
        assert f"AntBuddy's own totals today, all queues: 41 offered · {41 - abandoned} handled" in queues, queues
        per_queue = [int(n) for n in re.findall(r"Today: (\d+) offered", queues)]
        assert sum(per_queue) == 41 and len(per_queue) >= 2, queues
        assert "records start" not in queues
        assert "history fill done" in proc.logs()
    finally:
        proc.terminate()
    assert fake_slack.posts() == []  # the morning's calls are figures, not alerts hours late
