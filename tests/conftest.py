"""Shared fixtures: the fake Slack Web API, the AntBuddy simulator, a store, settings, and the bot's
HTTP endpoint with real signed requests. Everything listens on 127.0.0.1 with ephemeral ports."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import Settings, load_settings
from bot.devtools.fakeslack import FakeSlack, block_actions_body, sign, slash_command_body, view_submission_body

SIGNING_SECRET = "test-signing-secret-0123456789"
APP_SECRET = "test-app-secret-abcdef"
SECRET_KEY_ENV = "RINGBOT_SECRET_KEY"


# Slowest first: the tests that start processes and servers, then the fuzz suite, then the quick unit tests. With
# several workers (.ci/run) the run then ends on short tests instead of waiting for a long one picked up last.
RUN_ORDER = ("e2e", "wire", "fuzz")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        parts = item.path.relative_to(Path(__file__).parent).parts
        return RUN_ORDER.index(parts[0]) if parts and parts[0] in RUN_ORDER else len(RUN_ORDER)

    items.sort(key=rank)  # stable: the order inside each part is the collection order


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's real tokens never leak into tests."""
    for var in list(os.environ):
        if var.startswith(("SLACK_", "ANTBUDDY_", "RINGBOT_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SKIP_SLACK_SDK_WARNING", "1")


def make_settings(tmp_path: Path, **overrides: str) -> Settings:
    env = {
        "ANTBUDDY_APP_ID": "test-app",
        "ANTBUDDY_APP_SECRET": APP_SECRET,
        "ANTBUDDY_ACCOUNT_ID": "test-account",
        "ANTBUDDY_DOMAIN": "demo.antbuddy.local",
        "ANTBUDDY_EMAIL": "admin@demo.vn",
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "RINGBOT_ALERT_CHANNEL": "C0ALERTS",
        "RINGBOT_DB": str(tmp_path / "ringbot.db"),
        "RINGBOT_SECRET_KEY": "",
        "RINGBOT_GRACE_SECONDS": "0.2",
        "RINGBOT_ADMINS": "UADMIN",
    }
    env.update(overrides)
    return load_settings({k: v for k, v in env.items() if v != ""}, dotenv=None)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack()
    await slack.start()
    try:
        yield slack
    finally:
        await slack.stop()


@pytest.fixture
async def simulator() -> AsyncIterator[Any]:
    """The AntBuddy simulator (REST + Socket.IO 4 stream) with the test credentials."""
    server = pytest.importorskip("bot.devtools.simulator.server")
    sim = server.Simulator(
        app_id="test-app",
        app_secret=APP_SECRET,
        account_id="test-account",
        domain="demo.antbuddy.local",
        email="admin@demo.vn",
        seed=7,
    )
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def runtime_settings(tmp_path: Path, simulator: Any, slack: FakeSlack, **extra: str) -> Settings:
    """Settings for the whole bot (`bot.app.start`) against the simulator and the fake Slack, HTTP mode on an
    ephemeral port."""
    return make_settings(
        tmp_path,
        **{
            "ANTBUDDY_API_URL": simulator.url,
            "ANTBUDDY_WS_URL": simulator.url,
            "SLACK_API_URL": slack.url,
            "RINGBOT_HTTP_HOST": "127.0.0.1",
            "RINGBOT_HTTP_PORT": "0",
            **extra,
        },
    )


@pytest.fixture
def store(tmp_path: Path):
    from storage import Store

    s = Store.open(tmp_path / "ringbot.db")
    try:
        yield s
    finally:
        s.close()


@dataclass
class BotHTTP:
    """The bot's Slack endpoint over real HTTP, with helpers that sign like Slack does."""

    url: str
    deps: Any
    slack: FakeSlack
    sim: Any
    http: httpx.AsyncClient

    async def post(self, body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> httpx.Response:
        return await self.http.post(self.url, content=body, headers=sign(secret, body, timestamp))

    async def command(self, text: str, *, user: str = "U0AGENT", channel: str = "C0CALLS", **kw: Any) -> httpx.Response:
        body = slash_command_body(
            text, user_id=user, channel_id=channel, response_url=self.slack.response_url(f"cmd-{time.monotonic_ns()}")
        )
        return await self.post(body, **kw)

    async def action(
        self,
        action_id: str,
        value: str,
        *,
        user: str = "U0AGENT",
        channel: str = "C0ALERTS",  # RINGBOT_ALERT_CHANNEL: where the alerts' buttons are
        message_ts: str = "",
        **kw: Any,
    ) -> httpx.Response:
        body = block_actions_body(
            action_id,
            value,
            user_id=user,
            channel_id=channel,
            message_ts=message_ts,
            response_url=self.slack.response_url(f"act-{time.monotonic_ns()}"),
        )
        return await self.post(body, **kw)

    async def view(
        self, callback_id: str, values: dict, *, user: str = "U0AGENT", private_metadata: str = "", **kw: Any
    ) -> httpx.Response:
        return await self.post(
            view_submission_body(callback_id, values, user_id=user, private_metadata=private_metadata), **kw
        )

    def responses(self) -> list[dict]:
        """Bodies the bot sent to response_url (ephemeral answers), oldest first."""
        return [c.body for c in self.slack.calls if c.method == "response_url"]


@pytest.fixture
async def bot_http(tmp_path: Path, fake_slack: FakeSlack, simulator: Any) -> AsyncIterator[BotHTTP]:
    """The bot's HTTP mode (Bolt at /slack/events) wired to the simulator and the fake Slack."""
    from bot.app import build_bolt, build_deps
    from bot.slack.app import build_slack_client, start_http

    settings = make_settings(
        tmp_path,
        ANTBUDDY_API_URL=simulator.url,
        ANTBUDDY_WS_URL=simulator.url,
        SLACK_API_URL=fake_slack.url,
        RINGBOT_SECRET_KEY="kP0gG2v4QZ6q2y7b8y1u0hS3X5c4W6e8r0t2y4u6i8o=",
    )
    client = build_slack_client(settings.slack_bot_token, settings.slack_api_url)
    deps = build_deps(settings, slack_client=client)
    bolt = build_bolt(deps, client, signing_secret=settings.slack_signing_secret)
    runner, port = await start_http(bolt, "127.0.0.1", 0, signing_secret=settings.slack_signing_secret)
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            yield BotHTTP(f"http://127.0.0.1:{port}/slack/events", deps, fake_slack, simulator, http)
        finally:
            await runner.cleanup()
            await deps.queues.history.stop()  # a history read a command started
            await deps.antbuddy.aclose()
            deps.store.close()
