"""What a failed Slack call means for its outbox row: wait out a rate limit, try again later, or give up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

import aiohttp

# Slack `error` codes worth retrying; anything else on a 2xx/4xx is permanent (dead letter).
TRANSIENT_ERRORS = frozenset(
    {
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "ratelimited",
        "rate_limited",
        "team_added_to_org",
    }
)
RATE_LIMIT_ERRORS = frozenset({"ratelimited", "rate_limited"})
# Codes that say nothing about the row and everything about the channel: the channel waits (its rows stay
# queued) until someone fixes it; every row in it would fail the same way, so none is tried meanwhile.
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "channel_is_archived"})
# Codes that stop every post to the workspace (the token, the app's scopes): everything waits for the fix.
WORKSPACE_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "no_permission",
        "team_access_not_granted",
        "ekm_access_denied",
    }
)
# A dead letter, or a held channel, is only useful if the person reading the log knows what to change.
CHANNEL_FIXES = {
    "channel_not_found": "check the channel id, and invite @ringbot to the channel (private channels need it)",
    "not_in_channel": "invite @ringbot to the channel, or add the chat:write.public scope",
    "is_archived": "unarchive the channel or route alerts elsewhere (/ring route)",
    "channel_is_archived": "unarchive the channel or route alerts elsewhere (/ring route)",
    "missing_scope": "add chat:write (and chat:write.public) to the app and reinstall it",
    "invalid_auth": "check SLACK_BOT_TOKEN",
    "not_authed": "check SLACK_BOT_TOKEN",
    "token_revoked": "reinstall the app and update SLACK_BOT_TOKEN",
    "token_expired": "reinstall the app and update SLACK_BOT_TOKEN",
    "account_inactive": "reinstall the app and update SLACK_BOT_TOKEN",
    "not_slack": "check SLACK_API_URL (it should be https://slack.com/api/)",
}
# A timeout or a dropped connection: Slack may or may not have the message, so the row is tried again
# (after looking in the channel first, see recovery.py).
NETWORK_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, aiohttp.ClientError, OSError)
DEFAULT_RETRY_AFTER = 1.0  # seconds, when a 429 does not say how long


class Verdict(StrEnum):
    RATE_LIMITED = "rate_limited"  # pause for Retry-After; the try does not count as a failed attempt
    RETRY = "retry"  # Slack will come back: back off and try again, for as long as it takes
    HOLD_CHANNEL = "hold_channel"  # the channel is gone or closed to the bot: it waits for the fix, rows kept
    HOLD_ALL = "hold_all"  # the token, the scopes or the URL are wrong: every post waits for the fix, rows kept
    DEAD = "dead"  # this row cannot be sent (its own content): dead letter, with the fix when one is known


@dataclass(frozen=True)
class Failure:
    verdict: Verdict
    error: str  # what the outbox row's `error` column and the log line say
    retry_after: float = 0.0  # seconds to pause, for RATE_LIMITED


def error_code(response: object) -> str | None:
    """Slack's `error` code from a response, or None when the body was not Slack's JSON (a proxy's HTML page, a
    plain-text 500, a 404 from a wrong URL): slack_sdk then hands over a str, bytes or an empty dict."""
    data = response if isinstance(response, dict) else getattr(response, "data", None)
    if isinstance(data, dict):
        code = data.get("error")
        return str(code) if code else None
    return None


def classify(status: int, error: str | None, headers: Mapping[str, object] | None = None) -> Failure:
    """Sort Slack's answer (HTTP status, the body's `error` code or None, the response headers) into what to do.

    A 429 or a rate-limit code pauses; a 5xx or a known transient code is retried; a channel or token problem
    holds the channel (or every channel) with its rows kept until it is fixed; a 4xx that is not Slack's JSON
    means the URL is not Slack's API (held too); anything else belongs to the row, which is dead-lettered."""
    code = str(error or f"http_{status}")
    if status == 429 or code in RATE_LIMIT_ERRORS:
        return Failure(Verdict.RATE_LIMITED, f"ratelimited: {code}", retry_after(headers))
    if status >= 500 or code in TRANSIENT_ERRORS:
        return Failure(Verdict.RETRY, f"slack {status}: {code}")
    if code in CHANNEL_ERRORS:
        return Failure(Verdict.HOLD_CHANNEL, f"slack refused: {code} (fix: {CHANNEL_FIXES[code]})")
    if code in WORKSPACE_ERRORS:
        return Failure(Verdict.HOLD_ALL, f"slack refused: {code} (fix: {CHANNEL_FIXES.get(code, 'check the app')})")
    if error is None and status != 200:
        return Failure(Verdict.HOLD_ALL, f"not the Slack API: HTTP {status} (fix: {CHANNEL_FIXES['not_slack']})")
    fix = CHANNEL_FIXES.get(code)
    return Failure(Verdict.DEAD, f"slack refused: {code}" + (f" (fix: {fix})" if fix else ""))


def unexpected_failure(exc: BaseException) -> Failure:
    """Anything else that went wrong around a Slack call (a body slack_sdk could not read...): tried again."""
    return Failure(Verdict.RETRY, f"unexpected: {type(exc).__name__}: {exc}"[:300])


def network_failure(exc: BaseException) -> Failure:
    """A call that never got an answer (one of NETWORK_ERRORS) is always worth another try."""
    return Failure(Verdict.RETRY, f"network: {type(exc).__name__}: {exc}"[:300])


def retry_after(headers: Mapping[str, object] | None) -> float:
    """Seconds Slack asked us to wait; header names are case-insensitive, and an unreadable value means 1 s."""
    lowered = {str(name).lower(): value for name, value in (headers or {}).items()}
    raw = lowered.get("retry-after", DEFAULT_RETRY_AFTER)
    if not isinstance(raw, str | int | float):
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(raw))
    except ValueError:
        return DEFAULT_RETRY_AFTER
