"""The simulator's Socket.IO 0.9 stream, shaped like Kazoo 3.x Blackhole (socket.io-cowboy) on the wire."""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from bot.simulator.stream_base import Authorizer, Session, StreamServer, event_name_of
from bot.stream import socketio09_frames as frames

log = logging.getLogger(__name__)


class SocketIO09Stream(StreamServer):
    """Handshake at `GET /socket.io/1/`, WebSocket at `/socket.io/1/websocket/{sid}`; events carry `args` as an object."""

    protocol = "socketio09"

    def __init__(
        self,
        authorize: Authorizer,
        *,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: int = 30,
        close_timeout: int = 30,
    ) -> None:
        super().__init__(authorize)
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.close_timeout = close_timeout
        self.heartbeats_answered = 0
        self._handshaken: dict[str, float] = {}
        self._sockets: dict[str, tuple[web.Request, web.WebSocketResponse]] = {}

    def attach(self, app: web.Application) -> None:
        app.router.add_get("/socket.io/1/", self._handshake)
        app.router.add_get("/socket.io/1/websocket/{sid}", self._websocket)

    async def _handshake(self, request: web.Request) -> web.Response:
        sid = uuid.uuid4().hex
        now = time.monotonic()
        # A handshake nobody follows up (a probe, a client that died) expires like a socket.io-cowboy session.
        for stale in [s for s, at in self._handshaken.items() if now - at > self.close_timeout]:
            del self._handshaken[stale]
        self._handshaken[sid] = now
        body = frames.encode_handshake(sid, self.heartbeat_timeout, self.close_timeout, "websocket")
        return web.Response(text=body, content_type="text/plain")

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        sid = request.match_info["sid"]
        if self._handshaken.pop(sid, None) is None:
            await ws.send_str(frames.encode_packet(frames.Packet(frames.ERROR, data="1+0")))  # not handshaken
            await ws.close()
            return ws
        self.sessions[sid] = Session(sid)
        self._sockets[sid] = (request, ws)
        heartbeat = asyncio.create_task(self._heartbeat(ws), name=f"sim-sio09-heartbeat-{sid[:8]}")
        try:
            await ws.send_str(frames.encode_packet(frames.Packet(frames.CONNECT)))
            while True:
                try:
                    message = await ws.receive(timeout=self.close_timeout)
                except asyncio.TimeoutError:
                    break  # socket.io-cowboy ends a session that stays silent past its timeout
                if message.type != WSMsgType.TEXT:
                    break
                if not await self._on_text(sid, ws, message.data):
                    break
        except (ConnectionError, RuntimeError):
            pass
        finally:
            heartbeat.cancel()
            self.sessions.pop(sid, None)
            self._sockets.pop(sid, None)
            if not ws.closed:
                await ws.close()
        return ws

    async def _heartbeat(self, ws: web.WebSocketResponse) -> None:
        try:
            while not ws.closed:
                await asyncio.sleep(self.heartbeat_interval)
                await ws.send_str(frames.encode_packet(frames.Packet(frames.HEARTBEAT)))
        except (ConnectionError, RuntimeError):
            pass

    async def _on_text(self, sid: str, ws: web.WebSocketResponse, text: str) -> bool:
        """Handle one client message; False ends the session."""
        try:
            packets = [frames.decode_packet(p) for p in frames.decode_frame(text)]
        except frames.FrameError:
            log.info("sim socketio09 ignored a malformed frame sid=%s", sid[:8])
            return True
        for packet in packets:
            if packet.type == frames.DISCONNECT:
                return False
            if packet.type == frames.HEARTBEAT:
                self.heartbeats_answered += 1
            elif packet.type == frames.EVENT:
                try:
                    name, args = frames.decode_event(packet.data)
                except frames.FrameError:
                    continue
                body = frames.event_payload(args)
                if name == "subscribe" and isinstance(body, dict):
                    await self._subscribe(sid, ws, body)
                elif name == "unsubscribe" and isinstance(body, dict):
                    event = event_name_of(str(body.get("binding", "")))
                    session = self.sessions.get(sid)
                    if session is not None and event:
                        session.events.discard(event)
                    elif session is not None:
                        session.events.clear()
        return True

    async def _subscribe(self, sid: str, ws: web.WebSocketResponse, body: dict[str, Any]) -> None:
        reason = await self.authorize(body)
        event = event_name_of(str(body.get("binding", "")))
        if reason is not None:
            self.refused += 1
            # Kazoo 3.x: `auth_failure` with the refused token as `cause`.
            await ws.send_str(frames.encode_event("auth_failure", {"message": reason, "cause": body.get("auth_token")}))
            return
        if event is None:
            await ws.send_str(frames.encode_event("error", {"message": "unknown error"}))
            return
        session = self.sessions.get(sid)
        if session is not None:
            session.events.add(event)
            self.subscribes += 1

    async def _send(self, sid: str, text: str) -> bool:
        entry = self._sockets.get(sid)
        if entry is None or entry[1].closed:
            return False
        try:
            await entry[1].send_str(text)
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def emit(self, name: str, payload: Any) -> int:
        text = frames.encode_event(name, payload)  # args as an OBJECT, as Kazoo 3.x sends it
        sent = 0
        for sid, session in list(self.sessions.items()):
            if name in session.events and await self._send(sid, text):
                sent += 1
        return sent

    async def emit_many(self, events: list[tuple[str, Any]]) -> int:
        """A burst in one WebSocket message (`\\ufffd<len>\\ufffd<packet>`…), as socket.io-cowboy batches them."""
        sent = 0
        for sid, session in list(self.sessions.items()):
            packets = [frames.encode_event(name, payload) for name, payload in events if name in session.events]
            if packets and await self._send(sid, frames.encode_frame(packets)):
                sent += 1
        return sent

    async def send_raw(self, text: str) -> int:
        """Send `text` as is to every connected client (fault injection: garbage, odd frames)."""
        sent = 0
        for sid in list(self._sockets):
            if await self._send(sid, text):
                sent += 1
        return sent

    async def drop_all(self) -> int:
        dropped = 0
        for sid, (request, ws) in list(self._sockets.items()):
            transport = request.transport
            if transport is not None:
                transport.abort()  # no close frame, no `0::`: a network loss
                dropped += 1
            self._sockets.pop(sid, None)
            self.sessions.pop(sid, None)
        return dropped

    async def disconnect_all(self) -> int:
        """Say goodbye (`0::`) and close every connection: a server-side kick."""
        kicked = 0
        for sid, (_, ws) in list(self._sockets.items()):
            if await self._send(sid, frames.encode_packet(frames.Packet(frames.DISCONNECT))):
                kicked += 1
            await ws.close()
        return kicked

