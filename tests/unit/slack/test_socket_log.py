"""Why a Socket Mode try failed, in words that stay the same from one try to the next and hold no ticket."""

from __future__ import annotations

import logging

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.socket_log import SocketModeLog, describe


def slack_error(error: str) -> SlackApiError:
    response = AsyncSlackResponse(
        client=AsyncWebClient(), http_verb="POST", api_url="x", req_args={}, data={"ok": False, "error": error},
        headers={}, status_code=200,
    )  # fmt: skip
    return SlackApiError("The request to the Slack API failed.", response)


def test_slacks_refusal_is_its_error_code() -> None:
    assert describe(slack_error("invalid_auth"), "Failed to connect (error: ...)") == "Slack answered invalid_auth"


def test_a_wss_ticket_and_a_session_id_never_reach_the_reason() -> None:
    exc = aiohttp.ClientConnectionError("503, url=wss://wss-primary.slack.com/link/?ticket=SECRET-TICKET&app_id=A1")
    reason = describe(exc, "")
    assert "SECRET-TICKET" not in reason
    assert reason == "ClientConnectionError: 503, url=wss://wss-primary.slack.com/link/?…"
    assert describe(None, "Failed to check the current session (s_1234567) or reconnect") == (
        "Failed to check the current session or reconnect"
    )


def test_repeats_of_one_failure_are_debug_and_the_way_back_is_one_line(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="t")
    log = SocketModeLog(logging.getLogger("t"), retry_seconds=10)
    for _ in range(3):
        try:
            raise ConnectionRefusedError("Connect call failed")
        except ConnectionRefusedError:
            log.exception("Failed to connect (error: Connect call failed); Retrying...")
    log.info("A new session (s_42) has been established")
    log.info("The session (s_42) seems to be already closed. Reconnecting...")
    log.warning("Failed to run a request listener: boom")  # not the connection's: passed on as it is
    shown = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert shown == [
        ("WARNING", "slack socket mode cannot connect reason=ConnectionRefusedError: Connect call failed; "
                    "retrying every 10 s"),
        ("INFO", "slack socket mode connected after 3 failed tries"),
        ("INFO", "slack socket mode connection lost (The session seems to be already closed. Reconnecting...); "
                 "reconnecting"),
        ("WARNING", "Failed to run a request listener: boom"),
    ]  # fmt: skip
    assert not any(r.exc_info for r in caplog.records) and log.state == "reconnecting"
