"""Protocol detection reads bodies: 0.9 handshake, Engine.IO 4 open packet, plain WebSocket; EIO3 is refused."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from bot.stream.client import StreamClient
from bot.stream.probe import probe
from tests.wire.stream_support import ACCOUNT, BACKENDS, Sink, Tokens, backend, serve_app, wait_until

pytestmark = pytest.mark.timeout(15)


@pytest.mark.parametrize("kind", BACKENDS)
async def test_probe_names_the_protocol_each_server_speaks(kind: str) -> None:
    async with backend(kind) as server:
        result = await probe(server.url, timeout=3.0)
    assert result.protocol == server.protocol, result.detail
    assert not result.unsupported


def eio3_app(body: bytes) -> web.Application:
    """A server that answers like engine.io 3 / 1.x: 200 to everything, in its own framing."""

    async def polling(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/plain")

    async def unknown(request: web.Request) -> web.Response:
        return web.Response(status=400, text='{"code":0,"message":"Transport unknown"}')

    app = web.Application()
    app.router.add_get("/socket.io/", polling)
    app.router.add_get("/socket.io/1/", unknown)
    return app


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            b'97:0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}2:40', id="socket.io-2"
        ),
        pytest.param(
            b'\x00\t\x07\xff0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":60000}',
            id="socket.io-1-binary",
        ),
    ],
)
async def test_probe_refuses_a_socketio_1_2_server_clearly(body: bytes) -> None:
    async with serve_app(eio3_app(body)) as url:
        result = await probe(url, timeout=3.0)
    assert result.protocol is None and result.unsupported
    assert "Socket.IO 1-2" in result.detail and "not support" in result.detail


async def test_probe_of_a_server_that_speaks_nothing_known_says_what_it_saw() -> None:
    app = web.Application()
    async with serve_app(app) as url:
        result = await probe(url, timeout=3.0)
    assert result.protocol is None and not result.unsupported
    assert "/socket.io/1/: 404" in result.detail and "websocket /" in result.detail


async def test_probe_of_nothing_listening_is_bounded(unused_tcp_port: int) -> None:
    result = await asyncio.wait_for(probe(f"http://127.0.0.1:{unused_tcp_port}", timeout=1.0), 5.0)
    assert result.protocol is None and "ClientConnectorError" in result.detail


async def test_auto_client_logs_the_unsupported_server_and_keeps_retrying(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.stream.client")
    async with serve_app(eio3_app(b'97:0{"sid":"abc"}2:40')) as url:
        client = StreamClient(
            url=url,
            account_id=ACCOUNT,
            protocol="auto",
            get_token=Tokens(),
            on_event=Sink(),
            backoff_initial=0.05,
            backoff_max=0.1,
        )
        task = asyncio.create_task(client.run())
        try:
            await wait_until(
                lambda: sum("cause=unsupported" in r.getMessage() for r in caplog.records) >= 2,
                what="two unsupported lines",
            )
            assert "does not support" in (client.stats.last_error or "")
            assert not client.stats.connected
        finally:
            await client.stop()
            await asyncio.wait_for(task, 3.0)
