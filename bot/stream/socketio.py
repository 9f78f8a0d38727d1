"""Socket.IO 3–4 (Engine.IO 4) transport on python-socketio 5; reconnecting is left to the stream client."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import engineio
import socketio

from bot.stream import safe_json
from bot.stream.transport import ConnectError, NotConnected, Transport

log = logging.getLogger(__name__)


class _StampingEngineIOClient(engineio.AsyncClient):
    """Engine.IO client that reports every packet (pings included) so the watchdog sees heartbeats."""

    on_packet: Callable[[], None] = staticmethod(lambda: None)

    async def _receive_packet(self, pkt: Any) -> None:  # private hook in python-engineio 4.x
        self.on_packet()
        await super()._receive_packet(pkt)


class _Client(socketio.AsyncClient):
    def _engineio_client_class(self) -> type[engineio.AsyncClient]:
        return _StampingEngineIOClient


class SocketIOTransport(Transport):
    protocol = "socketio"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self._closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._timeout = 10.0
        # python-socketio 5 reconnects after a network drop but not after a server kick: we own it all.
        self._sio = _Client(
            reconnection=False,
            handle_sigint=False,
            logger=False,
            engineio_logger=False,
            request_timeout=10,
            json=safe_json,  # an unreadable payload is one rejected event, never a task's exception
        )
        eio = self._sio.eio
        if isinstance(eio, _StampingEngineIOClient):
            eio.on_packet = self.touch
        self._sio.on("*", self._on_any)
        self._sio.on("disconnect", self._on_disconnect)

    def _on_any(self, name: Any, *args: Any) -> None:
        # Sync on purpose: python-socketio runs each message as a task; no await keeps them in arrival order.
        self.touch()
        if not isinstance(name, str):  # an event literally named "*": python-socketio passes no name
            name, args = "*", (name, *args)
        if len(args) == 1:
            payload: Any = args[0]
        elif not args:
            payload = None
        else:
            payload = list(args)
        self.deliver(name, payload)

    def _on_disconnect(self, reason: str | None = None) -> None:
        self._finish(reason or "disconnected")

    def _finish(self, reason: str) -> None:
        if not self._closed.done():
            self._closed.set_result(reason)

    async def connect(self, url: str, *, timeout: float) -> None:
        self._timeout = timeout
        try:
            await asyncio.wait_for(
                self._sio.connect(url, transports=["websocket"], wait_timeout=timeout),
                timeout + 1.0,
            )
        except TimeoutError:
            await self._shutdown()
            raise ConnectError(f"socket.io connect timed out after {timeout:g}s") from None
        except socketio.exceptions.ConnectionError as exc:
            await self._shutdown()
            raise ConnectError(f"socket.io connect failed: {exc}") from None
        self.touch()

    async def subscribe(self, body: dict[str, Any]) -> None:
        if not self._sio.connected:
            # python-socketio drops an emit on a closed connection; say so instead.
            raise NotConnected("socket.io connection is not open")
        try:
            await asyncio.wait_for(self._sio.emit("subscribe", body), self._timeout)
        except (TimeoutError, socketio.exceptions.SocketIOError) as exc:
            raise NotConnected(f"socket.io emit failed: {exc!r}") from None

    async def closed(self) -> str:
        return await asyncio.shield(self._closed)

    async def _shutdown(self) -> None:
        try:
            await asyncio.wait_for(self._sio.disconnect(), 5.0)
        except (TimeoutError, socketio.exceptions.SocketIOError, OSError):
            pass
        # Also closes the aiohttp session python-engineio opened for us.
        http = getattr(self._sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()

    async def close(self) -> None:
        self._finish("client close")
        await self._shutdown()
