"""What the `ringbot` commands write, and where: backfill's progress and summary on stdout with its log lines on
stderr, a `--since` in the future refused, and a reader that goes away (`ringbot doctor | head -1`) ending the
command quietly with the status a Unix tool gets."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.devtools.fakeslack import FakeSlack
from tests.e2e.procs import ringbot_env
from tests.e2e.test_cli import GOOD, clean_env, error_lines, ringbot

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR)")
TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # RINGBOT_TIMEZONE's default


async def place_old_calls(sim_url: str, count: int, *, days_ago: int) -> None:
    """`count` missed calls that only history knows of (the stream never saw them), a minute apart."""
    start = time.time() - days_ago * 86400
    async with httpx.AsyncClient(timeout=10) as http:
        for i in range(count):
            r = await http.post(
                sim_url + "/_sim/calls",
                json={"scenario": "missed_cancel", "stream": False, "start": start + 60 * i, "speed": 0, "wait": True},
            )
            r.raise_for_status()


async def test_backfill_writes_a_line_per_page_and_its_summary_to_stdout_and_its_logs_to_stderr(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    await place_old_calls(simulator.url, 130, days_ago=3)  # two pages of 100
    since = (datetime.now(TZ) - timedelta(days=5)).date()
    # Each repeat call is a reply in its alert's thread: 130 posts, sent quickly.
    env = ringbot_env(tmp_path, simulator.url, fake_slack.url, RINGBOT_CHANNEL_POSTS_PER_SECOND="50")
    proc = await asyncio.to_thread(ringbot, tmp_path, "backfill", "--since", str(since), env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.splitlines()
    assert not [line for line in out if LOG_LINE.match(line)], "a log line reached stdout"
    pages = [line for line in out if line.startswith("history ")]
    assert pages == [
        f"history {since}..{datetime.now(TZ).date()} (window 1 of 1) page 1: 100 call(s), 100 read so far",
        f"history {since}..{datetime.now(TZ).date()} (window 1 of 1) page 2: 30 call(s), 130 read so far",
    ], proc.stdout
    assert out[len(pages)].startswith(f"backfill since {since}: read 130 call(s) from AntBuddy's history, ")
    assert out[-1].startswith("posted ")
    logs = [line for line in proc.stderr.splitlines() if line.strip()]
    assert logs and all(LOG_LINE.match(line) for line in logs), proc.stderr[-2000:]
    assert any("antbuddy request endpoint=history" in line for line in logs)


def test_backfill_refuses_a_since_in_the_future_in_one_line(tmp_path: Path) -> None:
    tomorrow = (datetime.now(TZ) + timedelta(days=1)).date()
    proc = ringbot(tmp_path, "backfill", "--since", str(tomorrow), env=clean_env(tmp_path, **GOOD))
    assert proc.returncode == 2
    assert error_lines(proc) == [
        f"ringbot: --since {tomorrow} is in the future (today is {datetime.now(TZ).date()} in Asia/Ho_Chi_Minh): "
        "nothing to read"
    ]
    assert proc.stdout == ""
    assert not list((tmp_path / "cwd").iterdir()), "a refused backfill must not create the database"


def test_doctor_into_a_reader_that_stops_after_one_line_ends_quietly_with_sigpipes_status(tmp_path: Path) -> None:
    nobody = "http://127.0.0.1:1"  # every check fails fast: what matters is that it writes after the reader left
    env = clean_env(
        tmp_path,
        **GOOD,
        ANTBUDDY_API_URL=nobody,
        ANTBUDDY_WS_URL=nobody,
        SLACK_API_URL=nobody + "/api/",
        RINGBOT_DB=str(tmp_path / "ringbot.db"),
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "doctor"],  # PYTHONUNBUFFERED: each line is written as it is printed
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()  # what `head -1` reads before it exits
        proc.stdout.close()
        code = proc.wait(30)
        stderr = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert first.startswith("[ok  ] configuration: loaded")
    assert code == 128 + signal.SIGPIPE, stderr
    assert stderr == "", "a reader going away is not an error to report"
