"""Socket Mode's connection in the log: one line when its state changes, never slack_sdk's traceback per retry."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError

# What slack_sdk's Socket Mode client logs about its connection (slack_sdk/socket_mode/aiohttp and async_client):
# each failed try is an ERROR with a traceback, every ping interval, for as long as it lasts.
_FAILURES = (
    "Failed to connect",
    "Failed to retrieve WSS URL",
    "Failed to check the current session",
    "Failed to close the old session",
    "Failed to send a ping message",
    "Failed to receive or enqueue a message",
    "Rate limited",
)
_TRIES = ("Failed to connect", "Failed to check the current session")  # one each per failed try; others come along
_ESTABLISHED = "has been established"
_LOST = ("seems to be already closed", "seems to be stale")
_SESSION = re.compile(r"\s*\(?s_-?\d+\)?")  # a session id: new on every try, so no part of what is "the same"
_QUERY = re.compile(r"\?[^\s'\"]*")  # a wss URL's query holds a ticket: never logged


def describe(exc: BaseException | None, text: str) -> str:
    """Why a try failed, short and the same from one try to the next: Slack's error code, else the exception's
    class and first words, else the message; one line, without session ids or URL tickets."""
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        reason = f"Slack answered {error or exc.response.status_code}"
    elif exc is not None:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    else:
        reason = text
    reason = _QUERY.sub("?…", _SESSION.sub("", reason))
    return " ".join(reason.split())[:200]


class SocketModeLog(logging.LoggerAdapter[logging.Logger]):
    """The logger handed to Bolt's AsyncSocketModeHandler. Connection failures become one WARNING when they
    start or their reason changes (the repeats are DEBUG), and one INFO when the connection is back; whatever
    else slack_sdk says at WARNING and above (a listener that failed) passes through unchanged, its INFO
    chatter as DEBUG. `state` is connecting | connected | reconnecting | failing, for /healthz."""

    def __init__(self, logger: logging.Logger, *, retry_seconds: float) -> None:
        super().__init__(logger, {})
        self.retry_seconds = retry_seconds
        self.state = "connecting"
        self.reason: str | None = None
        self.failures = 0  # failed tries since the connection last worked

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        text = _text(msg, args)
        if text.startswith(_FAILURES) and level >= logging.INFO:
            exc = sys.exc_info()[1]  # slack_sdk logs these inside its `except` block
            self._failed(describe(exc, text), tried=text.startswith(_TRIES))
        elif _ESTABLISHED in text:
            self._connected()
        elif any(lost in text for lost in _LOST):
            if self.state == "connected":
                self.logger.info("slack socket mode connection lost (%s); reconnecting", describe(None, text))
            self.state = "reconnecting"
        elif level >= logging.WARNING:
            self.logger.log(level, msg, *args, **_only_logging_keywords(kwargs))
        else:
            self.logger.debug("slack socket mode: %s", text)

    def _failed(self, reason: str, *, tried: bool) -> None:
        self.failures += tried
        if self.state != "failing" or reason != self.reason:
            self.logger.warning(
                "slack socket mode cannot connect reason=%s; retrying every %.0f s", reason, self.retry_seconds
            )
        else:
            self.logger.debug("slack socket mode still cannot connect reason=%s tries=%d", reason, self.failures)
        self.state, self.reason = "failing", reason

    def _connected(self) -> None:
        if self.state == "failing":
            self.logger.info("slack socket mode connected after %d failed tries", self.failures)
        elif self.state == "connecting":
            self.logger.info("slack socket mode connected")
        else:
            self.logger.debug("slack socket mode reconnected")
        self.state, self.reason, self.failures = "connected", None, 0


def _text(msg: object, args: tuple[object, ...]) -> str:
    try:
        return str(msg) % args if args else str(msg)
    except (TypeError, ValueError):
        return str(msg)


def _only_logging_keywords(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in ("exc_info", "stack_info", "stacklevel", "extra")}
