"""One small interface over the three wire protocols AntBuddy's event stream may speak (docs/antbuddy-wire.md)."""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

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
    log.debug("stream event dropped (no listener) name=%.64r", name)


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
            log.exception("stream event listener failed protocol=%s name=%.64r", self.protocol, name)

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


def websocket_url(url: str, path: str = "") -> str:
    """http(s)://host[:port][/base] + path -> ws(s)://…"""
    base = url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + path


class WebSocketTransport(Transport):
    """What our own aiohttp-WebSocket transports (Socket.IO 0.9, Kazoo 4) share: the session, the socket, the
    one read loop, the tasks that serve the connection, the one-shot `closed` reason and an abort that never
    hangs. A subclass says how to open the connection and what a text frame means (`_on_text`)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._send_timeout = 10.0
        # The reader (and any helper, like Kazoo's pinger): all cancelled when the connection ends.
        self._tasks: list[asyncio.Task[None]] = []

    @abc.abstractmethod
    async def _on_text(self, text: str) -> str | None:
        """Act on one text frame; return why the connection ends, or None to keep reading."""

    def _silence_limit(self) -> float | None:
        """Seconds the server may stay silent before the connection counts as dead (None: the client's
        watchdog alone decides)."""
        return None

    async def _open_session(self, opening: Callable[[], Awaitable[object]], what: str, timeout: float) -> None:
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

    def _opened_session(self) -> aiohttp.ClientSession:
        """The session `_open_session` made; NotConnected once it is closed (or before it was made)."""
        session = self._session
        if session is None or session.closed:
            raise NotConnected(f"{self.protocol} connection is not open")
        return session

    async def _ws_connect(self, url: str, timeout: float) -> aiohttp.ClientWebSocketResponse:
        self._ws = await self._opened_session().ws_connect(
            url,
            autoping=True,
            heartbeat=None,
            max_msg_size=MAX_MESSAGE_BYTES,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=timeout),
        )
        return self._ws

    def _serve(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` for as long as this connection lives."""
        self._tasks.append(asyncio.create_task(work, name=name))

    async def _read(self, frames: Callable[[], Awaitable[str]]) -> None:
        """Run a reader (`frames` returns why the connection ended), then record that reason and close everything
        behind it. A cancel is our own close; a network error is reported as a transport error."""
        reason = "connection closed"
        try:
            reason = await frames()
        except asyncio.CancelledError:
            reason = "client close"
            raise
        except (aiohttp.ClientError, OSError, NotConnected) as exc:
            reason = f"transport error: {exc.__class__.__name__}: {exc}"
        finally:
            self._finish(reason)
            await self._abort()

    async def _websocket_frames(self) -> str:
        """The one WebSocket read loop: every frame feeds the watchdog; text goes to `_on_text`, binary is
        malformed; returns why the connection ended."""
        ws = self._ws
        if ws is None:
            return "connection closed"
        silence = self._silence_limit()
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), silence)
            except TimeoutError:
                return "heartbeat timeout"
            if message.type == aiohttp.WSMsgType.TEXT:
                self.touch()
                ended = await self._on_text(message.data)
                if ended:
                    return ended
            elif message.type == aiohttp.WSMsgType.BINARY:
                self.touch()
                self.malformed("binary frame", message.data)
            elif message.type == aiohttp.WSMsgType.ERROR:
                return f"transport error: {ws.exception()!r}"
            else:  # CLOSE, CLOSING, CLOSED
                return "connection closed"

    def _finish(self, reason: str) -> None:
        if not self._closed.done():
            self._closed.set_result(reason)

    async def closed(self) -> str:
        return await asyncio.shield(self._closed)

    async def close(self) -> None:
        self._finish("client close")
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # a bug in a reader: say so, the close still completes
                log.error("stream task failed protocol=%s error=%r", self.protocol, outcome)
        await self._abort()

    async def _abort(self) -> None:
        """Stop the connection's other tasks and close the socket and session; safe from inside the reader."""
        current = asyncio.current_task()
        others = [task for task in self._tasks if task is not current and not task.done()]
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others, timeout=2.0)
        ws, session = self._ws, self._session
        if ws is not None and not ws.closed:
            try:
                await asyncio.wait_for(ws.close(), 2.0)
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
        if session is not None and not session.closed:
            await session.close()
