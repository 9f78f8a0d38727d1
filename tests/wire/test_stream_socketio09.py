"""The Socket.IO 0.9 transport against our Kazoo-3-shaped server and the real socket.io 0.9 JS server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.stream.socketio09 import SocketIO09Transport
from bot.stream.transport import ConnectError, ProtocolError
from tests.wire.stream_support import (
    ACCOUNT,
    Sink,
    connected09,
    js_backend,
    needs_js,
    serve_app,
    sim_backend,
    subscribe_all,
    wait_for_value,
    wait_until,
)

pytestmark = pytest.mark.timeout(15)


async def test_a_burst_in_one_multi_packet_frame_arrives_as_separate_events_in_order() -> None:
    sink = Sink()
    async with sim_backend("socketio09") as sim, connected09(sim.url, sink) as transport:
        await subscribe_all(transport)
        await wait_until(lambda: sim.server.subscribes == 3, what="subscribes")
        burst = [
            ("CHANNEL_CREATE", {"call_id": "a"}),
            ("CHANNEL_CREATE", {"call_id": "b"}),
            ("CHANNEL_ANSWER", {"call_id": "b", "name": "Nguyễn 📞"}),
            ("CHANNEL_DESTROY", {"call_id": "a"}),
        ]
        assert await sim.server.emit_many(burst) == 1
        await wait_until(lambda: len(sink.events) == 4, what="four events")
        assert sink.events == burst  # args sent as an object arrive as that object


async def test_subscribe_is_sent_with_args_as_a_one_element_list() -> None:
    async with sim_backend("socketio09") as sim, connected09(sim.url, Sink()) as transport:
        await transport.subscribe({"account_id": ACCOUNT, "auth_token": "tok", "binding": "call.CHANNEL_CREATE.*"})
        await wait_until(lambda: len(sim.authz.seen) == 1, what="subscribe")
        assert sim.authz.seen == [{"account_id": ACCOUNT, "auth_token": "tok", "binding": "call.CHANNEL_CREATE.*"}]


async def test_heartbeats_are_answered_and_feed_the_watchdog_clock() -> None:
    async with sim_backend("socketio09", heartbeat_interval=0.05) as sim, connected09(sim.url, Sink()) as transport:
        first = transport.last_frame_at
        await wait_until(lambda: sim.server.heartbeats_answered >= 3, what="three answered heartbeats")
        assert transport.last_frame_at > first


async def test_a_server_silent_past_its_heartbeat_timeout_closes_the_connection() -> None:
    async with (
        sim_backend("socketio09", heartbeat_interval=3600, heartbeat_timeout=1) as sim,
        connected09(sim.url, Sink()) as transport,
    ):
        assert transport.handshake is not None and transport.handshake.heartbeat_timeout == 1.0
        assert await transport.closed() == "heartbeat timeout"


async def test_server_goodbye_closes_with_server_disconnect() -> None:
    async with sim_backend("socketio09") as sim, connected09(sim.url, Sink()) as transport:
        await wait_until(lambda: len(sim.server.sessions) == 1, what="session")
        await sim.server.disconnect_all()
        assert await transport.closed() == "server disconnect"


async def test_a_dropped_socket_ends_the_connection() -> None:
    async with sim_backend("socketio09") as sim, connected09(sim.url, Sink()) as transport:
        await wait_until(lambda: len(sim.server.sessions) == 1, what="session")
        await sim.server.drop_all()
        reason = await transport.closed()
        assert reason.startswith(("connection closed", "transport error"))


async def test_malformed_frames_are_counted_and_the_connection_survives() -> None:
    sink, malformed = Sink(), []
    big = {"call_id": "big", "blob": "x" * 1_000_000}
    async with sim_backend("socketio09") as sim, connected09(sim.url, sink, malformed) as transport:
        await subscribe_all(transport)
        await wait_until(lambda: sim.server.subscribes == 3, what="subscribes")
        for raw in ["garbage", "5:::not json", '5:::{"args":{}}', "\ufffd99\ufffd2::", "\ufffdx\ufffd"]:
            await sim.server.send_raw(raw)
        await sim.server.send_raw('4:::{"a":1')  # a JSON message that is not JSON
        await sim.server.emit("CHANNEL_CREATE", big)
        await sim.server.send_raw('5:::{"name":"CHANNEL_DESTROY","args":"a string payload"}')
        await wait_until(lambda: len(sink.events) == 2, what="the 1 MB event and the string event")
        assert sink.events[0] == ("CHANNEL_CREATE", big)
        assert sink.events[1] == ("CHANNEL_DESTROY", "a string payload")  # passed on as is; the normaliser judges
        assert len(malformed) == 6
        assert not transport._closed.done()


async def test_a_listener_exception_does_not_end_the_connection() -> None:
    seen: list[str] = []

    def broken(name: str, payload: Any) -> None:
        seen.append(payload["call_id"])
        raise RuntimeError("bug")

    async with sim_backend("socketio09") as sim:
        transport = SocketIO09Transport()
        transport.on_event = broken
        await transport.connect(sim.url, timeout=3.0)
        try:
            await subscribe_all(transport)
            await wait_until(lambda: sim.server.subscribes == 3, what="subscribes")
            await sim.server.emit("CHANNEL_CREATE", {"call_id": "x"})
            await sim.server.emit("CHANNEL_CREATE", {"call_id": "y"})
            await wait_until(lambda: seen == ["x", "y"], what="both events despite the failing listener")
            assert not transport._closed.done()
        finally:
            await transport.close()


async def test_a_server_that_is_not_socketio09_is_a_protocol_error() -> None:
    async with sim_backend("socketio") as other:
        with pytest.raises(ProtocolError, match="not a socket.io 0.9 server"):
            await SocketIO09Transport().connect(other.url, timeout=3.0)


async def test_a_handshake_without_websocket_is_a_protocol_error() -> None:
    from aiohttp import web

    async def handshake(request: web.Request) -> web.Response:
        return web.Response(text="abc:30:30:xhr-polling,jsonp-polling")

    app = web.Application()
    app.router.add_get("/socket.io/1/", handshake)
    async with serve_app(app) as url:
        with pytest.raises(ProtocolError, match="no websocket transport"):
            await SocketIO09Transport().connect(url, timeout=3.0)


async def test_an_unreachable_server_is_a_connect_error(unused_tcp_port: int) -> None:
    with pytest.raises(ConnectError):
        await SocketIO09Transport().connect(f"http://127.0.0.1:{unused_tcp_port}", timeout=2.0)


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_js, id="js-socketio0.9")])
async def test_real_socketio09_server_events_arrive_with_list_args_unwrapped(_: None) -> None:
    sink = Sink()
    async with js_backend("sio09_server.js", "socketio09") as js, connected09(js.url, sink) as transport:
        assert transport.handshake is not None and transport.handshake.heartbeat_timeout == 15.0
        await subscribe_all(transport)
        await wait_for_value(js.subscribes, lambda n: n == 3, what="subscribes")
        payload = {"Call-ID": "leg-1", "Custom-Channel-Vars": {"Bridge-ID": "b"}, "n": "Nguyễn 📞"}
        assert await js.emit("CHANNEL_CREATE", payload) == 1
        await wait_until(lambda: sink.events == [("CHANNEL_CREATE", payload)], what="event from socket.io 0.9")
        assert json.dumps(sink.events[0][1], ensure_ascii=False)


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_js, id="js-socketio0.9")])
async def test_real_socketio09_server_kick_is_reported_as_server_disconnect(_: None) -> None:
    async with js_backend("sio09_server.js", "socketio09") as js, connected09(js.url, Sink()) as transport:
        await subscribe_all(transport)
        await wait_for_value(js.subscribes, lambda n: n == 3, what="subscribes")
        assert await js.kick() == 1
        assert await transport.closed() in ("server disconnect", "connection closed")
