"""Socket.IO 0.9 client (Kazoo 3.x Blackhole) on aiohttp's WebSocket: python-socketio cannot speak 0.9."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable

import aiohttp

from bot.stream import socketio09_frames as frames
from bot.stream.transport import (
    ConnectError,
    NotConnected,
    ProtocolError,
    WebSocketTransport,
    websocket_url,
)

log = logging.getLogger(__name__)



class SocketIO09Transport(WebSocketTransport):
    protocol = "socketio09"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock=clock)
        self.handshake: frames.Handshake | None = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, url: str, *, timeout: float) -> None:
        await self._open_session(lambda: self._open(url, timeout), "socket.io 0.9", timeout)
        self._reader = asyncio.create_task(self._read(), name="stream-socketio09-reader")

    async def _open(self, url: str, timeout: float) -> None:
        assert self._session is not None
        handshake_url = f"{url.rstrip('/')}/socket.io/1/?t={int(time.time() * 1000)}"
        async with self._session.get(handshake_url) as response:
            body = await response.text(errors="replace")
        try:
            self.handshake = frames.parse_handshake(body)
        except frames.FrameError:
            raise ProtocolError(
                f"not a socket.io 0.9 server: GET /socket.io/1/ answered {response.status} {body[:80]!r}"
            ) from None
        if "websocket" not in self.handshake.transports:
            raise ProtocolError(
                f"socket.io 0.9 server offers no websocket transport (offers {','.join(self.handshake.transports)})"
            )
        await self._ws_connect(websocket_url(url, f"/socket.io/1/websocket/{self.handshake.sid}"), timeout)
        # The server opens with `1::`; an error packet here means the handshake was refused.
        while True:
            message = await self._ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise ConnectError(f"socket.io 0.9 connection closed during connect ({message.type.name})")
            self.touch()
            packets = self._packets(message.data)
            for index, packet in enumerate(packets):
                if packet.type == frames.CONNECT and not packet.endpoint:
                    # Anything that came in the same frame after `1::` is ordinary traffic.
                    for rest in packets[index + 1:]:
                        await self._handle(rest)
                    return
                if packet.type == frames.ERROR:
                    reason, _ = frames.error_text(packet.data)
                    raise ConnectError(f"socket.io 0.9 server refused the connection: {reason}")
                await self._handle(packet)

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
                    payload = json.loads(packet.data)
                except ValueError:
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

    async def _read(self) -> None:
        assert self._ws is not None and self.handshake is not None
        silence = self.handshake.heartbeat_timeout or frames.DEFAULT_HEARTBEAT_TIMEOUT
        reason = "connection closed"
        try:
            while True:
                try:
                    message = await asyncio.wait_for(self._ws.receive(), silence)
                except asyncio.TimeoutError:
                    reason = "heartbeat timeout"
                    break
                if message.type == aiohttp.WSMsgType.TEXT:
                    self.touch()
                    ended = None
                    for packet in self._packets(message.data):
                        ended = await self._handle(packet) or ended
                    if ended:
                        reason = ended
                        break
                elif message.type == aiohttp.WSMsgType.BINARY:
                    self.touch()
                    self.malformed("binary frame", message.data)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    reason = f"transport error: {self._ws.exception()!r}"
                    break
                else:  # CLOSE, CLOSING, CLOSED
                    reason = "connection closed"
                    break
        except asyncio.CancelledError:
            reason = "client close"
            raise
        except (aiohttp.ClientError, OSError, NotConnected) as exc:
            reason = f"transport error: {exc.__class__.__name__}: {exc}"
        finally:
            self._finish(reason)
            await self._abort()

    async def _send(self, text: str) -> None:
        if self._ws is None or self._ws.closed:
            raise NotConnected("socket.io 0.9 connection is not open")
        try:
            await asyncio.wait_for(self._ws.send_str(text), self._send_timeout)
        except (asyncio.TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise NotConnected(f"socket.io 0.9 send failed: {exc!r}") from None

    async def subscribe(self, body: dict[str, Any]) -> None:
        # Kazoo 3.x reads `[EventArgs] = args`: the body must be a one-element list.
        await self._send(frames.encode_event("subscribe", [body]))

    async def close(self) -> None:
        self._finish("client close")
        if self._ws is not None and not self._ws.closed:
            try:
                await self._send(frames.encode_packet(frames.Packet(frames.DISCONNECT)))
            except NotConnected:
                pass
        reader, self._reader = self._reader, None
        if reader is not None and not reader.done():
            reader.cancel()
            try:
                await reader
            except asyncio.CancelledError:
                pass
        await self._abort()
