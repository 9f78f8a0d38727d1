"""One key per caller however the number is written, and numbers formatted for reading."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.calls.numbers import clean, format_number, is_external, is_withheld, number_key


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


@pytest.mark.parametrize(
    "number, outside",
    [
        ("101", False),  # an extension
        ("123456", False),
        ("1234567", True),  # 7 digits: a phone number
        ("0909123456", True),
        ("+84909123456", True),
        ("+84 909 123 456", True),
        ("(028) 7301-9555", True),
        ("user_ag01", False),  # a SIP user name
        ("*97", False),  # a feature code
        ("anonymous", True),  # a withheld caller id is still someone outside
        ("Private", True),
        ("", False),
        ("   ", False),
        (None, False),
    ],
)
def test_outside_numbers_are_phone_numbers_or_withheld_ids(number: str | None, outside: bool) -> None:
    assert is_external(number) is outside


@given(st.text(max_size=40))
def test_number_functions_never_raise(text: str) -> None:
    is_external(text)
    number_key(text)
    format_number(text)
    clean(text)


@pytest.mark.parametrize("number", ["1080", "VIETCOMBANK", "user_ag01", "", None, "0909123456"])
def test_a_carrier_leg_is_outside_whatever_its_caller_id(number: str | None) -> None:
    assert is_external(number, "resource") is True


def test_a_device_leg_is_judged_by_its_number() -> None:
    assert is_external("101", "device") is False and is_external("0909123456", "device") is True


@pytest.mark.parametrize("number, withheld", [("anonymous", True), (" Private ", True), ("", True), (None, True),
                                               ("0909123456", False), ("VIETCOMBANK", False)])  # fmt: skip
def test_withheld_means_no_number_to_call_back(number: str | None, withheld: bool) -> None:
    assert is_withheld(number) is withheld


@pytest.mark.parametrize("digits", ["0987654³21", "٠٩٨٧٦٥٤٣٢١", "０９８７６５４３２１"])
def test_digits_of_other_scripts_are_not_a_phone_number(digits: str) -> None:
    """`str.isdigit()` takes `³` and Arabic-Indic or full-width digits; a caller id made of them is not an outside
    number and keys as it is, never crashing `phonenumbers` or standing for 0987654321."""
    assert not is_external(digits)
    assert number_key(digits) == digits
