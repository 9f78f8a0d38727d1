"""Two `ringbot run` on one database: the second waits as a hot standby and takes over when the first dies."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from bot.devtools.fakeslack import FakeSlack
from tests.e2e.procs import RingbotProcess, free_port, ringbot_env
from tests.e2e.test_process import alert_ids_posted

pytestmark = pytest.mark.slow


async def test_standby_waits_without_posting_then_takes_over_within_10_s_of_a_kill_9_and_posts_every_alert_once(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    env_a = ringbot_env(tmp_path, simulator.url, fake_slack.url, RINGBOT_CHANNEL_POSTS_PER_SECOND="4")
    env_b = {**env_a, "RINGBOT_HTTP_PORT": str(free_port())}  # same RINGBOT_DB, its own port
    a, b = RingbotProcess(env_a, tmp_path), RingbotProcess(env_b, tmp_path)
    count = 24
    a.start()
    try:
        await a.wait_role("active")
        b.start()
        standby = await b.wait_role("standby")
        assert standby["active_pid"] == a.proc.pid and standby["status"] == "ok"
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.post(b.url + "/slack/events", content=b"{}")).status_code == 503
            assert "ringbot_instance_active 0" in (await http.get(b.url + "/metrics")).text
            assert "ringbot_instance_active 1" in (await http.get(a.url + "/metrics")).text
        async with httpx.AsyncClient(timeout=30) as http:
            r = await http.post(simulator.url + "/_sim/burst", json={"count": count, "scenario": "missed_cancel"})
            assert r.status_code == 200, r.text
        # kill A once every call is decided and some alerts are out: the rest wait in its outbox (some inflight)
        db = sqlite3.connect(tmp_path / "ringbot.db")
        assert await fake_slack.wait_for(
            lambda: (
                len(alert_ids_posted(fake_slack)) >= 3
                and db.execute("SELECT count(*) FROM alerts").fetchone()[0] == count
            ),
            15,
        ), a.logs()[-3000:]
        a.kill9()
        killed_at = time.monotonic()
        assert len(alert_ids_posted(fake_slack)) < count, "the burst finished before the kill; the test proves nothing"
        active = await b.wait_role("active", timeout=10)
        takeover = time.monotonic() - killed_at
        assert active["stream"]["connected"] is True
        assert await fake_slack.wait_for(lambda: len(alert_ids_posted(fake_slack)) >= count, 20), b.logs()[-3000:]
        await asyncio.sleep(1.0)  # anything duplicated would show up now
        ids = alert_ids_posted(fake_slack)
        assert len(ids) == count and len(set(ids)) == count
        assert db.execute("SELECT count(*) FROM alerts").fetchone()[0] == count
        logs = b.logs()
        assert logs.index("ringbot standby") < logs.index("ringbot taking over") < logs.index("ringbot started")
        print(f"takeover after kill -9: {takeover:.1f} s")
        assert b.terminate() == 0
    finally:
        a.ensure_stopped()
        b.ensure_stopped()


async def test_a_standby_stops_cleanly_on_sigterm_and_the_active_one_keeps_the_database(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    env_a = ringbot_env(tmp_path, simulator.url, fake_slack.url)
    a = RingbotProcess(env_a, tmp_path)
    b = RingbotProcess({**env_a, "RINGBOT_HTTP_PORT": str(free_port())}, tmp_path)
    a.start()
    try:
        await a.wait_role("active")
        b.start()
        await b.wait_role("standby")
        assert b.terminate() == 0
        assert "ringbot standby stopped" in b.logs() and "ringbot started" not in b.logs()
        await a.wait_role("active")
        assert a.terminate() == 0
    finally:
        a.ensure_stopped()
        b.ensure_stopped()
