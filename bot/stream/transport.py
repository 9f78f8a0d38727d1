"""One small interface over the three wire protocols AntBuddy's event stream may speak."""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

PROTOCOLS = ("socketio", "socketio09", "kazoo")
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # one frame; a bigger one is a broken or hostile server


class TransportError(Exception):
    """The stream connection could not be made, or broke."""


class ConnectError(TransportError):
    """The server could not be reached, or did not complete the handshake in time."""


class ProtocolError(TransportError):
    """The server answered, but not in the protocol this transport speaks."""


class NotConnected(TransportError):
    """A send on a connection that is not (or no longer) open."""


def _ignore_event(name: str, payload: Any) -> None:
    log.debug("stream event dropped (no listener) name=%s", name)


def _ignore_malformed(reason: str) -> None:
    pass


class Transport(abc.ABC):
    """One connection to the stream server; a new instance per connection attempt."""

    protocol: str = ""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        # Called for every server event: (name, payload as received: dict / list / str / None).
        self.on_event: Callable[[str, Any], None] = _ignore_event
        # Called once per frame that could not be understood (logged by the transport, counted by the client).
        self.on_malformed: Callable[[str], None] = _ignore_malformed
        self.last_frame_at: float = clock()

    def touch(self) -> None:
        """Record that a frame (event or heartbeat) arrived, for the client's watchdog."""
        self.last_frame_at = self.clock()

    def deliver(self, name: str, payload: Any) -> None:
        """Hand one event to the listener; a listener bug must not kill the connection."""
        try:
            self.on_event(name, payload)
        except Exception:
            log.exception("stream event listener failed protocol=%s name=%s", self.protocol, name)

    def malformed(self, reason: str, sample: str | bytes = "") -> None:
        log.warning(
            "stream frame malformed protocol=%s reason=%s size=%d sample=%r",
            self.protocol,
            reason,
            len(sample),
            sample[:80],
        )
        try:
            self.on_malformed(reason)
        except Exception:
            log.exception("stream malformed-frame counter failed")

    @abc.abstractmethod
    async def connect(self, url: str, *, timeout: float) -> None:
        """Open the connection (handshake included); raises a TransportError subclass."""

    @abc.abstractmethod
    async def subscribe(self, body: dict[str, Any]) -> None:
        """Send one `subscribe` request ({account_id, auth_token, binding})."""

    @abc.abstractmethod
    async def closed(self) -> str:
        """Wait until the connection ends; return why."""

    @abc.abstractmethod
    async def close(self) -> None:
        """End the connection (idempotent)."""


def create_transport(protocol: str, *, clock: Callable[[], float] = time.monotonic) -> Transport:
    """The transport for `protocol` ("socketio" | "socketio09" | "kazoo")."""
    # Imported here: the concrete transports import this module.
    if protocol == "socketio":
        from bot.stream.socketio import SocketIOTransport

        return SocketIOTransport(clock=clock)
    if protocol == "socketio09":
        from bot.stream.socketio09 import SocketIO09Transport

        return SocketIO09Transport(clock=clock)
    if protocol == "kazoo":
        from bot.stream.kazoo import KazooTransport

        return KazooTransport(clock=clock)
    raise ValueError(f"unknown stream protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


def websocket_url(url: str, path: str = "") -> str:
    """http(s)://host[:port][/base] + path -> ws(s)://…"""
    base = url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + path


class WebSocketTransport(Transport):
    """What our own aiohttp-WebSocket transports (Socket.IO 0.9, Kazoo 4) share: the session, the socket,
    the one-shot `closed` reason and an abort that never hangs."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._send_timeout = 10.0

    async def _open_session(self, opening: Callable[[], Awaitable[None]], what: str, timeout: float) -> None:
        """Run `opening` (handshake, WebSocket upgrade) within `timeout`; any failure leaves nothing open behind
        and becomes a ConnectError naming `what`."""
        self._send_timeout = timeout
        # No total timeout on the session: it would also cut the long-lived WebSocket; wait_for bounds the connect.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout))
        try:
            await asyncio.wait_for(opening(), timeout)
        except TimeoutError:
            await self._abort()
            raise ConnectError(f"{what} connect timed out after {timeout:g}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            await self._abort()
            raise ConnectError(f"{what} connect failed: {exc.__class__.__name__}: {exc}") from None
        except BaseException:
            await self._abort()
            raise

    async def _ws_connect(self, url: str, timeout: float) -> None:
        assert self._session is not None
        self._ws = await self._session.ws_connect(
            url,
            autoping=True,
            heartbeat=None,
            max_msg_size=MAX_MESSAGE_BYTES,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout),
        )

    def _finish(self, reason: str) -> None:
        if not self._closed.done():
            self._closed.set_result(reason)

    async def closed(self) -> str:
        return await asyncio.shield(self._closed)

    async def _abort(self) -> None:
        ws, session = self._ws, self._session
        if ws is not None and not ws.closed:
            try:
                await asyncio.wait_for(ws.close(), 2.0)
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
        if session is not None and not session.closed:
            await session.close()
