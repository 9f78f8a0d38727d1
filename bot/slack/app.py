"""The Bolt app (listeners registered, retry handlers on) and the HTTP server that serves it beside
/healthz and /metrics. The bot's own loop stays in charge: nothing here calls app.start()."""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SetupError

log = logging.getLogger(__name__)


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


def add_slack_routes(web_app: web.Application, bolt: AsyncApp, path: str = "/slack/events") -> None:
    """POST /slack/events: slash commands, interactivity and events (Bolt verifies the signature)."""

    async def handle(request: web.Request) -> web.Response:
        bolt_req = await to_bolt_request(request)
        bolt_resp = await bolt.async_dispatch(bolt_req)
        return await to_aiohttp_response(bolt_resp)

    web_app.router.add_post(path, handle)


async def start_http(
    bolt: AsyncApp | None,
    host: str,
    port: int,
    *,
    extra_routes: Callable[[web.Application], None] | None = None,
) -> tuple[web.AppRunner, int]:
    """Serve the Bolt app (if any) plus extra routes; returns the runner and the bound port (port 0 = any)."""
    web_app = web.Application(client_max_size=2 * 1024 * 1024)
    if bolt is not None:
        add_slack_routes(web_app, bolt)
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


Starter = Callable[[], Awaitable[None]]
