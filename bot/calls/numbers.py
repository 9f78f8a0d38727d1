"""Phone numbers: one key per caller so every spelling matches, the form people read, and who is outside (pure)."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

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
    if not digits.isdigit() or len(digits) < 7:
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


def is_external(number: str | None) -> bool:
    """A party outside the PBX: a phone number (7 digits or more), or a caller id the carrier withheld.

    Extensions (6 digits or fewer) and SIP user names (`user_ag01`, `*97`) are ours. The rule and where Kazoo
    says it falls short: docs/call-model.md."""
    if not number:
        return False
    text = number.strip()
    if text.lower() in WITHHELD:
        return True
    digits = text.lstrip("+").replace(" ", "").replace("-", "").replace(".", "").replace("(", "").replace(")", "")
    return digits.isdigit() and len(digits) > 6
