"""Hostile stream events through the simulator's stream into the running bot, in each protocol the bot speaks
(Socket.IO 4, Socket.IO 0.9, Kazoo's WebSocket) and both key styles: the bot goes on, logs no ERROR and no
traceback, and a legit missed call sent after the garbage is alerted exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.harness import ACCOUNT, running_bot
from tests.fuzz.profiles import fuzz
from tests.fuzz.strategies import STYLES, Event, stream_garbage

pytestmark = pytest.mark.timeout(300)

PROTOCOLS = ("socketio", "socketio09", "kazoo")


@pytest.fixture(params=PROTOCOLS)
async def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    async with running_bot(tmp_path, request.param) as running:
        yield running


@fuzz(max_examples=12)
@given(garbage=stream_garbage(account=ACCOUNT), style=st.sampled_from(STYLES))
async def test_garbage_on_the_stream_leaves_the_bot_running_and_the_next_call_alerted_once(
    bot: Any, garbage: list[Event], style: str
) -> None:
    bot.logs.clear()
    for name, payload in garbage:
        await bot.inject(name, payload)
    await bot.assert_legit_calls_alerted_once(style)
    await bot.assert_alive()
    bot.logs.assert_clean(f"{len(garbage)} garbage event(s) on {bot.protocol}")
