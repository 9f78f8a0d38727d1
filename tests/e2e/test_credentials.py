"""AntBuddy refusing us, as the `ringbot run` process meets it: on the very first connection it is a setting to fix
(exit 2, one line, nothing started); once the bot has run, it is retried (someone is rotating the secret) with
/healthz unhealthy until AntBuddy takes the credentials again."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from bot.devtools.fakeslack import FakeSlack
from tests.e2e.procs import RingbotProcess, ringbot_env

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


async def exit_code(proc: RingbotProcess, timeout: float = 30.0) -> int:
    assert proc.proc is not None
    try:
        return await asyncio.to_thread(proc.proc.wait, timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"ringbot still running after {timeout} s:\n{proc.logs()[-3000:]}") from None


def said(proc: RingbotProcess) -> list[str]:
    """What the process wrote that is not a log line: what an operator reads as its answer."""
    return [line for line in proc.logs().splitlines() if line.strip() and not LOG_LINE.match(line)]


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        ({"ANTBUDDY_APP_SECRET": "not-the-secret"}, "AntBuddy refused the auth_token credentials (HTTP 401)"),
        ({"ANTBUDDY_ACCOUNT_ID": "someone-elses"}, "refused a freshly issued token twice"),
    ],
    ids=["app-secret", "account-id"],
)
async def test_credentials_refused_on_the_very_first_connection_stop_run_with_exit_2_and_one_line(
    tmp_path: Path, simulator, fake_slack: FakeSlack, setting: dict[str, str], needle: str
) -> None:
    proc = RingbotProcess(ringbot_env(tmp_path, simulator.url, fake_slack.url, **setting), tmp_path)
    proc.start()
    try:
        assert await exit_code(proc) == 2, proc.logs()[-3000:]
    finally:
        proc.ensure_stopped()
    lines = said(proc)
    assert len(lines) == 1 and lines[0].startswith("ringbot: ") and needle in lines[0], proc.logs()[-3000:]
    assert "Traceback" not in proc.logs()
    assert not fake_slack.posts(), "nothing was posted"


async def test_credentials_refused_after_the_bot_has_run_are_retried_with_healthz_unhealthy_until_they_work(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    proc = RingbotProcess(ringbot_env(tmp_path, simulator.url, fake_slack.url), tmp_path)
    proc.start()
    try:
        await proc.wait_healthy()
        async with httpx.AsyncClient(timeout=5) as http:
            await http.post(simulator.url + "/_sim/calls", json={"scenario": "missed_cancel", "wait": True})
            assert await fake_slack.wait_for(lambda: len(fake_slack.posts("C0ALERTS")) == 1, 10), proc.logs()[-2000:]
            # The secret is rotated in AntBuddy's portal while the bot runs, and the connection drops.
            secret = simulator.app_secret
            r = await http.put(simulator.url + "/_sim/credentials", json={"app_secret": "rotated-secret"})
            assert r.json()["changed"] == ["app_secret"]
            await http.post(simulator.url + "/_sim/drop")
            deadline = time.monotonic() + 15
            while True:
                health = await http.get(proc.url + "/healthz")
                doc = health.json()
                if "refused" in (doc["stream"]["last_error"] or ""):
                    break
                assert time.monotonic() < deadline, f"no refusal in /healthz: {doc}\n{proc.logs()[-2000:]}"
                await asyncio.sleep(0.2)
            assert health.status_code == 503 and "stream" in doc["unhealthy"] and not doc["stream"]["connected"]
            assert proc.proc is not None and proc.proc.poll() is None, "a refusal after running is not fatal"
            await http.put(simulator.url + "/_sim/credentials", json={"app_secret": secret})
        health = await proc.wait_healthy(timeout=40)  # the next try, after the stream's backoff
        assert health["stream"]["connected"] is True
        assert proc.terminate() == 0
    finally:
        proc.ensure_stopped()
    logs = proc.logs()
    assert "cause=credentials_rejected" in logs and "Traceback" not in logs
    assert "rotated-secret" not in logs
