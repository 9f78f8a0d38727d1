"""The one number parser (bot/values.py): ASCII digits or nothing, whatever a payload or a person hands it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.values import ROW_ID_DIGITS, is_digits, row_id, whole

# Characters str.isdigit() (or int()) takes that are not ASCII digits: superscripts, Arabic-Indic, full-width,
# Devanagari, circled.
UNICODE_DIGITS = ("²", "³", "¹", "٣", "۷", "３", "७", "①", "𝟘")


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_a_unicode_digit_anywhere_is_not_a_number(digit: str) -> None:
    for text in (digit, f"1{digit}", f"{digit}1", digit * 3):
        assert not is_digits(text)
        assert whole(text, most=10**9) is None
        assert row_id(text) is None


@pytest.mark.parametrize("text", ["", " 1", "1 ", "+1", "-1", "1_000", "1.0", "0x1", "1e3", "١", "\u200b1"])
def test_signs_spaces_separators_and_other_spellings_are_not_numbers(text: str) -> None:
    assert whole(text, most=10**9) is None


@pytest.mark.parametrize("value", [None, 1, 1.0, True, ["1"], {"1": 1}, b"1"])
def test_a_value_that_is_not_text_is_not_a_number(value: object) -> None:
    assert not is_digits(value)
    assert whole(value, most=10**9) is None
    assert row_id(value) is None


@given(st.integers(min_value=0, max_value=10**20))
def test_a_number_in_ascii_digits_reads_back_up_to_its_limit(n: int) -> None:
    assert whole(str(n), most=10**12) == (n if n <= 10**12 else None)


@given(st.text())
def test_any_text_gives_a_number_or_none_and_never_raises(text: str) -> None:
    got = whole(text, most=10**ROW_ID_DIGITS)
    assert got is None or (text.isascii() and text.isdigit() and got == int(text))


def test_a_row_id_is_positive_and_fits_a_database_integer() -> None:
    assert row_id("42") == 42 and row_id("007") == 7
    assert row_id("0") is None
    assert row_id("9" * ROW_ID_DIGITS) == 10**ROW_ID_DIGITS - 1 < 2**63
    assert row_id("9" * (ROW_ID_DIGITS + 1)) is None
    assert row_id("1" * 100_000) is None  # refused by its length, not converted
