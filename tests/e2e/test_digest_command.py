"""`ringbot digest` as an operator runs it, against the simulator and the fake Slack: `--preview --lang vi` prints the
digest in Vietnamese (the day's calls read from AntBuddy's history, since this database has none) and writes the
chart PNG; `--post` sends the digest and its chart to the alert channel when no bot runs; a day in the future or a
malformed one is one line and exit 2."""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.devtools.fakeslack import FakeSlack
from bot.queues.chart import charts_available
from tests.e2e.procs import ringbot_env

pytestmark = pytest.mark.slow
TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # the simulator's day and ringbot's (RINGBOT_TIMEZONE unset)


async def ringbot(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The command in a thread: the simulator and the fake Slack it talks to run on this test's loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def yesterday_in_history(simulator, calls: int) -> str:
    """`calls` queue calls yesterday between 09:00 and 17:00, in AntBuddy's history only; the day."""
    day = datetime.now(TZ).date() - timedelta(days=1)
    nine = datetime(day.year, day.month, day.day, 9, tzinfo=TZ).timestamp()
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.post(
            simulator.url + "/_sim/history", json={"calls": calls, "since": nine, "until": nine + 8 * 3600}
        )
    assert r.status_code == 200
    return day.isoformat()


async def test_preview_in_vietnamese_prints_the_digest_from_history_and_writes_the_chart(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    day = await yesterday_in_history(simulator, 20)
    env = ringbot_env(tmp_path, simulator.url, fake_slack.url)
    png = tmp_path / "chart.png"
    proc = await ringbot(tmp_path, env, "digest", "--preview", "--lang", "vi", "--date", day, "--out", str(png))
    assert proc.returncode == 0, proc.stderr
    assert f"Tổng kết trong ngày — {day}" in proc.stdout, proc.stdout
    assert "Tất cả hàng đợi: 20 cuộc vào" in proc.stdout, proc.stdout  # the console shows *bold* as Slack does
    assert "Traceback" not in proc.stdout + proc.stderr
    if charts_available():
        image = png.read_bytes()
        assert image[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", image[16:24])[0] >= 600
        assert f"chart written to {png}" in proc.stdout
    else:
        assert "no chart: matplotlib is not installed" in proc.stdout and not png.exists()
    assert fake_slack.posts() == []  # a preview sends nothing

    today = await ringbot(tmp_path, env, "digest", "--preview", "--lang", "vi")  # the issue's own words: today
    assert today.returncode == 0, today.stderr
    assert "Tổng kết trong ngày — " in today.stdout
    if charts_available():
        assert (tmp_path / f"ringbot-digest-{datetime.now(TZ).date()}.png").read_bytes()[:4] == b"\x89PNG"


async def test_post_sends_the_digest_and_its_chart_when_no_bot_runs(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    day = await yesterday_in_history(simulator, 12)
    proc = await ringbot(
        tmp_path, ringbot_env(tmp_path, simulator.url, fake_slack.url), "digest", "--post", "--date", day
    )
    assert proc.returncode == 0, proc.stderr
    assert f"digest of {day} queued for 1 channel(s): C0ALERTS" in proc.stdout and "posted" in proc.stdout
    (post,) = [p for p in fake_slack.posts("C0ALERTS") if f"Daily digest — {day}" in str(p.body.get("text"))]
    assert "All queues*: 12 offered" in str(post.body.get("blocks"))
    if charts_available():
        assert len(fake_slack.calls_to("files.completeUploadExternal")) == 1


async def test_a_day_in_the_future_or_malformed_is_one_line_and_exit_2(
    tmp_path: Path, simulator, fake_slack: FakeSlack
) -> None:
    env = ringbot_env(tmp_path, simulator.url, fake_slack.url)
    tomorrow = (datetime.now(TZ).date() + timedelta(days=2)).isoformat()
    for bad, says in ((tomorrow, "is in the future"), ("2026-13-40", "--date must be YYYY-MM-DD")):
        proc = await ringbot(tmp_path, env, "digest", "--preview", "--date", bad)
        assert proc.returncode == 2 and says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    both = await ringbot(tmp_path, env, "digest", "--preview", "--post")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
