"""Fixtures of the wire tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.devtools.fakeslack import FakeSlack
from tests.conftest import BotHTTP, make_settings

SECRET_KEY = "kP0gG2v4QZ6q2y7b8y1u0hS3X5c4W6e8r0t2y4u6i8o="


@pytest.fixture
def ring(bot_http: Any) -> Any:
    """The bot's Slack endpoint (conftest's bot_http) under a shorter name."""
    return bot_http


@contextlib.asynccontextmanager
async def bot_with_outbox(tmp_path: Path, fake_slack: FakeSlack, simulator: Any, **env: str) -> AsyncIterator[BotHTTP]:
    """The bot's Slack endpoint with its outbox running, as `ringbot run` wires them: what a listener's change queues
    (a notice to the admins, a DM, an alert's edit) reaches the fake Slack, worded in its reader's language."""
    from bot.app import alert_renderer, build_bolt, build_deps, outbox_kinds
    from bot.outbox import Outbox
    from bot.slack.app import build_slack_client, start_http

    settings = make_settings(
        tmp_path,
        ANTBUDDY_API_URL=simulator.url,
        ANTBUDDY_WS_URL=simulator.url,
        SLACK_API_URL=fake_slack.url,
        RINGBOT_SECRET_KEY=SECRET_KEY,
        **env,
    )
    client = build_slack_client(settings.slack_bot_token, settings.slack_api_url)
    outbox: Outbox | None = None

    def wake() -> None:
        if outbox is not None:
            outbox.wake()

    deps = build_deps(settings, slack_client=client, wake_outbox=wake)
    outbox = Outbox(
        deps.store,
        client,
        render=alert_renderer(deps),
        kinds=outbox_kinds(deps),
        person_language=deps.languages.of,
        rate_per_second=50.0,
        tz=settings.tz,
    )
    sending = asyncio.create_task(outbox.run(), name="outbox")
    bolt = build_bolt(deps, client, signing_secret=settings.slack_signing_secret)
    runner, port = await start_http(bolt, "127.0.0.1", 0, signing_secret=settings.slack_signing_secret)
    async with httpx.AsyncClient(timeout=10) as http:
        try:
            yield BotHTTP(f"http://127.0.0.1:{port}/slack/events", deps, fake_slack, simulator, http)
        finally:
            await runner.cleanup()
            await outbox.stop()
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
            await deps.queues.history.stop()  # a history read a command started
            await deps.antbuddy.aclose()
            deps.store.close()


@pytest.fixture
async def ring_out(tmp_path: Path, fake_slack: FakeSlack, simulator: Any) -> AsyncIterator[BotHTTP]:
    """`ring` with the outbox running (bot_with_outbox)."""
    async with bot_with_outbox(tmp_path, fake_slack, simulator) as bot:
        yield bot
