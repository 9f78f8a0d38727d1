"""What the benchmarks share: the simulator and fake Slack, the bot's settings, a `ringbot` child process, figures.

Benchmarks are run by hand, from the repository root in the project's venv (`python bench/<name>.py`); the
targets they check are written down in docs/benchmarks.md. Nothing here is product code.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

APP_ID = "bench-app"
APP_SECRET = "bench-app-secret"
ACCOUNT_ID = "bench-account"
DOMAIN = "demo.antbuddy.local"
EMAIL = "admin@demo.vn"
SIGNING_SECRET = "bench-signing-secret"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def rss_mb() -> float:
    """This process's resident set size (VmRSS) in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not in /proc/self/status")


def quiet_logging(level: int = logging.WARNING) -> None:
    """Benchmarks print their own figures; product INFO lines would only cost time and bury them."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger().setLevel(level)


def simulator(**kw: Any):
    """The AntBuddy simulator with the benchmark credentials (not started)."""
    from bot.devtools.simulator.server import Simulator

    return Simulator(app_id=APP_ID, app_secret=APP_SECRET, account_id=ACCOUNT_ID, domain=DOMAIN, email=EMAIL, **kw)


def bot_env(sim_url: str, slack_url: str, db_path: Path) -> dict[str, str]:
    """The bot's environment: the benchmark credentials, the local simulator and fake Slack, one database."""
    return {
        "ANTBUDDY_APP_ID": APP_ID,
        "ANTBUDDY_APP_SECRET": APP_SECRET,
        "ANTBUDDY_ACCOUNT_ID": ACCOUNT_ID,
        "ANTBUDDY_DOMAIN": DOMAIN,
        "ANTBUDDY_EMAIL": EMAIL,
        "ANTBUDDY_API_URL": sim_url,
        "ANTBUDDY_WS_URL": sim_url,
        "ANTBUDDY_WS_PROTOCOL": "socketio",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "RINGBOT_ALERT_CHANNEL": "C0ALERTS",
        "RINGBOT_DB": str(db_path),
    }


def settings(sim_url: str, slack_url: str, db_path: Path, **extra: str):
    """Frozen bot Settings pointing at the local simulator and fake Slack."""
    from bot.config import load_settings

    return load_settings({**bot_env(sim_url, slack_url, db_path), **extra}, dotenv=None)


async def start_fakes(**sim_kw: Any):
    """The AntBuddy simulator (with `sim_kw`) and the fake Slack, both started: (sim, slack)."""
    from bot.devtools.fakeslack import FakeSlack

    sim = simulator(**sim_kw)
    await sim.start()
    slack = FakeSlack()
    await slack.start()
    return sim, slack


def alert_meta(post: Any) -> dict[str, Any]:
    """The `event_payload` of a post's message metadata (alert_id, kind, …); {} for a post without one."""
    return (post.body.get("metadata") or {}).get("event_payload") or {}


async def emit_missed_calls(
    sim: Any,
    callers: list[str],
    rate: float,
    *,
    ring_seconds: int = 18,
    dids: list[str] | None = None,
    on_a_leg_destroy: Callable[[str], None] | None = None,
) -> tuple[list[str], float]:
    """One `missed_cancel` call from each caller, started at a steady `rate` a second (dialling `dids` in turn).

    Each call is built when it starts and dated so that it ends now: its history record must not look older
    than the stream's events, or reconciliation raises it from history before the stream does.
    `on_a_leg_destroy(call_id)` runs just before the A-leg's CHANNEL_DESTROY goes out (latency starts there).
    Returns the calls' ids and the seconds the sending took.
    """
    from bot.devtools.simulator.scenarios import CallOptions

    call_ids: list[str] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    for i, caller in enumerate(callers):
        pause = t0 + i / rate - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        did = {"did": dids[i % len(dids)]} if dids else {}
        plan = sim.plan(
            "missed_cancel",
            CallOptions(
                speed=0.0, caller=caller, ring_seconds=ring_seconds, start=time.time() - ring_seconds - 1, **did
            ),
        )
        call_ids.append(plan.call_id)
        for _, name, payload in plan.events:
            if on_a_leg_destroy is not None and name == "CHANNEL_DESTROY" and payload.get("Call-ID") == plan.call_id:
                on_a_leg_destroy(plan.call_id)
            await sim.emit(name, payload)
        sim.add_history(plan.record)
    return call_ids, loop.time() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll `predicate` every `step` seconds until true or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


@dataclass
class RingbotProcess:
    """The real `ringbot run --mode http` in a child process, against the given simulator and fake Slack."""

    workdir: Path
    sim_url: str
    slack_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def db_path(self) -> Path:
        return self.workdir / "ringbot.db"

    @property
    def log_path(self) -> Path:
        return self.workdir / "ringbot.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTBUDDY_", "RINGBOT_"))}
        self.port = free_port()
        env.update(bot_env(self.sim_url, self.slack_url, self.db_path))
        env.update(
            {
                "RINGBOT_HTTP_HOST": "127.0.0.1",
                "RINGBOT_HTTP_PORT": str(self.port),
                "RINGBOT_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
                "SKIP_SLACK_SDK_WARNING": "1",
                "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            }
        )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        env = self.env()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--mode", "http"],
                env=env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def wait_streaming(self, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until /healthz says the stream is connected (subscribed)."""
        import aiohttp

        deadline = time.monotonic() + timeout
        last: Any = None
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"ringbot exited with {self.proc.returncode}:\n{self.logs()[-2000:]}")
                try:
                    async with http.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                        last = await r.text()
                        if r.status == 200:
                            return json.loads(last)
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    last = exc
                await asyncio.sleep(0.1)
        raise RuntimeError(f"ringbot not streaming within {timeout} s (last: {last}):\n{self.logs()[-2000:]}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout` seconds; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Read the bot's SQLite file (WAL: safe while the bot runs)."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
