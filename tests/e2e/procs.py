"""Start the real `ringbot` process against the in-test simulator and fake Slack, and stop or kill it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import APP_SECRET, SIGNING_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RingbotProcess:
    env: dict[str, str]
    workdir: Path
    args: list[str] = field(default_factory=lambda: ["run", "--mode", "http"])
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def port(self) -> int:
        return int(self.env["RINGBOT_HTTP_PORT"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path = self.workdir / f"ringbot-{int(time.time() * 1000)}.log"
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *self.args],
            env=self.env,
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    async def wait_healthy(self, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        last: object = None
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc and self.proc.poll() is not None:
                    raise AssertionError(f"ringbot exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
                try:
                    r = await http.get(self.url + "/healthz")
                    last = r.text
                    if r.status_code == 200:
                        return r.json()
                except httpx.HTTPError as exc:
                    last = exc
                await asyncio.sleep(0.1)
        raise AssertionError(f"ringbot not healthy in {timeout} s (last: {last}):\n{self.logs()[-3000:]}")

    async def wait_role(self, role: str, timeout: float = 20.0) -> dict:
        """The /healthz document once it answers 200 with `role` ("active" or "standby")."""
        deadline = time.monotonic() + timeout
        last: object = None
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc and self.proc.poll() is not None:
                    raise AssertionError(f"ringbot exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
                try:
                    r = await http.get(self.url + "/healthz")
                    last = r.text
                    if r.status_code == 200 and r.json().get("role") == role:
                        return r.json()
                except httpx.HTTPError as exc:
                    last = exc
                await asyncio.sleep(0.1)
        raise AssertionError(f"ringbot not {role} in {timeout} s (last: {last}):\n{self.logs()[-3000:]}")

    def terminate(self, timeout: float = 12.0) -> int:
        assert self.proc
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"ringbot did not stop within {timeout} s:\n{self.logs()[-3000:]}") from None

    def kill9(self) -> None:
        assert self.proc
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)

    def ensure_stopped(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def ringbot_env(workdir: Path, sim_url: str, slack_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ANTBUDDY_", "RINGBOT_"))}
    env.update(
        {
            "ANTBUDDY_APP_ID": "test-app",
            "ANTBUDDY_APP_SECRET": APP_SECRET,
            "ANTBUDDY_ACCOUNT_ID": "test-account",
            "ANTBUDDY_DOMAIN": "demo.antbuddy.local",
            "ANTBUDDY_EMAIL": "admin@demo.vn",
            "ANTBUDDY_API_URL": sim_url,
            "ANTBUDDY_WS_URL": sim_url,
            "ANTBUDDY_WS_PROTOCOL": "auto",
            "SLACK_BOT_TOKEN": "xoxb-e2e",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_url,
            "RINGBOT_ALERT_CHANNEL": "C0ALERTS",
            "RINGBOT_DB": str(workdir / "ringbot.db"),
            "RINGBOT_HTTP_HOST": "127.0.0.1",
            "RINGBOT_HTTP_PORT": str(free_port()),
            "RINGBOT_GRACE_SECONDS": "0.3",
            "RINGBOT_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            "SKIP_SLACK_SDK_WARNING": "1",
        }
    )
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env
