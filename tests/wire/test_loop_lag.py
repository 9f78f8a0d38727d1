"""The assembled bot watches its own event loop: blocked on purpose, it logs one line naming what ran, and
/metrics exports the lag."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import httpx
import pytest

from bot.app import shutdown, start
from bot.devtools.fakeslack import FakeSlack
from tests.conftest import runtime_settings
from tests.support.waiting import eventually


def block_the_loop() -> None:
    time.sleep(0.3)  # a synchronous read of every call row, say


async def test_a_blocked_loop_is_logged_and_exported(
    tmp_path: Path, simulator, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.ops.looplag")
    rt = await start(runtime_settings(tmp_path, simulator, fake_slack), mode="http", install_signals=False)
    try:
        assert rt.loop_lag is not None
        await eventually(lambda: rt.loop_lag.beats > 1, "the monitor's heartbeat")  # it watches the loop now
        block_the_loop()
        lines = await eventually(
            lambda: [r.getMessage() for r in caplog.records if "block_the_loop" in r.getMessage()], "the log line"
        )
        assert len(lines) == 1 and "event loop blocked for" in lines[0] and "test_loop_lag.py:" in lines[0]
        async with httpx.AsyncClient(timeout=5) as http:
            text = (await http.get(f"http://127.0.0.1:{rt.http_port}/metrics")).text
        lag = re.search(r"^ringbot_event_loop_lag_seconds (\S+)$", text, re.M)
        assert lag is not None and float(lag.group(1)) >= 0.25
    finally:
        await shutdown(rt)
