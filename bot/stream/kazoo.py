"""Kazoo 4+ Blackhole client: plain JSON over a WebSocket, no Socket.IO (docs/antbuddy-wire.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.calls import jsontext
from bot.stream.transport import NotConnected, WebSocketTransport, websocket_url

log = logging.getLogger(__name__)

PING_SECONDS = 20.0


class KazooTransport(WebSocketTransport):
    protocol = "kazoo"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, ping_seconds: float = PING_SECONDS) -> None:
        super().__init__(clock=clock)
        self.ping_seconds = ping_seconds
        self._pending: dict[str, str] = {}  # request_id -> binding, for subscribe replies

    async def connect(self, url: str, *, timeout: float) -> None:
        await self._open_session(lambda: self._ws_connect(websocket_url(url, "/"), timeout), "kazoo websocket", timeout)
        self.touch()
        self._serve(self._read(self._websocket_frames), "stream-kazoo-reader")
        self._serve(self._ping(), "stream-kazoo-ping")

    async def _send(self, message: dict[str, Any]) -> None:
        if self._ws is None or self._ws.closed:
            raise NotConnected("kazoo websocket is not open")
        try:
            await asyncio.wait_for(self._ws.send_str(json.dumps(message, separators=(",", ":"))), self._send_timeout)
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as exc:
            raise NotConnected(f"kazoo send failed: {exc!r}") from None

    async def subscribe(self, body: dict[str, Any]) -> None:
        request_id = uuid.uuid4().hex
        self._pending[request_id] = str(body.get("binding", ""))
        await self._send(
            {
                "action": "subscribe",
                "auth_token": body.get("auth_token"),
                "request_id": request_id,
                "data": {"account_id": body.get("account_id"), "binding": body.get("binding")},
            }
        )

    async def _ping(self) -> None:
        # Kazoo never speaks first on a quiet line; our pings' replies keep the watchdog fed.
        try:
            while True:
                await asyncio.sleep(self.ping_seconds)
                await self._send({"action": "ping", "request_id": uuid.uuid4().hex})
        except NotConnected:
            pass

    async def _on_text(self, text: str) -> str | None:
        self._handle(text)
        return None  # Kazoo ends a connection by closing the socket, never with a message

    def _handle(self, text: str) -> None:
        try:
            message = jsontext.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python can read
            self.malformed("frame is not JSON", text)
            return
        if not isinstance(message, dict):
            self.malformed("frame is not a JSON object", text)
            return
        action = message.get("action")
        if action == "event":
            name = message.get("name")
            if not isinstance(name, str):
                self.malformed("event without a name", text)
                return
            self.deliver(name, message.get("data"))
        elif action == "reply":
            binding = self._pending.pop(str(message.get("request_id")), None)
            status = message.get("status")
            if binding is not None and status != "success":
                # The 0.9 server says `auth_failure`; Kazoo 4 says it in the reply: one code path in the client.
                data = message.get("data")
                detail = data.get("message") if isinstance(data, dict) else data
                self.deliver(
                    "auth_failure",
                    {
                        "message": str(detail or f"subscribe {status}"),
                        "binding": binding,
                        "status": status,
                    },
                )
        elif action == "pong" or action == "ping":
            pass
        else:
            self.malformed(f"unknown action {action!r}", text)
