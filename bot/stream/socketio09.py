"""Socket.IO 0.9 client (Kazoo 3.x Blackhole) on aiohttp: python-socketio cannot speak 0.9.

WebSocket when the handshake offers it; otherwise xhr-polling, which some socket.io-cowboy versions offer alone.
The protocol as Kazoo speaks it is in docs/antbuddy-wire.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.calls import jsontext
from bot.stream import socketio09_frames as frames
from bot.stream.transport import (
    ConnectError,
    NotConnected,
    ProtocolError,
    WebSocketTransport,
    websocket_url,
)

log = logging.getLogger(__name__)

# socket.io 0.9 holds a poll open for 20 s ("polling duration") before answering `8::`; Kazoo sends heartbeats
# every ~5 s, which also end a poll. A poll unanswered past this margin over both is a dead server.
POLL_DURATION = 20.0
POLL_MARGIN = 5.0
CLOSE_SEND_TIMEOUT = 2.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class SocketIO09Transport(WebSocketTransport):
    """One Socket.IO 0.9 connection; `transport` says which wire it took ("websocket" or "xhr-polling")."""

    protocol = "socketio09"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self.handshake: frames.Handshake | None = None
        self.transport: str | None = None
        self._poll_url = ""
        self._poll_timeout = POLL_DURATION + POLL_MARGIN
        self._post_lock = asyncio.Lock()  # one POST at a time keeps client packets in order

    async def connect(self, url: str, *, timeout: float) -> None:
        await self._open_session(lambda: self._open(url, timeout), "socket.io 0.9", timeout)
        frames_of = self._websocket_frames if self.transport == "websocket" else self._polled_frames
        self._serve(self._read(frames_of), f"stream-socketio09-{self.transport}")

    async def _open(self, url: str, timeout: float) -> None:
        handshake_url = f"{url.rstrip('/')}/socket.io/1/?t={_now_ms()}"
        async with self._opened_session().get(handshake_url) as response:
            body = await response.text(errors="replace")
        try:
            handshake = self.handshake = frames.parse_handshake(body)
        except frames.FrameError:
            raise ProtocolError(
                f"not a socket.io 0.9 server: GET /socket.io/1/ answered {response.status} {body[:80]!r}"
            ) from None
        offered = ",".join(handshake.transports)
        if "websocket" not in handshake.transports:
            if "xhr-polling" not in handshake.transports:
                raise ProtocolError(f"socket.io 0.9 server offers no websocket transport (offers {offered})")
            self.transport = "xhr-polling"
            await self._open_polling(url, handshake, offered, timeout)
            return
        self.transport = "websocket"
        ws = await self._ws_connect(websocket_url(url, f"/socket.io/1/websocket/{handshake.sid}"), timeout)
        # The server opens with `1::`; an error packet here means the handshake was refused.
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectError(f"socket.io 0.9 connection closed during connect ({message.type.name})")
            self.touch()
            if await self._until_connect(self._packets(message.data)):
                return

    async def _open_polling(self, url: str, handshake: frames.Handshake, offered: str, timeout: float) -> None:
        """Poll until the server's `1::`; a refusal of the poll itself is a ProtocolError (xhr-polling unusable)."""
        self._poll_url = f"{url.rstrip('/')}/socket.io/1/xhr-polling/{handshake.sid}"
        heartbeat_timeout = handshake.heartbeat_timeout or frames.DEFAULT_HEARTBEAT_TIMEOUT
        self._poll_timeout = max(heartbeat_timeout, POLL_DURATION) + POLL_MARGIN
        log.info("stream socketio09 falls back to xhr-polling offered=%s", offered)
        while True:
            status, body = await self._poll(timeout)
            if status != 200:
                raise ProtocolError(
                    f"socket.io 0.9 server offers no websocket transport (offers {offered}) "
                    f"and its xhr-polling answered {status} {body[:80]!r}"
                )
            self.touch()
            if await self._until_connect(self._packets(body) if body else []):
                return

    async def _until_connect(self, packets: list[frames.Packet]) -> bool:
        """Handle packets that arrive while connecting: True once the server's `1::` came (anything after it in
        the same frame is ordinary traffic); an error packet means the handshake was refused."""
        for index, packet in enumerate(packets):
            if packet.type == frames.CONNECT and not packet.endpoint:
                for rest in packets[index + 1 :]:
                    await self._handle(rest)
                return True
            if packet.type == frames.ERROR:
                reason, _ = frames.error_text(packet.data)
                raise ConnectError(f"socket.io 0.9 server refused the connection: {reason}")
            await self._handle(packet)
        return False

    async def _poll(self, timeout: float) -> tuple[int, str]:
        """One long-poll GET -> (status, body); raises asyncio.TimeoutError past `timeout`."""
        session = self._opened_session()

        async def get() -> tuple[int, str]:
            async with session.get(f"{self._poll_url}?t={_now_ms()}") as response:
                return response.status, await response.text(errors="replace")

        return await asyncio.wait_for(get(), timeout)

    async def _post(self, text: str, timeout: float) -> None:
        """Send packets with one POST; anything but 200 means the session is gone."""
        session = self._session
        if session is None or session.closed or not self._poll_url:
            raise NotConnected("socket.io 0.9 connection is not open")

        async def post() -> None:
            async with self._post_lock:
                async with session.post(
                    f"{self._poll_url}?t={_now_ms()}",
                    data=text.encode("utf-8"),
                    headers={"Content-Type": "text/plain;charset=UTF-8"},
                ) as response:
                    await response.read()
                    if response.status != 200:
                        raise NotConnected(f"socket.io 0.9 POST answered {response.status}")

        try:
            await asyncio.wait_for(post(), timeout)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NotConnected(f"socket.io 0.9 send failed: {exc!r}") from None

    async def _polled_frames(self) -> str:
        """The xhr-polling read loop: long-poll until the session ends; every answer (heartbeat or `8::` noop)
        feeds the watchdog; returns why the connection ended."""
        while True:
            try:
                status, body = await self._poll(self._poll_timeout)
            except TimeoutError:
                return f"poll timeout after {self._poll_timeout:g}s"
            if 400 <= status < 500:
                return f"session gone: poll answered {status}"
            if status != 200:
                return f"transport error: poll answered {status}"
            self.touch()
            ended = await self._on_text(body) if body else None
            if ended:
                return ended

    async def _on_text(self, text: str) -> str | None:
        """Act on every packet of one frame; the last reason a packet gives for ending the connection wins."""
        ended = None
        for packet in self._packets(text):
            ended = await self._handle(packet) or ended
        return ended

    def _silence_limit(self) -> float | None:
        # Kazoo 3 sends heartbeats well within the timeout it announced: silence past it is a dead server.
        timeout = self.handshake.heartbeat_timeout if self.handshake is not None else None
        return timeout or frames.DEFAULT_HEARTBEAT_TIMEOUT

    def _packets(self, text: str) -> list[frames.Packet]:
        try:
            raw = frames.decode_frame(text)
        except frames.FrameError as exc:
            self.malformed(str(exc), text)
            return []
        packets = []
        for item in raw:
            try:
                packets.append(frames.decode_packet(item))
            except frames.FrameError as exc:
                self.malformed(str(exc), item)
        return packets

    async def _handle(self, packet: frames.Packet) -> str | None:
        """Act on one packet; return a reason when it ends the connection."""
        if packet.type == frames.HEARTBEAT:
            await self._send(frames.encode_packet(frames.Packet(frames.HEARTBEAT)))
        elif packet.type == frames.EVENT:
            try:
                name, args = frames.decode_event(packet.data)
            except frames.FrameError as exc:
                self.malformed(str(exc), packet.data)
                return None
            self.deliver(name, frames.event_payload(args))
        elif packet.type in (frames.MESSAGE, frames.JSON):
            payload: Any = packet.data
            if packet.type == frames.JSON:
                try:
                    payload = jsontext.loads(packet.data)
                except (ValueError, RecursionError):  # not JSON, or nested too deep
                    self.malformed("json packet data is not JSON", packet.data)
                    return None
            self.deliver("message", payload)
        elif packet.type == frames.DISCONNECT and not packet.endpoint:
            return "server disconnect"
        elif packet.type == frames.ERROR:
            reason, reconnect = frames.error_text(packet.data)
            log.warning("stream server error protocol=socketio09 reason=%s reconnect=%s", reason, reconnect)
            if reconnect:
                return f"server error: {reason}"
        # CONNECT (again), NOOP, ACK: nothing to do.
        return None

    async def _send(self, text: str) -> None:
        if self.transport == "xhr-polling":
            await self._post(text, self._send_timeout)
            return
        if self._ws is None or self._ws.closed:
            raise NotConnected("socket.io 0.9 connection is not open")
        try:
            await asyncio.wait_for(self._ws.send_str(text), self._send_timeout)
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise NotConnected(f"socket.io 0.9 send failed: {exc!r}") from None

    async def subscribe(self, body: dict[str, Any]) -> None:
        # Kazoo 3.x reads `[EventArgs] = args`: the body must be a one-element list.
        await self._send(frames.encode_event("subscribe", [body]))

    async def close(self) -> None:
        self._finish("client close")
        goodbye = frames.encode_packet(frames.Packet(frames.DISCONNECT))
        try:
            if self._ws is not None and not self._ws.closed:
                await self._send(goodbye)
            elif self.transport == "xhr-polling" and self._poll_url:
                await self._post(goodbye, min(self._send_timeout, CLOSE_SEND_TIMEOUT))
        except NotConnected:
            pass
        await super().close()

    async def _abort(self) -> None:
        self._poll_url = ""  # later sends fail fast instead of posting to a session that is gone
        await super()._abort()
