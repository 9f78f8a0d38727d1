"""The Kazoo 4 plain-WebSocket transport against our simulator server (docs/antbuddy-wire.md)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.devtools.simulator.stream_kazoo import KazooStream
from bot.stream.kazoo import KazooTransport
from bot.stream.transport import ConnectError
from tests.wire.stream_support import ACCOUNT, Authz, Sink, serve_app, sim_backend, wait_until

pytestmark = pytest.mark.timeout(15)


@contextlib.asynccontextmanager
async def connected(
    url: str, sink: Sink, malformed: list[str] | None = None, ping_seconds: float = 20.0
) -> AsyncIterator[KazooTransport]:
    transport = KazooTransport(ping_seconds=ping_seconds)
    transport.on_event = sink
    if malformed is not None:
        transport.on_malformed = malformed.append
    await transport.connect(url, timeout=3.0)
    try:
        yield transport
    finally:
        await transport.close()


async def test_subscribe_request_and_event_frames_follow_kazoo_4() -> None:
    sink = Sink()
    async with sim_backend("kazoo") as sim, connected(sim.url, sink) as transport:
        await transport.subscribe({"account_id": ACCOUNT, "auth_token": "tok", "binding": "call.CHANNEL_CREATE.*"})
        await wait_until(lambda: sim.server.subscribes == 1, what="subscribe")
        assert sim.authz.seen == [{"account_id": ACCOUNT, "auth_token": "tok", "binding": "call.CHANNEL_CREATE.*"}]
        payload = {"Call-ID": "leg-1", "Event-Name": "CHANNEL_CREATE"}
        assert await sim.server.emit("CHANNEL_CREATE", payload) == 1
        assert await sim.server.emit("CHANNEL_DESTROY", payload) == 0  # not subscribed
        await wait_until(lambda: sink.events == [("CHANNEL_CREATE", payload)], what="event")
        assert sink.names() == ["CHANNEL_CREATE"]


async def test_a_failed_subscribe_reply_becomes_an_auth_failure_event() -> None:
    sink = Sink()
    async with sim_backend("kazoo") as sim, connected(sim.url, sink) as transport:
        sim.authz.refused.add("bad")
        await transport.subscribe({"account_id": ACCOUNT, "auth_token": "bad", "binding": "call.CHANNEL_CREATE.*"})
        await wait_until(lambda: sink.names() == ["auth_failure"], what="auth_failure")
        assert sink.events[0][1]["message"] == "invalid auth token"
        assert "bad" not in json.dumps(sink.events[0][1])  # the token does not travel into logs


async def test_pings_are_sent_and_their_replies_feed_the_watchdog_clock() -> None:
    async with sim_backend("kazoo") as sim, connected(sim.url, Sink(), ping_seconds=0.05) as transport:
        first = transport.last_frame_at
        await wait_until(lambda: sim.server.pings >= 3, what="three pings")
        await wait_until(lambda: transport.last_frame_at > first, what="a pong")


async def test_malformed_frames_are_counted_and_the_connection_survives() -> None:
    sink, malformed = Sink(), []
    async with sim_backend("kazoo") as sim, connected(sim.url, sink, malformed) as transport:
        await transport.subscribe({"account_id": ACCOUNT, "auth_token": "t", "binding": "call.CHANNEL_ANSWER.*"})
        await wait_until(lambda: sim.server.subscribes == 1, what="subscribe")
        for raw in ["garbage", "[1,2]", '{"action":"event","data":{}}', '{"action":"launch"}']:
            await sim.server.send_raw(raw)
        big = {"call_id": "big", "blob": "y" * 1_000_000}
        await sim.server.emit("CHANNEL_ANSWER", big)
        await wait_until(lambda: sink.events == [("CHANNEL_ANSWER", big)], what="1 MB event")
        assert len(malformed) == 4
        assert not transport._closed.done()


async def test_a_dropped_socket_ends_the_connection() -> None:
    async with sim_backend("kazoo") as sim, connected(sim.url, Sink()) as transport:
        await wait_until(lambda: len(sim.server.sessions) == 1, what="session")
        await sim.server.drop_all()
        assert (await transport.closed()).startswith(("connection closed", "transport error"))


async def test_the_stream_takes_only_websocket_upgrades_at_root_and_rest_still_answers() -> None:
    async def index(request: web.Request) -> web.Response:
        return web.Response(text="rest index")

    app = web.Application()
    app.router.add_get("/", index)
    server = KazooStream(Authz())
    server.attach(app)
    async with serve_app(app) as url:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/") as response:
                assert (response.status, await response.text()) == (200, "rest index")
            async with http.get(url + "/nothing") as response:
                assert response.status == 404
        async with connected(url, Sink()) as transport:
            await transport.subscribe({"account_id": ACCOUNT, "auth_token": "t", "binding": "call.CHANNEL_CREATE.*"})
            await wait_until(lambda: server.subscribes == 1, what="subscribe over the shared app")


async def test_no_websocket_at_root_is_a_connect_error() -> None:
    async with sim_backend("socketio09") as other:
        with pytest.raises(ConnectError):
            await KazooTransport().connect(other.url, timeout=2.0)


async def test_a_burst_arrives_in_order() -> None:
    sink = Sink()
    async with sim_backend("kazoo") as sim, connected(sim.url, sink) as transport:
        for name in ("CHANNEL_CREATE", "CHANNEL_DESTROY"):
            await transport.subscribe({"account_id": ACCOUNT, "auth_token": "t", "binding": f"call.{name}.*"})
        await wait_until(lambda: sim.server.subscribes == 2, what="subscribes")
        burst = [("CHANNEL_CREATE", {"Call-ID": "a"}), ("CHANNEL_DESTROY", {"Call-ID": "a"})]
        assert await sim.server.emit_many(burst) == 1
        await wait_until(lambda: sink.events == burst, what="the burst")
