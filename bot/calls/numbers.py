"""Phone numbers: one key per caller so every spelling matches, the form people read, and who is outside (pure)."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from bot.values import is_digits

DEFAULT_REGION = "VN"
# Caller ids a carrier sends instead of a hidden number: still someone outside.
WITHHELD = frozenset({"anonymous", "unknown", "private", "restricted", "unavailable", "withheld"})
_STRIP = re.compile(r"[\s.\-()/]")


def clean(raw: str | None) -> str:
    """Digits with an optional leading '+', separators removed; '' for None."""
    if not raw:
        return ""
    s = _STRIP.sub("", str(raw).strip())
    if s.startswith("00"):
        s = "+" + s[2:]
    return s


@lru_cache(maxsize=16384)  # callers repeat and parsing costs ~100 µs: this sits on every decision
def number_key(raw: str | None, region: str = DEFAULT_REGION) -> str:
    """One key per caller: 0987654321, +84987654321, 84987654321 and '0987 654 321' all give '+84987654321'.

    Short numbers (extensions, hotlines like 1900xxxx) and non-numbers are returned cleaned, unchanged.
    """
    s = clean(raw)
    digits = s.lstrip("+")
    if not is_digits(digits) or len(digits) < 7:
        return s
    if not s.startswith("+") and region == "VN" and digits.startswith("84") and len(digits) in (11, 12):
        s = "+" + digits  # 84987654321 written without the plus
    try:
        parsed = phonenumbers.parse(s, region)
    except phonenumbers.NumberParseException:
        return s
    if not phonenumbers.is_possible_number(parsed):
        return s
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def format_number(raw: str | None, region: str = DEFAULT_REGION) -> str:
    """For reading: Vietnamese numbers as '0987 654 321', foreign ones internationally, others as given."""
    s = clean(raw)
    if not s:
        return ""
    key = number_key(s, region)
    if not key.startswith("+"):
        return s
    try:
        parsed = phonenumbers.parse(key, region)
    except phonenumbers.NumberParseException:
        return s
    if phonenumbers.region_code_for_number(parsed) == region:
        national = "0" + str(parsed.national_number)
        if len(national) == 10:  # mobile and new-style landlines: 4-3-3
            return f"{national[:4]} {national[4:7]} {national[7:]}"
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def is_withheld(number: str | None) -> bool:
    """No caller id, or one the carrier sent instead of a hidden number (`anonymous`, `private`, `unknown`...):
    someone outside, but there is no number to call back, and two such calls need not be the same person."""
    return not number or not number.strip() or number.strip().lower() in WITHHELD


def is_external(number: str | None, authorizing_type: str | None = None) -> bool:
    """The one answer to "is this party outside the PBX?" (docs/call-model.md, Outside numbers).

    With the leg's `authorizing_type`, Kazoo's own word wins: a carrier leg (`resource`) is outside whatever its
    caller id looks like (a 4-digit service number, a brand name such as `VIETCOMBANK`, nothing at all). Else,
    by the number: a withheld caller id, or a phone number of 7 digits or more, is outside; extensions (6 digits
    or fewer), SIP user names (`user_ag01`) and feature codes (`*97`) are ours."""
    if authorizing_type == "resource":
        return True
    if not number:
        return False
    text = number.strip()
    if text.lower() in WITHHELD:
        return True
    digits = text.lstrip("+").replace(" ", "").replace("-", "").replace(".", "").replace("(", "").replace(")", "")
    return is_digits(digits) and len(digits) > 6
