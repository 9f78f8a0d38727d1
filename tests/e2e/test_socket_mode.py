"""The `ringbot run` process in Socket Mode while Slack will not give it a connection: it starts and serves
/healthz at once, logs the failure in one line (no traceback), retries every 10 s, and says when it is back."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.devtools.fakeslack import FakeSlack
from tests.e2e.procs import RingbotProcess, ringbot_env

pytestmark = pytest.mark.slow


async def test_a_socket_mode_connection_that_fails_is_one_log_line_then_one_when_it_connects(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("apps.connections.open", status=200, error="internal_error", count=1)
    env = ringbot_env(tmp_path, simulator.url, fake_slack.url, SLACK_APP_TOKEN="xapp-1-e2e")
    env.pop("SLACK_SIGNING_SECRET")
    proc = RingbotProcess(env, tmp_path, args=["run"])
    proc.start()
    try:
        await proc.wait_healthy()  # serving while Socket Mode still fails
        async with httpx.AsyncClient(timeout=5) as http:
            doc = (await http.get(proc.url + "/healthz")).json()
        assert doc["slack"]["socket_mode"] in ("connecting", "failing"), doc
        assert await fake_slack.wait_for(lambda: bool(fake_slack.socket_clients), 25), proc.logs()[-3000:]
        assert await fake_slack.wait_for(lambda: "connected after 1 failed tries" in proc.logs(), 5)
        assert proc.terminate() == 0
    finally:
        proc.ensure_stopped()
    logs = proc.logs()
    failing = [line for line in logs.splitlines() if "socket mode cannot connect" in line]
    assert len(failing) == 1 and "reason=Slack answered internal_error; retrying every 10 s" in failing[0], logs
    assert "Traceback" not in logs and "Failed to connect" not in logs
