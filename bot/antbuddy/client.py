"""The HTTP client: one method per AntBuddy endpoint, retries, logging and stats (I/O lives only here)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from bot.antbuddy.errors import (
    AntBuddyError,
    ApiError,
    AuthError,
    DeviceOffline,
    EnvelopeError,
    NotConfigured,
    RateLimited,
    Unavailable,
)
from bot.antbuddy.models import (
    Agent,
    Dashboard,
    HistoryPage,
    HistoryRecord,
    Queue,
    Token,
    parse_agent,
    parse_dashboard,
    parse_history_record,
    parse_queue,
)
from bot.antbuddy.wire import (
    EPOCH,
    MAX_LIMIT,
    MAX_WINDOW,
    auth_hash,
    backoff_delay,
    directory_hash_input,
    format_history_time,
    history_hash_input,
    history_windows,
    parse_expire,
    parse_retry_after,
    recording_hash_input,
    scrub,
    sha256_hex,
    unwrap_list,
    unwrap_object,
    utc,
    validate_number,
)

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

MAX_PAGES_PER_WINDOW = 1000  # bounds the page walk if a server never sends a short page
DEFAULT_TOKEN_LIFETIME = 3600  # Kazoo's token_auth_expiry default, used when `expire` is missing


@dataclass
class EndpointStats:
    requests: int = 0  # HTTP attempts, retries included
    failures: int = 0  # attempts without a 2xx answer
    latency_sum: float = 0.0  # seconds


@dataclass
class ClientStats:
    """Per-endpoint counters for /metrics."""

    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    observer: Callable[[str, float, bool], None] | None = None  # the app feeds /metrics from it

    def record(self, endpoint: str, seconds: float, ok: bool) -> None:
        s = self.endpoints.setdefault(endpoint, EndpointStats())
        s.requests += 1
        s.failures += 0 if ok else 1
        s.latency_sum += seconds
        if self.observer is not None:
            self.observer(endpoint, seconds, ok)


# httpx raises these before a single byte of the request left: safe to retry even a click-to-call.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class AntBuddyClient:
    """Talks to AntBuddy's REST API; handlers never build URLs or hashes themselves."""

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_secret: str,
        domain: str = "",
        email: str = "",
        history_date_format: str = "iso",
        history_hash: str = "auto",
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if history_hash not in ("list", "short", "auto"):
            raise ValueError(f"history_hash must be list, short or auto, got {history_hash!r}")
        format_history_time(EPOCH, history_date_format)  # fail fast on an unknown format
        self._app_id = app_id
        self._secret = app_secret
        self._domain = domain
        self._email = email
        self._date_format = history_date_format
        self.history_hash_in_use: str | None = None if history_hash == "auto" else history_hash
        self._retries = max(0, retries)
        self._backoff = backoff
        self._deadline = timeout * 3  # whole-attempt cap on top of httpx's per-phase timeouts
        self.stats = ClientStats()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
            headers={"accept": "application/json", "user-agent": "ringbot"},
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> AntBuddyClient:
        args: dict[str, Any] = dict(
            base_url=settings.antbuddy_api_url,
            app_id=settings.antbuddy_app_id,
            app_secret=settings.antbuddy_app_secret,
            domain=settings.antbuddy_domain,
            email=settings.antbuddy_email,
            history_date_format=settings.history_date_format,
            history_hash=settings.history_hash,
        )
        args.update(kw)
        return cls(**args)

    async def __aenter__(self) -> AntBuddyClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---------------------------------------------------------------------------------------- endpoints
    async def auth_token(self) -> Token:
        """A fresh token for the event stream's `subscribe`."""
        body = await self._call("auth_token", "POST", "/oapi/v1/voice/auth_token", headers=self._auth_headers())
        data = unwrap_object(body, "auth_token", ("value",), self._secrets())
        value = data.get("value")
        if not isinstance(value, str) or not value:
            raise EnvelopeError("AntBuddy auth_token answered without a token value.")
        now = datetime.now(UTC)
        try:
            expires_at = parse_expire(data["expire"], now) if data.get("expire") not in (None, "") else None
        except ValueError:
            expires_at = None
        if expires_at is None:
            log.warning("antbuddy token expire unreadable, assuming lifetime=%d", DEFAULT_TOKEN_LIFETIME)
            expires_at = now + timedelta(seconds=DEFAULT_TOKEN_LIFETIME)
        return Token(value=value, expires_at=expires_at)

    async def click_to_call(self, number: str, *, sip_user: str, sip_password: str) -> None:
        """Ring `sip_user`'s device, then dial `number`. DeviceOffline on 400; never resent once it may
        have reached AntBuddy (a second request would dial twice)."""
        cleaned = validate_number(number)
        if not sip_user or not sip_password:
            raise ValueError("click_to_call needs a SIP user and password")
        try:
            await self._call(
                "click_to_call",
                "POST",
                "/oapi/v1/call/click-to-call/" + quote(cleaned, safe=""),
                headers=self._auth_headers(),
                payload={"sipUser": sip_user, "sipPassword": sip_password},
                idempotent=False,
                extra_secrets=(sip_password,),
            )
        except ApiError as exc:
            if exc.status == 400:
                raise DeviceOffline(sip_user) from None
            raise

    async def history_page(
        self, start: datetime, end: datetime, *, page: int = 1, limit: int = 100
    ) -> list[HistoryRecord]:
        """One page of history for a window of at most 31 days."""
        return _parse_history_items(await self._history_items(start, end, page, limit))

    async def history(
        self,
        start: datetime,
        end: datetime,
        *,
        limit: int = 100,
        on_page: Callable[[HistoryPage], None] | None = None,
    ) -> AsyncIterator[HistoryRecord]:
        """Every record from `start` to `end`: <=31-day windows, pages walked until a short page. `on_page` is
        told of each page as it arrives, before its records are yielded (`ringbot backfill` shows progress).

        Adjacent windows share their boundary instant, so a record there may come twice: dedupe by call id.
        """
        # A `date` format is inclusive at both ends: keep such windows a day shorter to stay within 31 days.
        span = MAX_WINDOW - timedelta(days=1) if self._date_format == "date" else MAX_WINDOW
        windows = history_windows(start, end, span)
        for number, (window_start, window_end) in enumerate(windows, start=1):
            for page in range(1, MAX_PAGES_PER_WINDOW + 1):
                items = await self._history_items(window_start, window_end, page, limit)
                records = _parse_history_items(items)
                if on_page is not None:
                    on_page(
                        HistoryPage(
                            window=number,
                            windows=len(windows),
                            window_start=window_start,
                            window_end=window_end,
                            page=page,
                            records=len(records),
                            earliest=min((r.started_at for r in records), default=None),
                            last=len(items) < limit,
                        )
                    )
                for record in records:
                    yield record
                if len(items) < limit:
                    break
            else:
                log.warning("antbuddy history page walk stopped at max_pages=%d", MAX_PAGES_PER_WINDOW)

    async def recording_url(self, media: str) -> str:
        """The signed URL of a recording file named in a history record (fetched only when asked)."""
        if not media:
            raise ValueError("recording_url needs a media file name")
        h = sha256_hex(recording_hash_input(self._app_id, media, self._secret))
        params = {"appId": self._app_id, "media": media, "hash": h}
        body = await self._call("recording", "GET", "/oapi/v1/call/play_recording", params=params, extra_secrets=(h,))
        if isinstance(body, dict) and isinstance(body.get("data"), str) and body["data"]:
            return body["data"]
        url = unwrap_object(body, "recording", ("media",), self._secrets(h)).get("media")
        if not isinstance(url, str) or not url:
            raise EnvelopeError("AntBuddy recording answered without a media URL.")
        return url

    async def dashboard(self) -> Dashboard:
        body = await self._directory("dashboard", "/oapi/v1/call/dashboard")
        return parse_dashboard(unwrap_object(body, "dashboard", ("agent", "queue", "queues"), self._secrets()))

    async def queues(self) -> list[Queue]:
        items = unwrap_list(await self._directory("queues", "/oapi/v1/queues"), "queues", self._secrets())
        return [parse_queue(i) for i in items if isinstance(i, dict)]

    async def agents(self) -> list[Agent]:
        items = unwrap_list(await self._directory("agents", "/oapi/v1/agents"), "agents", self._secrets())
        return [parse_agent(i) for i in items if isinstance(i, dict)]

    # ---------------------------------------------------------------------------------------- internals
    def _secrets(self, *extra: str) -> tuple[str, ...]:
        """What must never reach a log line or an error: the secret and every hash made from it."""
        return (self._secret, auth_hash(self._app_id, self._secret), *extra)

    def _auth_headers(self) -> dict[str, str]:
        return {"x-auth-app-id": self._app_id, "x-auth-app-hash": auth_hash(self._app_id, self._secret)}

    async def _directory(self, endpoint: str, path: str) -> Any:
        """Dashboard, queues, agents: same query and hash."""
        if not self._domain or not self._email:
            raise NotConfigured(f"AntBuddy {endpoint} needs ANTBUDDY_DOMAIN and ANTBUDDY_EMAIL to be set.")
        h = sha256_hex(directory_hash_input(self._app_id, self._domain, self._email, self._secret))
        params = {"appId": self._app_id, "domain": self._domain, "email": self._email, "hash": h}
        return await self._call(endpoint, "GET", path, params=params, extra_secrets=(h,))

    async def _history_items(self, start: datetime, end: datetime, page: int, limit: int) -> list[Any]:
        """One page's raw items; in `auto` hash mode the first auth refusal of `list` tries `short` once."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"history limit must be 1..{MAX_LIMIT}, got {limit}")
        if page < 1:
            raise ValueError("history pages start at 1")
        if utc(end) - utc(start) > MAX_WINDOW:
            raise ValueError("one history request spans at most 31 days; use history() to split")
        created_from = format_history_time(start, self._date_format)
        created_to = format_history_time(end, self._date_format)
        variants = [self.history_hash_in_use] if self.history_hash_in_use else ["list", "short"]
        for variant in variants:
            h = sha256_hex(
                history_hash_input(created_from, created_to, limit, page, self._app_id, self._secret, variant)
            )
            params = {"appId": self._app_id, "created_from": created_from, "created_to": created_to,
                      "limit": limit, "page": page, "hash": h}  # fmt: skip
            try:
                body = await self._call("history", "GET", "/oapi/v1/call/histories", params=params, extra_secrets=(h,))
                items = unwrap_list(body, "history", self._secrets(h))
            except AuthError:
                if variant != variants[-1]:
                    log.warning("antbuddy history hash=%s refused, trying hash=short", variant)
                    continue
                if len(variants) > 1:
                    raise AuthError("AntBuddy refused the history hash in both recipes (list and short).") from None
                raise
            if self.history_hash_in_use is None:
                log.info("antbuddy history hash=%s accepted", variant)
                self.history_hash_in_use = variant
            return items
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        payload: Any = None,
        idempotent: bool = True,
        extra_secrets: tuple[str, ...] = (),
    ) -> Any:
        """One logical request: retries, a log line per attempt (endpoint name only: the URL holds the hash),
        stats; returns the 2xx body's JSON (None if empty) or raises an AntBuddyError."""
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            try:
                async with asyncio.timeout(self._deadline):
                    resp = await self._http.request(method, path, params=params, headers=headers, json=payload)
            except (httpx.TransportError, TimeoutError) as exc:
                ms = (time.perf_counter() - started) * 1000
                self.stats.record(endpoint, ms / 1000, ok=False)
                kind = type(exc).__name__
                log.warning("antbuddy request endpoint=%s error=%s ms=%d attempt=%d", endpoint, kind, ms, attempt)
                maybe_sent = not isinstance(exc, _NOT_SENT)
                if attempt < attempts and (idempotent or not maybe_sent):
                    await asyncio.sleep(backoff_delay(self._backoff, attempt))
                    continue
                if maybe_sent and not idempotent:
                    raise Unavailable(
                        f"AntBuddy did not confirm the {endpoint} request in time ({kind}); it may have gone through."
                    ) from exc
                raise Unavailable(f"AntBuddy could not be reached for {endpoint} ({kind}, {attempt} tries).") from exc
            ms = (time.perf_counter() - started) * 1000
            status = resp.status_code
            self.stats.record(endpoint, ms / 1000, ok=200 <= status < 300)
            log.info("antbuddy request endpoint=%s status=%d ms=%d attempt=%d", endpoint, status, ms, attempt)
            if 200 <= status < 300:
                return _json_body(resp, endpoint)
            if (status == 429 or status >= 500) and idempotent and attempt < attempts:
                wait = parse_retry_after(resp.headers.get("retry-after"))
                await asyncio.sleep(wait if wait is not None else backoff_delay(self._backoff, attempt))
                continue
            raise _status_error(endpoint, status, scrub(resp.text, (*self._secrets(), *extra_secrets)))
        raise AssertionError("unreachable")  # pragma: no cover


def _status_error(endpoint: str, status: int, excerpt: str) -> AntBuddyError:
    if status in (429, 503):  # AntBuddy: 503 means rate limited
        return RateLimited(f"AntBuddy is rate-limiting {endpoint} requests (HTTP {status}); try again shortly.")
    if status in (401, 403):
        return AuthError(
            f"AntBuddy refused the {endpoint} credentials (HTTP {status}); "
            "check ANTBUDDY_APP_ID and ANTBUDDY_APP_SECRET."
        )
    return ApiError(f"AntBuddy {endpoint} failed with HTTP {status}.", status=status, excerpt=excerpt)


def _json_body(resp: httpx.Response, endpoint: str) -> Any:
    if not resp.content.strip():
        return None
    try:
        return json.loads(resp.content)
    except ValueError:
        raise EnvelopeError(f"AntBuddy {endpoint} answered with a body that is not JSON.") from None


def _parse_history_items(items: list[Any]) -> list[HistoryRecord]:
    """Parsed records; an item that is not an object or has no time is logged and skipped, not fatal."""
    records = []
    for item in items:
        record = parse_history_record(item) if isinstance(item, dict) else None
        if record is None:
            reason = "no_time" if isinstance(item, dict) else "not_object"
            log.warning("antbuddy history record skipped reason=%s", reason)
            continue
        records.append(record)
    return records
