"""AntBuddy's wire rules, pure: hash inputs, number and time formats, `expire`, retries, envelopes
(docs/antbuddy-wire.md)."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from bot.antbuddy.errors import ApiError, AuthError, EnvelopeError, InvalidNumber

GREGORIAN_OFFSET = 62167219200  # unix = gregorian - this (Kazoo's UNIXEPOCH_IN_GREGORIAN)
MAX_WINDOW = timedelta(days=31)  # AntBuddy: history spans at most 31 days per request
MAX_LIMIT = 100
RETRY_AFTER_CAP = 30.0
EXCERPT_CHARS = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMBER_RE = re.compile(r"\+?[0-9]+")
_NUMBER_NOISE_RE = re.compile(r"[\s.\-()]")
_AUTH_WORDS_RE = re.compile(r"auth|hash|signature|credential|unauthori[sz]ed|forbidden|app ?secret|appid", re.I)
_LIST_KEYS = ("items", "docs", "rows")


# ----------------------------------------------------------------------------------------------- hashes
def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def auth_hash_input(app_id: str, app_secret: str) -> str:
    """Auth token and click-to-call header hash input: appId + appSecret."""
    return app_id + app_secret


def auth_hash(app_id: str, app_secret: str) -> str:
    return sha256_hex(auth_hash_input(app_id, app_secret))


def history_hash_input(
    created_from: str, created_to: str, limit: int, page: int, app_id: str, app_secret: str, variant: str = "list"
) -> str:
    """`list`: the API list's recipe; `short`: appId + from + to + secret (AntBuddy's other page)."""
    if variant == "list":
        return f"{created_from}{created_to}{limit}{page}{app_id}{app_secret}"
    if variant == "short":
        return f"{app_id}{created_from}{created_to}{app_secret}"
    raise ValueError(f"unknown history hash variant {variant!r}")


def recording_hash_input(app_id: str, media: str, app_secret: str) -> str:
    return app_id + media + app_secret


def directory_hash_input(app_id: str, domain: str, email: str, app_secret: str) -> str:
    """Dashboard, queues and agents: appId + domain + email + appSecret."""
    return app_id + domain + email + app_secret


# ----------------------------------------------------------------------------------------- pure helpers
def validate_number(number: str) -> str:
    """The number without spaces, dots, dashes and parentheses; InvalidNumber unless `+?digits`, 3-20 chars
    (the + counts). [0-9] only: other scripts' digits are refused."""
    cleaned = _NUMBER_NOISE_RE.sub("", number or "")
    if not (3 <= len(cleaned) <= 20 and _NUMBER_RE.fullmatch(cleaned)):
        shown = (number or "").strip()[:30]
        raise InvalidNumber(f"{shown!r} is not a phone number: use 3 to 20 digits, optionally starting with +.")
    return cleaned


def utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("AntBuddy times must be timezone-aware datetimes")
    return dt.astimezone(UTC)


def format_history_time(dt: datetime, fmt: str) -> str:
    """Write `created_from`/`created_to` the way ANTBUDDY_HISTORY_DATE_FORMAT says (always in UTC)."""
    dt = utc(dt)
    if fmt == "iso":
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    if fmt == "date":
        return dt.date().isoformat()
    unix = (dt - EPOCH) // timedelta(seconds=1)
    if fmt == "unix":
        return str(unix)
    if fmt == "unix_ms":
        return str((dt - EPOCH) // timedelta(milliseconds=1))
    if fmt == "gregorian":
        return str(unix + GREGORIAN_OFFSET)
    raise ValueError(f"unknown history date format {fmt!r}")


def timestamp_to_datetime(value: Any) -> datetime | None:
    """An absolute time told apart by size: ms (>= 1e12), gregorian s (>= 6e10), unix s; or an ISO string."""
    if value is None or isinstance(value, bool) or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            try:
                dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return None
            return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    if value >= 1e12:
        value = value / 1000
    elif value >= 6e10:
        value = value - GREGORIAN_OFFSET
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_expire(value: Any, now: datetime) -> datetime:
    """When a token expires. Numbers below 1e9 are a lifetime in seconds; larger ones an absolute time
    (unix s, gregorian s from 6e10, unix ms from 1e12); strings may be numeric or ISO. ValueError otherwise."""
    if isinstance(value, str) and value.strip():
        try:
            value = float(value)
        except ValueError:
            dt = timestamp_to_datetime(value)
            if dt is None:
                raise ValueError("token expire is not a time") from None
            return dt
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError("token expire is not a time")
    if value < 1e9:  # ~31 years: nobody issues a lifetime that long, nor a unix time before 2001
        return utc(now) + timedelta(seconds=value)
    dt = timestamp_to_datetime(value)
    if dt is None:
        raise ValueError("token expire is out of range")
    return dt


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or HTTP date), capped at RETRY_AFTER_CAP."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def backoff_delay(base: float, attempt: int) -> float:
    """Jittered exponential backoff before retry number `attempt` (1-based), capped like Retry-After."""
    return min(base * 2 ** (attempt - 1) * random.uniform(0.5, 1.0), RETRY_AFTER_CAP)


def history_windows(start: datetime, end: datetime, span: timedelta = MAX_WINDOW) -> list[tuple[datetime, datetime]]:
    """Split [start, end] into consecutive windows of at most `span`; the last one ends exactly at `end`."""
    start, end = utc(start), utc(end)
    if end < start:
        raise ValueError("history end is before its start")
    windows = []
    while start < end:
        stop = min(start + span, end)
        windows.append((start, stop))
        start = stop
    return windows


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced, whitespace collapsed, cut to EXCERPT_CHARS."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


# -------------------------------------------------------------------------------------------- envelopes
def _error_message(body: dict[str, Any]) -> str | None:
    """The message of an error envelope (`{"status": "error"/false, "message": ...}`), else None."""
    status = body.get("status")
    code = body.get("code")
    failed = (
        body.get("success") is False
        or status is False
        or (isinstance(status, str) and status.lower() in ("error", "fail", "failed", "false", "unauthorized"))
        or (isinstance(status, int) and not isinstance(status, bool) and status >= 400)
        or (isinstance(code, int) and not isinstance(code, bool) and code >= 400)
        or bool(body.get("error"))
    )
    if not failed:
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    message = body.get("message") or body.get("msg") or error or status or code
    return str(message) if message not in (None, "") else "no reason given"


def _raise_error_envelope(body: dict[str, Any], endpoint: str, secrets: Iterable[str]) -> None:
    message = _error_message(body)
    if message is None:
        return
    message = scrub(message, secrets)
    codes = {body.get("code"), body.get("status")}
    if codes & {401, 403, "401", "403"} or _AUTH_WORDS_RE.search(message):
        raise AuthError(f"AntBuddy refused the {endpoint} credentials: {message}")
    raise ApiError(f"AntBuddy refused the {endpoint} request: {message}", excerpt=message)


def unwrap_object(body: Any, endpoint: str, required: tuple[str, ...], secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The object holding any of `required` keys: the bare body or its `data`; error envelopes raise."""
    if isinstance(body, dict):
        if any(k in body for k in required):
            return body
        data = body.get("data")
        if isinstance(data, dict) and any(k in data for k in required):
            return data
        if data in (None, {}, []):
            _raise_error_envelope(body, endpoint, secrets)
    raise EnvelopeError(f"AntBuddy {endpoint} answered in an unexpected shape (expected {'/'.join(required)}).")


def unwrap_list(body: Any, endpoint: str, secrets: Iterable[str] = ()) -> list[Any]:
    """A list: bare, in `data`, or in `data.items|docs|rows`; `{"data": null}` is empty; error envelopes raise."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for holder in (body.get("data"), body):
            if isinstance(holder, list):
                return holder
            if isinstance(holder, dict):
                for key in _LIST_KEYS:
                    if isinstance(holder.get(key), list):
                        return holder[key]
        _raise_error_envelope(body, endpoint, secrets)
        if "data" in body and body["data"] in (None, {}):
            return []
    raise EnvelopeError(f"AntBuddy {endpoint} answered in an unexpected shape (expected a list).")
