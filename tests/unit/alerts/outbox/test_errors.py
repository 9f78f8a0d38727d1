"""Slack error classification: what the outbox does with each answer (pure; no Slack, no store)."""

from __future__ import annotations

import pytest

from bot.alerts.outbox.errors import TRANSIENT_ERRORS, Failure, Verdict, classify, network_failure, retry_after


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


def test_a_channel_problem_is_dead_and_says_how_to_fix_it():
    failure = classify(200, "not_in_channel")
    assert failure.verdict is Verdict.DEAD
    assert failure.error == (
        "slack refused: not_in_channel (fix: invite @ringbot to the channel, or add the chat:write.public scope)"
    )


def test_an_unknown_refusal_is_dead_without_a_fix():
    assert classify(200, "msg_too_long") == Failure(Verdict.DEAD, "slack refused: msg_too_long")
    assert classify(404, None) == Failure(Verdict.DEAD, "slack refused: http_404")


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
