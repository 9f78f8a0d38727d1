"""The client's exceptions: a small hierarchy; str() is one sentence for a person, never a secret."""

from __future__ import annotations


class AntBuddyError(Exception):
    """Base of every client error; str() is one sentence for a person and never holds a secret."""


class AuthError(AntBuddyError):
    """AntBuddy refused our credentials (401/403, or a body saying the hash/app is invalid)."""


class NotConfigured(AntBuddyError):
    """A setting this call needs (domain, email) is empty."""


class DeviceOffline(AntBuddyError):
    """Click-to-call answered 400: the SIP device that should ring first is not registered."""

    def __init__(self, sip_user: str) -> None:
        self.sip_user = sip_user
        super().__init__(f"The phone {sip_user!r} is not registered with AntBuddy, so it cannot be rung.")


class InvalidNumber(AntBuddyError, ValueError):
    """A phone number is not 3-20 digits with an optional leading +."""


class RateLimited(AntBuddyError):
    """AntBuddy kept answering 503/429 (its rate limit) after our retries."""


class Unavailable(AntBuddyError):
    """AntBuddy could not be reached or did not answer in time, after our retries."""


class ApiError(AntBuddyError):
    """Any other refusal; `.status` is the HTTP status (None for an error envelope in a 2xx body)."""

    def __init__(self, message: str, *, status: int | None = None, excerpt: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt


class EnvelopeError(AntBuddyError):
    """The body is not in any shape we accept for that endpoint."""
