"""The dial policy (pure): the center's ordinary numbers and extensions pass; premium-rate, shared-cost, foreign,
emergency and unknown numbers are refused with a reason and the rule that would allow them; admins' rules
widen and narrow it, the most specific prefix deciding and a deny winning."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType

from bot.antbuddy import InvalidNumber, validate_number
from bot.callback.policy import (
    NON_GEOGRAPHIC,
    Allowed,
    DialPolicy,
    Grounds,
    Reason,
    Refused,
    check_destination,
    country_name,
    rule_prefix,
)

VN = DialPolicy()


@pytest.mark.parametrize(
    ("number", "grounds"),
    [
        ("0987654321", Grounds.HOME),  # mobile, written nationally
        ("+84987654321", Grounds.HOME),
        ("84987654321", Grounds.HOME),  # E.164 without its plus
        ("0084987654321", Grounds.HOME),  # Vietnam's international prefix, back home
        ("02873019555", Grounds.HOME),  # Ho Chi Minh City landline
        ("18001234", Grounds.HOME),  # toll-free
        ("1001", Grounds.EXTENSION),
        ("100", Grounds.EXTENSION),
        ("8000", Grounds.EXTENSION),
        ("999999", Grounds.EXTENSION),
    ],
)
def test_the_centers_ordinary_numbers_and_its_extensions_are_allowed(number: str, grounds: Grounds) -> None:
    assert check_destination(number, VN) == Allowed(grounds)


@pytest.mark.parametrize(
    ("number", "reason", "region", "allow_with"),
    [
        ("19001234", Reason.PREMIUM_RATE, "VN", "+8419001234"),
        ("1900 123 456".replace(" ", ""), Reason.PREMIUM_RATE, "VN", "+841900123456"),
        ("+442079460958", Reason.FOREIGN, "GB", "GB"),
        ("00442079460958", Reason.FOREIGN, "GB", "GB"),  # the same, dialled with the international prefix
        ("+19002345678", Reason.FOREIGN, "US", "US"),
        ("+882123456789", Reason.FOREIGN, NON_GEOGRAPHIC, "+882123456789"),  # satellite: never by region
        ("0123456789", Reason.NOT_VALID, "VN", "+84123456789"),  # a retired mobile range
        ("+84113", Reason.NOT_VALID, "VN", "+84113"),
    ],
)
def test_costly_foreign_and_unknown_numbers_are_refused_with_the_rule_that_would_allow_them(
    number: str, reason: Reason, region: str, allow_with: str
) -> None:
    assert check_destination(number, VN) == Refused(reason, region, allow_with=allow_with)


@pytest.mark.parametrize("number", ["113", "114", "115"])
def test_emergency_numbers_are_never_dialled_from_a_button_and_no_rule_is_offered(number: str) -> None:
    assert check_destination(number, VN) == Refused(Reason.EMERGENCY, "VN")


def test_a_country_allowed_by_an_admin_widens_only_to_its_ordinary_numbers() -> None:
    policy = DialPolicy.build("VN", allow=["GB", "us"])
    assert check_destination("+442079460958", policy) == Allowed(Grounds.REGION, "GB")
    assert check_destination("+14155552671", policy) == Allowed(Grounds.REGION, "US")
    premium = check_destination("+19002345678", policy)
    assert isinstance(premium, Refused) and premium.reason is Reason.PREMIUM_RATE
    personal = check_destination("+447012345678", policy)  # UK 070 "personal numbers": a classic fraud range
    assert isinstance(personal, Refused) and (personal.reason, personal.kind) == (Reason.UNUSUAL_TYPE, "personal")
    assert check_destination("+33884012345", DialPolicy.build("VN", allow=["FR"])) == Refused(
        Reason.SHARED_COST, "FR", allow_with="+33884012345"
    )


def test_a_prefix_allowed_by_an_admin_overrides_type_and_country() -> None:
    policy = DialPolicy.build("VN", allow=["1900 1234", "+882"])
    assert check_destination("19001234", policy) == Allowed(Grounds.PREFIX, "19001234")
    assert check_destination("+882123456789", policy) == Allowed(Grounds.PREFIX, "+882")
    assert isinstance(check_destination("19005678", policy), Refused)  # only that prefix


def test_the_most_specific_prefix_decides_and_a_deny_wins_a_tie() -> None:
    policy = DialPolicy.build("VN", allow=["+849012"], deny=["090"])
    assert check_destination("0901234567", policy) == Allowed(Grounds.PREFIX, "+849012")
    assert check_destination("0909999999", policy) == Refused(Reason.DENIED_PREFIX, rule="090")
    tie = DialPolicy.build("VN", allow=["+8490"], deny=["090"])
    assert check_destination("0909999999", tie) == Refused(Reason.DENIED_PREFIX, rule="090")


def test_admins_narrow_the_default_by_region_by_prefix_and_even_extensions() -> None:
    assert check_destination("0987654321", DialPolicy.build("VN", deny=["VN"])) == Refused(
        Reason.DENIED_REGION, "VN", rule="VN"
    )
    assert check_destination("+442079460958", DialPolicy.build("VN", allow=["GB"], deny=["GB"])) == Refused(
        Reason.DENIED_REGION, "GB", rule="GB"
    )
    assert check_destination("8000", DialPolicy.build("VN", deny=["8"])) == Refused(Reason.DENIED_PREFIX, rule="8")


def test_another_home_country_reads_national_numbers_its_own_way() -> None:
    gb = DialPolicy("GB")
    assert check_destination("02079460958", gb) == Allowed(Grounds.HOME)
    refused = check_destination("0987654321", DialPolicy("US"))
    assert isinstance(refused, Refused)
    assert rule_prefix("020", "GB") == "+4420" and rule_prefix("1900", "VN") == "+841900"


def test_country_names_for_people() -> None:
    assert (country_name("GB"), country_name("US"), country_name("VN")) == (
        "United Kingdom",
        "United States",
        "Vietnam",
    )
    assert country_name("001") == "001"


# -- properties ---------------------------------------------------------------------------------------
def _examples(kind: int) -> list[str]:
    numbers = (phonenumbers.example_number_for_type(r, kind) for r in sorted(phonenumbers.SUPPORTED_REGIONS))
    return [phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164) for n in numbers if n is not None]


PREMIUM = _examples(PhoneNumberType.PREMIUM_RATE)
SHARED_COST = _examples(PhoneNumberType.SHARED_COST)
EVERY_REGION = DialPolicy.build("VN", allow=sorted(phonenumbers.SUPPORTED_REGIONS - {"VN"}))


def test_no_premium_rate_or_shared_cost_example_of_any_country_passes_even_with_every_country_allowed() -> None:
    assert len(PREMIUM) > 100 and len(SHARED_COST) > 20
    passed = [n for n in PREMIUM + SHARED_COST if check_destination(n, EVERY_REGION).ok]
    assert passed == []


def test_by_default_no_foreign_mobile_passes() -> None:
    mobiles = _examples(PhoneNumberType.MOBILE)
    foreign = [n for n in mobiles if not n.startswith("+84")]
    assert len(foreign) > 200
    assert [n for n in foreign if check_destination(n, VN).ok] == []


dialled = st.from_regex(r"\A\+?[0-9]{3,19}\Z", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(dialled)
def test_any_number_gets_a_verdict_and_following_the_offered_rules_reaches_allowed(number: str) -> None:
    """Never an exception; a refusal either offers a rule to allow it, or is one no rule should lift (emergency);
    allowing what it offers, at most three times (country, then type), gets the number dialled."""
    try:
        number = validate_number(number)
    except InvalidNumber:
        return
    policy = VN
    for _ in range(3):
        verdict = check_destination(number, policy)
        if verdict.ok:
            return
        assert isinstance(verdict, Refused)
        if verdict.reason in (Reason.EMERGENCY, Reason.NOT_A_NUMBER):
            assert verdict.allow_with == ""
            return
        assert verdict.allow_with, verdict
        policy = DialPolicy.build("VN", allow=[*policy.allow, verdict.allow_with])
    assert check_destination(number, policy).ok


@settings(max_examples=200, deadline=None)
@given(dialled, st.integers(min_value=1, max_value=6))
def test_a_denied_prefix_refuses_every_number_that_starts_with_it_whatever_is_allowed(number: str, cut: int) -> None:
    try:
        number = validate_number(number)
    except InvalidNumber:
        return
    verdict = check_destination(number, VN)
    key = verdict.allow_with if isinstance(verdict, Refused) and verdict.allow_with.startswith("+") else None
    e164 = key or _e164(number)
    if e164 is None:
        return
    prefix = e164[: 1 + cut]  # "+8" ... "+84987"
    wider = [e164[:cut]] if cut >= 2 else []  # a shorter allowed prefix loses to the longer deny
    policy = DialPolicy.build("VN", allow=[*EVERY_REGION.allow, prefix, *wider], deny=[prefix])  # a tie too
    assert not check_destination(number, policy).ok


def _e164(number: str) -> str | None:
    digits = number.lstrip("+")
    if not number.startswith("+") and len(digits) <= 6:
        return rule_prefix(number, "VN")
    try:
        parsed = phonenumbers.parse(number, "VN")
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
