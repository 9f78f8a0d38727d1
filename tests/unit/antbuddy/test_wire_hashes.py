"""AntBuddy hash strings, time formats, number validation, `expire` and retry arithmetic (pure)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.antbuddy.errors import AntBuddyError, InvalidNumber
from bot.antbuddy.wire import (
    MAX_WINDOW,
    RETRY_AFTER_CAP,
    auth_hash,
    auth_hash_input,
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
    timestamp_to_datetime,
    validate_number,
)

ICT = timezone(timedelta(hours=7))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ hash strings
def test_auth_hash_is_sha256_of_app_id_then_secret_lowercase_hex():
    assert auth_hash_input("app1", "sec") == "app1sec"
    assert auth_hash("app1", "sec") == _sha("app1sec")
    assert auth_hash("app1", "sec") == auth_hash("app1", "sec").lower()
    assert len(auth_hash("app1", "sec")) == 64


def test_history_list_hash_concatenates_from_to_limit_page_app_id_secret():
    s = history_hash_input("2018-02-07T02:19:33.000Z", "2018-02-07T07:04:22.000Z", 100, 1, "6544646543674", "123456")
    assert s == "2018-02-07T02:19:33.000Z2018-02-07T07:04:22.000Z10016544646543674123456"
    assert sha256_hex(s) == _sha("2018-02-07T02:19:33.000Z2018-02-07T07:04:22.000Z10016544646543674123456")


def test_history_short_hash_matches_the_documents_worked_example():
    s = history_hash_input(
        "2018-02-07T02:19:33.000Z", "2018-02-07T07:04:22.000Z", 20, 1, "6544646543674", "123456", variant="short"
    )
    assert s == "6544646543674" + "2018-02-07T02:19:33.000Z" + "2018-02-07T07:04:22.000Z" + "123456"
    digest = sha256_hex(s)
    assert digest == _sha("65446465436742018-02-07T02:19:33.000Z2018-02-07T07:04:22.000Z123456")
    # the document's worked example (docs/antbuddy-wire.md, "History hash"), recomputed: 9b11b9ff…37f9ed
    assert digest == "9b11b9ff77dbba70fe059acf84c02cfe6af90de9122e4d3bd6ec69c9d637f9ed"


def test_unknown_history_hash_variant_is_refused():
    with pytest.raises(ValueError):
        history_hash_input("a", "b", 1, 1, "id", "sec", variant="md5")


def test_recording_and_directory_hash_inputs_follow_the_documented_order():
    assert recording_hash_input("app", "call_recording_x.mp3", "sec") == "appcall_recording_x.mp3sec"
    assert (
        directory_hash_input("app", "acme.antbuddy.com", "boss@acme.vn", "sec") == "appacme.antbuddy.comboss@acme.vnsec"
    )


# ------------------------------------------------------------------------------------------ time formats
MOMENT = datetime(2018, 2, 7, 2, 19, 33, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "fmt, expected",
    [
        ("iso", "2018-02-07T02:19:33.123Z"),
        ("unix", "1517969973"),
        ("unix_ms", "1517969973123"),
        ("date", "2018-02-07"),
        ("gregorian", str(1517969973 + 62167219200)),
    ],
)
def test_history_time_formats(fmt, expected):
    assert format_history_time(MOMENT, fmt) == expected


def test_history_time_is_written_in_utc_whatever_the_input_zone():
    local = datetime(2018, 2, 7, 6, 30, 0, tzinfo=ICT)  # 2018-02-06T23:30Z
    assert format_history_time(local, "iso") == "2018-02-06T23:30:00.000Z"
    assert format_history_time(local, "date") == "2018-02-06"


def test_history_time_refuses_naive_datetimes_and_unknown_formats():
    with pytest.raises(ValueError):
        format_history_time(datetime(2018, 2, 7), "iso")
    with pytest.raises(ValueError):
        format_history_time(MOMENT, "rfc822")


# ------------------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    "raw, cleaned",
    [
        ("0987654321", "0987654321"),
        ("0987 654 321", "0987654321"),
        ("+84 (987) 654-321", "+84987654321"),
        ("098.765.4321", "0987654321"),
        ("101", "101"),
        ("1" * 20, "1" * 20),
        ("+" + "1" * 19, "+" + "1" * 19),
    ],
)
def test_valid_numbers_are_cleaned(raw, cleaned):
    assert validate_number(raw) == cleaned


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "09x87654321",
        "12",
        "+1",
        "1" * 21,
        "../1234",
        "../../etc/passwd",
        "   ",
        "",
        "12+34",
        "++123",
        "١٢٣٤٥",
        "123/456",
        "123%2F4",
        "123#",
        "123\x00",
    ],
)
def test_bad_numbers_raise_invalid_number(raw):
    with pytest.raises(InvalidNumber) as info:
        validate_number(raw)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AntBuddyError)
    assert str(info.value).endswith(".")


@given(st.from_regex(r"\+?[0-9]{3,19}", fullmatch=True))
def test_any_plus_and_digits_number_of_legal_length_is_accepted(number):
    assert validate_number(number) == number


# ------------------------------------------------------------------------------------------ expire
NOW = datetime(2026, 1, 28, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, expected",
    [
        (3600, NOW + timedelta(hours=1)),  # lifetime in seconds
        ("3600", NOW + timedelta(hours=1)),
        (0, NOW),
        (604800, NOW + timedelta(days=7)),  # a week's lifetime is still a lifetime, not a 1970 date
        (86400 * 365 * 20, NOW + timedelta(days=365 * 20)),
        (1769587733, datetime(2026, 1, 28, 8, 8, 53, tzinfo=UTC)),  # unix seconds
        (1769587733000, datetime(2026, 1, 28, 8, 8, 53, tzinfo=UTC)),  # unix milliseconds
        (1769587733 + 62167219200, datetime(2026, 1, 28, 8, 8, 53, tzinfo=UTC)),  # gregorian seconds
        ("2026-01-28T08:08:53.000Z", datetime(2026, 1, 28, 8, 8, 53, tzinfo=UTC)),
        ("2026-01-28T15:08:53+07:00", datetime(2026, 1, 28, 8, 8, 53, tzinfo=UTC)),
        ("2026-01-28T08:08:53", datetime(2026, 1, 28, 8, 8, 53, tzinfo=UTC)),  # naive ISO read as UTC
    ],
)
def test_parse_expire_tells_lifetimes_and_clocks_apart_by_size(value, expected):
    assert parse_expire(value, NOW) == expected


@pytest.mark.parametrize("value", [None, True, "soon", -5, [], {}])
def test_parse_expire_refuses_what_is_not_a_time(value):
    with pytest.raises(ValueError):
        parse_expire(value, NOW)


def test_gregorian_timestamp_of_the_dashboard_example_is_read_as_unix_minus_offset():
    assert timestamp_to_datetime(63936806933) == datetime.fromtimestamp(63936806933 - 62167219200, UTC)
    assert timestamp_to_datetime(None) is None and timestamp_to_datetime("junk") is None


# ------------------------------------------------------------------------------------------ retries, windows
def test_retry_after_is_read_as_seconds_or_http_date_and_capped():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("3600") == RETRY_AFTER_CAP
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon-ish") is None
    now = datetime(2026, 1, 28, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 28 Jan 2026 08:00:05 GMT", now) == 5.0


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for attempt in range(1, 6):
        delay = backoff_delay(0.5, attempt)
        assert 0.5 * 2 ** (attempt - 1) * 0.5 <= delay <= min(0.5 * 2 ** (attempt - 1), RETRY_AFTER_CAP)
    assert backoff_delay(10, 10) == RETRY_AFTER_CAP


def test_seventy_days_split_into_three_contiguous_windows_ending_at_end():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=70, hours=3)
    windows = history_windows(start, end)
    assert len(windows) == 3
    assert windows[0][0] == start and windows[-1][1] == end
    assert all(a[1] == b[0] for a, b in pairwise(windows))
    assert all(stop - begin <= MAX_WINDOW for begin, stop in windows)


def test_exactly_31_days_is_one_window_and_an_empty_range_none():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert history_windows(start, start + MAX_WINDOW) == [(start, start + MAX_WINDOW)]
    assert history_windows(start, start) == []
    with pytest.raises(ValueError):
        history_windows(start, start - timedelta(seconds=1))


@given(st.integers(min_value=1, max_value=400 * 86400))
def test_windows_cover_any_range_without_gaps_or_oversize(seconds):
    start = datetime(2025, 3, 1, tzinfo=UTC)
    windows = history_windows(start, start + timedelta(seconds=seconds))
    assert windows[0][0] == start and windows[-1][1] == start + timedelta(seconds=seconds)
    assert all(0 < (stop - begin).total_seconds() <= MAX_WINDOW.total_seconds() for begin, stop in windows)


def test_scrub_removes_secrets_and_cuts_to_200_chars():
    text = "echo: appSecret=TOPSECRET sip=PW123 " + "x" * 500
    out = scrub(text, ["TOPSECRET", "PW123", ""])
    assert "TOPSECRET" not in out and "PW123" not in out and "***" in out
    assert len(out) <= 200
