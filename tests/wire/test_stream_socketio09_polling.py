"""Socket.IO 0.9 over xhr-polling: the fallback when a socket.io-cowboy handshake offers no websocket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.stream.client import BINDINGS as CLIENT_BINDINGS
from bot.stream.client import StreamClient
from bot.stream.socketio09 import SocketIO09Transport
from tests.wire.stream_support import (
    ACCOUNT,
    BINDINGS,
    Sink,
    Tokens,
    call_event,
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
POLLING = {"transports": ("xhr-polling",)}


async def test_a_polling_only_handshake_connects_over_xhr_polling_and_subscribes_every_binding() -> None:
    async with sim_backend("socketio09", **POLLING) as sim, connected09(sim.url, Sink()) as transport:
        assert transport.handshake is not None and transport.handshake.transports == ("xhr-polling",)
        assert transport.transport == "xhr-polling" and transport._ws is None
        await subscribe_all(transport)
        await wait_until(lambda: sim.server.subscribes == 3, what="three subscribes")
        assert [body["binding"] for body in sim.authz.seen] == list(BINDINGS)
        assert sim.server.polls >= 1


async def test_websocket_is_preferred_when_the_handshake_offers_both() -> None:
    options = {"transports": ("websocket", "xhr-polling")}
    async with sim_backend("socketio09", **options) as sim, connected09(sim.url, Sink()) as transport:
        assert transport.transport == "websocket" and transport._ws is not None
        assert sim.server.polls == 0


async def test_one_event_per_poll_and_a_burst_in_one_framed_poll_arrive_in_order() -> None:
    sink = Sink()
    async with sim_backend("socketio09", **POLLING) as sim, connected09(sim.url, sink) as transport:
        await subscribe_all(transport)
        await wait_until(lambda: sim.server.subscribes == 3, what="subscribes")
        assert await sim.server.emit("CHANNEL_CREATE", {"call_id": "single"}) == 1
        await wait_until(lambda: sink.call_ids() == ["single"], what="the single event")
        burst = [
            ("CHANNEL_CREATE", {"call_id": "a"}),
            ("CHANNEL_ANSWER", {"call_id": "a", "name": "Nguyễn 📞"}),
            ("CHANNEL_DESTROY", {"call_id": "a"}),
        ]
        polls_before = sim.server.polls
        assert await sim.server.emit_many(burst) == 1  # queued together: one `\ufffd`-framed response
        await wait_until(lambda: len(sink.events) == 4, what="the burst")
        assert sink.events[1:] == burst
        assert sim.server.polls - polls_before <= 2  # the burst did not take a poll per event


async def test_heartbeats_arrive_by_poll_are_answered_by_post_and_feed_the_watchdog() -> None:
    async with (
        sim_backend("socketio09", heartbeat_interval=0.05, **POLLING) as sim,
        connected09(sim.url, Sink()) as transport,
    ):
        first = transport.last_frame_at
        await wait_until(lambda: sim.server.heartbeats_answered >= 3, what="three answered heartbeats")
        assert transport.last_frame_at > first


async def test_an_idle_poll_is_answered_with_a_noop_and_the_connection_stays_up() -> None:
    async with (
        sim_backend("socketio09", heartbeat_interval=3600, poll_duration=0.05, **POLLING) as sim,
        connected09(sim.url, Sink()) as transport,
    ):
        await wait_until(lambda: sim.server.polls >= 4, what="several idle polls")
        assert not transport._closed.done()


async def test_a_dropped_session_closes_the_connection() -> None:
    async with sim_backend("socketio09", **POLLING) as sim, connected09(sim.url, Sink()) as transport:
        await wait_until(lambda: len(sim.server.sessions) == 1, what="session")
        assert await sim.server.drop_all() == 1
        reason = await asyncio.wait_for(transport.closed(), 5.0)
        assert reason.startswith(("transport error", "session gone"))


async def test_a_poll_answered_404_for_the_sid_means_the_session_is_gone() -> None:
    polls: list[str] = []

    async def handshake(request: web.Request) -> web.Response:
        return web.Response(text="abc:30:30:xhr-polling")

    async def poll(request: web.Request) -> web.Response:
        polls.append(request.query.get("t", ""))
        if len(polls) == 1:
            return web.Response(text="1::")
        return web.Response(status=404, text="session not found")

    app = web.Application()
    app.router.add_get("/socket.io/1/", handshake)
    app.router.add_get("/socket.io/1/xhr-polling/abc", poll)
    async with serve_app(app) as url, connected09(url, Sink()) as transport:
        assert await asyncio.wait_for(transport.closed(), 5.0) == "session gone: poll answered 404"
        assert all(t.isdigit() for t in polls)  # each poll carries the cache-busting `t=<ms>`


async def test_server_goodbye_over_polling_closes_with_server_disconnect() -> None:
    async with sim_backend("socketio09", **POLLING) as sim, connected09(sim.url, Sink()) as transport:
        await wait_until(lambda: len(sim.server.sessions) == 1, what="session")
        assert await sim.server.disconnect_all() == 1
        assert await asyncio.wait_for(transport.closed(), 5.0) == "server disconnect"


async def test_garbage_in_a_poll_is_counted_and_the_connection_survives() -> None:
    sink, malformed = Sink(), []
    async with sim_backend("socketio09", **POLLING) as sim, connected09(sim.url, sink, malformed) as transport:
        await subscribe_all(transport)
        await wait_until(lambda: sim.server.subscribes == 3, what="subscribes")
        assert await sim.server.send_raw("garbage") == 1
        await wait_until(lambda: len(malformed) == 1, what="malformed count")
        await sim.server.emit("CHANNEL_CREATE", {"call_id": "after"})
        await wait_until(lambda: sink.call_ids() == ["after"], what="event after garbage")


async def test_close_ends_the_poll_and_says_goodbye() -> None:
    async with sim_backend("socketio09", **POLLING) as sim:
        transport = SocketIO09Transport()
        await transport.connect(sim.url, timeout=3.0)
        await wait_until(lambda: len(sim.server.sessions) == 1, what="session")
        tasks = list(transport._tasks)
        await asyncio.wait_for(transport.close(), 5.0)
        assert tasks and all(task.done() for task in tasks)
        assert await transport.closed() == "client close"
        await wait_until(lambda: not sim.server.sessions, what="the server saw `0::`")


async def test_refused_token_over_polling_arrives_as_auth_failure() -> None:
    sink = Sink()
    async with sim_backend("socketio09", **POLLING) as sim, connected09(sim.url, sink) as transport:
        sim.authz.refused.add("bad")
        await transport.subscribe({"account_id": ACCOUNT, "auth_token": "bad", "binding": BINDINGS[0]})
        await wait_until(lambda: sink.names() == ["auth_failure"], what="auth_failure")
        assert sink.events[0][1]["cause"] == "bad"


@contextlib.asynccontextmanager
async def running(url: str, tokens: Tokens, sink: Sink) -> AsyncIterator[StreamClient]:
    client = StreamClient(
        url=url,
        account_id=ACCOUNT,
        protocol="socketio09",
        get_token=tokens,
        on_event=sink,
        backoff_initial=0.05,
        backoff_max=0.2,
        connect_timeout=3.0,
    )
    task = asyncio.create_task(client.run())
    try:
        yield client
    finally:
        await client.stop()
        await asyncio.wait_for(task, 5.0)


async def test_stream_client_reconnects_over_polling_and_resubscribes_after_a_drop() -> None:
    sink, tokens = Sink(), Tokens()
    async with sim_backend("socketio09", **POLLING) as sim, running(sim.url, tokens, sink) as client:
        await wait_until(lambda: sim.server.subscribes == len(CLIENT_BINDINGS), what="first subscribes")
        assert await sim.server.drop_all() == 1
        await wait_until(lambda: sim.server.subscribes == 2 * len(CLIENT_BINDINGS), what="re-subscribes")
        await wait_until(lambda: client.stats.connected and client.stats.reconnects == 1, what="reconnected")
        assert await sim.server.emit("CHANNEL_CREATE", call_event("after-drop")) == 1
        await wait_until(lambda: sink.call_ids() == ["after-drop"], what="event after the reconnect")
        assert tokens.issued == ["tok-1", "tok-2"]


# ---- the real socket.io 0.9 server, restricted to xhr-polling --------------------------------------------------
@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_js, id="js-socketio0.9-polling")])
async def test_real_socketio09_polling_server_delivers_events_over_xhr_polling(_: None) -> None:
    sink = Sink()
    async with (
        js_backend("sio09_server.js", "socketio09", "--transports=xhr-polling") as js,
        connected09(js.url, sink) as transport,
    ):
        assert transport.handshake is not None and transport.handshake.transports == ("xhr-polling",)
        assert transport.transport == "xhr-polling"
        await subscribe_all(transport)
        await wait_for_value(js.subscribes, lambda n: n == 3, what="subscribes")
        payload: dict[str, Any] = {"Call-ID": "leg-1", "n": "Nguyễn 📞"}
        assert await js.emit("CHANNEL_CREATE", payload) == 1
        assert await js.emit("CHANNEL_DESTROY", {"Call-ID": "leg-1"}) == 1
        await wait_until(lambda: len(sink.events) == 2, what="two events from socket.io 0.9 polling")
        assert sink.events == [("CHANNEL_CREATE", payload), ("CHANNEL_DESTROY", {"Call-ID": "leg-1"})]


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_js, id="js-socketio0.9-polling")])
async def test_real_socketio09_polling_server_kick_is_followed_by_a_reconnect_and_resubscribe(_: None) -> None:
    sink, tokens = Sink(), Tokens()
    async with (
        js_backend("sio09_server.js", "socketio09", "--transports=xhr-polling") as js,
        running(js.url, tokens, sink) as client,
    ):
        await wait_for_value(js.subscribes, lambda n: n == len(CLIENT_BINDINGS), what="first subscribes")
        assert await js.kick() == 1  # `0::` answers the open poll
        await wait_for_value(
            js.subscribes, lambda n: n == 2 * len(CLIENT_BINDINGS), what="re-subscribes after the kick"
        )
        await wait_until(lambda: client.stats.connected and client.stats.reconnects == 1, what="reconnected")
        assert await js.emit("CHANNEL_ANSWER", call_event("after-kick")) == 1
        await wait_until(lambda: sink.call_ids() == ["after-kick"], what="event after the reconnect")
        assert tokens.issued == ["tok-1", "tok-2"]


@pytest.mark.parametrize("_", [pytest.param(None, marks=needs_js, id="js-socketio0.9-polling")])
async def test_real_socketio09_polling_server_events_still_arrive_after_a_network_drop(_: None) -> None:
    """socket.io 0.9 keeps a polling session across a lost TCP connection: the client either polls on in the same
    session or reconnects; either way events flow again."""
    sink, tokens = Sink(), Tokens()
    async with (
        js_backend("sio09_server.js", "socketio09", "--transports=xhr-polling") as js,
        running(js.url, tokens, sink),
    ):
        await wait_for_value(js.subscribes, lambda n: n == len(CLIENT_BINDINGS), what="first subscribes")
        assert await js.drop() >= 1
        deadline = asyncio.get_running_loop().time() + 6.0
        while not sink.call_ids():  # bounded: one emit per 0.2 s until an event gets through
            assert asyncio.get_running_loop().time() < deadline, "no event got through after the drop"
            await js.emit("CHANNEL_CREATE", call_event("after-drop"))
            with contextlib.suppress(AssertionError):
                await wait_until(lambda: bool(sink.call_ids()), timeout=0.2, what="event after the drop")
        assert set(sink.call_ids()) == {"after-drop"}
