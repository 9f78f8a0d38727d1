"""The stream client over every transport, against our simulator servers, python-socketio, and the real JS servers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.antbuddy.errors import AuthError
from bot.stream.client import StreamAuthError, StreamClient
from tests.wire.stream_support import (
    ACCOUNT,
    BACKENDS,
    BINDINGS,
    Backend,
    Sink,
    Tokens,
    backend,
    call_event,
    sim_backend,
    wait_until,
)

pytestmark = pytest.mark.timeout(20)


@contextlib.asynccontextmanager
async def running(server: Backend, tokens: Tokens, sink: Sink, **options: Any) -> AsyncIterator[StreamClient]:
    options.setdefault("protocol", server.protocol)
    client = StreamClient(
        url=server.url,
        account_id=ACCOUNT,
        get_token=tokens,
        on_event=sink,
        backoff_initial=0.05,
        backoff_max=0.2,
        connect_timeout=3.0,
        **options,
    )
    task = asyncio.create_task(client.run())
    client.task = task  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        await client.stop()
        if not task.done():
            await asyncio.wait_for(task, 5.0)


async def subscribes_reach(server: Backend, count: int, timeout: float = 6.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while await server.subscribes() < count:
        assert asyncio.get_running_loop().time() < deadline, f"subscribes stuck at {await server.subscribes()}"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", BACKENDS)
async def test_subscribes_every_binding_and_hands_on_call_events(kind: str) -> None:
    sink, tokens = Sink(), Tokens()
    async with backend(kind) as server, running(server, tokens, sink) as client:
        assert await client.wait_connected(5.0)
        await subscribes_reach(server, len(BINDINGS))
        for name in ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY"):
            assert await server.emit(name, call_event("leg-7", event=name)) == 1
        await wait_until(lambda: len(sink.events) == 3, what="three events")
        assert sink.names() == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY"]
        assert all(payload["call_id"] == "leg-7" for _, payload in sink.events)
        assert client.stats.events_by_type == {"CHANNEL_CREATE": 1, "CHANNEL_ANSWER": 1, "CHANNEL_DESTROY": 1}
        assert client.stats.connected and client.stats.protocol == server.protocol
        assert tokens.issued == ["tok-1"]


@pytest.mark.parametrize("kind", BACKENDS)
async def test_reconnects_with_a_fresh_token_and_resubscribes_after_the_server_drops_every_socket(kind: str) -> None:
    sink, tokens = Sink(), Tokens()
    connects: list[int] = []

    async def on_connected() -> None:
        connects.append(len(tokens.issued))

    async with backend(kind) as server, running(server, tokens, sink, on_connected=on_connected) as client:
        await subscribes_reach(server, 3)
        assert await server.drop() >= 1
        await subscribes_reach(server, 6)
        await wait_until(lambda: client.stats.connected and client.stats.reconnects == 1, what="reconnected")
        await server.emit("CHANNEL_CREATE", call_event("after-drop"))
        await wait_until(lambda: sink.call_ids() == ["after-drop"], what="event after the reconnect")
        assert tokens.issued == ["tok-1", "tok-2"]
        await wait_until(lambda: connects == [1, 2], what="on_connected after each connect")


@pytest.mark.js
@pytest.mark.parametrize("kind", [p for p in BACKENDS if p.id in ("js-socketio0.9", "js-socketio4")])
async def test_reconnects_after_the_server_kicks_the_socket(kind: str) -> None:
    """python-socketio 5 alone stays down after `socket.disconnect(true)`; the client must not."""
    sink, tokens = Sink(), Tokens()
    async with backend(kind) as server, running(server, tokens, sink) as client:
        await subscribes_reach(server, 3)
        assert await server.kick() == 1  # type: ignore[attr-defined]
        await subscribes_reach(server, 6)
        await server.emit("CHANNEL_DESTROY", call_event("after-kick"))
        await wait_until(lambda: sink.call_ids() == ["after-kick"], what="event after the kick")
        assert client.stats.reconnects == 1


async def test_socketio09_server_goodbye_is_followed_by_a_reconnect() -> None:
    sink, tokens = Sink(), Tokens()
    async with sim_backend("socketio09") as server, running(server, tokens, sink) as client:
        await subscribes_reach(server, 3)
        assert await server.server.disconnect_all() == 1  # type: ignore[attr-defined]
        await subscribes_reach(server, 6)
        assert client.stats.reconnects == 1


@pytest.mark.parametrize("kind", BACKENDS)
async def test_refreshes_the_token_before_it_expires_and_resubscribes_on_the_same_connection(kind: str) -> None:
    sink, tokens = Sink(), Tokens(lifetime=1.5)  # refresh due at 80 %: 1.2 s
    async with backend(kind) as server, running(server, tokens, sink) as client:
        await subscribes_reach(server, 3)
        await subscribes_reach(server, 6, timeout=4.0)
        assert tokens.issued[:2] == ["tok-1", "tok-2"]
        assert client.stats.reconnects == 0
        await server.emit("CHANNEL_ANSWER", call_event("after-refresh"))
        await wait_until(lambda: "after-refresh" in sink.call_ids(), what="event after the refresh")


@pytest.mark.parametrize("kind", BACKENDS)
async def test_one_auth_failure_gets_a_new_token_that_then_works(kind: str) -> None:
    sink, tokens = Sink(), Tokens()
    async with backend(kind) as server:
        await server.refuse("tok-1")
        async with running(server, tokens, sink) as client:
            await subscribes_reach(server, 3)  # accepted ones: all with tok-2
            await server.emit("CHANNEL_CREATE", call_event("with-tok-2"))
            await wait_until(lambda: sink.call_ids() == ["with-tok-2"], what="event with the second token")
            assert tokens.issued == ["tok-1", "tok-2"]
            assert not client.task.done()  # type: ignore[attr-defined]
            assert "auth_failure" not in sink.names()


@pytest.mark.parametrize("kind", BACKENDS)
async def test_a_second_refused_token_stops_the_client_with_stream_auth_error(kind: str) -> None:
    sink, tokens = Sink(), Tokens()
    async with backend(kind) as server:
        await server.refuse("tok-1", "tok-2")
        async with running(server, tokens, sink) as client:
            with pytest.raises(StreamAuthError, match="ANTBUDDY_ACCOUNT_ID"):
                await asyncio.wait_for(client.task, 8.0)  # type: ignore[attr-defined]
            assert tokens.issued == ["tok-1", "tok-2"]
            assert not client.stats.connected


async def test_watchdog_reconnects_a_silent_socket() -> None:
    sink, tokens = Sink(), Tokens()
    # Heartbeats once an hour, handshake timeout 30 s: only the client's watchdog can notice.
    async with (
        sim_backend("socketio09", heartbeat_interval=3600) as server,
        running(server, tokens, sink, watchdog_seconds=0.4) as client,
    ):
        await subscribes_reach(server, 6, timeout=5.0)
        assert client.stats.reconnects >= 1
        assert tokens.issued[:2] == ["tok-1", "tok-2"]


async def test_watchdog_reconnects_a_kazoo_server_that_stops_answering_pings() -> None:
    sink, tokens = Sink(), Tokens()
    async with (
        sim_backend("kazoo", answer_pings=False) as server,
        running(server, tokens, sink, watchdog_seconds=0.4) as client,
    ):
        await subscribes_reach(server, 6, timeout=5.0)
        assert client.stats.reconnects >= 1


async def test_heartbeats_keep_the_watchdog_quiet() -> None:
    sink, tokens = Sink(), Tokens()
    async with (
        sim_backend("socketio09", heartbeat_interval=0.1) as server,
        running(server, tokens, sink, watchdog_seconds=0.5) as client,
    ):
        await subscribes_reach(server, 3)
        await asyncio.sleep(1.5)  # three watchdog periods of heartbeats only
        assert client.stats.reconnects == 0 and client.stats.connected
        assert server.server.heartbeats_answered >= 5  # type: ignore[attr-defined]


async def test_app_credentials_refused_on_the_first_connection_stop_the_client_naming_them() -> None:
    sink, tokens = Sink(), Tokens(fail_with=AuthError("AntBuddy refused the auth_token credentials (HTTP 401)."))
    async with sim_backend("kazoo") as server, running(server, tokens, sink) as client:
        with pytest.raises(StreamAuthError, match=r"refused the auth_token credentials \(HTTP 401\)"):
            await asyncio.wait_for(client.task, 5.0)  # type: ignore[attr-defined]
        assert await server.subscribes() == 0 and not client.stats.connected


async def worked_once(server: Backend, client: StreamClient, sink: Sink) -> None:
    """The stream has worked: subscribed, and an event came through."""
    await subscribes_reach(server, 3)
    await server.emit("CHANNEL_CREATE", call_event("first"))
    await wait_until(lambda: "first" in sink.call_ids(), what="an event")


async def test_app_credentials_refused_after_the_stream_worked_are_retried_and_logged_as_such(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink, tokens = Sink(), Tokens()
    caplog.set_level(logging.WARNING, logger="bot.stream.client")
    async with sim_backend("kazoo") as server, running(server, tokens, sink) as client:
        await worked_once(server, client, sink)
        tokens.fail_with = AuthError("AntBuddy refused the app id or secret.")  # the secret rotated under us
        assert await server.drop() == 1
        await wait_until(
            lambda: sum("cause=credentials_rejected" in r.getMessage() for r in caplog.records) >= 2,
            what="two logged credential failures",
        )
        assert not client.task.done() and not client.stats.connected  # type: ignore[attr-defined]
        assert "refused the app credentials" in (client.stats.last_error or "")
        tokens.fail_with = None
        await subscribes_reach(server, 6)
        await server.emit("CHANNEL_CREATE", call_event("after"))
        await wait_until(lambda: "after" in sink.call_ids(), what="events again once the credentials work")


@pytest.mark.parametrize("kind", BACKENDS)
async def test_tokens_refused_after_the_stream_worked_are_retried_with_backoff_not_fatal(kind: str) -> None:
    sink, tokens = Sink(), Tokens()
    async with backend(kind) as server:
        await server.refuse("tok-2", "tok-3", "tok-4")
        async with running(server, tokens, sink) as client:
            await worked_once(server, client, sink)
            assert await server.drop() >= 1
            await subscribes_reach(server, 6, timeout=8.0)  # accepted ones: tok-1's, then tok-5's
            assert tokens.issued == ["tok-1", "tok-2", "tok-3", "tok-4", "tok-5"]
            assert not client.task.done()  # type: ignore[attr-defined]
            await server.emit("CHANNEL_DESTROY", call_event("with-tok-5"))
            await wait_until(lambda: "with-tok-5" in sink.call_ids(), what="an event with the fifth token")


async def test_unreachable_server_is_retried_with_backoff_and_logged_as_network(
    caplog: pytest.LogCaptureFixture, unused_tcp_port: int
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.stream.client")
    client = StreamClient(
        url=f"http://127.0.0.1:{unused_tcp_port}",
        account_id=ACCOUNT,
        protocol="socketio09",
        get_token=Tokens(),
        on_event=Sink(),
        backoff_initial=0.05,
        backoff_max=0.1,
    )
    task = asyncio.create_task(client.run())
    try:
        await wait_until(
            lambda: sum("cause=network" in r.getMessage() for r in caplog.records) >= 3, what="three network failures"
        )
        assert not client.stats.connected
    finally:
        await client.stop()
        await asyncio.wait_for(task, 3.0)


async def test_stop_ends_run_promptly_and_closes_the_connection() -> None:
    sink, tokens = Sink(), Tokens()
    async with sim_backend("socketio09") as server:
        async with running(server, tokens, sink) as client:
            await subscribes_reach(server, 3)
        assert client.task.done() and client.task.exception() is None  # type: ignore[attr-defined]
        await wait_until(lambda: not server.server.sessions, what="server saw the close")  # type: ignore[attr-defined]
        assert not client.stats.connected


async def test_listener_errors_do_not_break_the_stream() -> None:
    seen: list[str] = []

    def flaky(name: str, payload: Any) -> None:
        seen.append(payload["call_id"])
        if payload["call_id"] == "boom":
            raise RuntimeError("listener bug")

    async with sim_backend("kazoo") as server, running(server, Tokens(), flaky) as client:  # type: ignore[arg-type]
        await subscribes_reach(server, 3)
        await server.emit("CHANNEL_CREATE", call_event("boom"))
        await server.emit("CHANNEL_CREATE", call_event("fine"))
        await wait_until(lambda: seen == ["boom", "fine"], what="both events")
        assert client.stats.reconnects == 0


@pytest.mark.parametrize("kind", BACKENDS)
async def test_auto_protocol_probes_and_connects(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.stream.client")
    sink = Sink()
    async with backend(kind) as server, running(server, Tokens(), sink, protocol="auto") as client:
        await subscribes_reach(server, 3)
        assert client.stats.protocol == server.protocol
        assert any(
            f"stream protocol detected protocol={server.protocol} url={server.url}" in r.getMessage()
            for r in caplog.records
        )


async def test_stop_during_a_slow_token_fetch_ends_run_promptly() -> None:
    started = asyncio.Event()

    async def slow_token() -> Any:
        started.set()
        await asyncio.sleep(30)

    client = StreamClient(
        url="http://127.0.0.1:9", account_id=ACCOUNT, protocol="kazoo", get_token=slow_token, on_event=Sink()
    )
    task = asyncio.create_task(client.run())
    await asyncio.wait_for(started.wait(), 2.0)
    await client.stop()
    await asyncio.wait_for(task, 1.0)


async def test_a_refusal_after_a_settled_connection_counts_as_a_first_refusal_again() -> None:
    sink, tokens = Sink(), Tokens(lifetime=1.5)  # tok-2's refresh (tok-3) comes at ~1.2 s
    async with sim_backend("kazoo") as server:
        await server.refuse("tok-1", "tok-3")
        async with running(server, tokens, sink, auth_settle_seconds=0.2) as client:
            await wait_until(lambda: len(tokens.issued) >= 4, timeout=6.0, what="tok-4 after the refused refresh")
            # tok-4's subscribes follow its issue by a moment; an event emitted before them is (rightly) not
            # delivered, so emit until one arrives (bounded)
            deadline = asyncio.get_running_loop().time() + 5.0
            while "still-running" not in sink.call_ids():
                assert asyncio.get_running_loop().time() < deadline, "no event arrived with tok-4"
                await server.emit("CHANNEL_CREATE", call_event("still-running"))
                await asyncio.sleep(0.1)
            assert not client.task.done()  # type: ignore[attr-defined]
            assert server.server.refused == 8  # type: ignore[attr-defined]  # tok-1 and tok-3, four bindings each


@pytest.mark.parametrize("kind", BACKENDS)
async def test_tokens_never_reach_the_logs(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sink, tokens = Sink(), Tokens(lifetime=1.3)
    async with backend(kind) as server:
        await server.refuse("tok-1")  # auth_failure carries the refused token as `cause`
        async with running(server, tokens, sink):
            await wait_until(lambda: len(tokens.issued) >= 3, timeout=5.0, what="a refusal and a refresh")
    assert tokens.issued and not [
        r.getMessage() for r in caplog.records if any(t in r.getMessage() for t in tokens.issued)
    ]
