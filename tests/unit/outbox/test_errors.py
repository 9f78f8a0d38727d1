"""Slack error classification: what the outbox does with each answer (pure; no Slack, no store)."""

from __future__ import annotations

import pytest

from bot.outbox.errors import (
    TRANSIENT_ERRORS,
    Failure,
    Verdict,
    classify,
    error_code,
    network_failure,
    retry_after,
)


def test_a_429_is_a_rate_limit_that_waits_as_long_as_retry_after_says():
    assert classify(429, "ratelimited", {"Retry-After": "7"}) == Failure(
        Verdict.RATE_LIMITED, "ratelimited: ratelimited", 7.0
    )


def test_a_rate_limit_code_on_a_200_is_a_rate_limit_too():
    failure = classify(200, "rate_limited", {"retry-after": "3"})
    assert failure.verdict is Verdict.RATE_LIMITED and failure.retry_after == 3.0


def test_a_429_without_an_error_code_is_named_after_its_status():
    assert classify(429, None).error == "ratelimited: http_429"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_is_retried(status):
    assert classify(status, None) == Failure(Verdict.RETRY, f"slack {status}: http_{status}")


@pytest.mark.parametrize("code", sorted(TRANSIENT_ERRORS - {"ratelimited", "rate_limited"}))
def test_transient_codes_are_retried_whatever_the_status(code):
    assert classify(200, code) == Failure(Verdict.RETRY, f"slack 200: {code}")


def test_a_channel_problem_holds_the_channel_and_says_how_to_fix_it():
    failure = classify(200, "not_in_channel")
    assert failure.verdict is Verdict.HOLD_CHANNEL
    assert failure.error == (
        "slack refused: not_in_channel (fix: invite @ringbot to the channel, or add the chat:write.public scope)"
    )
    assert classify(200, "channel_not_found").verdict is Verdict.HOLD_CHANNEL


@pytest.mark.parametrize("code", ["invalid_auth", "token_revoked", "missing_scope", "account_inactive"])
def test_a_token_or_scope_problem_holds_every_channel(code):
    failure = classify(200, code)
    assert failure.verdict is Verdict.HOLD_ALL and "fix:" in failure.error


def test_a_4xx_that_is_not_slacks_json_means_the_url_is_wrong():
    failure = classify(404, None)
    assert failure.verdict is Verdict.HOLD_ALL and "SLACK_API_URL" in failure.error


def test_an_unknown_refusal_belongs_to_the_row_and_is_dead_without_a_fix():
    assert classify(200, "msg_too_long") == Failure(Verdict.DEAD, "slack refused: msg_too_long")


class _Response:
    def __init__(self, data: object) -> None:
        self.data = data


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"ok": False, "error": "invalid_auth"}, "invalid_auth"),
        ({}, None),  # an HTML page: slack_sdk could not read it
        ("Internal Server Error", None),  # text/plain: slack_sdk hands over the text
        (b"\x1f\x8b", None),
        (None, None),
    ],
)
def test_the_error_code_is_read_from_any_body_slack_or_a_proxy_sends(data, code):
    assert error_code(_Response(data)) == code


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"RETRY-AFTER": 2}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "-4"}, 0.0),  # never a pause into the past
        ({"retry-after": "soon"}, 1.0),
        ({"retry-after": ["30"]}, 1.0),
        ({}, 1.0),
        (None, 1.0),
    ],
)
def test_retry_after_reads_the_header_and_falls_back_to_one_second(headers, seconds):
    assert retry_after(headers) == seconds


def test_a_network_failure_is_retried_and_named_after_the_exception():
    failure = network_failure(ConnectionResetError("peer went away"))
    assert failure == Failure(Verdict.RETRY, "network: ConnectionResetError: peer went away")
    assert len(network_failure(OSError("x" * 1000)).error) == 300
