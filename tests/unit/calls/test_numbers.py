"""One key per caller however the number is written, and numbers formatted for reading."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.calls.numbers import clean, format_number, is_external, number_key


@pytest.mark.parametrize(
    "spelling",
    ["0987654321", "+84987654321", "84987654321", "0987 654 321", "0987.654.321", "(098) 765-4321", "0084987654321"],
)
def test_every_spelling_of_a_vietnamese_mobile_is_the_same_caller(spelling: str) -> None:
    assert number_key(spelling) == "+84987654321"
    assert format_number(spelling) == "0987 654 321"


@pytest.mark.parametrize(
    "raw,shown",
    [
        ("02873019555", "028 7301 9555"),
        ("+14155550123", "+1 415-555-0123"),
        ("101", "101"),
        ("user_ag01", "user_ag01"),
        ("", ""),
    ],
)
def test_landlines_foreign_numbers_and_extensions_read_naturally(raw: str, shown: str) -> None:
    assert format_number(raw) == shown


def test_extensions_and_sip_users_are_internal() -> None:
    assert not is_external("101")
    assert not is_external("user_ag01")
    assert is_external("0909123456")
    assert is_external("+84909123456")


@given(st.text(max_size=40))
def test_number_functions_never_raise(text: str) -> None:
    number_key(text)
    format_number(text)
    clean(text)
