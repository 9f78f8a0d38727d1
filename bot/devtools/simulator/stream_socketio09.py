"""The simulator's Socket.IO 0.9 stream, shaped like Kazoo 3.x Blackhole (socket.io-cowboy) on the wire."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.devtools.simulator.stream_base import Authorizer, Session, StreamServer, event_name_of
from bot.stream import socketio09_frames as frames

log = logging.getLogger(__name__)
TRANSPORTS = ("websocket", "xhr-polling")


@dataclass
class _Polling:
    """One xhr-polling session: packets queued for the next GET, and the GET in flight (if any)."""

    queue: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    request: web.Request | None = None
    last_seen: float = field(default_factory=time.monotonic)
    closing: bool = False  # `0::` queued: the session ends once it is delivered
    gone: bool = False
    heartbeat: asyncio.Task[None] | None = None

    def put(self, *packets: str) -> None:
        self.queue.extend(packets)
        self.ready.set()


class SocketIO09Stream(StreamServer):
    """Handshake at `GET /socket.io/1/`, WebSocket at `/socket.io/1/websocket/{sid}`, xhr-polling (GET long-poll,
    POST packets) at `/socket.io/1/xhr-polling/{sid}`; events carry `args` as an object.

    `transports` is what the handshake advertises: ("xhr-polling",) plays a socket.io-cowboy that offers only that.
    """

    protocol = "socketio09"

    def __init__(
        self,
        authorize: Authorizer,
        *,
        heartbeat_interval: float = 5.0,
        heartbeat_timeout: int = 30,
        close_timeout: int = 30,
        transports: tuple[str, ...] = ("websocket",),
        poll_duration: float = 20.0,
    ) -> None:
        super().__init__(authorize)
        unknown = set(transports) - set(TRANSPORTS)
        if not transports or unknown:
            raise ValueError(f"transports must be some of {', '.join(TRANSPORTS)}; got {transports!r}")
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.close_timeout = close_timeout
        self.transports = tuple(transports)
        self.poll_duration = poll_duration  # how long a GET waits for packets before answering `8::`
        self.heartbeats_answered = 0
        self.polls = 0  # xhr-polling GETs served (tests check the client really polls)
        self._handshaken: dict[str, float] = {}
        self._sockets: dict[str, tuple[web.Request, web.WebSocketResponse]] = {}
        self._polling: dict[str, _Polling] = {}

    def attach(self, app: web.Application) -> None:
        app.router.add_get("/socket.io/1/", self._handshake)
        app.router.add_get("/socket.io/1/websocket/{sid}", self._websocket)
        app.router.add_get("/socket.io/1/xhr-polling/{sid}", self._poll)
        app.router.add_post("/socket.io/1/xhr-polling/{sid}", self._poll_post)

    async def _handshake(self, request: web.Request) -> web.Response:
        sid = uuid.uuid4().hex
        now = time.monotonic()
        # A handshake nobody follows up (a probe, a client that died) expires like a socket.io-cowboy session.
        for stale in [s for s, at in self._handshaken.items() if now - at > self.close_timeout]:
            del self._handshaken[stale]
        self._handshaken[sid] = now
        body = frames.encode_handshake(sid, self.heartbeat_timeout, self.close_timeout, ",".join(self.transports))
        return web.Response(text=body, content_type="text/plain")

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        sid = request.match_info["sid"]
        if "websocket" not in self.transports or self._handshaken.pop(sid, None) is None:
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
                except TimeoutError:
                    break  # socket.io-cowboy ends a session that stays silent past its timeout
                if message.type != WSMsgType.TEXT:
                    break
                if not await self._on_text(sid, message.data):
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

    async def _on_text(self, sid: str, text: str) -> bool:
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
                    await self._subscribe(sid, body)
                elif name == "unsubscribe" and isinstance(body, dict):
                    event = event_name_of(str(body.get("binding", "")))
                    session = self.sessions.get(sid)
                    if session is not None and event:
                        session.events.discard(event)
                    elif session is not None:
                        session.events.clear()
        return True

    async def _subscribe(self, sid: str, body: dict[str, Any]) -> None:
        reason = await self.authorize(body)
        event = event_name_of(str(body.get("binding", "")))
        if reason is not None:
            self.refused += 1
            # Kazoo 3.x: `auth_failure` with the refused token as `cause`.
            await self._send(
                sid, frames.encode_event("auth_failure", {"message": reason, "cause": body.get("auth_token")})
            )
            return
        if event is None:
            await self._send(sid, frames.encode_event("error", {"message": "unknown error"}))
            return
        session = self.sessions.get(sid)
        if session is not None:
            session.events.add(event)
            self.subscribes += 1

    # ---- xhr-polling -------------------------------------------------------------------------------------
    async def _poll(self, request: web.Request) -> web.Response:
        """Long-poll GET: the queued packets (framed when several), else `8::` after `poll_duration`."""
        sid = request.match_info["sid"]
        polling = self._polling.get(sid)
        if polling is None and "xhr-polling" in self.transports and self._handshaken.pop(sid, None) is not None:
            polling = self._open_polling(sid)
        if polling is None or polling.gone:
            return web.Response(status=404, text="session not found", content_type="text/plain")
        self.polls += 1
        polling.request, polling.last_seen = request, time.monotonic()
        try:
            if not polling.queue:
                polling.ready.clear()
                try:
                    await asyncio.wait_for(polling.ready.wait(), self.poll_duration)
                except TimeoutError:
                    pass
        finally:
            polling.request, polling.last_seen = None, time.monotonic()
        if self._polling.get(sid) is not polling:  # the session ended while this GET waited
            return web.Response(status=404, text="session not found", content_type="text/plain")
        packets, polling.queue = polling.queue, []
        if polling.closing:
            self._end_polling(sid)
        body = frames.encode_frame(packets) if packets else frames.encode_packet(frames.Packet(frames.NOOP))
        return web.Response(text=body, content_type="text/plain", charset="utf-8")

    async def _poll_post(self, request: web.Request) -> web.Response:
        """Client packets (subscribe, heartbeat answers, `0::`); socket.io 0.9 answers `1`."""
        sid = request.match_info["sid"]
        polling = self._polling.get(sid)
        if polling is None or polling.gone:
            return web.Response(status=404, text="session not found", content_type="text/plain")
        polling.last_seen = time.monotonic()
        text = await request.text()
        if not await self._on_text(sid, text):
            self._end_polling(sid)
        return web.Response(text="1", content_type="text/plain")

    def _open_polling(self, sid: str) -> _Polling:
        polling = _Polling()
        polling.put(frames.encode_packet(frames.Packet(frames.CONNECT)))
        polling.heartbeat = asyncio.create_task(self._poll_heartbeat(sid, polling), name=f"sim-sio09-poll-{sid[:8]}")
        self._polling[sid] = polling
        self.sessions[sid] = Session(sid)
        return polling

    async def _poll_heartbeat(self, sid: str, polling: _Polling) -> None:
        """`2::` every heartbeat_interval; a client that stops polling for close_timeout loses its session."""
        while not polling.gone:
            await asyncio.sleep(self.heartbeat_interval)
            if polling.request is None and time.monotonic() - polling.last_seen > self.close_timeout:
                self._end_polling(sid)
                return
            polling.put(frames.encode_packet(frames.Packet(frames.HEARTBEAT)))

    def _end_polling(self, sid: str) -> _Polling | None:
        """Forget the session: later GETs and POSTs for `sid` answer 404, a GET in flight is woken."""
        polling = self._polling.pop(sid, None)
        self.sessions.pop(sid, None)
        if polling is not None:
            polling.gone = True
            polling.ready.set()
            if polling.heartbeat is not None and polling.heartbeat is not asyncio.current_task():
                polling.heartbeat.cancel()
        return polling

    # ---- both wires ---------------------------------------------------------------------------------------
    async def _send(self, sid: str, text: str) -> bool:
        return await self._send_packets(sid, [text])

    async def _send_packets(self, sid: str, packets: list[str]) -> bool:
        """Packets to one client: one WebSocket message (framed when several), or queued for its next poll."""
        polling = self._polling.get(sid)
        if polling is not None:
            if polling.gone or polling.closing:
                return False
            polling.put(*packets)
            return True
        text = frames.encode_frame(packets)
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
            if packets and await self._send_packets(sid, packets):
                sent += 1
        return sent

    async def send_raw(self, text: str) -> int:
        """Send `text` as is to every connected client (fault injection: garbage, odd frames)."""
        sent = 0
        for sid in [*self._sockets, *self._polling]:
            if await self._send(sid, text):
                sent += 1
        return sent

    async def drop_all(self) -> int:
        dropped = 0
        for sid, (request, _) in list(self._sockets.items()):
            transport = request.transport
            if transport is not None:
                transport.abort()  # no close frame, no `0::`: a network loss
                dropped += 1
            self._sockets.pop(sid, None)
            self.sessions.pop(sid, None)
        for sid in list(self._polling):
            polling = self._end_polling(sid)
            waiting_get = polling.request if polling is not None else None
            if waiting_get is not None and waiting_get.transport is not None:
                waiting_get.transport.abort()  # the GET in flight dies with the network
            dropped += 1
        return dropped

    async def disconnect_all(self) -> int:
        """Say goodbye (`0::`) and close every connection: a server-side kick."""
        kicked = 0
        for sid, (_, ws) in list(self._sockets.items()):
            if await self._send(sid, frames.encode_packet(frames.Packet(frames.DISCONNECT))):
                kicked += 1
            await ws.close()
        for polling in list(self._polling.values()):
            if not polling.closing:
                polling.put(frames.encode_packet(frames.Packet(frames.DISCONNECT)))
                polling.closing = True
                kicked += 1
        return kicked
