"""Logging set-up: one line per thing that happened, text or JSON, with every secret scrubbed."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from typing import TextIO

_REDACTED = "[redacted]"


class SecretFilter(logging.Filter):
    """Replaces every configured secret in log records, exception text included."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if s and len(s) >= 4}

    def scrub(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, _REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format goes out as is: logging must not fail
            return True
        clean = self.scrub(message)
        if record.exc_info and record.exc_info[1] is not None:
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.scrub(formatted)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


# Control characters that would end or rewrite a log line, written as escapes (tab stays).
_CONTROL = str.maketrans(
    {
        **{chr(c): f"\\x{c:02x}" for c in range(32) if c != 9},
        "\n": "\\n",
        "\r": "\\r",
        "\x7f": "\\x7f",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
    }
)


def one_line(message: str) -> str:
    """A log message as one line: a value from outside (a caller id with a newline in it) cannot forge a second
    line, and a lone surrogate cannot make the write fail."""
    return message.translate(_CONTROL).encode("utf-8", "backslashreplace").decode("utf-8")


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, the message on one line (a traceback, ours, still follows on its own lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = one_line(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": one_line(record.getMessage()),
        }
        if record.exc_info:
            doc["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_logging(
    level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> SecretFilter:
    """Configure the root logger once; returns the secret filter it installed."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    secret_filter = SecretFilter(secrets)
    handler.addFilter(secret_filter)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("aiohttp.access", "socketio", "engineio", "apscheduler", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    return secret_filter
