"""The assembled bot in one process: scheduled jobs stay on the loop thread, /healthz and /metrics answer
over HTTP, the heartbeat marks a running bot, and shutdown leaves the database clean."""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from bot.app import HEARTBEAT_KEY, bot_is_running, run_standby, shutdown, start
from bot.config import SetupError
from bot.devtools.fakeslack import FakeSlack, sign, slash_command_body
from bot.ops.instance import InstanceLock
from bot.ops.scheduled import RUNNER_JOB_ID
from storage import Saved, Store
from storage.jobs import JobTable
from tests.conftest import SIGNING_SECRET, make_settings, runtime_settings
from tests.support.waiting import eventually
from tests.wire.test_outbox import decision


async def test_runtime_jobs_health_metrics_and_heartbeat(tmp_path: Path, simulator, fake_slack: FakeSlack) -> None:
    settings = runtime_settings(tmp_path, simulator, fake_slack)
    rt = await start(settings, mode="http", install_signals=False)
    try:
        # every job is a coroutine: a plain function would run in a thread and break the SQLite connection
        jobs = rt.scheduler.get_jobs()
        assert {j.id for j in jobs} >= {
            "reconcile", "queues", "agents", "checkpoint", "heartbeat", RUNNER_JOB_ID, "flush", "prune"
        }  # fmt: skip
        assert all(asyncio.iscoroutinefunction(j.func) for j in jobs)
        assert bot_is_running(rt.deps.store)
        assert await rt.stream.wait_connected(10)
        async with httpx.AsyncClient(timeout=5) as http:
            health = await http.get(f"http://127.0.0.1:{rt.http_port}/healthz")
            metrics = await http.get(f"http://127.0.0.1:{rt.http_port}/metrics")
        assert health.status_code == 200
        doc = health.json()
        assert doc["role"] == "active"
        assert doc["status"] == "ok" and doc["stream"]["connected"] and doc["database"] == "ok"
        assert doc["stream"]["protocol"] == "socketio" and doc["outbox_depth"] == 0
        assert doc["unhealthy"] == [] and doc["slack"] == {"token_checked": True, "refusing": None}
        assert doc["outbox_given_up"] == []
        rt.deps.store.enqueue("notice", "C0GONE", body={"key": "x"})
        rt.deps.store.give_up_outbox("held for a day: slack refused: is_archived", created_before=time.time() + 1)
        async with httpx.AsyncClient(timeout=5) as http:
            doc = (await http.get(f"http://127.0.0.1:{rt.http_port}/healthz")).json()
        assert doc["outbox_given_up"] == [
            {"channel": "C0GONE", "rows": 1, "error": "given up: held for a day: slack refused: is_archived"}
        ]
        assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "# TYPE ringbot_stream_connected gauge" in metrics.text
        assert "ringbot_antbuddy_seconds_count" in metrics.text  # the token request was observed
        # permalinks use the workspace's own address, from auth.test
        rt.deps.store.create_alert(
            {"call_id": "p-1", "customer_number": "0987654321", "customer_key": "+84987654321",
             "outcome": "missed", "channel": "C0ALERTS", "ts": "1700000000.000100"}
        )  # fmt: skip
        body = slash_command_body("missed", user_id="U0AGENT", channel_id="C0ALERTS",
                                  response_url=fake_slack.response_url("missed"))  # fmt: skip
        async with httpx.AsyncClient(timeout=5) as http:
            r = await http.post(
                f"http://127.0.0.1:{rt.http_port}/slack/events", content=body, headers=sign(SIGNING_SECRET, body)
            )
        assert r.status_code == 200
        answer = await eventually(lambda: [c for c in fake_slack.calls if c.hook == "missed"], "the /ring answer")
        assert "<https://demo.slack.com/archives/C0ALERTS/p1700000000000100|" in str(answer[0].body)
        # the stream goes away: health turns 503 so an orchestrator notices
        await rt.stream.stop()
        async with httpx.AsyncClient(timeout=5) as http:
            down = await http.get(f"http://127.0.0.1:{rt.http_port}/healthz")
        assert down.status_code == 503 and down.json()["unhealthy"] == ["stream"]
    finally:
        await shutdown(rt)
    from storage import Store

    store = Store.open(settings.db_path)
    try:
        assert store.get_meta(HEARTBEAT_KEY) == "0"  # a stopped bot no longer claims the outbox
    finally:
        store.close()


class RunsACommand:
    """A pickle that runs a shell command when pickle.loads reads it."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, ...]:
        return (os.system, (self.command,))


async def test_a_crafted_pickle_and_a_text_time_in_the_job_tables_are_one_log_line_each_and_jobs_go_on(
    tmp_path: Path, simulator, fake_slack: FakeSlack, caplog
) -> None:
    settings = runtime_settings(tmp_path, simulator, fake_slack)
    pwned = tmp_path / "pwned"
    db = sqlite3.connect(settings.db_path)  # an older ringbot's database, tampered with
    db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, next_run_time REAL, job_state BLOB NOT NULL)")
    db.execute("INSERT INTO jobs VALUES ('evil', 1, ?)", (pickle.dumps(RunsACommand(f"touch {pwned}")),))
    db.commit()
    db.close()
    store = Store.open(settings.db_path)
    store.conn.execute("INSERT INTO scheduled_jobs(key, kind, due_at) VALUES ('bad', 'escalate', '08:00 tomorrow')")
    store.conn.commit()
    JobTable(store).at("overnight_digest", time.time() - 5, key="digest:C0QUIET:1", channel="C0QUIET")
    store.close()
    with caplog.at_level(logging.INFO):
        rt = await start(settings, mode="http", install_signals=False)
        try:
            await eventually(lambda: rt.jobs is not None and rt.jobs.keys("digest:C0") == [], "the good job ran")
            assert rt.jobs is not None and rt.jobs.keys() == ["digest:daily"]
            # a person's change the database refused a moment ago is written by the runtime's flush job
            other = sqlite3.connect(settings.db_path, timeout=0, isolation_level=None)
            other.execute("BEGIN EXCLUSIVE")
            try:
                saved = rt.deps.store.write_or_hold(lambda s: s.set_meta("flushed", "yes"), what="test change")
            finally:
                other.rollback()
                other.close()
            assert saved == Saved.LATER
            await eventually(lambda: rt.deps.store.get_meta("flushed") == "yes", "the held change written")
        finally:
            await shutdown(rt)
    assert not pwned.exists()
    jobs_lines = [r.getMessage() for r in caplog.records if r.name in ("storage.migrations", "bot.ops.scheduled")]
    assert jobs_lines == [
        "old scheduled job dropped id='evil' why=not a job ringbot wrote (another function or shape)",
        "scheduled job set aside key='bad' why=due_at is not a time in unix seconds (str); it is never run",
    ]


def _settings(tmp_path: Path, simulator, fake_slack: FakeSlack, **extra: str):
    env = {
        "ANTBUDDY_API_URL": simulator.url,
        "ANTBUDDY_WS_URL": simulator.url,
        "SLACK_API_URL": fake_slack.url,
        "RINGBOT_HTTP_HOST": "127.0.0.1",
        "RINGBOT_HTTP_PORT": "0",
    }
    return make_settings(tmp_path, **{**env, **extra})


async def test_a_token_slack_refuses_stops_the_start_with_one_sentence(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("auth.test", status=200, error="invalid_auth")
    with pytest.raises(SetupError, match=r"^Slack refused SLACK_BOT_TOKEN \(invalid_auth\)"):
        await start(_settings(tmp_path, simulator, fake_slack), mode="http", install_signals=False)
    assert not (tmp_path / "ringbot.db").exists()  # nothing was started


async def test_an_unreachable_slack_at_start_up_is_retried_and_health_says_which_part_is_wrong(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    fake_slack.unreachable = True
    rt = await start(_settings(tmp_path, simulator, fake_slack), mode="http", install_signals=False)
    try:
        assert rt.slack_identity is None  # started anyway: the stream is read and alerts queue
        assert await rt.stream.wait_connected(10)
        fake_slack.clear_faults()
        await eventually(lambda: rt.slack_identity is not None, "auth.test retried", timeout=15)
        assert rt.slack_identity["url"] == "https://demo.slack.com/"
        fake_slack.fail("chat.postMessage", status=200, error="invalid_auth", count=10**6)
        rt.deps.alerts.handle_decision(decision(1))
        await eventually(lambda: rt.outbox.refused() is not None, "the refusal noticed")
        async with httpx.AsyncClient(timeout=5) as http:
            health = await http.get(f"http://127.0.0.1:{rt.http_port}/healthz")
        doc = health.json()
        assert health.status_code == 503 and doc["unhealthy"] == ["slack"]
        assert "invalid_auth" in doc["slack"]["refusing"]
    finally:
        await shutdown(rt)


async def test_a_taken_http_port_is_one_sentence(tmp_path: Path, simulator, fake_slack: FakeSlack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = _settings(tmp_path, simulator, fake_slack, RINGBOT_HTTP_PORT=str(port))
        with pytest.raises(SetupError, match=f"RINGBOT_HTTP_PORT {port} is already in use"):
            await start(settings, mode="http", install_signals=False)


async def test_a_standby_answers_health_but_not_slack_until_the_lock_is_free_then_returns_within_a_poll(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    settings = _settings(tmp_path, simulator, fake_slack)
    active = InstanceLock.for_database(settings.db_path)
    assert active.try_acquire()
    lock = InstanceLock.for_database(settings.db_path)
    assert not lock.try_acquire()  # a second holder is refused, even in one process
    ports: list[int] = []
    stopping = asyncio.Event()
    task = asyncio.create_task(
        run_standby(settings, lock, poll=0.05, stopping=stopping, install_signals=False, on_listening=ports.append)
    )
    try:
        await eventually(lambda: bool(ports), "standby listening")
        async with httpx.AsyncClient(timeout=5) as http:
            health = await http.get(f"http://127.0.0.1:{ports[0]}/healthz")
            slack = await http.post(f"http://127.0.0.1:{ports[0]}/slack/events", content=b"{}")
            metrics = await http.get(f"http://127.0.0.1:{ports[0]}/metrics")
        assert health.status_code == 200
        doc = health.json()
        assert doc["role"] == "standby" and doc["status"] == "ok" and doc["active_pid"] == os.getpid()
        assert slack.status_code == 503  # Slack is the active one's job
        assert "ringbot_instance_active 0" in metrics.text
        assert not (tmp_path / "ringbot.db").exists()  # a standby does not touch the database
        assert not task.done()
        active.release()
        assert await asyncio.wait_for(task, 5) is True
        assert lock.held
        with pytest.raises(httpx.ConnectError):  # the port is free for the active bot to bind
            async with httpx.AsyncClient(timeout=2) as http:
                await http.get(f"http://127.0.0.1:{ports[0]}/healthz")
    finally:
        stopping.set()
        await asyncio.gather(task, return_exceptions=True)
        lock.release()
        active.release()


async def test_a_standby_stopped_before_the_lock_frees_returns_false(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    settings = _settings(tmp_path, simulator, fake_slack)
    active = InstanceLock.for_database(settings.db_path)
    assert active.try_acquire()
    stopping = asyncio.Event()
    lock = InstanceLock.for_database(settings.db_path)
    ports: list[int] = []
    task = asyncio.create_task(
        run_standby(settings, lock, poll=0.05, stopping=stopping, install_signals=False, on_listening=ports.append)
    )
    try:
        await eventually(lambda: bool(ports), "standby listening")
        stopping.set()
        assert await asyncio.wait_for(task, 5) is False
        assert not lock.held
    finally:
        active.release()
