"""The stream client: connect, subscribe, watch, and reconnect forever, whatever transport carries the events."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.antbuddy.errors import AntBuddyError, AuthError
from bot.calls.events import event_label
from bot.stream.kazoo import KazooTransport
from bot.stream.probe import probe
from bot.stream.socketio import SocketIOTransport
from bot.stream.socketio09 import SocketIO09Transport
from bot.stream.transport import NotConnected, ProtocolError, Transport, TransportError

log = logging.getLogger(__name__)

BINDINGS = ("call.CHANNEL_CREATE.*", "call.CHANNEL_ANSWER.*", "call.CHANNEL_DESTROY.*", "call.CHANNEL_BRIDGE.*")
# Subscribed last and never required: a bridge is the best proof of an answered call (docs/call-model.md), but the
# stream works with the three others alone; a server that refuses this binding is logged once, not a token refusal.
OPTIONAL_BINDINGS = frozenset({"call.CHANNEL_BRIDGE.*"})
TRANSPORTS: dict[str, type[Transport]] = {
    "socketio": SocketIOTransport,
    "socketio09": SocketIO09Transport,
    "kazoo": KazooTransport,
}
PROTOCOL_CHOICES = ("auto", *TRANSPORTS)
STABLE_SECONDS = 60.0  # a connection that lived this long resets the backoff
MIN_REFRESH_SECONDS = 1.0


def create_transport(protocol: str, *, clock: Callable[[], float] = time.monotonic) -> Transport:
    """A new transport for `protocol` ("socketio" | "socketio09" | "kazoo"): one per connection attempt."""
    transport = TRANSPORTS.get(protocol)
    if transport is None:
        raise ValueError(f"unknown stream protocol {protocol!r}; expected one of {', '.join(TRANSPORTS)}")
    return transport(clock=clock)


class TokenLike(Protocol):
    """What `bot.antbuddy.Token` offers the stream: the value and when it stops working."""

    @property
    def value(self) -> str: ...

    @property
    def expires_at(self) -> datetime | None: ...


class StreamAuthError(Exception):
    """AntBuddy refused us before the stream ever worked: the app id / secret (no token), or a freshly fetched
    token a second time (the account id). Once the stream has worked, a refusal is retried instead: someone may
    be rotating the secret, and /healthz shows the stream down meanwhile."""


@dataclass
class StreamStats:
    """What /healthz, /metrics and `ringbot doctor` show about the stream."""

    connected: bool = False
    connected_since: float | None = None  # wall time
    last_event_at: float | None = None  # wall time
    events_by_type: Counter[str] = field(default_factory=Counter)
    rejected: int = 0  # set by the pipeline (payloads it could not use)
    reconnects: int = 0
    protocol: str | None = None
    last_error: str | None = None
    malformed: int = 0  # frames the transport could not parse
    refused_bindings: list[str] = field(default_factory=list)  # optional bindings the server refused


class _Failure(Exception):
    """Why one connection attempt ended; `cause` is a short word for logs."""

    def __init__(self, cause: str, detail: str, *, immediate: bool = False) -> None:
        super().__init__(detail)
        self.cause = cause
        self.detail = detail
        self.immediate = immediate


class StreamClient:
    """Owns one live connection at a time; every (re)connect gets a fresh token and re-subscribes.

    `get_token` must return a newly issued token each time it is called: the client calls it on every
    connect, at ~80 % of a token's lifetime, and after the server refused one.
    """

    def __init__(
        self,
        *,
        url: str,
        account_id: str,
        protocol: str,
        get_token: Callable[[], Awaitable[TokenLike]],
        on_event: Callable[[str, Any], None],
        on_connected: Callable[[], Awaitable[None]] | None = None,
        bindings: tuple[str, ...] | list[str] = BINDINGS,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        watchdog_seconds: float = 60.0,
        connect_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        auth_settle_seconds: float = 10.0,
    ) -> None:
        if protocol not in PROTOCOL_CHOICES:
            raise ValueError(f"unknown stream protocol {protocol!r}; expected one of {', '.join(PROTOCOL_CHOICES)}")
        self.url = url
        self.account_id = account_id
        self.protocol = protocol
        self.bindings = tuple(bindings)
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.watchdog_seconds = watchdog_seconds
        self.connect_timeout = connect_timeout
        self.auth_settle_seconds = auth_settle_seconds
        self.stats = StreamStats(protocol=None if protocol == "auto" else protocol)
        self._get_token = get_token
        self._on_event = on_event
        self._on_connected = on_connected
        self._clock = clock
        self._random = random.Random()
        self._detected: str | None = None if protocol == "auto" else protocol
        self._transport: Transport | None = None
        self._stop = asyncio.Event()
        self._connected = asyncio.Event()
        self._auth_failed = asyncio.Event()
        self._refusals = 0  # consecutive refused subscribes; two in a row stop the client until it has worked
        self._accepted = False  # a subscription has held (an event came, or no refusal within the settle time)
        self._background: set[asyncio.Task[None]] = set()
        self._connected_before = False

    # ---- public -------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and stay connected until stop(); raises StreamAuthError when AntBuddy refuses the credentials
        or a fresh token again before the stream has ever worked (afterwards it keeps retrying)."""
        attempt = 0
        try:
            while not self._stop.is_set():
                started = self._clock()
                try:
                    reason = await self._until_stopped(self._connect_once())
                    if reason is None or self._stop.is_set():  # stopped, not disconnected
                        break
                    lived = self._clock() - started
                    immediate = False
                    log.warning("stream disconnected cause=network reason=%r after=%.1fs", reason, lived)
                    self.stats.last_error = f"disconnected: {reason}"
                    if lived > STABLE_SECONDS:
                        attempt = 0
                except StreamAuthError:
                    raise
                except _Failure as failure:
                    immediate = failure.immediate
                    self.stats.last_error = failure.detail
                    log.warning("stream connect failed cause=%s detail=%s", failure.cause, failure.detail)
                except Exception as exc:  # a bug must not end the stream for good: log it and reconnect
                    immediate = False
                    self.stats.last_error = f"unexpected error: {exc!r}"
                    log.exception("stream connection failed unexpectedly")
                if self._stop.is_set():
                    break
                delay = 0.0 if immediate else self._backoff(attempt)
                attempt += 0 if immediate else 1
                if delay:
                    log.info("stream reconnecting in=%.1fs attempt=%d", delay, attempt)
                    try:
                        await asyncio.wait_for(self._stop.wait(), delay)
                    except TimeoutError:
                        pass
        finally:
            self._mark_disconnected()
            for task in list(self._background):
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _until_stopped(self, work: Awaitable[str]) -> str | None:
        """Run one attempt, cancelled as soon as stop() is called (a probe or token fetch may be slow)."""
        attempt = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({attempt, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not attempt.done():
                return None
            return attempt.result()
        finally:
            for task in (attempt, stopping):
                if not task.done():
                    task.cancel()
            await asyncio.gather(attempt, stopping, return_exceptions=True)

    async def stop(self) -> None:
        """Ask run() to end; the current connection is closed."""
        self._stop.set()
        transport = self._transport
        if transport is not None:
            await transport.close()

    async def wait_connected(self, timeout: float) -> bool:
        """True once connected and subscribed (within `timeout` seconds)."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # ---- one connection -----------------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** min(attempt, 30)))
        return ceiling * self._random.uniform(0.5, 1.0)

    async def _resolve_protocol(self) -> str:
        if self._detected is not None:
            return self._detected
        result = await probe(self.url, timeout=self.connect_timeout)
        if result.protocol is None:
            raise _Failure("unsupported" if result.unsupported else "network", result.detail)
        log.info("stream protocol detected protocol=%s url=%s detail=%s", result.protocol, self.url, result.detail)
        self._detected = result.protocol
        self.stats.protocol = result.protocol
        return result.protocol

    async def _fresh_token(self) -> TokenLike:
        try:
            token = await asyncio.wait_for(self._get_token(), self.connect_timeout * 3)
        except AuthError as exc:
            if not self._accepted:
                raise StreamAuthError(str(exc)) from None
            raise _Failure("credentials_rejected", f"AntBuddy refused the app credentials: {exc}") from None
        except TimeoutError:
            raise _Failure("network", "fetching an AntBuddy token timed out") from None
        except (AntBuddyError, OSError) as exc:
            raise _Failure("network", f"fetching an AntBuddy token failed: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - `get_token` is the caller's: whatever it raises is one failed try
            raise _Failure("network", f"fetching an AntBuddy token failed: {exc.__class__.__name__}") from None
        expires_at = token.expires_at
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise _Failure("credentials_rejected", "AntBuddy returned a token that has already expired")
        return token

    def _refresh_at(self, token: TokenLike) -> float | None:
        if token.expires_at is None:
            return None
        lifetime = (token.expires_at - datetime.now(UTC)).total_seconds()
        return self._clock() + max(MIN_REFRESH_SECONDS, 0.8 * lifetime)

    async def _subscribe_all(self, transport: Transport, token: TokenLike) -> None:
        for binding in self.bindings:
            await transport.subscribe({"account_id": self.account_id, "auth_token": token.value, "binding": binding})

    async def _connect_once(self) -> str:
        """One connection from handshake to end; returns why it ended, or raises _Failure / StreamAuthError."""
        protocol = await self._resolve_protocol()
        token = await self._fresh_token()
        if self._stop.is_set():
            return "stopped"
        transport = create_transport(protocol, clock=self._clock)
        transport.on_event = lambda name, payload: self._handle_event(transport, name, payload)
        transport.on_malformed = self._count_malformed
        self._transport = transport
        self._auth_failed.clear()
        try:
            try:
                await transport.connect(self.url, timeout=self.connect_timeout)
            except ProtocolError as exc:
                if self.protocol == "auto":
                    self._detected = None  # the server changed: probe again next time
                raise _Failure("network", str(exc)) from None
            except TransportError as exc:
                raise _Failure("network", str(exc)) from None
            try:
                await self._subscribe_all(transport, token)
            except NotConnected as exc:
                raise _Failure("network", f"connection lost while subscribing: {exc}") from None
            self._mark_connected(protocol)
            return await self._supervise(transport, token)
        finally:
            self._transport = None
            self._mark_disconnected()
            await transport.close()

    async def _supervise(self, transport: Transport, token: TokenLike) -> str:
        refresh_at = self._refresh_at(token)
        settle_at: float | None = (
            self._clock() + self.auth_settle_seconds if self._refusals or not self._accepted else None
        )
        closed = asyncio.create_task(transport.closed())
        stopping = asyncio.create_task(self._stop.wait())
        refused = asyncio.create_task(self._auth_failed.wait())
        try:
            while True:
                now = self._clock()
                deadlines = [transport.last_frame_at + self.watchdog_seconds]
                deadlines += [t for t in (refresh_at, settle_at) if t is not None]
                await asyncio.wait(
                    {closed, stopping, refused},
                    timeout=max(0.0, min(deadlines) - now),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stopping.done():
                    return "stopped"
                if refused.done():
                    self._refusals += 1
                    if self._refusals >= 2 and not self._accepted:
                        log.error("stream stopped cause=subscribe_refused_twice")
                        raise StreamAuthError(
                            "AntBuddy's event stream refused a freshly issued token twice: check "
                            "ANTBUDDY_APP_ID / ANTBUDDY_APP_SECRET and ANTBUDDY_ACCOUNT_ID"
                        )
                    if self._refusals >= 2:  # it worked before: back off and keep trying, /healthz shows it down
                        raise _Failure("subscribe_refused", "the stream refused a freshly issued token again")
                    raise _Failure(
                        "subscribe_refused", "the stream refused the token; retrying with a new one", immediate=True
                    )
                if closed.done():
                    return closed.result()
                now = self._clock()
                silent = now - transport.last_frame_at
                if silent >= self.watchdog_seconds:
                    return f"watchdog: no frame for {silent:.1f}s"
                if settle_at is not None and now >= settle_at:
                    self._refusals, settle_at, self._accepted = 0, None, True
                if refresh_at is not None and now >= refresh_at:
                    token, refresh_at = await self._refresh(transport, token)
        finally:
            for task in (closed, stopping, refused):
                task.cancel()

    async def _refresh(self, transport: Transport, token: TokenLike) -> tuple[TokenLike, float | None]:
        """Re-subscribe on the same connection with a new token; returns the token in use and when to refresh."""
        try:
            fresh = await self._fresh_token()
        except _Failure as failure:
            # The subscriptions made with the old token stay valid on this connection; try again soon.
            log.warning("stream token refresh failed cause=%s detail=%s", failure.cause, failure.detail)
            left = (token.expires_at - datetime.now(UTC)).total_seconds() if token.expires_at else 60.0
            return token, self._clock() + max(MIN_REFRESH_SECONDS, min(5.0, left / 2))
        try:
            await self._subscribe_all(transport, fresh)
        except NotConnected as exc:
            raise _Failure("network", f"connection lost while re-subscribing: {exc}") from None
        log.info("stream token refreshed bindings=%d", len(self.bindings))
        return fresh, self._refresh_at(fresh)

    # ---- callbacks from the transport ---------------------------------------------------------------------
    def _handle_event(self, transport: Transport, name: str, payload: Any) -> None:
        if transport is not self._transport:
            return  # a late frame from a connection we already left
        if name == "auth_failure":
            message = payload.get("message") if isinstance(payload, dict) else None
            binding = payload.get("binding") if isinstance(payload, dict) else None
            if binding in OPTIONAL_BINDINGS:
                if binding not in self.stats.refused_bindings:
                    log.info("stream optional binding refused binding=%s message=%r", binding, str(message)[:200])
                    self.stats.refused_bindings.append(str(binding))
                return
            if not self._auth_failed.is_set():  # one line per refused token, not per binding
                # Never log `cause`: Kazoo puts the refused token there.
                log.warning("stream subscribe refused message=%r", str(message or "auth_failure")[:200])
            self._auth_failed.set()
            return
        if name == "error":
            message = payload.get("message") if isinstance(payload, dict) else payload
            log.warning("stream server error message=%r", str(message)[:200])
            self.stats.last_error = f"server error: {str(message)[:200]}"
            return
        self._refusals, self._accepted = 0, True  # events flow: the token was accepted
        self.stats.events_by_type[event_label(name)] += 1  # bounded: a hostile server may invent names
        self.stats.last_event_at = time.time()
        try:
            self._on_event(name, payload)
        except Exception:
            log.exception("stream on_event failed name=%.64r", name)

    def _count_malformed(self, reason: str) -> None:
        self.stats.malformed += 1

    def _mark_connected(self, protocol: str) -> None:
        if self._connected_before:
            self.stats.reconnects += 1
        self._connected_before = True
        self.stats.connected = True
        self.stats.connected_since = time.time()
        self.stats.protocol = protocol
        self.stats.last_error = None
        self._connected.set()
        log.info("stream connected protocol=%s url=%s bindings=%d", protocol, self.url, len(self.bindings))
        if self._on_connected is not None:
            task = asyncio.create_task(self._run_on_connected(self._on_connected), name="stream-on-connected")
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _run_on_connected(self, on_connected: Callable[[], Awaitable[None]]) -> None:
        try:
            await on_connected()
        except Exception:
            log.exception("stream on_connected failed")

    def _mark_disconnected(self) -> None:
        self.stats.connected = False
        self.stats.connected_since = None
        self._connected.clear()
