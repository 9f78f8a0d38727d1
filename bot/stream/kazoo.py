"""Kazoo 4+ Blackhole client: plain JSON over a WebSocket (no Socket.IO)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.stream.transport import NotConnected, WebSocketTransport, websocket_url

log = logging.getLogger(__name__)

PING_SECONDS = 20.0


class KazooTransport(WebSocketTransport):
    protocol = "kazoo"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, ping_seconds: float = PING_SECONDS) -> None:
        super().__init__(clock=clock)
        self.ping_seconds = ping_seconds
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: dict[str, str] = {}  # request_id -> binding, for subscribe replies

    async def connect(self, url: str, *, timeout: float) -> None:
        await self._open_session(lambda: self._ws_connect(websocket_url(url, "/"), timeout), "kazoo websocket", timeout)
        self.touch()
        self._tasks = [
            asyncio.create_task(self._read(), name="stream-kazoo-reader"),
            asyncio.create_task(self._ping(), name="stream-kazoo-ping"),
        ]

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

    def _handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
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

    async def _read(self) -> None:
        assert self._ws is not None
        reason = "connection closed"
        try:
            while True:
                message = await self._ws.receive()
                if message.type == aiohttp.WSMsgType.TEXT:
                    self.touch()
                    self._handle(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    self.touch()
                    self.malformed("binary frame", message.data)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    reason = f"transport error: {self._ws.exception()!r}"
                    break
                else:
                    reason = "connection closed"
                    break
        except asyncio.CancelledError:
            reason = "client close"
            raise
        except (aiohttp.ClientError, OSError) as exc:
            reason = f"transport error: {exc.__class__.__name__}: {exc}"
        finally:
            self._finish(reason)
            for task in self._tasks:
                if task is not asyncio.current_task():
                    task.cancel()
            await self._abort()

    async def close(self) -> None:
        self._finish("client close")
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        await self._abort()
