"""Helpers for the stream wire tests: servers on 127.0.0.1 (ours, python-socketio's, the real JS ones) and a token
source.

No tests here; the test_stream_* modules import it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import socketio
from aiohttp import web

from bot.devtools.simulator.stream_base import Session, StreamServer, event_name_of
from bot.devtools.simulator.stream_kazoo import KazooStream
from bot.devtools.simulator.stream_socketio09 import SocketIO09Stream
from tests.support.waiting import eventually

JS_DIR = Path(__file__).resolve().parents[1] / "js"
ACCOUNT = "acct-0001"
BINDINGS = ("call.CHANNEL_CREATE.*", "call.CHANNEL_ANSWER.*", "call.CHANNEL_DESTROY.*")


def js_missing_reason() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (the real JS socket.io servers need it)"
    if not (JS_DIR / "node_modules" / "sio09").is_dir() or not (JS_DIR / "node_modules" / "sio4").is_dir():
        return "tests/js/node_modules missing: run `npm install --ignore-scripts --no-audit --no-fund` in tests/js"
    return None


needs_js = [pytest.mark.js, pytest.mark.skipif(js_missing_reason() is not None, reason=js_missing_reason() or "")]


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """`eventually()` with this module's argument order (a shorter default deadline for local servers)."""
    await eventually(condition, what, timeout)


async def wait_for_value(
    fetch: Callable[[], Awaitable[Any]], predicate: Callable[[Any], bool], timeout: float = 5.0, what: str = "value"
) -> Any:
    """Poll an async `fetch` until `predicate(value)`; fail after `timeout` seconds."""

    async def fetched() -> Any:
        value = await fetch()
        return (value,) if predicate(value) else None

    (value,) = await eventually(fetched, what, timeout)
    return value


def call_event(call_id: str = "leg-1", **extra: Any) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "caller_id_number": "0901234567",
        "destination_number": "1900",
        "direction": "inbound",
        "Timestamp": 63900000000,
        **extra,
    }


@dataclass
class FakeToken:
    value: str
    expires_at: datetime | None


@dataclass
class Tokens:
    """get_token for the client: a new token each call (`tok-1`, `tok-2`, …), living `lifetime` seconds."""

    lifetime: float = 3600.0
    issued: list[str] = field(default_factory=list)
    fail_with: BaseException | None = None

    async def __call__(self) -> FakeToken:
        if self.fail_with is not None:
            raise self.fail_with
        value = f"tok-{len(self.issued) + 1}"
        self.issued.append(value)
        return FakeToken(value, datetime.now(UTC) + timedelta(seconds=self.lifetime))


@dataclass
class Authz:
    """A trivial authorizer: every token is good except those listed in `refused`."""

    refused: set[str] = field(default_factory=set)
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, body: dict[str, Any]) -> str | None:
        self.seen.append(body)
        if body.get("account_id") != ACCOUNT:
            return "invalid account"
        if body.get("auth_token") in self.refused:
            return "invalid auth token"
        return None


@contextlib.asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await asyncio.wait_for(runner.cleanup(), 5.0)


class PySocketIOStream(StreamServer):
    """A bare python-socketio AsyncServer (Engine.IO 4) speaking the subscribe protocol, for the socketio transport."""

    protocol = "socketio"

    def __init__(self, authorize: Any, *, ping_interval: float = 5, ping_timeout: float = 4) -> None:
        super().__init__(authorize)
        self.sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=ping_interval, ping_timeout=ping_timeout)
        self.sio.on("subscribe", self._subscribe)
        self.sio.on("disconnect", self._disconnect)

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app)

    async def _subscribe(self, sid: str, body: Any) -> None:
        body = body if isinstance(body, dict) else {}
        reason = await self.authorize(body)
        if reason is not None:
            self.refused += 1
            await self.sio.emit("auth_failure", {"message": reason, "cause": body.get("auth_token")}, to=sid)
            return
        name = event_name_of(str(body.get("binding", "")))
        if name:
            self.sessions.setdefault(sid, Session(sid)).events.add(name)
            self.subscribes += 1

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        self.sessions.pop(sid, None)

    async def emit(self, name: str, payload: Any) -> int:
        sent = 0
        for sid, session in list(self.sessions.items()):
            if name in session.events:
                await self.sio.emit(name, payload, to=sid)
                sent += 1
        return sent

    async def drop_all(self) -> int:
        """A server-side kick (`disconnect(sid)`): the case python-socketio 5 does not recover from by itself."""
        sids = list(self.sessions)
        for sid in sids:
            await self.sio.disconnect(sid)
        self.sessions.clear()
        return len(sids)


class Backend:
    """One stream server the client can talk to, behind the few verbs the tests need."""

    protocol: str
    url: str

    async def emit(self, name: str, payload: Any) -> int: ...
    async def drop(self) -> int: ...
    async def subscribes(self) -> int: ...
    async def refuse(self, *tokens: str) -> None: ...


class SimBackend(Backend):
    def __init__(self, server: StreamServer, authz: Authz, url: str) -> None:
        self.server, self.authz, self.url, self.protocol = server, authz, url, server.protocol

    async def emit(self, name: str, payload: Any) -> int:
        return await self.server.emit(name, payload)

    async def drop(self) -> int:
        return await self.server.drop_all()

    async def subscribes(self) -> int:
        return self.server.subscribes

    async def refuse(self, *tokens: str) -> None:
        self.authz.refused.update(tokens)


@contextlib.asynccontextmanager
async def sim_backend(kind: str, **options: Any) -> AsyncIterator[SimBackend]:
    """`socketio09`, `kazoo` (our simulator servers) or `socketio` (a bare python-socketio server) on an aiohttp app."""
    authz = Authz()
    server: StreamServer
    if kind == "socketio09":
        server = SocketIO09Stream(authz, **options)
    elif kind == "kazoo":
        server = KazooStream(authz, **options)
    else:
        server = PySocketIOStream(authz, **options)
    app = web.Application()
    server.attach(app)
    async with serve_app(app) as url:
        try:
            yield SimBackend(server, authz, url)
        finally:
            await server.close()


class JsBackend(Backend):
    """A real JavaScript socket.io server (tests/js/<script>.js), driven over its stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str, protocol: str, stderr: Path) -> None:
        self.proc, self.url, self.protocol, self.stderr = proc, url, protocol, stderr
        self._lock = asyncio.Lock()

    async def command(self, cmd: str, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        async with self._lock:
            try:
                self.proc.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
                await self.proc.stdin.drain()
                line = await asyncio.wait_for(self.proc.stdout.readline(), 5.0)
            except (TimeoutError, ConnectionError) as exc:
                raise AssertionError(
                    f"JS server gone ({exc!r}); its stderr:\n{self.stderr.read_text()[-3000:]}"
                ) from None
        answer = json.loads(line)
        assert answer.get("ok"), answer
        return answer

    async def emit(self, name: str, payload: Any) -> int:
        return int((await self.command("emit", name=name, payload=payload))["sent"])

    async def drop(self) -> int:
        return int((await self.command("drop"))["dropped"])

    async def kick(self) -> int:
        return int((await self.command("kick"))["kicked"])

    async def subscribes(self) -> int:
        return int((await self.command("stats"))["subscribes"])

    async def refuse(self, *tokens: str) -> None:
        await self.command("refuse", tokens=list(tokens))


@contextlib.asynccontextmanager
async def js_backend(script: str, protocol: str, *args: str) -> AsyncIterator[JsBackend]:
    stderr_fd, stderr_name = tempfile.mkstemp(prefix=f"ringbot-{script}-", suffix=".log")
    stderr_path = Path(stderr_name)
    try:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(JS_DIR / script),
            "0",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr_fd,
            cwd=str(JS_DIR),
        )
    finally:
        os.close(stderr_fd)  # the child holds its own copy
    try:
        assert proc.stdout is not None
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 10.0))
        yield JsBackend(proc, f"http://127.0.0.1:{ready['port']}", protocol, stderr_path)
    finally:
        if proc.returncode is None:
            assert proc.stdin is not None
            proc.stdin.close()  # the script exits when its stdin closes
            try:
                await asyncio.wait_for(proc.wait(), 3.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await asyncio.to_thread(stderr_path.unlink, missing_ok=True)


@contextlib.asynccontextmanager
async def backend(kind: str, **options: Any) -> AsyncIterator[Backend]:
    """kind: sim09 | kazoo | pysio | js09 | js4."""
    if kind == "js09":
        async with js_backend("sio09_server.js", "socketio09") as js:
            yield js
    elif kind == "js4":
        async with js_backend("sio4_server.js", "socketio") as js:
            yield js
    else:
        sim = {"sim09": "socketio09", "kazoo": "kazoo", "pysio": "socketio"}[kind]
        async with sim_backend(sim, **options) as server:
            yield server


BACKENDS = [
    pytest.param("sim09", id="sim-socketio09"),
    pytest.param("kazoo", id="sim-kazoo"),
    pytest.param("pysio", id="python-socketio4"),
    pytest.param("js09", id="js-socketio0.9", marks=needs_js),
    pytest.param("js4", id="js-socketio4", marks=needs_js),
]


@dataclass
class Sink:
    """Collects what the client hands on."""

    events: list[tuple[str, Any]] = field(default_factory=list)

    def __call__(self, name: str, payload: Any) -> None:
        self.events.append((name, payload))

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def call_ids(self) -> list[str]:
        return [p.get("call_id") for _, p in self.events if isinstance(p, dict)]


@contextlib.asynccontextmanager
async def connected09(url: str, sink: Sink, malformed: list[str] | None = None) -> AsyncIterator[Any]:
    """A bare Socket.IO 0.9 transport connected to `url` (closed afterwards)."""
    from bot.stream.socketio09 import SocketIO09Transport

    transport = SocketIO09Transport()
    transport.on_event = sink
    if malformed is not None:
        transport.on_malformed = malformed.append
    await transport.connect(url, timeout=3.0)
    try:
        yield transport
    finally:
        await transport.close()


async def subscribe_all(transport: Any, token: str = "tok") -> None:
    for name in ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY"):
        await transport.subscribe({"account_id": ACCOUNT, "auth_token": token, "binding": f"call.{name}.*"})
