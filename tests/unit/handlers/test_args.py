"""`/ring` argument parsing: every spelling of a caller is one caller; bad words give the usage line."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.args import (
    UsageError,
    parse_channel,
    parse_command,
    parse_history,
    parse_number,
    parse_period,
    parse_route,
    parse_user,
)

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_empty_text_means_help():
    assert parse_command("").sub == "help"
    assert parse_command("   ").sub == "help"


def test_share_anywhere_makes_it_in_channel_and_is_not_an_argument():
    cmd = parse_command("History 0987654321 SHARE 7d")
    assert cmd.sub == "history" and cmd.share and cmd.args == ("0987654321", "7d")
    assert not parse_command("queues").share


@pytest.mark.parametrize(
    "spelling",
    [
        ["0987654321"],
        ["+84987654321"],
        ["84987654321"],
        ["0987", "654", "321"],
        ["098-765-4321"],
        ["(0987)", "654", "321"],
    ],
)
def test_every_spelling_of_a_number_is_the_same_caller(spelling):
    q = parse_history(spelling)
    assert q.customer_key == "+84987654321"
    assert q.slack_user is None


def test_user_mentions_in_both_escaped_forms():
    assert parse_history(["<@U123ABC|an>"]).slack_user == "U123ABC"
    assert parse_history(["<@U123ABC>"]).slack_user == "U123ABC"
    assert parse_user("@an") is None


def test_plain_at_name_is_refused_with_a_hint_to_use_the_menu():
    with pytest.raises(UsageError) as e:
        parse_history(["@an"])
    assert "@ menu" in e.value.message() and "Usage:" in e.value.message()


@pytest.mark.parametrize("word,hours", [("today", None), ("24h", 24), ("7d", 168), ("1d", 24), ("31d", 744)])
def test_periods(word, hours):
    assert parse_period(word).hours == hours


@pytest.mark.parametrize("word", ["0d", "32d", "90d"])
def test_out_of_range_days_are_a_usage_error(word):
    with pytest.raises(UsageError) as e:
        parse_history([word])
    assert "31d" in e.value.message()


def test_today_starts_at_local_midnight():
    now = datetime(2024, 3, 12, 1, 30, tzinfo=UTC)  # 08:30 in Ho Chi Minh City
    since = parse_period("today").since(now, HCM)
    assert since.astimezone(HCM).hour == 0 and since.astimezone(HCM).day == 12
    assert (now - since).total_seconds() == 8.5 * 3600


def test_default_period_is_7d_for_one_caller_and_24h_for_everything():
    assert parse_history(["0987654321"]).period.label == "7d"
    assert parse_history([]).period.label == "24h"
    assert parse_history(["missed"]).missed_only


def test_arguments_in_any_order():
    q = parse_history(["missed", "today", "0987", "654", "321"])
    assert q.missed_only and q.period.label == "today" and q.customer_key == "+84987654321"


@pytest.mark.parametrize(
    "args",
    [
        ["banana"],
        ["7d", "24h"],
        ["0987654321", "0912345678"],
        ["<@U1>", "<@U2>"],
        ["<@U1AAA>", "0987654321"],
        ["0987", "7d", "654"],
    ],
)
def test_bad_history_arguments_raise_usage(args):
    with pytest.raises(UsageError) as e:
        parse_history(args)
    assert e.value.hint.startswith("Usage: `/ring history")


def test_channel_forms():
    assert parse_channel("<#C0123ABC|cskh>") == "C0123ABC"
    assert parse_channel("<#C0123ABC>") == "C0123ABC"
    assert parse_channel("C0123ABC") == "C0123ABC"
    assert parse_channel("#cskh") is None


def test_route_target_may_have_spaces():
    r = parse_route(["Kinh", "doanh", "<#C0SALES1|sales>"])
    assert r.target == "Kinh doanh" and r.channel == "C0SALES1"


@pytest.mark.parametrize("args", [[], ["CSKH"], ["CSKH", "#cskh"], ["<#C0SALES1>"]])
def test_bad_route_arguments_raise_usage(args):
    with pytest.raises(UsageError) as e:
        parse_route(args)
    assert "/ring route" in e.value.message()


@given(st.text(max_size=60))
def test_history_parser_never_fails_with_anything_but_usage(text):
    try:
        parse_history(text.split())
    except UsageError:
        pass


@pytest.mark.parametrize("token", ["٣d", "²d", "７ngày", "٣"])
def test_a_period_or_number_in_unicode_digits_is_not_understood(token: str) -> None:
    """ASCII digits only (bot/values.py): `٣d` is not three days, `٣` is not a phone number."""
    with pytest.raises(UsageError):
        parse_history([token])


def test_a_phone_number_in_unicode_digits_is_refused() -> None:
    with pytest.raises(UsageError):
        parse_number("٠٩٠٩١٢٣٤٥٦")
