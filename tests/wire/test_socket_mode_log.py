"""Socket Mode failing to connect, as the log shows it: one line when it starts failing (and when its reason
changes), one when it is back, never slack_sdk's traceback on every retry; /healthz names the state."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

import bot.app
from bot.app import shutdown, start
from bot.devtools.fakeslack import FakeSlack
from tests.conftest import runtime_settings
from tests.support.waiting import eventually

RETRY = 0.2  # seconds between tries here (10 s in production)


def socket_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("bot.slack.socket_mode", "slack_bolt", "slack_sdk"))]


async def test_connection_failures_are_one_line_each_time_the_reason_changes_then_one_when_it_is_back(
    tmp_path: Path, simulator, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bot.app, "SOCKET_MODE_RETRY_SECONDS", RETRY)
    caplog.set_level(logging.DEBUG)
    fake_slack.fail("apps.connections.open", status=200, error="internal_error", count=4)
    fake_slack.fail("apps.connections.open", status=200, error="ratelimited_elsewhere", count=2)
    settings = runtime_settings(tmp_path, simulator, fake_slack, SLACK_APP_TOKEN="xapp-1-wire")
    rt = await start(settings, mode="socket", install_signals=False)  # does not wait for Socket Mode
    try:
        assert rt.socket_log is not None and rt.socket_log.state in ("connecting", "failing")
        async with httpx.AsyncClient(timeout=5) as http:
            await eventually(lambda: rt.socket_log.failures >= 2, "two failed tries", timeout=10)
            doc = (await http.get(f"http://127.0.0.1:{rt.http_port}/healthz")).json()
            assert doc["slack"]["socket_mode"] == "failing"
            await eventually(lambda: bool(fake_slack.socket_clients), "connected at the seventh try", timeout=10)
            await eventually(lambda: rt.socket_log.state == "connected", "the state follows")
            doc = (await http.get(f"http://127.0.0.1:{rt.http_port}/healthz")).json()
            assert doc["slack"]["socket_mode"] == "connected"
    finally:
        await shutdown(rt)
    opened = fake_slack.calls_to("apps.connections.open", ok_only=False)
    assert len(opened) == 7, "six failed tries, then the one that worked"
    shown = [r for r in socket_lines(caplog) if r.levelno >= logging.INFO]
    assert [r.getMessage() for r in shown] == [
        f"slack socket mode cannot connect reason=Slack answered internal_error; retrying every {RETRY:.0f} s",
        f"slack socket mode cannot connect reason=Slack answered ratelimited_elsewhere; retrying every {RETRY:.0f} s",
        "slack socket mode connected after 6 failed tries",
    ]
    assert not [r for r in caplog.records if r.exc_info], "no traceback"
    repeats = [r for r in socket_lines(caplog) if "still cannot connect" in r.getMessage()]
    assert repeats and all(r.levelno == logging.DEBUG for r in repeats)
