"""The running bot against the simulator in each stream protocol: missed calls alerted once, answered ones not;
it survives the simulator dropping every socket and a token expiry without losing a call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bot.app import shutdown, start
from bot.devtools.fakeslack import FakeSlack
from tests.conftest import APP_SECRET, make_settings


async def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


@pytest.mark.parametrize("protocol", ["socketio", "socketio09", "kazoo"])
@pytest.mark.parametrize("style", ["kazoo", "snake"])
async def test_bot_alerts_missed_calls_once_in_every_protocol_and_survives_drops_and_token_expiry(
    tmp_path: Path, fake_slack: FakeSlack, protocol: str, style: str
) -> None:
    from bot.devtools.simulator.server import Simulator

    sim = Simulator(
        app_id="test-app",
        app_secret=APP_SECRET,
        account_id="test-account",
        domain="demo.antbuddy.local",
        email="admin@demo.vn",
        protocol=protocol,
        payload_style=style,
        seed=3,
    )
    await sim.start()
    settings = make_settings(
        tmp_path,
        ANTBUDDY_API_URL=sim.url,
        ANTBUDDY_WS_URL=sim.url,
        SLACK_API_URL=fake_slack.url,
        ANTBUDDY_WS_PROTOCOL="auto",
        RINGBOT_HTTP_HOST="127.0.0.1",
        RINGBOT_HTTP_PORT="0",
        RINGBOT_CHANNEL_POSTS_PER_SECOND="20",
    )
    rt = await start(settings, mode="http", install_signals=False)
    try:
        assert await rt.stream.wait_connected(10)
        assert rt.stream.stats.protocol == protocol
        async with httpx.AsyncClient(timeout=10) as http:

            async def call(scenario: str, caller: str) -> None:
                r = await http.post(
                    sim.url + "/_sim/calls", json={"scenario": scenario, "caller": caller, "wait": True}
                )
                assert r.status_code == 200, r.text

            await call("missed_cancel", "0987000101")
            await call("answered", "0987000102")
            await call("queue_abandoned", "0987000103")
            assert await wait_until(lambda: len(fake_slack.posts("C0ALERTS")) == 2)
            # the server drops every socket: the client reconnects and re-subscribes; calls after it still count
            reconnects = rt.stream.stats.reconnects
            await http.post(sim.url + "/_sim/drop")
            assert await wait_until(lambda: rt.stream.stats.reconnects > reconnects and rt.stream.stats.connected)
            await call("missed_busy", "0987000104")
            # every token expires: the next reconnect fetches a fresh one
            await http.post(sim.url + "/_sim/tokens/expire")
            await http.post(sim.url + "/_sim/drop")
            assert await wait_until(lambda: rt.stream.stats.reconnects > reconnects + 1 and rt.stream.stats.connected)
            await call("ringgroup_missed", "0987000105")
        assert await wait_until(lambda: len(fake_slack.posts("C0ALERTS")) == 4)
        await asyncio.sleep(0.5)
        outcomes = {c["customer_number"]: c["outcome"] for c in rt.deps.store.calls(limit=20)}
        assert outcomes == {
            "0987000101": "missed",
            "0987000102": "answered",
            "0987000103": "abandoned",
            "0987000104": "missed",
            "0987000105": "missed",
        }
        assert len(fake_slack.posts("C0ALERTS")) == 4
    finally:
        await shutdown(rt)
        await sim.stop()
