"""Numbers a person or a payload hands us (button values, dialog metadata, typed settings), read one way (pure).

Only ASCII digits count. `str.isdigit()` also takes `²` and `٣`, and `int()` refuses the first and reads the
second as 3: a check with one and a conversion with the other either crashes or accepts what nobody typed on
purpose. Here anything but `[0-9]+` (no sign, no spaces, no `_`, no other script's digits) is not a number.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")
ROW_ID_DIGITS = 18  # a database row id we hand out fits here (SQLite's INTEGER is 64 bits: 19 digits)


def is_digits(text: object) -> bool:
    """`text` is a non-empty string of ASCII digits (a phone number's digits, a count)."""
    return isinstance(text, str) and _DIGITS.fullmatch(text) is not None


def whole(text: object, *, most: int) -> int | None:
    """The whole number `text` spells in ASCII digits, if it is at most `most`; None for anything else (another
    type, a sign, a space, a Unicode digit, too large). Its length is checked before it is converted, so a
    100,000-digit value costs nothing."""
    if not is_digits(text) or len(str(text)) > len(str(most)):
        return None
    number = int(str(text))
    return number if number <= most else None


def row_id(text: object) -> int | None:
    """A positive row id (an alert, a queue breach) as a button value or a dialog's metadata carries it."""
    number = whole(text, most=10**ROW_ID_DIGITS - 1)
    return number if number else None
