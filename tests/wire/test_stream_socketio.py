"""The Socket.IO 3–4 transport (python-socketio 5) against python-socketio's server and the real socket.io 4."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from bot.stream.socketio import SocketIOTransport
from bot.stream.transport import ConnectError, NotConnected
from tests.wire.stream_support import (
    ACCOUNT,
    Sink,
    js_backend,
    needs_js,
    sim_backend,
    wait_for_value,
    wait_until,
)

pytestmark = pytest.mark.timeout(15)


@contextlib.asynccontextmanager
async def connected(url: str, sink: Sink) -> AsyncIterator[SocketIOTransport]:
    transport = SocketIOTransport()
    transport.on_event = sink
    await transport.connect(url, timeout=3.0)
    try:
        yield transport
    finally:
        await transport.close()


async def subscribe(transport: SocketIOTransport, name: str = "CHANNEL_CREATE") -> None:
    await transport.subscribe({"account_id": ACCOUNT, "auth_token": "tok", "binding": f"call.{name}.*"})


async def test_events_arrive_in_order_with_their_payload() -> None:
    sink = Sink()
    async with sim_backend("socketio") as sim, connected(sim.url, sink) as transport:
        await subscribe(transport)
        await wait_until(lambda: sim.server.subscribes == 1, what="subscribe")
        for n in range(50):
            await sim.server.emit("CHANNEL_CREATE", {"call_id": f"leg-{n}"})
        await wait_until(lambda: len(sink.events) == 50, what="50 events")
        assert sink.call_ids() == [f"leg-{n}" for n in range(50)]


async def test_engineio_pings_feed_the_watchdog_clock() -> None:
    async with (
        sim_backend("socketio", ping_interval=0.1, ping_timeout=1) as sim,
        connected(sim.url, Sink()) as transport,
    ):
        first = transport.last_frame_at
        await wait_until(lambda: transport.last_frame_at > first + 0.15, what="pings after the connect")


async def test_a_server_kick_ends_the_connection_with_its_reason() -> None:
    async with sim_backend("socketio") as sim, connected(sim.url, Sink()) as transport:
        await subscribe(transport)
        await wait_until(lambda: sim.server.subscribes == 1, what="subscribe")
        await sim.server.drop_all()
        assert await transport.closed() == "server disconnect"
        with pytest.raises(NotConnected):
            await subscribe(transport)


async def test_an_unreachable_server_is_a_connect_error(unused_tcp_port: int) -> None:
    with pytest.raises(ConnectError):
        await SocketIOTransport().connect(f"http://127.0.0.1:{unused_tcp_port}", timeout=2.0)


async def test_a_socketio09_server_is_refused_at_connect() -> None:
    async with sim_backend("socketio09") as other:
        with pytest.raises(ConnectError):
            await SocketIOTransport().connect(other.url, timeout=2.0)


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_js, id="js-socketio4")])
async def test_real_socketio4_server_events_and_kick(_: None) -> None:
    sink = Sink()
    async with js_backend("sio4_server.js", "socketio") as js, connected(js.url, sink) as transport:
        await subscribe(transport, "CHANNEL_DESTROY")
        await wait_for_value(js.subscribes, lambda n: n == 1, what="subscribe")
        payload = {"Call-ID": "leg-9", "Hangup-Cause": "NO_ANSWER", "n": "Nguyễn 📞"}
        assert await js.emit("CHANNEL_DESTROY", payload) == 1
        await wait_until(lambda: sink.events == [("CHANNEL_DESTROY", payload)], what="event from socket.io 4")
        assert await js.kick() == 1
        assert await transport.closed() == "server disconnect"


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_js, id="js-socketio4")])
async def test_real_socketio4_network_drop_is_a_transport_error(_: None) -> None:
    async with js_backend("sio4_server.js", "socketio") as js, connected(js.url, Sink()) as transport:
        await subscribe(transport)
        await wait_for_value(js.subscribes, lambda n: n == 1, what="subscribe")
        assert await js.drop() >= 1
        assert await transport.closed() == "transport error"
