"""Which numbers Call back and `/ring call` may dial (pure): the center's own country's ordinary numbers and its
internal extensions, widened or narrowed by admins' rules. This is what stops a spoofed premium-rate or foreign
caller id from becoming a one-click paid call (toll fraud). Words for people live in handlers/, not here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo
from phonenumbers.geodata.locale import LOCALE_DATA

from bot.config import normalise_dial_rule

EXTENSION_MAX_DIGITS = 6  # as bot/calls/numbers.py: `is_external` calls 6 digits or fewer ours
NON_GEOGRAPHIC = "001"  # phonenumbers' region for +800, +870, +882...: satellite and global services

# Ordinary numbers: what a customer calls from. Everything else (premium-rate, shared-cost, personal numbers,
# "universal access" numbers, pagers, voicemail access, numbers phonenumbers does not know) is refused unless a
# prefix rule allows it: each of those can be billed well above a normal call somewhere (UK 070 and 055...).
ORDINARY_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.VOIP,
    }
)
_SHORT_CODE_COSTS_OK = frozenset(
    {shortnumberinfo.ShortNumberCost.TOLL_FREE, shortnumberinfo.ShortNumberCost.STANDARD_RATE}
)


class Reason(StrEnum):
    """Why a destination is refused; the value goes into the audit trail."""

    NOT_A_NUMBER = "not_a_number"  # phonenumbers cannot read it
    FOREIGN = "foreign"  # another country, not in the allowed regions
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    UNUSUAL_TYPE = "unusual_type"  # personal number, pager, voicemail access
    NOT_VALID = "not_valid"  # the right length maybe, but no such range in that country
    EMERGENCY = "emergency"  # never from a button: dial it yourself
    SHORT_CODE = "short_code"  # a carrier service code whose cost is premium or unknown
    DENIED_PREFIX = "denied_prefix"  # an admin's deny rule
    DENIED_REGION = "denied_region"


class Grounds(StrEnum):
    """Why a destination is allowed (for the log)."""

    HOME = "home"  # an ordinary number of the center's country
    EXTENSION = "extension"  # a short number our PBX owns
    SHORT_CODE = "short_code"  # a toll-free or standard-rate service code
    REGION = "region"  # an ordinary number of an allowed region
    PREFIX = "prefix"  # an admin's allow rule, which overrides the number's type and country


@dataclass(frozen=True)
class Allowed:
    grounds: Grounds
    rule: str = ""  # the allow rule that matched (PREFIX, REGION)

    @property
    def ok(self) -> bool:
        return True


@dataclass(frozen=True)
class Refused:
    reason: Reason
    region: str = ""  # ISO region of the number ("" when unknown; "001" for non-geographic)
    kind: str = ""  # UNUSUAL_TYPE: which type, in words (personal number, pager...)
    rule: str = ""  # DENIED_*: the deny rule that matched
    allow_with: str = ""  # the rule an admin would add to allow it ("" when no rule should: emergency)

    @property
    def ok(self) -> bool:
        return False


Destination = Allowed | Refused


@dataclass(frozen=True)
class DialPolicy:
    """The rules in force: the center's country plus allow and deny rules (regions like `GB`, number prefixes
    like `+4420`, or national prefixes like `1900` read in `country`), as `normalise_dial_rule` writes them."""

    country: str = "VN"
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()

    @classmethod
    def build(cls, country: str, allow: Iterable[str] = (), deny: Iterable[str] = ()) -> DialPolicy:
        """A policy from rules as written (ValueError for one that is not a region or a prefix). A rule both
        allowed and denied is denied."""
        return cls(
            country, frozenset(normalise_dial_rule(r) for r in allow), frozenset(normalise_dial_rule(r) for r in deny)
        )


def is_region(rule: str) -> bool:
    return rule.isalpha()


def rule_prefix(rule: str, country: str) -> str:
    """A prefix rule as an E.164 prefix: `+4420` stays, national `1900` or `0987` becomes `+841900`, `+84987`."""
    if rule.startswith("+"):
        return rule
    meta = phonenumbers.PhoneMetadata.metadata_for_region(country)
    national_prefix = (meta.national_prefix if meta else None) or ""
    digits = rule[len(national_prefix) :] if national_prefix and rule.startswith(national_prefix) else rule
    return f"+{phonenumbers.country_code_for_region(country)}{digits}"


def country_name(region: str) -> str:
    """A region's English name (`GB` -> United Kingdom); the code itself when phonenumbers has none."""
    names = LOCALE_DATA.get(region) or {}
    name = names.get("en", "")
    if name.startswith("*"):  # phonenumbers' "same as that language" pointer
        name = names.get(name[1:], "")
    return str(name) or region


def _type_words(kind: int) -> str:
    return {
        PhoneNumberType.PERSONAL_NUMBER: "personal",
        PhoneNumberType.UAN: "universal access",
        PhoneNumberType.PAGER: "pager",
        PhoneNumberType.VOICEMAIL: "voicemail access",
    }.get(kind, "special")


def check_destination(number: str, policy: DialPolicy) -> Destination:
    """May ringbot dial `number` (digits with an optional leading `+`, as `validate_number` leaves it)?

    In order: the most specific prefix rule (deny wins a tie); a short number (up to 6 digits, no `+`) is an
    internal extension unless it is an emergency or a costly carrier code; a denied region; a region that is
    neither the center's nor allowed; a number phonenumbers does not know; a type that is not an ordinary
    phone (premium-rate, shared-cost...)."""
    country = policy.country
    short = not number.startswith("+") and len(number) <= EXTENSION_MAX_DIGITS
    if short:  # no E.164 form: match prefix rules on the digits as the country writes them
        return _prefix_verdict(rule_prefix(number, country), policy) or _short_number(number, country)
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        return Refused(Reason.NOT_A_NUMBER)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    verdict = _prefix_verdict(e164, policy)
    if verdict is not None:
        return verdict
    region = phonenumbers.region_code_for_number(parsed) or _region_of_code(parsed.country_code or 0)
    if region in policy.deny:
        return Refused(Reason.DENIED_REGION, region, rule=region)
    if region != country and region not in policy.allow:
        return Refused(Reason.FOREIGN, region, allow_with=region if region != NON_GEOGRAPHIC else e164)
    if not phonenumbers.is_valid_number(parsed):
        return Refused(Reason.NOT_VALID, region, allow_with=e164)
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.PREMIUM_RATE:
        return Refused(Reason.PREMIUM_RATE, region, allow_with=e164)
    if kind == PhoneNumberType.SHARED_COST:
        return Refused(Reason.SHARED_COST, region, allow_with=e164)
    if kind not in ORDINARY_TYPES:
        return Refused(Reason.UNUSUAL_TYPE, region, kind=_type_words(kind), allow_with=e164)
    return Allowed(Grounds.HOME) if region == country else Allowed(Grounds.REGION, region)


def _prefix_verdict(e164: str, policy: DialPolicy) -> Destination | None:
    """The longest prefix rule that `e164` starts with decides (a deny wins over an equal allow); None: no rule."""
    best: tuple[int, bool, str] | None = None
    for rules, allowed in ((policy.deny, False), (policy.allow, True)):
        for rule in rules:
            if is_region(rule):
                continue
            prefix = rule_prefix(rule, policy.country)
            if e164.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), allowed, rule)
    if best is None:
        return None
    _, allowed, rule = best
    return Allowed(Grounds.PREFIX, rule) if allowed else Refused(Reason.DENIED_PREFIX, rule=rule)


def _short_number(number: str, country: str) -> Destination:
    """Up to 6 digits: the PBX's own extension, unless the carrier owns that code (emergency, a service)."""
    if shortnumberinfo.is_emergency_number(number, country):
        return Refused(Reason.EMERGENCY, country)
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        return Allowed(Grounds.EXTENSION)  # not a number the carrier would know either
    if shortnumberinfo.is_valid_short_number_for_region(parsed, country):
        if shortnumberinfo.expected_cost_for_region(parsed, country) in _SHORT_CODE_COSTS_OK:
            return Allowed(Grounds.SHORT_CODE)
        return Refused(Reason.SHORT_CODE, country, allow_with=number)
    return Allowed(Grounds.EXTENSION)


def _region_of_code(country_code: int) -> str:
    """The main region for a country calling code (`+1` -> US), or "" when there is none."""
    region = phonenumbers.region_code_for_country_code(country_code)
    return "" if region == phonenumbers.UNKNOWN_REGION else region
