"""The assembled bot in one process: scheduled jobs stay on the loop thread, /healthz and /metrics answer
over HTTP, the heartbeat marks a running bot, and shutdown leaves the database clean."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from bot.app import HEARTBEAT_KEY, bot_is_running, shutdown, start
from bot.devtools.fakeslack import FakeSlack
from tests.conftest import make_settings


async def test_runtime_jobs_health_metrics_and_heartbeat(tmp_path: Path, simulator, fake_slack: FakeSlack) -> None:
    settings = make_settings(
        tmp_path,
        ANTBUDDY_API_URL=simulator.url,
        ANTBUDDY_WS_URL=simulator.url,
        SLACK_API_URL=fake_slack.url,
        RINGBOT_HTTP_HOST="127.0.0.1",
        RINGBOT_HTTP_PORT="0",
    )
    rt = await start(settings, mode="http", install_signals=False)
    try:
        # every job is a coroutine: a plain function would run in a thread and break the SQLite connection
        jobs = rt.scheduler.get_jobs()
        assert {j.id for j in jobs} >= {"reconcile", "queues", "agents", "checkpoint", "heartbeat"}
        assert all(asyncio.iscoroutinefunction(j.func) for j in jobs)
        assert bot_is_running(rt.deps.store)
        assert await rt.stream.wait_connected(10)
        async with httpx.AsyncClient(timeout=5) as http:
            health = await http.get(f"http://127.0.0.1:{rt.http_port}/healthz")
            metrics = await http.get(f"http://127.0.0.1:{rt.http_port}/metrics")
        assert health.status_code == 200
        doc = health.json()
        assert doc["status"] == "ok" and doc["stream"]["connected"] and doc["database"] == "ok"
        assert doc["stream"]["protocol"] == "socketio" and doc["outbox_depth"] == 0
        assert "# TYPE ringbot_stream_connected gauge" in metrics.text
        assert "ringbot_antbuddy_seconds_count" in metrics.text  # the token request was observed
        # the stream goes away: health turns 503 so an orchestrator notices
        await rt.stream.stop()
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"http://127.0.0.1:{rt.http_port}/healthz")).status_code == 503
    finally:
        await shutdown(rt)
    from storage import Store

    store = Store.open(settings.db_path)
    try:
        assert store.get_meta(HEARTBEAT_KEY) == "0"  # a stopped bot no longer claims the outbox
    finally:
        store.close()
