"""The simulator's Kazoo 4+ Blackhole stream: JSON over a plain WebSocket at `/` (docs/antbuddy-wire.md)."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, hdrs, web

from bot.devtools.simulator.stream_base import Authorizer, Session, StreamServer, event_name_of

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _call_id(payload: Any) -> str:
    if isinstance(payload, dict):
        for key in ("Call-ID", "call_id", "Call_ID"):
            if payload.get(key):
                return str(payload[key])
    return "unknown"


class KazooStream(StreamServer):
    """Serves WebSocket upgrades on `/` only; every other request to `/` goes on to the simulator's REST."""

    protocol = "kazoo"

    def __init__(self, authorize: Authorizer, *, answer_pings: bool = True) -> None:
        super().__init__(authorize)
        self.answer_pings = answer_pings  # False: a silent server, for watchdog tests
        self.pings = 0
        self._sockets: dict[str, tuple[web.Request, web.WebSocketResponse]] = {}
        self._bindings: dict[str, dict[str, str]] = {}  # sid -> event name -> binding it came from
        self._next_sid = 0

    def attach(self, app: web.Application) -> None:
        # A middleware, not a route: the REST side may own `GET /`, and a route cannot pass a request on.
        @web.middleware
        async def kazoo_upgrade(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.path == "/" and request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
                return await self._websocket(request)
            return await handler(request)

        app.middlewares.append(kazoo_upgrade)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self._next_sid += 1
        sid = f"kazoo-{self._next_sid}"
        self.sessions[sid] = Session(sid)
        self._bindings[sid] = {}
        self._sockets[sid] = (request, ws)
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    break
                await self._on_text(sid, ws, message.data)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.sessions.pop(sid, None)
            self._bindings.pop(sid, None)
            self._sockets.pop(sid, None)
        return ws

    async def _reply(self, ws: web.WebSocketResponse, request_id: Any, status: str, data: Any) -> None:
        await ws.send_str(json.dumps({"action": "reply", "request_id": request_id, "status": status, "data": data}))

    async def _on_text(self, sid: str, ws: web.WebSocketResponse, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        action, request_id = message.get("action"), message.get("request_id")
        data = message.get("data")
        if not isinstance(data, dict):
            data = {}
        if action == "ping":
            self.pings += 1
            if self.answer_pings:
                await self._reply(ws, request_id, "success", {"response": "pong"})
        elif action == "subscribe":
            bindings = data.get("bindings") or ([data["binding"]] if data.get("binding") else [])
            body = {
                "account_id": data.get("account_id"),
                "auth_token": message.get("auth_token"),
                "binding": bindings[0] if bindings else None,
            }
            reason = await self.authorize(body)
            if reason is not None:
                self.refused += 1
                await self._reply(ws, request_id, "error", {"message": reason})
                return
            names = [(b, name) for b in bindings if (name := event_name_of(str(b))) is not None]
            if not names or len(names) != len(bindings):
                await self._reply(ws, request_id, "error", {"message": "unknown binding"})
                return
            session = self.sessions.get(sid)
            for binding, name in names:
                if session is not None:
                    session.events.add(name)
                    self._bindings[sid][name] = binding
            self.subscribes += 1
            await self._reply(ws, request_id, "success", {"subscribed": bindings})
        elif action == "unsubscribe":
            session = self.sessions.get(sid)
            name = event_name_of(str(data.get("binding", "")))
            if session is not None:
                if name:
                    session.events.discard(name)
                else:
                    session.events.clear()
            await self._reply(ws, request_id, "success", {})
        else:
            await self._reply(ws, request_id, "error", {"message": f"unknown action {action!r}"})

    async def emit(self, name: str, payload: Any) -> int:
        sent = 0
        for sid, session in list(self.sessions.items()):
            entry = self._sockets.get(sid)
            if name not in session.events or entry is None or entry[1].closed:
                continue
            binding = self._bindings.get(sid, {}).get(name, f"call.{name}.*")
            frame = {
                "action": "event",
                "subscribed_key": binding,
                "subscription_key": binding,
                "name": name,
                "routing_key": f"call.{name}.{_call_id(payload)}",
                "data": payload,
            }
            try:
                await entry[1].send_str(json.dumps(frame, separators=(",", ":")))
            except (ConnectionError, RuntimeError):
                continue
            sent += 1
        return sent

    async def emit_many(self, events: list[tuple[str, Any]]) -> int:
        """A burst: Kazoo 4 sends one frame per event, so this is emit() in a loop; returns the most sessions
        reached."""
        reached = 0
        for name, payload in events:
            reached = max(reached, await self.emit(name, payload))
        return reached

    async def send_raw(self, text: str) -> int:
        """Send `text` as is to every connected client (fault injection)."""
        sent = 0
        for _, ws in list(self._sockets.values()):
            if not ws.closed:
                try:
                    await ws.send_str(text)
                    sent += 1
                except (ConnectionError, RuntimeError):
                    pass
        return sent

    async def drop_all(self) -> int:
        dropped = 0
        for sid, (request, _) in list(self._sockets.items()):
            if request.transport is not None:
                request.transport.abort()
                dropped += 1
            self._sockets.pop(sid, None)
            self.sessions.pop(sid, None)
        return dropped
