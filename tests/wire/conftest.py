"""Fixtures of the wire tests."""

from typing import Any

import pytest


@pytest.fixture
def ring(bot_http: Any) -> Any:
    """The bot's Slack endpoint (conftest's bot_http) under a shorter name."""
    return bot_http
