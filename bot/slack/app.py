"""The Bolt app (listeners registered, retry handlers on) and the HTTP server that serves it beside
/healthz and /metrics. The bot's own loop stays in charge: nothing here calls app.start().

POST /slack/events passes the front door (bot/slack/verify.py) before Bolt sees it: an unsigned, forged,
stale, oversized or unreadable request is answered 401/400/413 here, and a signed click or dialog submission
in a shape Slack never sends 200 and ignored; each is counted, and logged at most once a minute per reason,
never with a traceback."""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SetupError
from bot.slack import verify
from bot.slack.verify import Refusal

log = logging.getLogger(__name__)

REFUSAL_LOG_SECONDS = 60.0  # one log line per refusal reason at most this often (a flood is one line a minute)
_REFUSAL_TEXT = {401: "invalid request signature", 400: "not a Slack request", 413: "request too large"}


def build_slack_client(token: str, base_url: str, *, timeout: float = 10.0) -> AsyncWebClient:
    """The Web API client every listener and the outbox share; connection errors and 429s are retried."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        timeout=int(timeout),
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
        ],
    )


D = TypeVar("D")  # whatever the listeners need (the composition root passes handlers.deps.Deps)


class _NoTokenSkippedWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused whenever a client is passed in: by design here, so not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_bolt_app(
    deps: D,
    client: AsyncWebClient,
    *,
    signing_secret: str | None,
    register: Callable[[AsyncApp, D], None],
) -> AsyncApp:
    """An AsyncApp whose listeners `register` attaches (the composition root passes `handlers.register`).
    In Socket Mode there is no signing secret to check."""
    bolt_log = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _NoTokenSkippedWarning) for f in bolt_log.filters):
        bolt_log.addFilter(_NoTokenSkippedWarning())

    app = AsyncApp(
        client=client,
        signing_secret=signing_secret or None,
        request_verification_enabled=bool(signing_secret),
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )

    @app.error
    async def on_error(error: Exception, body: dict[str, Any] | None) -> None:
        log.error("listener failed error=%s type=%s", type(error).__name__, (body or {}).get("type"), exc_info=error)

    register(app, deps)
    return app


class _MalformedHttpQuiet(logging.Filter):
    """aiohttp logs a request it cannot even parse (a header past 8 KiB, a bad request line) as an ERROR with
    its traceback. That is the peer's fault, not ours: one WARNING line, at most one a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.clock = clock
        self._last: float | None = None
        self._since = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True  # a handler's own failure stays an ERROR with its traceback: that is a bug of ours
        self._since += 1
        now = self.clock()
        if self._last is not None and now - self._last < REFUSAL_LOG_SECONDS:
            return False
        self._last, count, self._since = now, self._since, 0
        record.msg = "http request refused status=%s reason=malformed_http error=%s count=%d (one line a minute)"
        record.args = (exc.code, type(exc).__name__, count)
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


def _quiet_malformed_http() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _MalformedHttpQuiet) for f in server_log.filters):
        server_log.addFilter(_MalformedHttpQuiet())


class RefusalLog:
    """Refused requests, logged by reason: the first one, then one line a minute with how many came since."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._last: dict[str, float] = {}
        self._since: dict[str, int] = {}

    def note(self, refusal: Refusal, peer: str | None) -> None:
        reason = refusal.reason
        self._since[reason] = self._since.get(reason, 0) + 1
        now = self.clock()
        last = self._last.get(reason)
        if last is not None and now - last < REFUSAL_LOG_SECONDS:
            return
        self._last[reason] = now
        count, self._since[reason] = self._since[reason], 0
        log.warning(
            "slack request refused status=%d reason=%s peer=%s count=%d (the first, then one line a minute)",
            refusal.status,
            reason,
            peer,
            count,
        )


async def admit(request: web.Request, signing_secret: str, *, now: float) -> tuple[str, dict[str, Any]] | Refusal:
    """The body (text and parsed) of a request Slack signed, or why it is refused; see bot/slack/verify.py."""
    refusal = verify.check_length(request.content_length)
    if refusal is not None:
        return refusal
    headers = request.headers
    timestamps = headers.getall("X-Slack-Request-Timestamp", [])
    signatures = headers.getall("X-Slack-Signature", [])
    if len(timestamps) > 1 or len(signatures) > 1:
        return verify.MALFORMED  # which one would Bolt read? neither
    timestamp = timestamps[0] if timestamps else None
    signature = signatures[0] if signatures else None
    refusal = verify.check_headers(timestamp, signature, now=now)
    if refusal is not None or timestamp is None or signature is None:
        return refusal or verify.UNSIGNED
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:  # no Content-Length (chunked), and more than client_max_size
        return verify.TOO_LARGE
    refusal = verify.check_signature(signing_secret, timestamp, signature, body)
    if refusal is not None:
        return refusal
    return verify.read_payload(request.content_type, request.charset, body)


def add_slack_routes(
    web_app: web.Application,
    bolt: AsyncApp,
    *,
    signing_secret: str,
    path: str = "/slack/events",
    on_refused: Callable[[str], None] | None = None,
) -> None:
    """POST /slack/events: slash commands, interactivity and events, admitted by the front door (above); Bolt
    checks the signature once more and routes."""
    if not signing_secret:
        raise ValueError("/slack/events needs the signing secret")  # a programming error: the CLI asks for it
    refusals = RefusalLog()

    async def handle(request: web.Request) -> web.Response:
        try:
            admitted = await admit(request, signing_secret, now=time.time())
        except ConnectionError:  # the peer left mid-body: nobody reads an answer
            admitted = verify.NOT_A_PAYLOAD
        if isinstance(admitted, Refusal):
            refusals.note(admitted, request.remote)
            if on_refused is not None:
                on_refused(admitted.reason)
            return web.Response(status=admitted.status, text=_REFUSAL_TEXT.get(admitted.status, "refused"))
        text, body = admitted
        shape = verify.check_shape(body)
        if shape is not None:
            refusals.note(shape, request.remote)
            if on_refused is not None:
                on_refused(shape.reason)
            return web.Response(status=shape.status)  # 200 and nothing to show: ignored
        bolt_req = AsyncBoltRequest(body=text, query=request.query_string, headers=dict(request.headers))
        if bolt_req.body != body:
            # Bolt takes any form containing the word "payload" (a channel, a user name, a /ring argument) for
            # an interactive payload and loses it: route on the body as Slack sent it.
            bolt_req.body = body
            bolt_req.context = build_async_context(AsyncBoltContext({}), body)
        bolt_resp = await bolt.async_dispatch(bolt_req)
        return await to_aiohttp_response(bolt_resp)

    web_app.router.add_post(path, handle)


async def start_http(
    bolt: AsyncApp | None,
    host: str,
    port: int,
    *,
    signing_secret: str = "",
    extra_routes: Callable[[web.Application], None] | None = None,
    on_refused: Callable[[str], None] | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve the Bolt app (if any, with the secret its requests are signed with) plus extra routes; returns the
    runner and the bound port (port 0 = any)."""
    _quiet_malformed_http()
    web_app = web.Application(client_max_size=verify.MAX_BODY_BYTES)
    if bolt is not None:
        add_slack_routes(web_app, bolt, signing_secret=signing_secret, on_refused=on_refused)
    if extra_routes:
        extra_routes(web_app)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise SetupError(cannot_listen(host, port, exc)) from None
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    log.info("http listening host=%s port=%s", host, bound)
    return runner, bound


def cannot_listen(host: str, port: int, exc: OSError) -> str:
    """One sentence for a port or host the HTTP server cannot listen on."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"RINGBOT_HTTP_PORT {port} is already in use on {host} (another ringbot or another program): stop it, "
            "or set RINGBOT_HTTP_PORT to a free port"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"RINGBOT_HTTP_PORT {port} needs privileges on this machine: use a port above 1023"
    return f"cannot listen on RINGBOT_HTTP_HOST {host!r} port {port}: {exc.strerror or exc}"
