"""The simulated event stream over Socket.IO 4 (python-socketio's AsyncServer on the simulator's aiohttp app)."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web

from bot.devtools.simulator.stream_base import Authorizer, Session, StreamServer, event_name_of

log = logging.getLogger(__name__)

SOCKETIO_PATH = "/socket.io/"


class SocketIOStream(StreamServer):
    """Blackhole's subscribe/auth_failure protocol, spoken as Socket.IO 4.

    Each accepted binding joins the socket to a room named after the event, so `emit` reaches only the
    sessions that subscribed to it. `drop_all` aborts the TCP connections, like a network loss: no
    Socket.IO disconnect packet is sent, so clients see a transport error and may reconnect on their own.
    """

    protocol = "socketio"

    def __init__(self, authorize: Authorizer) -> None:
        super().__init__(authorize)
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp", cors_allowed_origins="*", logger=False, engineio_logger=False
        )
        self._transports: weakref.WeakSet[Any] = weakref.WeakSet()
        self._eio_sids: dict[str, str] = {}  # socket.io sid -> engine.io sid, to close sessions server-side
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("subscribe", self._on_subscribe)
        self.sio.on("unsubscribe", self._on_unsubscribe)

    def attach(self, app: web.Application) -> None:
        app.middlewares.append(self._track_transport)
        self.sio.attach(app, socketio_path=SOCKETIO_PATH.strip("/"))

    @web.middleware
    async def _track_transport(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Remember the TCP connections that carry Socket.IO, so drop_all can cut exactly those.
        if request.path.startswith(SOCKETIO_PATH) and request.transport is not None:
            self._transports.add(request.transport)
        return await handler(request)

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.sessions[sid] = Session(sid)
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        if eio_sid:
            self._eio_sids[sid] = eio_sid
        log.info("stream connected protocol=socketio sid=%s", sid)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.sessions.pop(sid, None)
        self._eio_sids.pop(sid, None)
        log.info("stream disconnected protocol=socketio sid=%s reason=%s", sid, reason)

    async def _on_subscribe(self, sid: str, body: Any = None) -> None:
        session = self.sessions.get(sid)
        if session is None:
            return
        reason = await self.authorize(body if isinstance(body, dict) else {"_raw": body})
        binding = body.get("binding") if isinstance(body, dict) else None
        name = event_name_of(binding) if isinstance(binding, str) else None
        if reason is not None or name is None:
            self.refused += 1
            log.info("subscribe refused sid=%s binding=%s reason=%s", sid, binding, reason)
            await self.sio.emit(
                "auth_failure",
                {"message": reason or "invalid auth token", "cause": binding if isinstance(binding, str) else ""},
                to=sid,
            )
            return
        self.subscribes += 1
        session.events.add(name)
        await self.sio.enter_room(sid, name)
        log.info("subscribed sid=%s event=%s", sid, name)

    async def _on_unsubscribe(self, sid: str, body: Any = None) -> None:
        session = self.sessions.get(sid)
        if session is None:
            return
        binding = body.get("binding") if isinstance(body, dict) else None
        names = {event_name_of(binding)} if isinstance(binding, str) else set(session.events)
        for name in names - {None}:
            session.events.discard(name)
            await self.sio.leave_room(sid, name)

    async def emit(self, name: str, payload: Any) -> int:
        n = sum(1 for s in self.sessions.values() if name in s.events)
        if n:
            await self.sio.emit(name, payload, room=name)
        return n

    async def drop_all(self) -> int:
        n = len(self.sessions)
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()
        # Polling sessions have no socket to cut: end them server-side without a goodbye packet.
        for sid, eio_sid in list(self._eio_sids.items()):
            sock = self.sio.eio.sockets.get(eio_sid)
            if sock is not None and not sock.closed:
                await sock.close(wait=False, abort=True)
                sock.queue.put_nowait(None)  # release a pending long-poll GET (or the websocket writer) now
            self.sessions.pop(sid, None)
        self._eio_sids.clear()
        log.info("stream dropped protocol=socketio sessions=%d", n)
        return n
